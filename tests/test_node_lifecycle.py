"""Node lifecycle: a node that stops heartbeating turns Unknown, is tainted, and its pods move away."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from conftest import Server, start_server, stop_server
from fake_nodes import FakeKubelet, advance, clock_now, make_node, wait_for


@pytest.fixture(scope="module")
def lifecycle_server() -> Iterator[Server]:
    s = start_server("--no-node", "--fake-clock", "--default-unreachable-toleration-seconds", "20")
    yield s
    stop_server(s)


def _renew(server: Server, node: str) -> None:
    """What a kubelet does every 10 s: renew its Lease in kube-node-lease."""
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
             "metadata": {"name": node, "namespace": "kube-node-lease"},
             "spec": {"holderIdentity": node, "leaseDurationSeconds": 40,
                      "renewTime": clock_now(server).replace("Z", ".000000Z")}}
    path = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
    code, _, _ = server.request("PUT", f"{path}/{node}", json.dumps(lease).encode())
    if code == 404:
        code, _, out = server.request("POST", path, json.dumps(lease).encode())
        assert code == 201, out


def _pods(server: Server, namespace: str) -> list[dict]:
    code, _, out = server.request("GET", f"/api/v1/namespaces/{namespace}/pods")
    assert code == 200
    return json.loads(out)["items"]


def test_deployment_pods_on_silent_node_are_replaced_elsewhere(lifecycle_server):
    server = lifecycle_server
    ns = "lifecycle"
    code, _, out = server.request("POST", "/api/v1/namespaces",
                                  json.dumps({"metadata": {"name": ns}}).encode())
    assert code == 201, out
    make_node(server, "silent")
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
              "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                       "template": {"metadata": {"labels": {"app": "web"}},
                                    "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
    server.kubectl("-n", ns, "apply", "-f", "-", input=json.dumps(deploy))
    with FakeKubelet(server, ns):
        wait_for(lambda: len([p for p in _pods(server, ns) if p["spec"].get("nodeName") == "silent"]) == 2)
        make_node(server, "alive-1")
        make_node(server, "alive-2")
        for _ in range(14):  # 70 s of controller time: past the 40 s grace and the 20 s toleration
            _renew(server, "alive-1")
            _renew(server, "alive-2")
            advance(server, 5)
            time.sleep(0.1)

        node = json.loads(server.kubectl("get", "node", "silent", "-o", "json").stdout)
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        assert (ready["status"], ready["reason"], ready["message"]) == (
            "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.")
        assert {(t["key"], t["effect"]) for t in node["spec"]["taints"]} == {
            ("node.kubernetes.io/unreachable", "NoSchedule"), ("node.kubernetes.io/unreachable", "NoExecute")}
        alive = json.loads(server.kubectl("get", "node", "alive-1", "-o", "json").stdout)
        assert not alive["spec"].get("taints")

        def replaced() -> bool:
            pods = [p for p in _pods(server, ns) if not p["metadata"].get("deletionTimestamp")]
            return len(pods) == 2 and all(p["spec"].get("nodeName") in ("alive-1", "alive-2") for p in pods)

        wait_for(replaced)
    events = server.kubectl("-n", ns, "get", "events", "--field-selector", "reason=TaintManagerEviction",
                            "-o", "jsonpath={.items[*].message}").stdout.split("Marking")
    assert len([e for e in events if e.startswith(f" for deletion Pod {ns}/web-")]) == 2
