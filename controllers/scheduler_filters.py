"""The scheduler's Filter plugins, in kube-scheduler's default order, with upstream's failure reasons.

Each filter answers for one (pod, node) pair: None when the pod may go there, else a ``Rejection``
with the reasons kube-scheduler prints in ``0/3 nodes are available: ...`` and whether preemption
could help (``UnschedulableAndUnresolvable`` rejections say "Preemption is not helpful").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import orjson

from controllers.pod_facts import controller_of, is_terminal, labels, meta, pod_requests, quantity_map
from storage.selectors import LabelSelector, SelectorError, selector_from_label_selector

Obj = dict[str, Any]

UNSCHEDULABLE = "Unschedulable"
UNRESOLVABLE = "UnschedulableAndUnresolvable"

ERR_UNSCHEDULABLE = "node(s) were unschedulable"
ERR_NODE_AFFINITY = "node(s) didn't match Pod's node affinity/selector"
ERR_PORTS = "node(s) didn't have free ports for the requested pod ports"
ERR_TOO_MANY_PODS = "Too many pods"
ERR_POD_AFFINITY = "node(s) didn't match pod affinity rules"
ERR_POD_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
ERR_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
ERR_SPREAD = "node(s) didn't match pod topology spread constraints"
ERR_SPREAD_LABEL = "node(s) didn't match pod topology spread constraints (missing required label)"

TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
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
    groups: dict[tuple[str, Any], int] = field(default_factory=dict)
    #: float(non_zero_requested[cpu]), float(non_zero_requested[memory])
    nz_cpu: float = 0.0
    nz_memory: float = 0.0
    _alloc: tuple[int, dict[str, Fraction]] | None = None
    _node_facts: tuple[Obj, Any] | None = None
    _name: str = ""

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

    def facts(self) -> NodeFacts:
        """What the node object alone decides, computed once per version of the node."""
        if self._node_facts is None or self._node_facts[0] is not self.node:
            alloc = self.allocatable
            max_pods = alloc.get("pods")
            taints = effective_taints(self.node)
            self._node_facts = (self.node, NodeFacts(
                taints=taints, soft_taints=[t for t in taints if t.get("effect") == "PreferNoSchedule"],
                max_pods=max_pods,
                cpu=float(alloc.get("cpu", Fraction(0))), memory=float(alloc.get("memory", Fraction(0)))))
        return self._node_facts[1]

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
        self._mirror()

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
        self._mirror()

    def _mirror(self) -> None:
        self.nz_cpu = float(self.non_zero_requested.get("cpu", Fraction(0)))
        self.nz_memory = float(self.non_zero_requested.get("memory", Fraction(0)))


@dataclass
class NodeFacts:
    taints: list[Obj]
    soft_taints: list[Obj]  # the PreferNoSchedule ones, which scoring reads
    max_pods: Fraction | None
    cpu: float
    memory: float
    #: static-filter verdicts by the pod's scheduling signature (see PodFacts.signature)
    verdicts: dict[bytes, Rejection | None] = field(default_factory=dict)


def group_of(pod: Obj) -> tuple[str, Any]:
    """The spreading group of a pod: its controller's uid, or its labels if it has no controller."""
    ns = meta(pod).get("namespace") or ""
    ref = controller_of(pod)
    if ref:
        return ns, ("uid", ref.get("uid"))
    lab = labels(pod)
    return ns, (("labels", frozenset(lab.items())) if lab else ("none", id(pod)))


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


