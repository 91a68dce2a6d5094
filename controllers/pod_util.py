"""Small helpers the Job and CronJob controllers share: conditions, controller references, pod templates.

(Restored after an accidental overwrite by the scheduler/ReplicaSet engineer; same names and behaviour
as the Job/CronJob code uses them. The scheduler and ReplicaSet helpers live in ``pod_facts.py``.)
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

Obj = dict[str, Any]


def parse_time(value: str | None) -> float | None:
    """An RFC 3339 timestamp as epoch seconds (None when absent or malformed)."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def condition(obj: Obj, ctype: str) -> Obj | None:
    """The condition of type ``ctype`` in ``obj.status.conditions``, or None."""
    for c in (obj.get("status") or {}).get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == ctype:
            return c
    return None


def set_condition(status: Obj, cond: Obj) -> None:
    """Put ``cond`` in ``status.conditions``, replacing one of the same type; the transition time
    stays when the status does not change."""
    conds = status.setdefault("conditions", []) or []
    status["conditions"] = conds
    for i, c in enumerate(conds):
        if isinstance(c, dict) and c.get("type") == cond.get("type"):
            if c.get("status") == cond.get("status") and c.get("lastTransitionTime"):
                cond = {**cond, "lastTransitionTime": c["lastTransitionTime"]}
            conds[i] = cond
            return
    conds.append(cond)


def controller_of(obj: Obj) -> Obj | None:
    """metav1.GetControllerOf: the ownerReference with ``controller: true``."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller"):
            return ref
    return None


def controller_ref(owner: Obj) -> Obj:
    """metav1.NewControllerRef: the reference a controller puts on what it creates."""
    meta = owner.get("metadata") or {}
    return {"apiVersion": owner.get("apiVersion", ""), "kind": owner.get("kind", ""), "name": meta.get("name", ""),
            "uid": meta.get("uid", ""), "controller": True, "blockOwnerDeletion": True}


def is_ready(pod: Obj) -> bool:
    c = condition(pod, "Ready")
    return bool(c and c.get("status") == "True")


def is_terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def is_terminating(pod: Obj) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def pod_from_template(template: Obj, owner: Obj) -> Obj:
    """controller.GetPodFromTemplate: labels, annotations, finalizers and spec of the template,
    owned by ``owner`` (the caller sets the name or generateName)."""
    tmeta = template.get("metadata") or {}
    meta: Obj = {"ownerReferences": [controller_ref(owner)]}
    ns = (owner.get("metadata") or {}).get("namespace")
    if ns:
        meta["namespace"] = ns
    for f in ("labels", "annotations", "finalizers"):
        if tmeta.get(f):
            meta[f] = copy.deepcopy(tmeta[f])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": copy.deepcopy(template.get("spec") or {})}
