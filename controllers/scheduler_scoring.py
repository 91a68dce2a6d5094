"""The scheduler's Score plugins: among the nodes that fit, prefer the emptiest and the least crowded.

A weighted sum as kube-scheduler's default profile computes it (each plugin scores 0..100):
NodeResourcesFit LeastAllocated (1), NodeResourcesBalancedAllocation (1), PodTopologySpread's
system default spreading of pods of the same owner (2), NodeAffinity preferred terms (2) and
TaintToleration PreferNoSchedule (3). Ties go to the node with fewer pods, then by name, so a
test sees the same placement on every run (upstream picks among ties at random).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from controllers.pod_facts import controller_of, labels, meta, pod_requests
from controllers.scheduler_filters import NodeInfo, effective_taints, term_matches, tolerates

Obj = dict[str, Any]

MAX = 100.0


def _fractions(pod: Obj, ni: NodeInfo) -> list[float]:
    alloc = ni.allocatable
    req = pod_requests(pod, non_zero=True)
    out = []
    for r in ("cpu", "memory"):
        cap = alloc.get(r, Fraction(0))
        used = ni.non_zero_requested.get(r, Fraction(0)) + req.get(r, Fraction(0))
        out.append(float(used / cap) if cap > 0 else 1.0)
    return out


def least_allocated(pod: Obj, ni: NodeInfo) -> float:
    return sum(max(0.0, 1.0 - f) * MAX for f in _fractions(pod, ni)) / 2


def balanced_allocation(pod: Obj, ni: NodeInfo) -> float:
    fr = [min(f, 1.0) for f in _fractions(pod, ni)]
    mean = sum(fr) / len(fr)
    std = math.sqrt(sum((f - mean) ** 2 for f in fr) / len(fr))
    return (1 - std) * MAX


def _same_group(pod: Obj, other: Obj) -> bool:
    ref, oref = controller_of(pod), controller_of(other)
    if meta(pod).get("namespace") != meta(other).get("namespace"):
        return False
    if ref and oref:
        return ref.get("uid") == oref.get("uid")
    return not ref and not oref and bool(labels(pod)) and labels(pod) == labels(other)


def _normalize(raw: dict[str, float], reverse: bool = False) -> dict[str, float]:
    top = max(raw.values(), default=0.0)
    if top <= 0:
        return {k: (MAX if reverse else 0.0) for k in raw}
    return {k: (MAX - v * MAX / top) if reverse else v * MAX / top for k, v in raw.items()}


def score_nodes(pod: Obj, feasible: list[NodeInfo]) -> list[NodeInfo]:
    """The feasible nodes, best first."""
    spec = pod.get("spec") or {}
    preferred = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                 .get("preferredDuringSchedulingIgnoredDuringExecution") or [])
    tolerations = spec.get("tolerations") or []
    spread = {n.name: float(sum(1 for p in n.pods.values() if _same_group(pod, p))) for n in feasible}
    affinity = {n.name: float(sum(int(t.get("weight") or 0) for t in preferred
                                  if term_matches(t.get("preference") or {}, n.node))) for n in feasible}
    taints = {n.name: float(sum(1 for t in effective_taints(n.node)
                                if t.get("effect") == "PreferNoSchedule" and not tolerates(tolerations, t)))
              for n in feasible}
    spread_s, affinity_s, taint_s = _normalize(spread, True), _normalize(affinity), _normalize(taints, True)
    total = {}
    for n in feasible:
        total[n.name] = (least_allocated(pod, n) + balanced_allocation(pod, n) + 2 * spread_s[n.name]
                         + 2 * affinity_s[n.name] + 3 * taint_s[n.name])
    return sorted(feasible, key=lambda n: (-round(total[n.name], 6), len(n.pods), n.name))
