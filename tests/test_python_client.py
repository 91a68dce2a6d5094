"""The official kubernetes Python client against a running server."""

from __future__ import annotations

import threading
import time

import pytest
from kubernetes import client, dynamic, utils, watch
from kubernetes.client.rest import ApiException


def test_list_namespaced_pod_returns_an_empty_list_with_a_resource_version(api, namespace):
    pods = client.CoreV1Api(api).list_namespaced_pod(namespace)
    assert pods.items == []
    assert int(pods.metadata.resource_version) > 0


def test_create_get_replace_delete_a_configmap(api, namespace):
    core = client.CoreV1Api(api)
    created = core.create_namespaced_config_map(namespace, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="cfg", labels={"a": "b"}), data={"k": "v"}))
    assert created.metadata.uid and created.metadata.creation_timestamp
    got = core.read_namespaced_config_map("cfg", namespace)
    assert got.data == {"k": "v"}
    got.data["k"] = "w"
    replaced = core.replace_namespaced_config_map("cfg", namespace, got)
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)
    status = core.delete_namespaced_config_map("cfg", namespace)
    assert status["status"] == "Success"  # client v37 types deletes as object
    with pytest.raises(ApiException) as e:
        core.read_namespaced_config_map("cfg", namespace)
    assert e.value.status == 404


def test_replace_with_a_stale_resource_version_is_a_conflict(api, namespace):
    core = client.CoreV1Api(api)
    cm = core.create_namespaced_config_map(namespace, {"metadata": {"name": "c"}, "data": {"a": "1"}})
    core.patch_namespaced_config_map("c", namespace, {"data": {"a": "2"}})
    cm.data = {"a": "3"}
    with pytest.raises(ApiException) as e:
        core.replace_namespaced_config_map("c", namespace, cm)
    assert e.value.status == 409
    assert "the object has been modified; please apply your changes to the latest version" in e.value.body
    assert core.read_namespaced_config_map("c", namespace).data == {"a": "2"}


def test_watch_stream_sees_added_modified_deleted(api, namespace):
    core = client.CoreV1Api(api)
    start_rv = core.list_namespaced_config_map(namespace).metadata.resource_version
    seen: list[tuple[str, str]] = []

    def consume() -> None:
        w = watch.Watch()
        for ev in w.stream(core.list_namespaced_config_map, namespace, resource_version=start_rv,
                           timeout_seconds=10):
            seen.append((ev["type"], ev["object"].metadata.name))
            if ev["type"] == "DELETED":
                w.stop()

    t = threading.Thread(target=consume)
    t.start()
    time.sleep(0.5)
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "w"}})
    core.patch_namespaced_config_map("w", namespace, {"data": {"x": "y"}})
    core.delete_namespaced_config_map("w", namespace)
    t.join(15)
    assert seen == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]


def test_create_from_yaml_multi_document(api, namespace, tmp_path):
    f = tmp_path / "objs.yaml"
    f.write_text(f"""
apiVersion: v1
kind: ConfigMap
metadata: {{name: one, namespace: {namespace}}}
data: {{a: b}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: dep, namespace: {namespace}}}
spec:
  selector: {{matchLabels: {{app: dep}}}}
  template:
    metadata: {{labels: {{app: dep}}}}
    spec:
      containers: [{{name: c, image: busybox}}]
""")
    utils.create_from_yaml(api, str(f))
    assert client.AppsV1Api(api).read_namespaced_deployment("dep", namespace).spec.replicas == 1
    assert client.CoreV1Api(api).read_namespaced_config_map("one", namespace).data == {"a": "b"}


def test_dynamic_client_discovers_and_lists(api, namespace):
    dyn = dynamic.DynamicClient(api)
    cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
    cms.create(body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "d"}}, namespace=namespace)
    names = [i.metadata.name for i in cms.get(namespace=namespace).items]
    assert "d" in names
    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    assert deployments.namespaced and "deploy" in deployments.short_names


def test_paged_list_with_limit_and_continue(api, namespace):
    core = client.CoreV1Api(api)
    for i in range(7):
        core.create_namespaced_config_map(namespace, {"metadata": {"name": f"p{i}"}})
    names, token = [], None
    while True:
        page = core.list_namespaced_config_map(namespace, limit=3, _continue=token)
        names += [i.metadata.name for i in page.items]
        token = page.metadata._continue
        if not token:
            break
    assert [n for n in names if n.startswith("p")] == [f"p{i}" for i in range(7)]
