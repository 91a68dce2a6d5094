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
