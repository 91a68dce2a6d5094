"""The DaemonSet controller: a pod per eligible node (selectors, taints, daemon tolerations),
pinned by node affinity, rolling updates within maxUnavailable, status counts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import Server, start_server, stop_server
from controller_helpers import (
    api_get,
    api_patch,
    api_send,
    create_node,
    pods,
    set_pod_status,
    wait_default_sa,
    wait_for,
)

from controllers.daemonset_predicates import target_node


@pytest.fixture(scope="module")
def own() -> Iterator[Server]:
    """Nodes are cluster-wide: this module gets a server of its own, without the in-process node."""
    s = start_server("--no-node")
    yield s
    stop_server(s)


def live(s: Server, ns: str) -> list[dict]:
    return [p for p in pods(s, ns) if not p["metadata"].get("deletionTimestamp")]


def ds_status(s: Server, ns: str) -> dict:
    out = api_get(s, f"/apis/apps/v1/namespaces/{ns}/daemonsets/agent")
    assert out is not None
    return out.get("status") or {}


def test_daemonset_runs_one_pod_per_eligible_node_and_rolls_updates(own: Server) -> None:
    s, ns = own, "ds"
    api_send(s, "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    wait_default_sa(s, ns)
    create_node(s, "n1", {"disk": "ssd"})
    create_node(s, "n2", {"disk": "ssd"}, taints=[{"key": "dedicated", "value": "x", "effect": "NoSchedule"}])
    create_node(s, "n3", {"disk": "hdd"})
    create_node(s, "n4", {"disk": "ssd"}, ready=False, taints=[
        {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"},
        {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}])
    api_send(s, "POST", f"/apis/apps/v1/namespaces/{ns}/daemonsets", {
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}},
                 "template": {"metadata": {"labels": {"app": "agent"}},
                              "spec": {"nodeSelector": {"disk": "ssd"},
                                       "containers": [{"name": "a", "image": "agent:1"}]}}}})
    ps = wait_for(lambda: (lambda x: x if len(x) == 2 else None)(live(s, ns)), what="2 daemon pods")
    assert sorted(target_node(p) for p in ps) == ["n1", "n4"]
    p = ps[0]
    terms = p["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms == [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [target_node(p)]}]}]
    tol = {(t["key"], t["effect"]) for t in p["spec"]["tolerations"]}
    assert {("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/unreachable", "NoExecute"),
            ("node.kubernetes.io/disk-pressure", "NoSchedule"), ("node.kubernetes.io/memory-pressure", "NoSchedule"),
            ("node.kubernetes.io/pid-pressure", "NoSchedule"),
            ("node.kubernetes.io/unschedulable", "NoSchedule")} <= tol
    assert ("node.kubernetes.io/network-unavailable", "NoSchedule") not in tol  # only for hostNetwork
    labels = p["metadata"]["labels"]
    assert labels["pod-template-generation"] == "1" and labels["controller-revision-hash"]
    assert p["metadata"]["ownerReferences"][0]["kind"] == "DaemonSet"
    first_hash = labels["controller-revision-hash"]
    for q in ps:
        set_pod_status(s, ns, q["metadata"]["name"], "Running", ready=True, pod_ip="10.5.0.1")
    st = wait_for(lambda: (lambda x: x if x.get("numberAvailable") == 2 else None)(ds_status(s, ns)), what="available")
    assert (st["desiredNumberScheduled"], st["currentNumberScheduled"], st["numberReady"],
            st["updatedNumberScheduled"], st["numberMisscheduled"]) == (2, 2, 2, 2, 0)
    out = s.kubectl("get", "daemonset", "agent", "-n", ns).stdout.split("\n")[1].split()
    assert out[1:6] == ["2", "2", "2", "2", "2"]

    # a new image: one node at a time (maxUnavailable 1)
    api_patch(s, f"/apis/apps/v1/namespaces/{ns}/daemonsets/agent",
              {"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "agent:2"}]}}}})

    def images() -> list[str]:
        return sorted(q["spec"]["containers"][0]["image"] for q in live(s, ns))

    wait_for(lambda: images() == ["agent:1", "agent:2"], what="one node updated")
    new = [q for q in live(s, ns) if q["spec"]["containers"][0]["image"] == "agent:2"][0]
    assert new["metadata"]["labels"]["controller-revision-hash"] != first_hash
    assert new["metadata"]["labels"]["pod-template-generation"] == "2"
    assert images() == ["agent:1", "agent:2"]  # the second waits for the first to be available
    set_pod_status(s, ns, new["metadata"]["name"], "Running", ready=True, pod_ip="10.5.0.2")
    wait_for(lambda: images() == ["agent:2", "agent:2"], what="both nodes updated")
    for q in live(s, ns):
        if not any(c["type"] == "Ready" and c["status"] == "True" for c in q["status"].get("conditions") or []):
            set_pod_status(s, ns, q["metadata"]["name"], "Running", ready=True, pod_ip="10.5.0.3")
    wait_for(lambda: ds_status(s, ns).get("updatedNumberScheduled") == 2 and
             ds_status(s, ns).get("numberAvailable") == 2, what="rollout done")
    done = s.kubectl("rollout", "status", "daemonset/agent", "-n", ns, "--timeout=10s").stdout
    assert 'daemon set "agent" successfully rolled out' in done
    revs = api_get(s, f"/apis/apps/v1/namespaces/{ns}/controllerrevisions")
    assert revs is not None and sorted(r["revision"] for r in revs["items"]) == [1, 2]

    # a node that stops matching the selector loses its daemon pod
    api_patch(s, "/api/v1/nodes/n1", {"metadata": {"labels": {"disk": "hdd"}}})
    wait_for(lambda: [target_node(q) for q in live(s, ns)] == ["n4"], what="n1's pod removed")
    wait_for(lambda: ds_status(s, ns).get("desiredNumberScheduled") == 1, what="desired 1")
