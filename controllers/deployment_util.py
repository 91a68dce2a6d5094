"""The arithmetic of Deployments (pkg/controller/deployment/util): surge and unavailability
fenceposts, how far the new ReplicaSet may grow, proportional scaling, revisions, conditions.

Pure functions over JSON dicts, so the controller reads as upstream's sync loop and these rules
can be tested on their own.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from controllers.pod_facts import meta, parse_time
from controllers.template_hash import prune

Obj = dict[str, Any]

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
ROLLBACK_TO = "deprecated.deployment.rollback.to"
SKIPPED_ANNOTATIONS = {LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, ROLLBACK_TO}
MAX_REVISION_HISTORY_CHARS = 2000
MAX_INT32 = 2**31 - 1

# condition reasons (deployment/util)
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
RS_UPDATED = "ReplicaSetUpdated"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"
FAILED_RS_CREATE = "ReplicaSetCreateError"
MIN_AVAILABLE = "MinimumReplicasAvailable"
MIN_UNAVAILABLE = "MinimumReplicasUnavailable"


def replicas_of(obj: Obj) -> int:
    r = (obj.get("spec") or {}).get("replicas")
    return 1 if r is None else int(r)


def status_int(obj: Obj, field: str) -> int:
    return int((obj.get("status") or {}).get(field) or 0)


def is_rolling(d: Obj) -> bool:
    return ((d.get("spec") or {}).get("strategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"


def scaled_value(value: Any, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent."""
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.endswith("%"):
        pct = int(value[:-1])
        v = pct * total / 100
        return math.ceil(v) if round_up else math.floor(v)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return 0


