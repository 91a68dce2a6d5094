"""Pure pieces of the Job controller: completion index ranges, podFailurePolicy, back-off.

Kept apart from the reconcile loop so they read like the rules they implement
(pkg/controller/job/indexed_job_utils.go, pod_failure_policy.go, backoff_utils.go).
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index"
INDEX_LABEL = "batch.kubernetes.io/job-completion-index"
TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"

#: the first delay after a failure, doubled per consecutive failure and capped (docs: six minutes)
BACKOFF_BASE = 10.0
BACKOFF_MAX = 360.0


def parse_indexes(text: str | None, completions: int | None = None) -> set[int]:
    """``"1,3-5"`` -> {1, 3, 4, 5}; indexes at or beyond ``completions`` are dropped."""
    out: set[int] = set()
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        try:
            a, b = int(lo), int(hi or lo)
        except ValueError:
            continue
        out.update(range(a, b + 1))
    if completions is not None:
        out = {i for i in out if 0 <= i < completions}
    return out


def format_indexes(indexes: set[int]) -> str:
    """{1, 3, 4, 5} -> ``"1,3-5"``, the form of status.completedIndexes."""
    parts: list[str] = []
    run: list[int] = []
    for i in sorted(indexes):
        if run and i == run[-1] + 1:
            run.append(i)
            continue
        if run:
            parts.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
        run = [i]
    if run:
        parts.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
    return ",".join(parts)


def pod_index(pod: Obj) -> int | None:
    meta = pod.get("metadata") or {}
    value = (meta.get("annotations") or {}).get(INDEX_ANNOTATION)
    if value is None:
        value = (meta.get("labels") or {}).get(INDEX_LABEL)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def backoff_delay(consecutive_failures: int) -> float:
    """10 s after the first failure, doubling with each further one, capped."""
    if consecutive_failures <= 0:
        return 0.0
    return min(BACKOFF_MAX, BACKOFF_BASE * (2 ** (consecutive_failures - 1)))


def _exit_codes_match(rule: Obj, pod: Obj) -> str | None:
    """The name of the first terminated container whose exit code matches ``onExitCodes``."""
    req = rule.get("onExitCodes")
    if not isinstance(req, dict):
        return None
    values = set(req.get("values") or [])
    op = req.get("operator")
    only = req.get("containerName")
    status = pod.get("status") or {}
    statuses = list(status.get("initContainerStatuses") or []) + list(status.get("containerStatuses") or [])
    for cs in statuses:
        if only and cs.get("name") != only:
            continue
        term = ((cs.get("state") or {}).get("terminated")) or {}
        if "exitCode" not in term:
            continue
        code = term["exitCode"]
        if code == 0:
            continue
        if (op == "In" and code in values) or (op == "NotIn" and code not in values):
            return f"Container {cs.get('name')} for pod {_pod_ref(pod)} failed with exit code {code}"
    return None


def _pod_ref(pod: Obj) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"


def _conditions_match(rule: Obj, pod: Obj) -> str | None:
    patterns = rule.get("onPodConditions")
    if not patterns:
        return None
    conds = {c.get("type"): c.get("status") for c in (pod.get("status") or {}).get("conditions") or []}
    for p in patterns:
        if conds.get(p.get("type")) == (p.get("status") or "True"):
            return f"Pod {_pod_ref(pod)} has condition {p.get('type')}"
    return None


def match_pod_failure_policy(policy: Obj | None, pod: Obj) -> tuple[str, str] | None:
    """The action (FailJob, FailIndex, Ignore, Count) and message of the first rule a failed pod matches."""
    if not isinstance(policy, dict):
        return None
    for i, rule in enumerate(policy.get("rules") or []):
        what = _exit_codes_match(rule, pod) if rule.get("onExitCodes") else _conditions_match(rule, pod)
        if what:
            action = rule.get("action", "")
            return action, f"{what} matching {action} rule at index {i}"
    return None
