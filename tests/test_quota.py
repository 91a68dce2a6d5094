"""ResourceQuota and LimitRange admission: what kubectl and the Python client see when refused."""

from __future__ import annotations

import json
import time

from kubernetes import client


def _pod(name: str, requests: dict[str, str] | None = None, limits: dict[str, str] | None = None) -> dict:
    resources: dict = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": "nowhere", "containers": [{"name": "c", "image": "busybox", "resources": resources}]}}


def _apply(server, namespace: str, obj: dict, check: bool = True):
    return server.kubectl("-n", namespace, "create", "-f", "-", input=json.dumps(obj), check=check)


def test_pod_over_cpu_quota_is_forbidden_with_upstream_message(server, namespace):
    _apply(server, namespace, {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "compute"},
                               "spec": {"hard": {"requests.cpu": "2"}}})
    _apply(server, namespace, _pod("first", requests={"cpu": "1"}))
    out = _apply(server, namespace, _pod("p", requests={"cpu": "2"}), check=False)
    assert out.returncode != 0
    assert ('Error from server (Forbidden): error when creating "STDIN": pods "p" is forbidden: exceeded quota: '
            "compute, requested: requests.cpu=2, used: requests.cpu=1, limited: requests.cpu=2") in out.stderr
    _apply(server, namespace, _pod("fits", requests={"cpu": "1"}))


def test_object_count_quota_refuses_the_extra_secret(server, namespace, api):
    _apply(server, namespace, {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "objects"},
                               "spec": {"hard": {"count/secrets": "1"}}})
    v1 = client.CoreV1Api(api)
    v1.create_namespaced_secret(namespace, {"metadata": {"name": "a"}})
    try:
        v1.create_namespaced_secret(namespace, {"metadata": {"name": "b"}})
    except client.ApiException as e:
        assert e.status == 403
        body = json.loads(e.body)
        assert body["reason"] == "Forbidden"
        assert body["message"] == ('secrets "b" is forbidden: exceeded quota: objects, requested: '
                                   "count/secrets=1, used: count/secrets=1, limited: count/secrets=1")
    else:
        raise AssertionError("second secret was admitted over quota")


def test_limitrange_minimum_refuses_small_request(server, namespace):
    _apply(server, namespace, {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "lr"},
                               "spec": {"limits": [{"type": "Container", "min": {"cpu": "100m"}}]}})
    out = _apply(server, namespace, _pod("p", requests={"cpu": "50m"}), check=False)
    assert out.returncode != 0
    assert 'pods "p" is forbidden: minimum cpu usage per Container is 100m, but request is 50m' in out.stderr


def test_limitrange_maximum_refuses_large_limit(server, namespace):
    _apply(server, namespace, {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "lr"},
                               "spec": {"limits": [{"type": "Container", "max": {"memory": "1Gi"}}]}})
    out = _apply(server, namespace, _pod("p", limits={"memory": "2Gi"}), check=False)
    assert 'pods "p" is forbidden: maximum memory usage per Container is 1Gi, but limit is 2Gi' in out.stderr


def test_limitrange_defaults_fill_container_resources(server, namespace):
    _apply(server, namespace, {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "lr"},
                               "spec": {"limits": [{"type": "Container", "default": {"cpu": "500m"},
                                                    "defaultRequest": {"cpu": "200m"}}]}})
    _apply(server, namespace, _pod("p"))
    out = server.kubectl("-n", namespace, "get", "pod", "p", "-o", "jsonpath={.spec.containers[0].resources}")
    assert json.loads(out.stdout) == {"limits": {"cpu": "500m"}, "requests": {"cpu": "200m"}}


def test_quota_status_reports_hard_and_used(server, namespace):
    _apply(server, namespace, {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "compute"},
                               "spec": {"hard": {"requests.cpu": "2", "pods": "5"}}})
    _apply(server, namespace, _pod("a", requests={"cpu": "500m"}))
    _apply(server, namespace, _pod("b", requests={"cpu": "250m"}))

    def status() -> dict:
        out = server.kubectl("-n", namespace, "get", "resourcequota", "compute", "-o", "jsonpath={.status}")
        return json.loads(out.stdout or "{}")

    deadline = time.monotonic() + 10
    while status().get("used") != {"pods": "2", "requests.cpu": "750m"} and time.monotonic() < deadline:
        time.sleep(0.1)
    assert status() == {"hard": {"pods": "5", "requests.cpu": "2"}, "used": {"pods": "2", "requests.cpu": "750m"}}
    out = server.kubectl("-n", namespace, "get", "resourcequota", "compute").stdout
    assert "pods: 2/5, requests.cpu: 750m/2" in out


