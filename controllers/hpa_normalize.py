"""The HPA's conditions and the normalization of a metric proposal (horizontal.go).

Without ``spec.behavior`` upstream keeps its older rule: scale down to the highest recommendation of
the last five minutes, scale up by at most max(2 x current, 4). With a behavior, the stabilization
windows and rate policies of ``hpa_replicas`` apply. Either way the AbleToScale and ScalingLimited
conditions say what held the count back, in upstream's words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from controllers.hpa_replicas import (
    DEFAULT_SCALE_DOWN,
    DEFAULT_SCALE_UP,
    Recommendation,
    ScaleEvent,
    limit,
    stabilize,
)

Obj = dict[str, Any]

SCALE_UP_LIMIT_FACTOR = 2
SCALE_UP_LIMIT_MINIMUM = 4


def set_condition(hpa: Obj, ctype: str, status: str, reason: str, message: str, now: str) -> None:
    """setConditionInList: update or add; the transition time moves only when the status changes."""
    conds = hpa.setdefault("status", {}).setdefault("conditions", None) or []
    for c in conds:
        if c.get("type") == ctype:
            break
    else:
        c = {"type": ctype}
        conds.append(c)
    if c.get("status") != status:
        c["lastTransitionTime"] = now
    c["status"], c["reason"], c["message"] = status, reason, message
    hpa["status"]["conditions"] = conds


@dataclass
class History:
    """Per-HPA memory between syncs: unstabilized recommendations and the scale changes made."""

    recommendations: list[Recommendation] = field(default_factory=list)
    events: list[ScaleEvent] = field(default_factory=list)


def _rules(behavior: Obj, downscale_window: float) -> tuple[Obj, Obj]:
    up = {**DEFAULT_SCALE_UP, **{k: v for k, v in (behavior.get("scaleUp") or {}).items() if v is not None}}
    down = {**DEFAULT_SCALE_DOWN, "stabilizationWindowSeconds": downscale_window,
            **{k: v for k, v in (behavior.get("scaleDown") or {}).items() if v is not None}}
    return up, down


def _rules_limit(current: int, desired: int, min_replicas: int, max_replicas: int) -> tuple[int, str, str]:
    """convertDesiredReplicasWithRules: the older limits for HPAs without a behavior."""
    scale_up_limit = max(SCALE_UP_LIMIT_FACTOR * current, SCALE_UP_LIMIT_MINIMUM)
    if max_replicas > scale_up_limit:
        allowed, reason, message = (scale_up_limit, "ScaleUpLimit",
                                    "the desired replica count is increasing faster than the maximum scale rate")
    else:
        allowed, reason, message = (max_replicas, "TooManyReplicas",
                                    "the desired replica count is more than the maximum replica count")
    if desired < min_replicas:
        return min_replicas, "TooFewReplicas", "the desired replica count is less than the minimum replica count"
    if desired > allowed:
        return allowed, reason, message
    return desired, "DesiredWithinRange", "the desired count is within the acceptable range"


def normalize(hpa: Obj, history: History, current: int, desired: int, min_replicas: int, now: float,
              now_text: str, downscale_window: float) -> int:
    """The replica count to set, with AbleToScale and ScalingLimited written on ``hpa``."""
    spec = hpa.get("spec") or {}
    max_replicas = int(spec.get("maxReplicas") or 0)
    behavior = spec.get("behavior")
    if behavior is None:
        window = [r for r in history.recommendations if r.at >= now - downscale_window]
        stabilized = max([desired] + [r.replicas for r in window])
        history.recommendations = window + [Recommendation(desired, now)]
        if stabilized != desired:
            set_condition(hpa, "AbleToScale", "True", "ScaleDownStabilized",
                          "recent recommendations were higher than current one, applying the highest recent "
                          "recommendation", now_text)
        else:
            set_condition(hpa, "AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size",
                          now_text)
        result, reason, message = _rules_limit(current, stabilized, min_replicas, max_replicas)
    else:
        up, down = _rules(behavior, downscale_window)
        up_window = float(up.get("stabilizationWindowSeconds") or 0)
        down_window = float(down.get("stabilizationWindowSeconds") or 0)
        stabilized = stabilize(current, desired, history.recommendations, now, int(up_window), int(down_window))
        keep = max(up_window, down_window)
        history.recommendations = [r for r in history.recommendations if r.at > now - keep]
        history.recommendations.append(Recommendation(desired, now))
        if stabilized != desired:
            if desired >= current:
                set_condition(hpa, "AbleToScale", "True", "ScaleUpStabilized",
                              "recent recommendations were lower than current one, applying the lowest recent "
                              "recommendation", now_text)
            else:
                set_condition(hpa, "AbleToScale", "True", "ScaleDownStabilized",
                              "recent recommendations were higher than current one, applying the highest recent "
                              "recommendation", now_text)
        else:
            set_condition(hpa, "AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size",
                          now_text)
        if stabilized == current:
            result, reason, message = current, "DesiredWithinRange", "the desired count is within the acceptable range"
        else:
            limited = limit(current, stabilized, min_replicas, max_replicas, {"scaleUp": up, "scaleDown": down},
                            history.events, now)
            result, reason, message = limited.replicas, limited.reason, limited.message
    set_condition(hpa, "ScalingLimited", "False" if result == stabilized else "True", reason, message, now_text)
    return result


def record_scale(hpa: Obj, history: History, current: int, desired: int, now: float) -> None:
    """storeScaleEvent: remembered only for HPAs with a behavior (the rate policies read them)."""
    behavior = (hpa.get("spec") or {}).get("behavior")
    if behavior is None:
        return
    up, down = _rules(behavior, 0)
    longest = max([int(p.get("periodSeconds") or 0) for p in (up.get("policies") or []) + (down.get("policies") or [])]
                  or [0])
    history.events = [e for e in history.events if e.at > now - longest]
    history.events.append(ScaleEvent(desired - current, now))
