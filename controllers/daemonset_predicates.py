"""Whether a daemon pod should run on a node (pkg/controller/daemon/util and NodeShouldRunDaemonPod).

A DaemonSet's pods tolerate the taints Kubernetes adds for node conditions, so that daemons keep
running on nodes that are not ready, unreachable, under pressure or cordoned; the node's
remaining taints, the template's nodeSelector and required node affinity decide the rest.
``should_run``: a new pod belongs there; ``should_continue``: an existing pod may stay (only an
untolerated NoExecute taint or a selector mismatch evicts it).
"""

from __future__ import annotations

import copy
from typing import Any

Obj = dict[str, Any]


def daemon_tolerations(host_network: bool) -> list[Obj]:
    out = [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
        {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
    ]
    if host_network:
        out.append({"key": "node.kubernetes.io/network-unavailable", "operator": "Exists", "effect": "NoSchedule"})
    return out


def add_daemon_tolerations(spec: Obj) -> None:
    """AddOrUpdateDaemonPodTolerations: add each toleration unless an equal one is there."""
    tols = list(spec.get("tolerations") or [])
    for t in daemon_tolerations(bool(spec.get("hostNetwork"))):
        if not any(all(x.get(k) == t.get(k) for k in ("key", "operator", "effect")) for x in tols):
            tols.append(t)
    spec["tolerations"] = tols


def pin_to_node(spec: Obj, node_name: str) -> None:
    """ReplaceDaemonSetPodNodeNameNodeAffinity: required node affinity ``metadata.name In [node]``."""
    affinity = spec.setdefault("affinity", {})
    na = affinity.setdefault("nodeAffinity", {})
    na["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}]}


def target_node(pod: Obj) -> str:
    """The node a daemon pod is on, or pinned to by its node affinity."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return spec["nodeName"]
    terms = ((((spec.get("affinity") or {}).get("nodeAffinity") or {})
              .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms")) or []
    for term in terms:
        for f in term.get("matchFields") or []:
            if f.get("key") == "metadata.name" and f.get("operator") == "In" and len(f.get("values") or []) == 1:
                return f["values"][0]
    return ""


def _requirement(req: Obj, value: str | None) -> bool:
    op, values = req.get("operator"), req.get("values") or []
    if op == "In":
        return value is not None and value in values
    if op == "NotIn":
        return value is None or value not in values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt"):
        try:
            v, bound = int(value or ""), int(values[0])
        except (ValueError, IndexError):
            return False
        return v > bound if op == "Gt" else v < bound
    return False


def node_matches_affinity(spec: Obj, node: Obj) -> bool:
    labels = (node.get("metadata") or {}).get("labels") or {}
    for k, v in (spec.get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return False
    terms = ((((spec.get("affinity") or {}).get("nodeAffinity") or {})
              .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms"))
    if not terms:
        return True
    fields = {"metadata.name": node["metadata"]["name"]}
    for term in terms:
        exprs, mfields = term.get("matchExpressions") or [], term.get("matchFields") or []
        if not exprs and not mfields:
            continue
        if all(_requirement(r, labels.get(r.get("key"))) for r in exprs) and \
                all(_requirement(r, fields.get(r.get("key"))) for r in mfields):
            return True
    return False


def _tolerates(tolerations: list[Obj], taint: Obj) -> bool:
    for t in tolerations:
        if t.get("effect") and t.get("effect") != taint.get("effect"):
            continue
        op = t.get("operator") or "Equal"
        if not t.get("key") and op == "Exists":
            return True
        if t.get("key") != taint.get("key"):
            continue
        if op == "Exists" or t.get("value", "") == taint.get("value", ""):
            return True
    return False


def should_run(template_spec: Obj, node: Obj) -> tuple[bool, bool]:
    """(should_run, should_continue_running) of a daemon pod with this template on ``node``."""
    spec = copy.deepcopy(template_spec)
    add_daemon_tolerations(spec)
    if not node_matches_affinity(spec, node):
        return False, False
    tolerations = spec.get("tolerations") or []
    run, keep = True, True
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") not in ("NoSchedule", "NoExecute") or _tolerates(tolerations, taint):
            continue
        run = False
        if taint.get("effect") == "NoExecute":
            keep = False
    return run, keep
