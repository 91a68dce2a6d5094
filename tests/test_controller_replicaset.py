"""ReplicaSets and ReplicationControllers as a user sees them: pods created and counted, adopted and
released by selector, surplus pods deleted in upstream's order, events, availability after minReadySeconds."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from conftest import Server, start_server, stop_server
from fake_nodes import FakeKubelet, advance, make_node, wait_for


@pytest.fixture(scope="module")
def fc() -> Iterator[Server]:
    s = start_server("--no-node", "--fake-clock")
    make_node(s, "n1")
    make_node(s, "n2")
    yield s
    stop_server(s)


def ns(s: Server, name: str) -> str:
    code, _, out = s.request("POST", "/api/v1/namespaces", json.dumps(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}).encode())
    assert code == 201, out
    return name


def rs(name: str, replicas: int, min_ready: int = 0, image: str = "nginx") -> dict:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name},
            "spec": {"replicas": replicas, "minReadySeconds": min_ready,
                     "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": image}]}}}}


def apply(s: Server, namespace: str, obj: dict) -> None:
    s.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(obj))


def get(s: Server, path: str) -> dict:
    code, _, out = s.request("GET", path)
    assert code == 200, out
    return json.loads(out)


def pods(s: Server, namespace: str, active_only: bool = True) -> list[dict]:
    items = get(s, f"/api/v1/namespaces/{namespace}/pods")["items"]
    return [p for p in items if not (active_only and p["metadata"].get("deletionTimestamp"))]


def status(s: Server, namespace: str, name: str) -> dict:
    return get(s, f"/apis/apps/v1/namespaces/{namespace}/replicasets/{name}").get("status", {})


def test_replicaset_creates_owned_pods_and_reports_status(fc: Server) -> None:
    n = ns(fc, "rs-basic")
    with FakeKubelet(fc, n):
        apply(fc, n, rs("web", 3))
        wait_for(lambda: status(fc, n, "web").get("availableReplicas") == 3)
    st = status(fc, n, "web")
    assert st == {"replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 3, "availableReplicas": 3,
                  "observedGeneration": 1}
    ps = pods(fc, n)
    assert len(ps) == 3
    owner = get(fc, f"/apis/apps/v1/namespaces/{n}/replicasets/web")["metadata"]["uid"]
    for p in ps:
        assert p["metadata"]["generateName"] == "web-"
        assert p["metadata"]["name"].startswith("web-") and len(p["metadata"]["name"]) == 9
        assert p["metadata"]["ownerReferences"] == [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web",
                                                     "uid": owner, "controller": True, "blockOwnerDeletion": True}]
    out = fc.kubectl("get", "rs", "web", "-n", n).stdout.split("\n")[1].split()
    assert out[:4] == ["web", "3", "3", "3"]
    events = fc.kubectl("get", "events", "-n", n, "--field-selector", "reason=SuccessfulCreate",
                        "-o", "jsonpath={.items[*].message}").stdout
    assert events.count("Created pod: web-") == 3


def test_scale_down_deletes_unscheduled_and_not_ready_pods_first(fc: Server) -> None:
    n = ns(fc, "rs-order")
    apply(fc, n, rs("db", 3))
    wait_for(lambda: len([p for p in pods(fc, n) if p["spec"].get("nodeName")]) == 3)
    ps = sorted(pods(fc, n), key=lambda p: p["metadata"]["name"])
    ready_one, not_ready = ps[0]["metadata"]["name"], {ps[1]["metadata"]["name"], ps[2]["metadata"]["name"]}
    cond = [{"type": "Ready", "status": "True", "lastTransitionTime": "2024-01-01T00:00:00Z"}]
    code, _, out = fc.request("PATCH", f"/api/v1/namespaces/{n}/pods/{ready_one}/status",
                              json.dumps({"status": {"phase": "Running", "conditions": cond}}).encode(),
                              {"Content-Type": "application/merge-patch+json"})
    assert code == 200, out
    wait_for(lambda: status(fc, n, "db").get("readyReplicas") == 1)
    fc.kubectl("scale", "rs", "db", "-n", n, "--replicas=1")
    wait_for(lambda: [p["metadata"]["name"] for p in pods(fc, n)] == [ready_one])
    deleted = fc.kubectl("get", "events", "-n", n, "--field-selector", "reason=SuccessfulDelete",
                         "-o", "jsonpath={.items[*].message}").stdout
    assert {m.strip() for m in deleted.split("Deleted pod: ") if m.strip()} == not_ready


def test_orphans_are_adopted_and_relabelled_pods_released(fc: Server) -> None:
    n = ns(fc, "rs-adopt")
    orphan = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "stray", "labels": {"app": "api"}},
              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    fc.kubectl("apply", "-n", n, "-f", "-", input=json.dumps(orphan))
    apply(fc, n, rs("api", 2))
    wait_for(lambda: len(pods(fc, n)) == 2 and status(fc, n, "api").get("replicas") == 2)
    stray = get(fc, f"/api/v1/namespaces/{n}/pods/stray")
    assert stray["metadata"]["ownerReferences"][0]["name"] == "api"
    fc.kubectl("label", "pod", "stray", "-n", n, "app=other", "--overwrite")
    wait_for(lambda: not get(fc, f"/api/v1/namespaces/{n}/pods/stray")["metadata"].get("ownerReferences"))
    wait_for(lambda: len([p for p in pods(fc, n) if p["metadata"]["labels"]["app"] == "api"]) == 2)


def test_available_only_after_min_ready_seconds_on_the_clock(fc: Server) -> None:
    n = ns(fc, "rs-minready")
    with FakeKubelet(fc, n):
        apply(fc, n, rs("slow", 2, min_ready=30))
        wait_for(lambda: status(fc, n, "slow").get("readyReplicas") == 2)
        assert "availableReplicas" not in status(fc, n, "slow")
        advance(fc, 31)
        wait_for(lambda: status(fc, n, "slow").get("availableReplicas") == 2)


def test_burst_never_overshoots(fc: Server) -> None:
    n = ns(fc, "rs-burst")
    apply(fc, n, rs("many", 40))
    wait_for(lambda: status(fc, n, "many").get("replicas") == 40)
    for _ in range(5):
        fc.kubectl("annotate", "rs", "many", "-n", n, "poke=" + str(_), "--overwrite")
    assert len(pods(fc, n)) == 40


def test_replication_controller_keeps_its_pods(fc: Server) -> None:
    n = ns(fc, "rc-basic")
    rc = {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "legacy"},
          "spec": {"replicas": 2, "selector": {"app": "legacy"},
                   "template": {"metadata": {"labels": {"app": "legacy"}},
                                "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
    fc.kubectl("apply", "-n", n, "-f", "-", input=json.dumps(rc))
    wait_for(lambda: len(pods(fc, n)) == 2)
    victim = pods(fc, n)[0]["metadata"]["name"]
    fc.request("DELETE", f"/api/v1/namespaces/{n}/pods/{victim}", json.dumps({"gracePeriodSeconds": 0}).encode())
    wait_for(lambda: len(pods(fc, n)) == 2 and victim not in [p["metadata"]["name"] for p in pods(fc, n)])
    st = get(fc, f"/api/v1/namespaces/{n}/replicationcontrollers/legacy")["status"]
    assert st["replicas"] == 2 and st["fullyLabeledReplicas"] == 2
    assert pods(fc, n)[0]["metadata"]["ownerReferences"][0]["kind"] == "ReplicationController"
