"""The scheduler's Filter plugins, in kube-scheduler's default order, with upstream's failure reasons.

Each filter answers for one (pod, node) pair: None when the pod may go there, else a ``Rejection``
with the reasons kube-scheduler prints in ``0/3 nodes are available: ...`` and whether preemption
could help (``UnschedulableAndUnresolvable`` rejections say "Preemption is not helpful").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from controllers.pod_facts import is_terminal, labels, meta
from controllers.scheduler_cache import (  # noqa: F401 - re-exported to the scheduler and its scoring
    TAINT_NOT_READY,
    TAINT_UNREACHABLE,
    NodeFacts,
    NodeInfo,
    PodFacts,
    Rejection,
    _required,
    effective_taints,
    group_of,
    host_ports,
    pod_facts,
)
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


def static_verdict(pod: Obj, ni: NodeInfo) -> Rejection | None:
    """The first failing static filter's rejection (they read only the node object and what the pod's
    signature holds), kept per node version and signature: pods of one template share it."""
    node_facts = ni.facts()
    signature = pod_facts(pod).signature
    verdict = node_facts.verdicts.get(signature, _UNSET)
    if verdict is _UNSET:
        verdict = None
        for f in STATIC_FILTERS:
            verdict = f(pod, ni)
            if verdict:
                break
        if len(node_facts.verdicts) > 256:
            node_facts.verdicts.clear()
        node_facts.verdicts[signature] = verdict
    return verdict


def run_filters(pod: Obj, ni: NodeInfo, cluster: Cluster) -> Rejection | None:
    """The first failing filter's rejection (the framework stops at the first failure per node).

    The first three filters read only the node object and what ``PodFacts.signature`` holds of the
    pod, so their verdict is kept per node version and signature (pods of one template share it);
    filters with nothing to check for this pod are skipped.
    """
    facts = pod_facts(pod)
    node_facts = ni.facts()
    verdict = static_verdict(pod, ni)
    if verdict:
        return verdict
    if facts.host_ports:
        r = node_ports(pod, ni)
        if r:
            return r
    if facts.checked_requests:
        r = resources_fit(pod, ni)
        if r:
            return r
    elif len(ni.pods) + 1 > node_facts.pod_limit:
        return Rejection(UNSCHEDULABLE, [ERR_TOO_MANY_PODS])  # resources_fit's only check for this pod
    if facts.spread:
        r = topology_spread(pod, ni, cluster)
        if r:
            return r
    if facts.affinity or cluster.anti_affinity_pods:
        return inter_pod_affinity(pod, ni, cluster)
    return None


def find_feasible(pod: Obj, nodes: list[NodeInfo], cluster: Cluster, start: int,
                  enough: int) -> tuple[list[NodeInfo], list[Rejection]]:
    """Run the filters on ``nodes`` from index ``start`` round, stopping once ``enough`` fit: the
    feasible nodes and the rejections of the others, in the order examined."""
    feasible: list[NodeInfo] = []
    rejections: list[Rejection] = []
    for ni in nodes[start:] + nodes[:start] if start else nodes:
        r = run_filters(pod, ni, cluster)
        if r is None:
            feasible.append(ni)
            if len(feasible) >= enough:
                break
        else:
            rejections.append(r)
    return feasible, rejections


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
