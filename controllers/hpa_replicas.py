"""The HPA's replica arithmetic: metric ratio with tolerance, stabilization windows, rate policies.

Kept free of I/O so the controller (and tests) can drive it with any clock: the same steps as the
upstream replica calculator and normalizeDesiredReplicasWithBehaviors, applied in that order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

TOLERANCE = 0.1

DEFAULT_SCALE_UP = {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
    {"type": "Pods", "value": 4, "periodSeconds": 15}, {"type": "Percent", "value": 100, "periodSeconds": 15}]}
DEFAULT_SCALE_DOWN = {"stabilizationWindowSeconds": 300, "selectPolicy": "Max", "policies": [
    {"type": "Percent", "value": 100, "periodSeconds": 15}]}


@dataclass
class Recommendation:
    replicas: int
    at: float


@dataclass
class ScaleEvent:
    """A past change of the target's replicas by this HPA (positive up, negative down)."""

    change: int
    at: float


@dataclass
class Limited:
    replicas: int
    reason: str
    message: str


def utilization_replicas(current: int, usages: list[float], requests: list[float],
                         target_percent: int) -> tuple[int, int]:
    """Replicas for a Utilization target, and the current utilization in percent of request."""
    utilization = int(sum(usages) * 100 / sum(requests))
    ratio = utilization / target_percent
    if abs(1.0 - ratio) <= TOLERANCE:
        return current, utilization
    return math.ceil(ratio * len(usages)), utilization


def average_value_replicas(current: int, usages: list[float], target: float) -> tuple[int, float]:
    """Replicas for an AverageValue target, and the current average usage."""
    average = sum(usages) / len(usages)
    ratio = sum(usages) / (target * current)
    if abs(1.0 - ratio) <= TOLERANCE:
        return current, average
    return math.ceil(sum(usages) / target), average


def stabilize(current: int, desired: int, history: list[Recommendation], now: float,
              up_window: int, down_window: int) -> int:
    """Scale up to the lowest and down to the highest recommendation seen within each window."""
    up, down = desired, desired
    for rec in history:
        if rec.at > now - up_window:
            up = min(up, rec.replicas)
        if rec.at > now - down_window:
            down = max(down, rec.replicas)
    result = current
    result = max(result, up)
    return min(result, down)


def _period_change(events: list[ScaleEvent], now: float, period: int, up: bool) -> int:
    return sum(abs(e.change) for e in events if e.at > now - period and (e.change > 0) == up)


def scale_up_limit(current: int, rules: dict, events: list[ScaleEvent], now: float) -> int:
    if rules.get("selectPolicy") == "Disabled":
        return current
    pick = min if rules.get("selectPolicy") == "Min" else max
    limits = []
    for p in rules.get("policies") or []:
        start = current - _period_change(events, now, p["periodSeconds"], True)
        if p["type"] == "Pods":
            limits.append(start + p["value"])
        else:
            limits.append(math.ceil(start * (1 + p["value"] / 100)))
    return pick(limits) if limits else current


def scale_down_limit(current: int, rules: dict, events: list[ScaleEvent], now: float) -> int:
    if rules.get("selectPolicy") == "Disabled":
        return current
    pick = max if rules.get("selectPolicy") == "Min" else min
    limits = []
    for p in rules.get("policies") or []:
        start = current + _period_change(events, now, p["periodSeconds"], False)
        if p["type"] == "Pods":
            limits.append(start - p["value"])
        else:
            limits.append(math.ceil(start * (1 - p["value"] / 100)))
    return pick(limits) if limits else current


def limit(current: int, desired: int, min_replicas: int, max_replicas: int, behavior: dict,
          events: list[ScaleEvent], now: float) -> Limited:
    """Apply rate policies then min/max, naming the ScalingLimited reason as upstream does."""
    up_rules = {**DEFAULT_SCALE_UP, **(behavior.get("scaleUp") or {})}
    down_rules = {**DEFAULT_SCALE_DOWN, **(behavior.get("scaleDown") or {})}
    if desired > current:
        cap = scale_up_limit(current, up_rules, events, now)
        if cap < max_replicas and desired > cap:
            return Limited(cap, "ScaleUpLimit",
                           "the desired replica count is increasing faster than the maximum scale rate")
        if desired > max_replicas:
            return Limited(max_replicas, "TooManyReplicas",
                           "the desired replica count is more than the maximum replica count")
    elif desired < current:
        floor = scale_down_limit(current, down_rules, events, now)
        if floor > min_replicas and desired < floor:
            return Limited(floor, "ScaleDownLimit",
                           "the desired replica count is decreasing faster than the maximum scale rate")
        if desired < min_replicas:
            return Limited(min_replicas, "TooFewReplicas",
                           "the desired replica count is less than the minimum replica count")
    if desired > max_replicas:
        return Limited(max_replicas, "TooManyReplicas",
                       "the desired replica count is more than the maximum replica count")
    if desired < min_replicas:
        return Limited(min_replicas, "TooFewReplicas",
                       "the desired replica count is less than the minimum replica count")
    return Limited(desired, "DesiredWithinRange", "the desired count is within the acceptable range")


def rescale_reason(metric: str, up: bool) -> str:
    """The SuccessfulRescale event's reason text for a resource metric."""
    side = "above" if up else "below"
    return f"{metric} resource utilization (percentage of request) {side} target"
