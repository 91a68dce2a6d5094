"""The default local-path StorageClass, DefaultStorageClass admission, provisioning, binding, reclaim."""

from __future__ import annotations

import json
import time
from pathlib import Path

from kubernetes import client


def _wait(fn, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def _claim(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}


def test_default_storage_class_is_local_path(server):
    out = server.kubectl("get", "storageclass")
    assert out.stdout.split("\n")[1].split()[:6] == [
        "local-path", "(default)", "kubefacade.io/local-path", "Delete", "WaitForFirstConsumer", "false"]


def test_claim_without_class_gets_default_and_waits_for_consumer(server, namespace, api):
    v1 = client.CoreV1Api(api)
    v1.create_namespaced_persistent_volume_claim(namespace, _claim("data"))
    pvc = v1.read_namespaced_persistent_volume_claim("data", namespace)
    assert pvc.spec.storage_class_name == "local-path"
    time.sleep(1.5)  # longer than the provisioner's consumer poll: with no consumer nothing binds it
    assert v1.read_namespaced_persistent_volume_claim("data", namespace).status.phase == "Pending"


def test_consumer_pod_gets_bound_hostpath_volume_deleted_with_claim(server, namespace, api):
    v1 = client.CoreV1Api(api)
    v1.create_namespaced_persistent_volume_claim(namespace, _claim("data"))
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "user"},
           "spec": {"nodeName": "nowhere", "containers": [{"name": "c", "image": "busybox"}],
                    "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]}}
    server.kubectl("-n", namespace, "create", "-f", "-", input=json.dumps(pod))
    bound = _wait(lambda: v1.read_namespaced_persistent_volume_claim("data", namespace).status.phase == "Bound")
    assert bound
    pvc = v1.read_namespaced_persistent_volume_claim("data", namespace)
    assert pvc.metadata.annotations["pv.kubernetes.io/bind-completed"] == "yes"
    assert pvc.status.capacity == {"storage": "1Gi"}
    pv = v1.read_persistent_volume(pvc.spec.volume_name)
    assert pv.status.phase == "Bound"
    assert (pv.spec.claim_ref.name, pv.spec.claim_ref.namespace, pv.spec.claim_ref.uid) == (
        "data", namespace, pvc.metadata.uid)
    assert pv.spec.persistent_volume_reclaim_policy == "Delete"
    host = Path(pv.spec.host_path.path)
    assert host.is_dir() and str(host).startswith(str(server.data_dir))
    events = server.kubectl("-n", namespace, "get", "events", "--field-selector",
                            "reason=ProvisioningSucceeded", "-o", "jsonpath={.items[*].message}").stdout
    assert events == f"Successfully provisioned volume {pv.metadata.name}"

    server.kubectl("-n", namespace, "delete", "pod", "user", "--grace-period=0", "--force")
    server.kubectl("-n", namespace, "delete", "pvc", "data")

    def gone() -> bool:
        try:
            v1.read_persistent_volume(pv.metadata.name)
        except client.ApiException as e:
            return e.status == 404
        return False

    assert _wait(gone)
    assert not host.exists()


def test_statefulset_volume_claim_templates_bind(server, namespace, api):
    sts = {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
        "spec": {"serviceName": "db", "replicas": 2, "selector": {"matchLabels": {"app": "db"}},
                 "template": {"metadata": {"labels": {"app": "db"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox",
                                                       "volumeMounts": [{"name": "data", "mountPath": "/d"}]}]}},
                 "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                           "spec": {"accessModes": ["ReadWriteOnce"],
                                                    "resources": {"requests": {"storage": "1Gi"}}}}]},
    }
    server.kubectl("-n", namespace, "create", "-f", "-", input=json.dumps(sts))
    v1 = client.CoreV1Api(api)

    def all_bound() -> bool:
        claims = v1.list_namespaced_persistent_volume_claim(namespace).items
        return sorted(c.metadata.name for c in claims if c.status.phase == "Bound") == ["data-db-0", "data-db-1"]

    assert _wait(all_bound, 40)
