"""The numpy node table places every pod exactly where filtering and scoring node by node would:
same node, same number of nodes examined, over clusters with taints, cordoned and full nodes,
requests, spreading groups, and nodes that change while pods arrive."""

from __future__ import annotations

import random

import pytest

from controllers.scheduler import feasible_nodes_to_find
from controllers.scheduler_filters import Cluster, NodeInfo, find_feasible, pod_facts
from controllers.scheduler_scoring import best_node
from controllers.scheduler_table import NodeTable


def _node(rng: random.Random, i: int) -> dict:
    taints = []
    roll = rng.random()
    if roll < 0.1:
        taints.append({"key": "dedicated", "value": "gpu", "effect": "NoSchedule"})
    elif roll < 0.15:
        taints.append({"key": "spot", "effect": "PreferNoSchedule"})
    ready = "False" if rng.random() < 0.05 else "True"
    cpu = rng.choice(["2", "4", "8", "3500m"])
    memory = rng.choice(["4Gi", "8Gi", "16Gi", "6000Mi"])
    return {"metadata": {"name": f"node-{i:04d}", "labels": {"zone": f"z{i % 3}"}},
            "spec": {"taints": taints, "unschedulable": rng.random() < 0.05},
            "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": str(rng.choice([3, 5, 110]))},
                       "conditions": [{"type": "Ready", "status": ready}]}}


def _pod(rng: random.Random, k: int) -> dict:
    group = rng.randrange(6)
    container: dict = {"name": "c", "image": "busybox"}
    if group % 3 == 1:
        container["resources"] = {"requests": {"cpu": rng.choice(["100m", "250m", "1"]),
                                               "memory": rng.choice(["64Mi", "1Gi"])}}
    spec: dict = {"containers": [container]}
    if group == 5:
        spec["tolerations"] = [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]
    if group == 4:
        spec["nodeSelector"] = {"zone": "z1"}
    owner = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"rs-{group}", "uid": f"uid-{group}",
              "controller": True}]
    return {"metadata": {"name": f"p-{k}", "namespace": "ns", "labels": {"app": f"a{group}"},
                         "ownerReferences": owner}, "spec": spec}


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
@pytest.mark.parametrize("count", [120, 400])
def test_the_table_places_like_the_per_node_path(seed, count):
    rng = random.Random(seed)
    raw = [_node(rng, i) for i in range(count)]
    by_path = [NodeInfo(n) for n in raw]
    by_table = [NodeInfo(n) for n in raw]
    table = NodeTable(by_table)
    cluster = Cluster(by_path, {"ns": {}}, [])
    enough = feasible_nodes_to_find(count)
    start_a = start_b = 0
    placed = 0
    for k in range(count * 3):
        if k % 50 == 25:  # a node changes under the scheduler: cordoned, or its taint lifted
            i = rng.randrange(count)
            changed = {**raw[i], "spec": {"unschedulable": not raw[i]["spec"]["unschedulable"]}}
            by_path[i].set_node(changed)
            by_table[i].set_node(changed)
        pod = _pod(rng, k)
        feasible, rejections = find_feasible(pod, by_path, cluster, start_a, enough)
        found = table.feasible_rows(pod, pod_facts(pod), start_b, enough)
        if not feasible:
            assert found is None
            continue
        assert found is not None
        rows, examined = found
        assert [by_table[i].name for i in rows.tolist()] == [n.name for n in feasible]
        assert examined == len(feasible) + len(rejections)
        start_a = start_b = (start_a + examined) % count
        want = best_node(pod, feasible)
        got = table.best(pod_facts(pod), rows) or best_node(pod, [by_table[i] for i in rows.tolist()])
        assert got.name == want.name, k
        key = f"ns/{pod['metadata']['name']}"
        bound = {**pod, "spec": {**pod["spec"], "nodeName": want.name}}
        next(n for n in by_path if n.name == want.name).add(key, bound)
        got.add(key, bound)
        placed += 1
        if k % 7 == 3:  # a pod leaves
            victim = rng.choice([n for n in by_path if n.pods])
            gone = next(iter(victim.pods))
            victim.remove(gone)
            next(n for n in by_table if n.name == victim.name).remove(gone)
    assert placed > count  # most pods found a node: the comparison covered real placements


def test_a_request_finer_than_a_nanocore_goes_the_per_node_way():
    nodes = [NodeInfo({"metadata": {"name": f"n{i}"}, "spec": {},
                       "status": {"allocatable": {"cpu": "1", "memory": "1Gi", "pods": "10"},
                                  "conditions": [{"type": "Ready", "status": "True"}]}}) for i in range(3)]
    table = NodeTable(nodes)
    pod = {"metadata": {"name": "p", "namespace": "ns"},
           "spec": {"containers": [{"name": "c", "resources": {"requests": {"memory": "0.5"}}}]}}
    assert table.feasible_rows(pod, pod_facts(pod), 0, 3) is None


def test_equal_scores_go_to_the_node_with_fewer_pods_before_the_name():
    def node(name: str, cpu: str, memory: str) -> NodeInfo:
        return NodeInfo({"metadata": {"name": name}, "spec": {},
                         "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": "110"},
                                    "conditions": [{"type": "Ready", "status": "True"}]}})

    def pod(name: str, group: str) -> dict:
        return {"metadata": {"name": name, "namespace": "ns", "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": group, "uid": group, "controller": True}]},
            "spec": {"containers": [{"name": "c"}]}}

    # twice the node and twice the load (with the new pod counted): the same score on both
    a, b = node("a", "4", "8Gi"), node("b", "2", "4Gi")
    for i in range(3):
        a.add(f"ns/x{i}", pod(f"x{i}", "other"))
    b.add("ns/y", pod("y", "other"))
    table = NodeTable([a, b])
    new = pod("new", "mine")
    rows, _ = table.feasible_rows(new, pod_facts(new), 0, 2)
    assert best_node(new, [a, b]).name == "b"
    assert table.best(pod_facts(new), rows).name == "b"