def _quota_used(server, namespace: str, name: str, want: dict) -> dict:
    """The quota's status.used once the quota controller has recounted (it runs asynchronously)."""
    def used() -> dict:
        out = server.kubectl("-n", namespace, "get", "resourcequota", name, "-o", "jsonpath={.status.used}")
        return json.loads(out.stdout or "{}")

    deadline = time.monotonic() + 10
    while used() != want and time.monotonic() < deadline:
        time.sleep(0.1)
    return used()


def test_growing_a_claim_is_charged_the_difference(server, namespace):
    _apply(server, namespace, {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "storage"},
                               "spec": {"hard": {"requests.storage": "3Gi"}}})
    _apply(server, namespace, {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
                               "spec": {"volumeName": "pv-data", "storageClassName": "", "accessModes": ["ReadWriteOnce"],
                                        "resources": {"requests": {"storage": "1Gi"}}}})
    grow = '{"spec":{"resources":{"requests":{"storage":"%s"}}}}'
    server.kubectl("-n", namespace, "patch", "pvc", "data", "-p", grow % "2Gi")
    assert _quota_used(server, namespace, "storage", {"requests.storage": "2Gi"}) == {"requests.storage": "2Gi"}

    out = server.kubectl("-n", namespace, "patch", "pvc", "data", "-p", grow % "5Gi", check=False)
    assert out.returncode != 0
    assert ('Error from server (Forbidden): persistentvolumeclaims "data" is forbidden: exceeded quota: storage, '
            "requested: requests.storage=3Gi, used: requests.storage=2Gi, limited: requests.storage=3Gi") in out.stderr
    got = server.kubectl("-n", namespace, "get", "pvc", "data", "-o", "jsonpath={.spec.resources.requests.storage}")
    assert got.stdout == "2Gi"
    server.kubectl("-n", namespace, "patch", "pvc", "data", "-p", grow % "3Gi")


def test_service_type_change_is_charged_node_ports_and_load_balancers(server, namespace, api):
    _apply(server, namespace, {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "svc"},
                               "spec": {"hard": {"services.nodeports": "3", "services.loadbalancers": "1"}}})
    ports = [{"name": "http", "port": 80}, {"name": "https", "port": 443}]
    for name in ("a", "b"):
        _apply(server, namespace, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                                   "spec": {"selector": {"app": name}, "ports": ports}})
    server.kubectl("-n", namespace, "patch", "svc", "a", "-p", '{"spec":{"type":"NodePort"}}')
    assert _quota_used(server, namespace, "svc", {"services.loadbalancers": "0", "services.nodeports": "2"}) == {
        "services.loadbalancers": "0", "services.nodeports": "2"}

    v1 = client.CoreV1Api(api)
    try:  # a LoadBalancer takes a node port per port too: 2 more than the 1 left
        v1.patch_namespaced_service("b", namespace, {"spec": {"type": "LoadBalancer"}})
    except client.ApiException as e:
        assert e.status == 403
        assert json.loads(e.body)["message"] == (
            'services "b" is forbidden: exceeded quota: svc, requested: services.nodeports=2, '
            "used: services.nodeports=2, limited: services.nodeports=3")
    else:
        raise AssertionError("service b became a LoadBalancer over the node port quota")
    assert v1.read_namespaced_service("b", namespace).spec.type == "ClusterIP"

    v1.patch_namespaced_service("b", namespace, {"spec": {"type": "LoadBalancer",
                                                          "allocateLoadBalancerNodePorts": False}})
    assert _quota_used(server, namespace, "svc", {"services.loadbalancers": "1", "services.nodeports": "2"}) == {
        "services.loadbalancers": "1", "services.nodeports": "2"}
    out = server.kubectl("-n", namespace, "patch", "svc", "a", "-p", '{"spec":{"type":"LoadBalancer"}}', check=False)
    assert ('services "a" is forbidden: exceeded quota: svc, requested: services.loadbalancers=1, '
            "used: services.loadbalancers=1, limited: services.loadbalancers=1") in out.stderr
