"""The scheduler's cache: what it knows of each node (NodeInfo, kept incrementally as pods are
bound and leave) and of the pod being scheduled (PodFacts, computed once per scheduling cycle),
so that filtering and scoring hundreds of nodes per pod reads prepared numbers.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import orjson

from controllers.pod_facts import controller_of, labels, meta, pod_requests, quantity_map

Obj = dict[str, Any]

TAINT_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"


@dataclass
class Rejection:
    code: str
    reasons: list[str]


@dataclass
class NodeInfo:
    """A node and what the pods bound to it use (the scheduler cache's NodeInfo), kept incrementally.

    Besides the exact (Fraction) sums it keeps what each scheduling cycle reads per node without
    recomputing it: the pod count per owner (for spreading), float mirrors of the non-zero
    requests (for scoring) and the verdicts of the filters that read only the node object.
    """

    node: Obj
    pods: dict[str, Obj] = field(default_factory=dict)
    requested: dict[str, Fraction] = field(default_factory=dict)
    non_zero_requested: dict[str, Fraction] = field(default_factory=dict)
    port_use: dict[tuple[str, str, int], int] = field(default_factory=dict)
    #: pods per (namespace, controller uid), and per (namespace, labels) for pods without a controller
    groups: dict[str, int] = field(default_factory=dict)
    #: float(non_zero_requested[cpu]), float(non_zero_requested[memory])
    nz_cpu: float = 0.0
    nz_memory: float = 0.0
    _alloc: tuple[int, dict[str, Fraction]] | None = None
    _facts: tuple[Obj, Any] | None = None  # (the node object, its NodeFacts)
    _name: str = ""
    #: (pod cpu, pod memory, NodeFacts, LeastAllocated + BalancedAllocation) of the last scoring
    #: (scheduler_scoring.py); dropped when the node's requests change
    score_cache: tuple[float, float, Any, float] | None = None
    #: (NodeTable, row) mirroring this node for the vectorized path (scheduler_table.py), if any
    table_row: tuple[Any, int] | None = None

    @property
    def name(self) -> str:
        if not self._name:
            self._name = meta(self.node).get("name", "")
        return self._name

    @property
    def labels(self) -> dict[str, str]:
        return labels(self.node)

    @property
    def ports(self) -> set[tuple[str, str, int]]:
        return set(self.port_use)

    @property
    def allocatable(self) -> dict[str, Fraction]:
        if self._alloc is None or self._alloc[0] != id(self.node):
            status = self.node.get("status") or {}
            self._alloc = (id(self.node), quantity_map(status.get("allocatable") or status.get("capacity")))
        return self._alloc[1]

    def set_node(self, node: Obj) -> None:
        """A new version of the Node object."""
        self.node = node
        if self.table_row is not None:
            table, row = self.table_row
            table.sync_node(self, row)

    def facts(self) -> NodeFacts:
        """What the node object alone decides, computed once per version of the node."""
        cached = self._facts
        if cached is not None and cached[0] is self.node:
            return cached[1]
        alloc = self.allocatable
        max_pods = alloc.get("pods")
        taints = effective_taints(self.node)
        facts = NodeFacts(
            taints=taints, soft_taints=[t for t in taints if t.get("effect") == "PreferNoSchedule"],
            max_pods=max_pods,
            pod_limit=float(max_pods) if max_pods is not None else math.inf,
            cpu=float(alloc.get("cpu", Fraction(0))), memory=float(alloc.get("memory", Fraction(0))))
        self._facts = (self.node, facts)
        return facts

    def add(self, key: str, pod: Obj) -> None:
        if key in self.pods:
            self.remove(key)
        self.pods[key] = pod
        for k, v in pod_requests(pod).items():
            self.requested[k] = self.requested.get(k, Fraction(0)) + v
        for k, v in pod_requests(pod, non_zero=True).items():
            self.non_zero_requested[k] = self.non_zero_requested.get(k, Fraction(0)) + v
        for port in host_ports(pod):
            self.port_use[port] = self.port_use.get(port, 0) + 1
        g = group_of(pod)
        self.groups[g] = self.groups.get(g, 0) + 1
        self._mirror(g)

    def remove(self, key: str) -> None:
        pod = self.pods.pop(key, None)
        if pod is None:
            return
        for k, v in pod_requests(pod).items():
            self.requested[k] = self.requested.get(k, Fraction(0)) - v
        for k, v in pod_requests(pod, non_zero=True).items():
            self.non_zero_requested[k] = self.non_zero_requested.get(k, Fraction(0)) - v
        for port in host_ports(pod):
            n = self.port_use.get(port, 0) - 1
            if n > 0:
                self.port_use[port] = n
            else:
                self.port_use.pop(port, None)
        g = group_of(pod)
        n = self.groups.get(g, 0) - 1
        if n > 0:
            self.groups[g] = n
        else:
            self.groups.pop(g, None)
        self._mirror(g)

    def _mirror(self, group: str) -> None:
        self.nz_cpu = float(self.non_zero_requested.get("cpu", Fraction(0)))
        self.nz_memory = float(self.non_zero_requested.get("memory", Fraction(0)))
        self.score_cache = None
        if self.table_row is not None:
            table, row = self.table_row
            table.sync_pods(self, row, group)


@dataclass
class NodeFacts:
    taints: list[Obj]
    soft_taints: list[Obj]  # the PreferNoSchedule ones, which scoring reads
    max_pods: Fraction | None
    #: max_pods as a float, infinite when the node sets none
    pod_limit: float
    cpu: float
    memory: float
    #: static-filter verdicts by the pod's scheduling signature (see PodFacts.signature)
    verdicts: dict[bytes, Rejection | None] = field(default_factory=dict)


def group_of(pod: Obj) -> str:
    """The spreading group of a pod: its controller's uid, or its labels if it has no controller.

    An interned string, so that the per-node counts are read without hashing anything anew.
    """
    ns = meta(pod).get("namespace") or ""
    ref = controller_of(pod)
    if ref:
        return sys.intern(f"{ns}\0uid\0{ref.get('uid')}")
    lab = labels(pod)
    if lab:
        return sys.intern(f"{ns}\0labels\0" + "\0".join(f"{k}={v}" for k, v in sorted(lab.items())))
    return f"{ns}\0none\0{id(pod)}"


def host_ports(pod: Obj) -> set[tuple[str, str, int]]:
    out = set()
    spec = pod.get("spec") or {}
    for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        for p in c.get("ports") or []:
            hp = p.get("hostPort")
            if hp:
                out.add((p.get("protocol") or "TCP", p.get("hostIP") or "0.0.0.0", int(hp)))
    return out


def effective_taints(node: Obj) -> list[Obj]:
    """The node's taints, plus the not-ready/unreachable taint the node lifecycle controller would add
    for a node whose Ready condition is not True (so a NotReady node is filtered as upstream does)."""
    taints = [t for t in (node.get("spec") or {}).get("taints") or [] if isinstance(t, dict)]
    keys = {t.get("key") for t in taints}
    ready = None
    for c in (node.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            ready = c.get("status")
    if ready != "True" and TAINT_NOT_READY not in keys and TAINT_UNREACHABLE not in keys:
        key = TAINT_NOT_READY if ready == "False" else TAINT_UNREACHABLE
        taints.append({"key": key, "effect": "NoSchedule"})
    return taints


@dataclass
class PodFacts:
    """What every filter and score would otherwise recompute for each node, computed once per pod."""

    pod: Obj
    requests: dict[str, Fraction]
    #: the requests NodeResourcesFit compares, in the order it reports them
    checked_requests: list[tuple[str, Fraction]]
    nz_cpu: float
    nz_memory: float
    host_ports: set[tuple[str, str, int]]
    #: what the node-only filters (unschedulable, taints, node affinity) read of the pod
    signature: bytes
    spread: bool
    affinity: bool
    group: str | None


_last_facts: list[PodFacts] = []


def pod_facts(pod: Obj) -> PodFacts:
    """The facts of ``pod`` (remembered for the pod object last asked about: one scheduling cycle)."""
    if _last_facts and _last_facts[0].pod is pod:
        return _last_facts[0]
    spec = pod.get("spec") or {}
    req = pod_requests(pod)
    checked = [(n, req[n]) for n in ("cpu", "memory", "ephemeral-storage") if req.get(n)]
    checked += [(n, v) for n, v in sorted(req.items())
                if n not in ("cpu", "memory", "ephemeral-storage", "pods") and v
                and ("/" in n or n.startswith("hugepages-"))]
    nz = pod_requests(pod, non_zero=True)
    aff = spec.get("affinity") or {}
    signature = orjson.dumps([spec.get("nodeSelector"), (aff.get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"), spec.get("tolerations")], option=orjson.OPT_SORT_KEYS)
    spread = any(c.get("whenUnsatisfiable", "DoNotSchedule") == "DoNotSchedule"
                 for c in spec.get("topologySpreadConstraints") or [] if isinstance(c, dict))
    group = group_of(pod) if controller_of(pod) or labels(pod) else None
    facts = PodFacts(pod, req, checked, float(nz.get("cpu", Fraction(0))), float(nz.get("memory", Fraction(0))),
                     host_ports(pod), signature, spread,
                     bool(_required(pod, "podAffinity") or _required(pod, "podAntiAffinity")), group)
    _last_facts[:] = [facts]
    return facts


# -- pod topology spread and inter-pod affinity (need the whole cluster) ------------------------


def _required(pod: Obj, kind: str) -> list[Obj]:
    aff = ((pod.get("spec") or {}).get("affinity") or {}).get(kind) or {}
    return [t for t in aff.get("requiredDuringSchedulingIgnoredDuringExecution") or [] if isinstance(t, dict)]