def fenceposts(d: Obj) -> tuple[int, int]:
    """ResolveFenceposts: (maxSurge, maxUnavailable); both zero means one may be unavailable."""
    ru = ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
    desired = replicas_of(d)
    surge = scaled_value(ru.get("maxSurge", "25%"), desired, True)
    unavailable = scaled_value(ru.get("maxUnavailable", "25%"), desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_surge(d: Obj) -> int:
    return fenceposts(d)[0] if is_rolling(d) else 0


def max_unavailable(d: Obj) -> int:
    if not is_rolling(d) or replicas_of(d) == 0:
        return 0
    return min(fenceposts(d)[1], replicas_of(d))


def has_progress_deadline(d: Obj) -> bool:
    p = (d.get("spec") or {}).get("progressDeadlineSeconds")
    return p is not None and p != MAX_INT32


def revision(rs: Obj) -> int:
    try:
        return int((meta(rs).get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def equal_ignore_hash(t1: Obj, t2: Obj) -> bool:
    """EqualIgnoreHash: templates equal but for the pod-template-hash label (nil == empty)."""
    a, b = copy.deepcopy(t1 or {}), copy.deepcopy(t2 or {})
    for t in (a, b):
        (t.get("metadata") or {}).get("labels", {}).pop(HASH_LABEL, None)
    return prune(a) == prune(b)


def active(rss: list[Obj]) -> list[Obj]:
    return [rs for rs in rss if rs is not None and replicas_of(rs) > 0]


def sum_replicas(rss: list[Obj]) -> int:
    return sum(replicas_of(rs) for rs in rss if rs is not None)


def sum_status(rss: list[Obj], field: str) -> int:
    return sum(status_int(rs, field) for rs in rss if rs is not None)


def by_creation(rss: list[Obj]) -> list[Obj]:
    return sorted(rss, key=lambda rs: (parse_time(meta(rs).get("creationTimestamp")) or 0, meta(rs).get("name", "")))


def new_rs_new_replicas(d: Obj, all_rss: list[Obj], new_rs: Obj) -> int:
    """NewRSNewReplicas: how many replicas the new ReplicaSet may have right now."""
    if not is_rolling(d):
        return replicas_of(d)
    surge = max_surge(d)
    current = sum_replicas(all_rss)
    max_total = replicas_of(d) + surge
    if current >= max_total:
        return replicas_of(new_rs)
    up = min(max_total - current, replicas_of(d) - replicas_of(new_rs))
    return replicas_of(new_rs) + up


def is_saturated(d: Obj, rs: Obj | None) -> bool:
    if rs is None:
        return False
    try:
        desired = int((meta(rs).get("annotations") or {}).get(DESIRED_REPLICAS, ""))
    except ValueError:
        return False
    n = replicas_of(d)
    return replicas_of(rs) == n and desired == n and status_int(rs, "availableReplicas") == n


def desired_annotation(rs: Obj) -> int | None:
    try:
        return int((meta(rs).get("annotations") or {})[DESIRED_REPLICAS])
    except (KeyError, ValueError):
        return None


def replicas_annotations_need_update(rs: Obj, desired: int, maximum: int) -> bool:
    ann = meta(rs).get("annotations") or {}
    return ann.get(DESIRED_REPLICAS) != str(desired) or ann.get(MAX_REPLICAS) != str(maximum)


def set_replicas_annotations(rs: Obj, desired: int, maximum: int) -> None:
    ann = rs["metadata"].setdefault("annotations", {})
    ann[DESIRED_REPLICAS] = str(desired)
    ann[MAX_REPLICAS] = str(maximum)


def proportion(d: Obj, rs: Obj, to_add: int, added: int) -> int:
    """GetReplicaSetProportion: this ReplicaSet's share of a scaling event during a rollout."""
    if replicas_of(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    if replicas_of(d) == 0:
        fraction = -replicas_of(rs)
    else:
        deployment_replicas = replicas_of(d) + max_surge(d)
        try:
            annotated = int((meta(rs).get("annotations") or {})[MAX_REPLICAS])
        except (KeyError, ValueError):
            annotated = status_int(d, "replicas")
        new_size = replicas_of(rs) * deployment_replicas / annotated if annotated else 0
        fraction = int(math.floor(new_size + 0.5)) - replicas_of(rs)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def copy_annotations_to_rs(d: Obj, rs: Obj) -> bool:
    changed = False
    ann = rs["metadata"].setdefault("annotations", {})
    for k, v in (meta(d).get("annotations") or {}).items():
        if k in SKIPPED_ANNOTATIONS or ann.get(k) == v:
            continue
        ann[k] = v
        changed = True
    return changed


def set_new_rs_annotations(d: Obj, rs: Obj, new_revision: int, exists: bool) -> bool:
    """SetNewReplicaSetAnnotations: copy the Deployment's annotations, raise the revision (keeping
    the revisions a rolled-back-to ReplicaSet served before in revision-history)."""
    changed = copy_annotations_to_rs(d, rs)
    ann = rs["metadata"].setdefault("annotations", {})
    old = ann.get(REVISION)
    try:
        old_int = int(old) if old else 0
    except ValueError:
        return False
    if old_int < new_revision:
        ann[REVISION] = str(new_revision)
        changed = True
        if old is not None:
            history = ann.get(REVISION_HISTORY, "")
            if not history:
                ann[REVISION_HISTORY] = old
            else:
                olds = history.split(",")
                total = len(history) + len(old) + 1
                start = 0
                while total > MAX_REVISION_HISTORY_CHARS and start < len(olds):
                    total -= len(olds[start]) + 1
                    start += 1
                if total <= MAX_REVISION_HISTORY_CHARS:
                    ann[REVISION_HISTORY] = ",".join([*olds[start:], old])
    if not exists:
        n = replicas_of(d)
        if replicas_annotations_need_update(rs, n, n + max_surge(d)):
            set_replicas_annotations(rs, n, n + max_surge(d))
            changed = True
    return changed


# -- conditions ----------------------------------------------------------------------------------


def get_condition(status: Obj, ctype: str) -> Obj | None:
    for c in status.get("conditions") or []:
        if c.get("type") == ctype:
            return c
    return None


def new_condition(ctype: str, status: str, reason: str, message: str, now: str) -> Obj:
    return {"type": ctype, "status": status, "lastUpdateTime": now, "lastTransitionTime": now,
            "reason": reason, "message": message}


def set_condition(status: Obj, cond: Obj) -> None:
    """SetDeploymentCondition: same status and reason changes nothing; same status keeps the transition time."""
    current = get_condition(status, cond["type"])
    if current and current.get("status") == cond["status"] and current.get("reason") == cond["reason"]:
        return
    if current and current.get("status") == cond["status"]:
        cond["lastTransitionTime"] = current.get("lastTransitionTime")
    status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != cond["type"]] + [cond]


def remove_condition(status: Obj, ctype: str) -> None:
    conds = [c for c in status.get("conditions") or [] if c.get("type") != ctype]
    if conds:
        status["conditions"] = conds
    else:
        status.pop("conditions", None)


def deployment_complete(d: Obj, status: Obj) -> bool:
    n = replicas_of(d)
    return (int(status.get("updatedReplicas") or 0) == n and int(status.get("replicas") or 0) == n
            and int(status.get("availableReplicas") or 0) == n
            and int(status.get("observedGeneration") or 0) >= int(meta(d).get("generation") or 0))


def deployment_progressing(d: Obj, new: Obj) -> bool:
    old = d.get("status") or {}

    def g(s: Obj, f: str) -> int:
        return int(s.get(f) or 0)

    old_old = g(old, "replicas") - g(old, "updatedReplicas")
    new_old = g(new, "replicas") - g(new, "updatedReplicas")
    return (g(new, "updatedReplicas") > g(old, "updatedReplicas") or new_old < old_old
            or g(new, "readyReplicas") > g(old, "readyReplicas")
            or g(new, "availableReplicas") > g(old, "availableReplicas"))


def deployment_timed_out(d: Obj, status: Obj, now: float) -> bool:
    if not has_progress_deadline(d):
        return False
    c = get_condition(status, "Progressing")
    if c is None or c.get("reason") == NEW_RS_AVAILABLE:
        return False
    if c.get("reason") == TIMED_OUT:
        return True
    since = parse_time(c.get("lastUpdateTime"))
    if since is None:
        return False
    return since + int(d["spec"]["progressDeadlineSeconds"]) < now


def calculate_status(all_rss: list[Obj], new_rs: Obj | None, d: Obj, now: str) -> Obj:
    """calculateStatus: counts from the ReplicaSets, and the Available condition."""
    available = sum_status(all_rss, "availableReplicas")
    total = sum_replicas(all_rss)
    old = d.get("status") or {}
    status: Obj = {}
    gen = meta(d).get("generation")
    if gen:
        status["observedGeneration"] = gen
    for field, value in (("replicas", sum_status(all_rss, "replicas")),
                         ("updatedReplicas", status_int(new_rs, "replicas") if new_rs else 0),
                         ("readyReplicas", sum_status(all_rss, "readyReplicas")),
                         ("availableReplicas", available),
                         ("unavailableReplicas", max(0, total - available))):
        if value:
            status[field] = value
    if old.get("conditions"):
        status["conditions"] = copy.deepcopy(old["conditions"])
    if old.get("collisionCount") is not None:
        status["collisionCount"] = old["collisionCount"]
    if available >= replicas_of(d) - max_unavailable(d):
        set_condition(status, new_condition("Available", "True", MIN_AVAILABLE, "Deployment has minimum availability.", now))
    else:
        set_condition(status, new_condition("Available", "False", MIN_UNAVAILABLE,
                                            "Deployment does not have minimum availability.", now))
    return status


def template_with_hash(d: Obj, pod_hash: str) -> Obj:
    t = copy.deepcopy((d.get("spec") or {}).get("template") or {})
    t.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = pod_hash
    return t


def selector_with_hash(d: Obj, pod_hash: str) -> Obj:
    sel = copy.deepcopy((d.get("spec") or {}).get("selector") or {})
    sel.setdefault("matchLabels", {})[HASH_LABEL] = pod_hash
    return sel
