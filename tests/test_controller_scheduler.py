"""default-scheduler as a user sees it: pods land on nodes that fit, and a pod that fits nowhere says
why in PodScheduled and a FailedScheduling event, in kube-scheduler's words, until the cluster changes."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from conftest import Server, start_server, stop_server
from fake_nodes import make_node, wait_for


@pytest.fixture(scope="module")
def cluster() -> Iterator[Server]:
    """A server of its own: the scheduler sees every node, so node sets must not leak between modules."""
    s = start_server("--no-node")
    make_node(s, "cp", labels={"node-role.kubernetes.io/control-plane": ""},
              taints=[{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}])
    make_node(s, "w1", cpu="2", labels={"topology.kubernetes.io/zone": "a", "disk": "ssd"})
    make_node(s, "w2", cpu="2", labels={"topology.kubernetes.io/zone": "b"})
    yield s
    stop_server(s)


def _ns(s: Server, name: str) -> str:
    body = json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}).encode()
    code, _, out = s.request("POST", "/api/v1/namespaces", body)
    assert code == 201, out
    return name


def pod(name: str, cpu: str = "", **spec: object) -> dict:
    c: dict = {"name": "app", "image": "nginx"}
    if cpu:
        c["resources"] = {"requests": {"cpu": cpu}}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"containers": [c], **spec}}


def create(s: Server, ns: str, obj: dict) -> None:
    code, _, out = s.request("POST", f"/api/v1/namespaces/{ns}/pods", json.dumps(obj).encode())
    assert code == 201, out


def get(s: Server, ns: str, name: str) -> dict:
    code, _, out = s.request("GET", f"/api/v1/namespaces/{ns}/pods/{name}")
    assert code == 200, out
    return json.loads(out)


def node_of(s: Server, ns: str, name: str) -> str:
    return wait_for(lambda: get(s, ns, name)["spec"].get("nodeName"))


def unschedulable_message(s: Server, ns: str, name: str) -> str:
    def msg() -> str | None:
        for c in get(s, ns, name).get("status", {}).get("conditions", []):
            if c["type"] == "PodScheduled" and c["status"] == "False":
                assert c["reason"] == "Unschedulable"
                return c["message"]
        return None
    return wait_for(msg)


def test_pod_is_bound_to_a_worker_with_scheduled_event(cluster: Server) -> None:
    ns = _ns(cluster, "sched-basic")
    create(cluster, ns, pod("web"))
    assert node_of(cluster, ns, "web") in ("w1", "w2")
    p = get(cluster, ns, "web")
    assert any(c["type"] == "PodScheduled" and c["status"] == "True" for c in p["status"]["conditions"])
    out = wait_for(lambda: (r := cluster.kubectl("get", "events", "-n", ns, "--field-selector", "reason=Scheduled",
                                                 "-o", "json")) and json.loads(r.stdout)["items"])
    assert out[0]["message"] == f"Successfully assigned {ns}/web to {p['spec']['nodeName']}"
    assert out[0]["source"]["component"] == "default-scheduler"


def test_insufficient_cpu_and_taint_message_then_retry_when_a_node_joins(cluster: Server) -> None:
    ns = _ns(cluster, "sched-cpu")
    create(cluster, ns, pod("big", cpu="3"))
    assert unschedulable_message(cluster, ns, "big") == (
        "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
        "2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, "
        "2 No preemption victims found for incoming pod.")
    described = cluster.kubectl("describe", "pod", "big", "-n", ns).stdout
    assert "FailedScheduling" in described and "default-scheduler" in described
    make_node(cluster, "w3-big", cpu="8")
    assert node_of(cluster, ns, "big") == "w3-big"
    cluster.kubectl("delete", "node", "w3-big")


def test_node_selector_affinity_and_unschedulable_nodes(cluster: Server) -> None:
    ns = _ns(cluster, "sched-sel")
    create(cluster, ns, pod("ssd", nodeSelector={"disk": "ssd"}))
    assert node_of(cluster, ns, "ssd") == "w1"
    create(cluster, ns, pod("zone-b", affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In",
                                                     "values": ["b"]}]}]}}}))
    assert node_of(cluster, ns, "zone-b") == "w2"
    create(cluster, ns, pod("nowhere", nodeSelector={"disk": "nvme"}))
    assert unschedulable_message(cluster, ns, "nowhere") == (
        "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
        "2 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: "
        "3 Preemption is not helpful for scheduling.")
    cluster.kubectl("cordon", "w1")
    try:
        create(cluster, ns, pod("cordoned", nodeSelector={"disk": "ssd"}))
        assert unschedulable_message(cluster, ns, "cordoned") == (
            "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, "
            "1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
            "1 node(s) were unschedulable. preemption: 0/3 nodes are available: "
            "3 Preemption is not helpful for scheduling.")
    finally:
        cluster.kubectl("uncordon", "w1")
    assert node_of(cluster, ns, "cordoned") == "w1"


def test_toleration_lets_a_pod_onto_the_control_plane(cluster: Server) -> None:
    ns = _ns(cluster, "sched-tol")
    create(cluster, ns, pod("admin", cpu="3", tolerations=[
        {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}]))
    assert node_of(cluster, ns, "admin") == "cp"


def test_host_port_conflict(cluster: Server) -> None:
    ns = _ns(cluster, "sched-ports")
    for i in range(2):
        p = pod(f"hp{i}")
        p["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": 8080}]
        create(cluster, ns, p)
        node_of(cluster, ns, f"hp{i}")
    p = pod("hp2")
    p["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": 8080}]
    create(cluster, ns, p)
    assert unschedulable_message(cluster, ns, "hp2") == (
        "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
        "2 node(s) didn't have free ports for the requested pod ports. preemption: 0/3 nodes are available: "
        "1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.")


def test_pod_anti_affinity_spreads_then_blocks(cluster: Server) -> None:
    ns = _ns(cluster, "sched-anti")
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"tier": "db"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    nodes = set()
    for i in range(3):
        p = pod(f"db{i}", affinity=anti)
        p["metadata"]["labels"]["tier"] = "db"
        create(cluster, ns, p)
        if i < 2:
            nodes.add(node_of(cluster, ns, f"db{i}"))
    assert nodes == {"w1", "w2"}
    assert unschedulable_message(cluster, ns, "db2") == (
        "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
        "2 node(s) didn't match pod anti-affinity rules. preemption: 0/3 nodes are available: "
        "1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.")


def test_pod_affinity_follows_the_target(cluster: Server) -> None:
    ns = _ns(cluster, "sched-aff")
    create(cluster, ns, pod("cache", nodeSelector={"topology.kubernetes.io/zone": "b"}))
    assert node_of(cluster, ns, "cache") == "w2"
    create(cluster, ns, pod("near", affinity={"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "cache"}}, "topologyKey": "topology.kubernetes.io/zone"}]}}))
    assert node_of(cluster, ns, "near") == "w2"
    create(cluster, ns, pod("lonely", affinity={"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "missing"}}, "topologyKey": "topology.kubernetes.io/zone"}]}}))
    assert unschedulable_message(cluster, ns, "lonely").startswith(
        "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
        "2 node(s) didn't match pod affinity rules.")


def test_topology_spread_do_not_schedule(cluster: Server) -> None:
    ns = _ns(cluster, "sched-spread")
    spread = [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
               "labelSelector": {"matchLabels": {"group": "s"}}}]
    placed = []
    for i in range(4):
        p = pod(f"s{i}", topologySpreadConstraints=spread, nodeSelector={})
        p["metadata"]["labels"]["group"] = "s"
        create(cluster, ns, p)
        placed.append(node_of(cluster, ns, f"s{i}"))
    assert sorted(placed) == ["w1", "w1", "w2", "w2"]
    # the control-plane node has no zone label: it is not a domain, and a pod pinned there cannot spread
    p = pod("pinned", topologySpreadConstraints=spread, tolerations=[{"operator": "Exists"}],
            nodeSelector={"node-role.kubernetes.io/control-plane": ""})
    p["metadata"]["labels"]["group"] = "s"
    create(cluster, ns, p)
    assert unschedulable_message(cluster, ns, "pinned") == (
        "0/3 nodes are available: 1 node(s) didn't match pod topology spread constraints (missing required label), "
        "2 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: "
        "3 Preemption is not helpful for scheduling.")


def test_not_ready_node_is_filtered_by_its_taint(cluster: Server) -> None:
    ns = _ns(cluster, "sched-notready")
    make_node(cluster, "sick", ready="False", labels={"only": "sick"})
    try:
        create(cluster, ns, pod("p", nodeSelector={"only": "sick"}))
        msg = unschedulable_message(cluster, ns, "p")
        assert msg == (
            "0/4 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
            "1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, "
            "2 node(s) didn't match Pod's node affinity/selector. preemption: 0/4 nodes are available: "
            "4 Preemption is not helpful for scheduling.")
    finally:
        cluster.kubectl("delete", "node", "sick")
