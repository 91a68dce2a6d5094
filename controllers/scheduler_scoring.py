"""The scheduler's Score plugins: among the nodes that fit, prefer the emptiest and the least crowded.

A weighted sum as kube-scheduler's default profile computes it (each plugin scores 0..100):
NodeResourcesFit LeastAllocated (1), NodeResourcesBalancedAllocation (1), PodTopologySpread's
system default spreading of pods of the same owner (2), NodeAffinity preferred terms (2) and
TaintToleration PreferNoSchedule (3). Ties go to the node with fewer pods, then by name, so a
test sees the same placement on every run (upstream picks among ties at random).
"""

from __future__ import annotations

import math
from typing import Any

from controllers.scheduler_filters import NodeInfo, pod_facts, term_matches, tolerates

Obj = dict[str, Any]

MAX = 100.0


def _totals(pod: Obj, feasible: list[NodeInfo]) -> list[float]:
    """Each feasible node's weighted score, in the order given (the plugins above, inlined: this runs
    for hundreds of nodes per pod)."""
    spec = pod.get("spec") or {}
    preferred = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                 .get("preferredDuringSchedulingIgnoredDuringExecution") or [])
    tolerations = spec.get("tolerations") or []
    facts = pod_facts(pod)
    group = facts.group  # pods of one group on a node: NodeInfo.groups counts them as _same_group
    spread = [float(n.groups.get(group, 0)) for n in feasible] if group else [0.0] * len(feasible)
    if preferred:
        affinity = [float(sum(int(t.get("weight") or 0) for t in preferred
                              if term_matches(t.get("preference") or {}, n.node))) for n in feasible]
    else:
        affinity = [0.0] * len(feasible)
    taints = []
    for n in feasible:
        soft = n.facts().soft_taints
        taints.append(float(sum(1 for t in soft if not tolerates(tolerations, t))) if soft else 0.0)
    spread_s, affinity_s, taint_s = _scaled(spread, True), _scaled(affinity), _scaled(taints, True)
    totals = []
    pod_cpu, pod_memory = facts.nz_cpu, facts.nz_memory
    for i, n in enumerate(feasible):
        totals.append(_resource_score(n, pod_cpu, pod_memory) + 2 * spread_s[i] + 2 * affinity_s[i] + 3 * taint_s[i])
    return totals


def _resource_score(n: NodeInfo, pod_cpu: float, pod_memory: float) -> float:
    """LeastAllocated + BalancedAllocation of a node for a pod requesting (pod_cpu, pod_memory).

    Kept on the NodeInfo until its requests change (NodeInfo drops it), the node object changes or a
    pod asks with other requests: between two pods of a burst only the node that got the first one
    changes, so the others answer from this cache.
    """
    node = n.facts()
    cached = n.score_cache
    if cached is not None and cached[2] is node and cached[0] == pod_cpu and cached[1] == pod_memory:
        return cached[3]
    f_cpu = (n.nz_cpu + pod_cpu) / node.cpu if node.cpu > 0 else 1.0
    f_mem = (n.nz_memory + pod_memory) / node.memory if node.memory > 0 else 1.0
    least = (max(0.0, 1.0 - f_cpu) * MAX + max(0.0, 1.0 - f_mem) * MAX) / 2
    a, b = min(f_cpu, 1.0), min(f_mem, 1.0)
    mean = (a + b) / 2
    balanced = (1 - math.sqrt(((a - mean) ** 2 + (b - mean) ** 2) / 2)) * MAX
    n.score_cache = (pod_cpu, pod_memory, node, least + balanced)
    return least + balanced


def _scaled(raw: list[float], reverse: bool = False) -> list[float]:
    top = max(raw, default=0.0)
    if top <= 0:
        return [MAX if reverse else 0.0] * len(raw)
    return [(MAX - v * MAX / top) if reverse else v * MAX / top for v in raw]


def score_nodes(pod: Obj, feasible: list[NodeInfo]) -> list[NodeInfo]:
    """The feasible nodes, best first."""
    totals = _totals(pod, feasible)
    order = sorted(range(len(feasible)), key=lambda i: (-round(totals[i], 6), len(feasible[i].pods), feasible[i].name))
    return [feasible[i] for i in order]


def best_node(pod: Obj, feasible: list[NodeInfo]) -> NodeInfo:
    """The first of ``score_nodes`` without sorting the rest.

    Scores are compared rounded to 6 decimals; rounding never reorders, so only the nodes whose
    unrounded score lies within a rounding step of the best can tie with it, and only they are rounded.
    """
    totals = _totals(pod, feasible)
    top = max(totals)
    best_score = round(top, 6)
    near = top - 2e-6
    tied = [feasible[i] for i, total in enumerate(totals) if total >= near and round(total, 6) == best_score]
    if len(tied) == 1:
        return tied[0]
    fewest = min(len(n.pods) for n in tied)
    return min((n for n in tied if len(n.pods) == fewest), key=_name)


def _name(n: NodeInfo) -> str:
    return n.name
