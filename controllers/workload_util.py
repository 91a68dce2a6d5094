"""Small facts about pods and ownership that the Job, CronJob, StatefulSet, DaemonSet and
Endpoints controllers ask the same way.

Mirrors pkg/api/v1/pod and pkg/controller helpers: readiness from the Ready condition, terminal
phases, controller ownerReferences, a pod built from a template (labels, annotations, finalizers
and spec copied, the owner set as controller), conditions that keep their transition time.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from controllers.pod_util import condition, controller_of, is_ready, is_terminal, is_terminating  # noqa: F401 - re-exported to the workload controllers

Obj = dict[str, Any]


def meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def is_running_and_ready(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and is_ready(pod)


def parse_time(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return datetime.strptime(value[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def ready_since(pod: Obj) -> float | None:
    c = condition(pod, "Ready")
    if not c or c.get("status") != "True":
        return None
    return parse_time(c.get("lastTransitionTime")) or 0.0


def is_available(pod: Obj, min_ready_seconds: int, now: float) -> bool:
    """Ready for at least minReadySeconds (podutil.IsPodAvailable)."""
    since = ready_since(pod)
    if since is None:
        return False
    return min_ready_seconds <= 0 or since + min_ready_seconds <= now


def controller_ref(owner: Obj) -> Obj:
    """The ownerReference that makes ``owner`` the controller of what it creates."""
    m = meta(owner)
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": m["name"], "uid": m["uid"],
            "controller": True, "blockOwnerDeletion": True}


def pod_from_template(template: Obj, owner: Obj) -> Obj:
    """GetPodFromTemplate: the template's labels, annotations, finalizers and spec, owned by ``owner``."""
    tmeta = template.get("metadata") or {}
    pod_meta: Obj = {
        "labels": dict(tmeta.get("labels") or {}),
        "annotations": dict(tmeta.get("annotations") or {}),
        "ownerReferences": [controller_ref(owner)],
    }
    if tmeta.get("finalizers"):
        pod_meta["finalizers"] = list(tmeta["finalizers"])
    if not pod_meta["annotations"]:
        del pod_meta["annotations"]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta,
            "spec": copy.deepcopy(template.get("spec") or {})}


def set_condition(status: Obj, cond: Obj) -> bool:
    """Put ``cond`` in status.conditions; keep lastTransitionTime when the status did not change.

    Returns whether anything changed.
    """
    conds = status.setdefault("conditions", [])
    for i, c in enumerate(conds):
        if c.get("type") == cond["type"]:
            if all(c.get(k) == cond.get(k) for k in ("status", "reason", "message")):
                return False
            if c.get("status") == cond.get("status"):
                cond["lastTransitionTime"] = c.get("lastTransitionTime", cond.get("lastTransitionTime"))
            conds[i] = cond
            return True
    conds.append(cond)
    return True


def selector_matches(selector: Obj | None, labels: dict[str, str] | None) -> bool:
    """metav1.LabelSelectorAsSelector(selector).Matches(labels); an empty selector matches everything."""
    labels = labels or {}
    selector = selector or {}
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for req in selector.get("matchExpressions") or []:
        key, op, values = req.get("key"), req.get("operator"), req.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def map_selector_matches(selector: dict[str, str] | None, labels: dict[str, str] | None) -> bool:
    """A Service-style ``map[string]string`` selector; an empty one matches nothing."""
    if not selector:
        return False
    labels = labels or {}
    return all(labels.get(k) == v for k, v in selector.items())