def tolerates(tolerations: list[Obj], taint: Obj) -> bool:
    """v1helper.TolerationsTolerateTaint."""
    for t in tolerations:
        if not isinstance(t, dict):
            continue
        if t.get("effect") and t.get("effect") != taint.get("effect"):
            continue
        op = t.get("operator") or "Equal"
        if t.get("key"):
            if t.get("key") != taint.get("key"):
                continue
        elif op != "Exists":
            continue
        if op == "Exists" or (t.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


# -- node selection terms --------------------------------------------------------------------


def _requirement_matches(expr: Obj, value: str | None) -> bool:
    op = expr.get("operator")
    values = expr.get("values") or []
    if op == "In":
        return value is not None and value in values
    if op == "NotIn":
        return value is None or value not in values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt") and value is not None and len(values) == 1:
        try:
            a, b = int(value), int(values[0])
        except ValueError:
            return False
        return a > b if op == "Gt" else a < b
    return False


def term_matches(term: Obj, node: Obj) -> bool:
    """One NodeSelectorTerm: all expressions and fields match; an empty term matches nothing."""
    exprs = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not exprs and not fields:
        return False
    node_labels = labels(node)
    for e in exprs:
        if not _requirement_matches(e, node_labels.get(e.get("key", ""))):
            return False
    for f in fields:
        value = meta(node).get("name") if f.get("key") == "metadata.name" else None
        if not _requirement_matches(f, value):
            return False
    return True


def node_affinity_matches(pod: Obj, node: Obj) -> bool:
    spec = pod.get("spec") or {}
    node_labels = labels(node)
    for k, v in (spec.get("nodeSelector") or {}).items():
        if node_labels.get(k) != v:
            return False
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    if required:
        return any(term_matches(t, node) for t in required.get("nodeSelectorTerms") or [])
    return True


# -- filters ----------------------------------------------------------------------------------


def node_unschedulable(pod: Obj, ni: NodeInfo) -> Rejection | None:
    if not (ni.node.get("spec") or {}).get("unschedulable"):
        return None
    taint = {"key": TAINT_UNSCHEDULABLE, "effect": "NoSchedule"}
    if tolerates((pod.get("spec") or {}).get("tolerations") or [], taint):
        return None
    return Rejection(UNRESOLVABLE, [ERR_UNSCHEDULABLE])


def taint_toleration(pod: Obj, ni: NodeInfo) -> Rejection | None:
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    for t in ni.facts().taints:
        if t.get("effect") not in ("NoSchedule", "NoExecute"):
            continue
        if not tolerates(tolerations, t):
            return Rejection(UNRESOLVABLE, [f"node(s) had untolerated taint {{{t.get('key', '')}: {t.get('value', '')}}}"])
    return None


def node_affinity(pod: Obj, ni: NodeInfo) -> Rejection | None:
    return None if node_affinity_matches(pod, ni.node) else Rejection(UNRESOLVABLE, [ERR_NODE_AFFINITY])


def node_ports(pod: Obj, ni: NodeInfo) -> Rejection | None:
    for proto, ip, port in host_ports(pod):
        for uproto, uip, uport in ni.ports:
            if proto == uproto and port == uport and (ip == uip or "0.0.0.0" in (ip, uip)):
                return Rejection(UNSCHEDULABLE, [ERR_PORTS])
    return None


def resources_fit(pod: Obj, ni: NodeInfo) -> Rejection | None:
    alloc = ni.allocatable
    reasons = []
    max_pods = ni.facts().max_pods
    if max_pods is not None and len(ni.pods) + 1 > max_pods:
        reasons.append(ERR_TOO_MANY_PODS)
    for name, want in pod_facts(pod).checked_requests:
        if want > alloc.get(name, Fraction(0)) - ni.requested.get(name, Fraction(0)):
            reasons.append(f"Insufficient {name}")
    return Rejection(UNSCHEDULABLE, reasons) if reasons else None


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
    group: tuple[str, Any] | None


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


def _selector(raw: Any) -> LabelSelector:
    if raw is None:
        return LabelSelector.nothing()
    try:
        return selector_from_label_selector(raw)
    except SelectorError:
        return LabelSelector.nothing()


@dataclass
class Cluster:
    """What filters that look beyond one node need: every node, namespace labels, and the bound pods
    that carry required anti-affinity (kept by the scheduler so no filter scans every pod)."""

    nodes: list[NodeInfo]
    namespace_labels: dict[str, dict[str, str]]
    anti_affinity_pods: list[tuple[Obj, str]] = field(default_factory=list)
    _existing: list[tuple[Obj, str]] | None = None
    _by_name: dict[str, NodeInfo] | None = None

    def by_name(self) -> dict[str, NodeInfo]:
        if self._by_name is None:
            self._by_name = {n.name: n for n in self.nodes}
        return self._by_name

    def existing(self) -> list[tuple[Obj, str]]:
        """Every bound, unfinished pod with its node name (computed once per scheduling attempt)."""
        if self._existing is None:
            self._existing = [(p, n.name) for n in self.nodes for p in n.pods.values() if not is_terminal(p)]
        return self._existing


def topology_spread(pod: Obj, ni: NodeInfo, cluster: Cluster) -> Rejection | None:
    constraints = [c for c in (pod.get("spec") or {}).get("topologySpreadConstraints") or []
                   if c.get("whenUnsatisfiable", "DoNotSchedule") == "DoNotSchedule"]
    if not constraints:
        return None
    keys = [c.get("topologyKey", "") for c in constraints]
    if any(k not in ni.labels for k in keys):
        return Rejection(UNRESOLVABLE, [ERR_SPREAD_LABEL])
    namespace = meta(pod).get("namespace")
    pod_labels = labels(pod)
    for c in constraints:
        sel_raw = dict(c.get("labelSelector") or {})
        match_keys = [k for k in c.get("matchLabelKeys") or [] if k in pod_labels]
        if match_keys:
            sel_raw["matchExpressions"] = [*(sel_raw.get("matchExpressions") or []),
                                           *({"key": k, "operator": "In", "values": [pod_labels[k]]} for k in match_keys)]
        selector = _selector(sel_raw if c.get("labelSelector") is not None or match_keys else None)
        key = c["topologyKey"]
        counts: dict[str, int] = {}
        for other in cluster.nodes:
            if any(k not in other.labels for k in keys):
                continue
            if c.get("nodeAffinityPolicy", "Honor") == "Honor" and not node_affinity_matches(pod, other.node):
                continue
            if c.get("nodeTaintsPolicy", "Ignore") == "Honor" and taint_toleration(pod, other):
                continue
            n = sum(1 for p in other.pods.values() if meta(p).get("namespace") == namespace
                    and not meta(p).get("deletionTimestamp") and selector.matches(labels(p)))
            domain = other.labels[key]
            counts[domain] = counts.get(domain, 0) + n
        min_domains = c.get("minDomains")
        global_min = min(counts.values()) if counts else 0
        if min_domains and len(counts) < min_domains:
            global_min = 0
        self_match = 1 if selector.matches(pod_labels) else 0
        skew = counts.get(ni.labels[key], 0) + self_match - global_min
        if skew > int(c.get("maxSkew") or 1):
            return Rejection(UNSCHEDULABLE, [ERR_SPREAD])
    return None


def _term_namespaces(term: Obj, owner_namespace: str, cluster: Cluster) -> set[str] | None:
    """The namespaces an affinity term covers (None = all of them)."""
    names = set(term.get("namespaces") or [])
    ns_sel = term.get("namespaceSelector")
    if ns_sel is None:
        return names or {owner_namespace}
    selector = _selector(ns_sel)
    if selector.empty:
        return None
    return names | {ns for ns, lab in cluster.namespace_labels.items() if selector.matches(lab)}


def _term_matches_pod(term: Obj, term_owner: Obj, candidate: Obj, cluster: Cluster) -> bool:
    namespaces = _term_namespaces(term, meta(term_owner).get("namespace", ""), cluster)
    if namespaces is not None and meta(candidate).get("namespace") not in namespaces:
        return False
    return _selector(term.get("labelSelector")).matches(labels(candidate))


def _required(pod: Obj, kind: str) -> list[Obj]:
    aff = ((pod.get("spec") or {}).get("affinity") or {}).get(kind) or {}
    return [t for t in aff.get("requiredDuringSchedulingIgnoredDuringExecution") or [] if isinstance(t, dict)]


def inter_pod_affinity(pod: Obj, ni: NodeInfo, cluster: Cluster) -> Rejection | None:
    by_name = cluster.by_name()

    def same_domain(other_node: str, key: str) -> bool:
        o = by_name.get(other_node)
        return o is not None and key in ni.labels and o.labels.get(key) == ni.labels[key]

    affinity, anti = _required(pod, "podAffinity"), _required(pod, "podAntiAffinity")
    existing = cluster.existing() if affinity or anti else []
    for term in affinity:
        key = term.get("topologyKey", "")
        matching = [(p, n) for p, n in existing if _term_matches_pod(term, pod, p, cluster)]
        if any(same_domain(n, key) for _, n in matching):
            continue
        # no pod anywhere matches: the first pod of a group that selects itself may go anywhere with the key
        if not matching and _term_matches_pod(term, pod, pod, cluster) and key in ni.labels:
            continue
        return Rejection(UNRESOLVABLE, [ERR_POD_AFFINITY])
    for term in anti:
        key = term.get("topologyKey", "")
        if any(same_domain(n, key) and _term_matches_pod(term, pod, p, cluster) for p, n in existing):
            return Rejection(UNSCHEDULABLE, [ERR_POD_ANTI_AFFINITY])
    for p, n in cluster.anti_affinity_pods:
        for term in _required(p, "podAntiAffinity"):
            if same_domain(n, term.get("topologyKey", "")) and _term_matches_pod(term, p, pod, cluster):
                return Rejection(UNSCHEDULABLE, [ERR_EXISTING_ANTI_AFFINITY])
    return None


NODE_FILTERS = (node_unschedulable, taint_toleration, node_affinity, node_ports, resources_fit)
CLUSTER_FILTERS = (topology_spread, inter_pod_affinity)


_UNSET: Any = object()
STATIC_FILTERS = (node_unschedulable, taint_toleration, node_affinity)


def run_filters(pod: Obj, ni: NodeInfo, cluster: Cluster) -> Rejection | None:
    """The first failing filter's rejection (the framework stops at the first failure per node).

    The first three filters read only the node object and what ``PodFacts.signature`` holds of the
    pod, so their verdict is kept per node version and signature (pods of one template share it);
    filters with nothing to check for this pod are skipped.
    """
    facts = pod_facts(pod)
    node_facts = ni.facts()
    verdict = node_facts.verdicts.get(facts.signature, _UNSET)
    if verdict is _UNSET:
        verdict = None
        for f in STATIC_FILTERS:
            verdict = f(pod, ni)
            if verdict:
                break
        if len(node_facts.verdicts) > 256:
            node_facts.verdicts.clear()
        node_facts.verdicts[facts.signature] = verdict
    if verdict:
        return verdict
    if facts.host_ports:
        r = node_ports(pod, ni)
        if r:
            return r
    r = resources_fit(pod, ni)
    if r:
        return r
    if facts.spread:
        r = topology_spread(pod, ni, cluster)
        if r:
            return r
    if facts.affinity or cluster.anti_affinity_pods:
        return inter_pod_affinity(pod, ni, cluster)
    return None


def fit_error(total_nodes: int, rejections: list[Rejection], preemption_policy: str = "") -> str:
    """FitError.Error() with the DefaultPreemption post-filter message, as kube-scheduler words it."""
    counts: dict[str, int] = {}
    for r in rejections:
        for reason in r.reasons:
            counts[reason] = counts.get(reason, 0) + 1
    msg = f"0/{total_nodes} nodes are available:"
    if counts:
        msg += " " + ", ".join(sorted(f"{v} {k}" for k, v in counts.items())) + "."
    if preemption_policy == "Never":
        return msg + " preemption: not eligible due to preemptionPolicy=Never.."
    pre: dict[str, int] = {}
    for r in rejections:
        reason = ("Preemption is not helpful for scheduling" if r.code == UNRESOLVABLE
                  else "No preemption victims found for incoming pod")
        pre[reason] = pre.get(reason, 0) + 1
    msg += f" preemption: 0/{total_nodes} nodes are available: "
    msg += ", ".join(sorted(f"{v} {k}" for k, v in pre.items())) + "."
    return msg
