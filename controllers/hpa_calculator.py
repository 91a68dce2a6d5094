"""The HPA's replica calculator for Resource and ContainerResource metrics (replica_calculator.go).

Which pods count, and how: pods being deleted or failed are ignored; pending pods, and for CPU pods
not yet ready (or whose sample predates their readiness by less than one metrics window, within the
first five minutes), are *unready*; pods without a sample are *missing*. When scaling up, unready
and missing pods are counted as using nothing; when scaling down, missing pods as using their whole
request (or the target). A change that would flip direction once they are counted is not made.
The ratio with its tolerance comes from ``hpa_replicas``; values here are milli-units, as upstream.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from controllers.hpa_replicas import TOLERANCE, utilization_replicas
from controllers.pod_util import condition, parse_time
from facade.kinds.core_quantity import value_of

Obj = dict[str, Any]

CPU_INITIALIZATION_PERIOD = 300.0  # --horizontal-pod-autoscaler-cpu-initialization-period
DELAY_OF_INITIAL_READINESS = 30.0  # --horizontal-pod-autoscaler-initial-readiness-delay


class CalcError(Exception):
    """A metric could not be turned into a replica count; the text is upstream's."""


@dataclass
class PodMetric:
    value: int  # milli-units
    timestamp: float
    window: float


def milli_value(raw: Any) -> int:
    v = value_of(raw)
    return 0 if v is None else math.ceil(v * 1000)


def _window(raw: Any) -> float:
    text = str(raw or "")
    try:
        return float(text[:-1]) if text.endswith("s") else float(text or 0)
    except ValueError:
        return 0.0


def pod_metrics(items: list[Obj], resource: str, container: str = "") -> dict[str, PodMetric]:
    """getPodMetrics / getContainerMetrics: one value per pod; a pod lacking the resource is left out."""
    out: dict[str, PodMetric] = {}
    for m in items:
        name = (m.get("metadata") or {}).get("name", "")
        ts = parse_time(m.get("timestamp")) or 0.0
        window = _window(m.get("window"))
        containers = m.get("containers") or []
        if container:
            for c in containers:
                if c.get("name") == container:
                    usage = c.get("usage") or {}
                    if resource in usage:
                        out[name] = PodMetric(milli_value(usage[resource]), ts, window)
                    break
            continue
        if not containers or any(resource not in (c.get("usage") or {}) for c in containers):
            continue
        out[name] = PodMetric(sum(milli_value(c["usage"][resource]) for c in containers), ts, window)
    return out


def group_pods(pods: list[Obj], metrics: dict[str, PodMetric], resource: str,
               now: float) -> tuple[int, set[str], set[str], set[str]]:
    """groupPods: (ready count, unready, missing, ignored) pod names."""
    ready, unready, missing, ignored = 0, set(), set(), set()
    for pod in pods:
        name = pod["metadata"]["name"]
        phase = (pod.get("status") or {}).get("phase")
        if pod["metadata"].get("deletionTimestamp") or phase == "Failed":
            ignored.add(name)
            continue
        if phase == "Pending":
            unready.add(name)
            continue
        metric = metrics.get(name)
        if metric is None:
            missing.add(name)
            continue
        if resource == "cpu":
            cond = condition(pod, "Ready")
            start = parse_time((pod.get("status") or {}).get("startTime"))
            if cond is None or start is None:
                is_unready = True
            else:
                transition = parse_time(cond.get("lastTransitionTime")) or 0.0
                if start + CPU_INITIALIZATION_PERIOD > now:
                    is_unready = cond.get("status") == "False" or metric.timestamp < transition + metric.window
                else:
                    is_unready = cond.get("status") == "False" and start + DELAY_OF_INITIAL_READINESS > transition
            if is_unready:
                unready.add(name)
                continue
        ready += 1
    return ready, unready, missing, ignored


def pod_requests(pods: list[Obj], container: str, resource: str) -> dict[str, int]:
    """calculatePodRequests: the pods' summed requests (app containers and sidecars) in milli-units."""
    out: dict[str, int] = {}
    for pod in pods:
        spec = pod.get("spec") or {}
        containers = list(spec.get("containers") or [])
        containers += [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
        total = 0
        for c in containers:
            if container and c.get("name") != container:
                continue
            requests = (c.get("resources") or {}).get("requests") or {}
            if resource not in requests:
                raise CalcError(f"missing request for {resource} in container {c.get('name', '')} of Pod "
                                f"{pod['metadata']['name']}")
            total += milli_value(requests[resource])
        out[pod["metadata"]["name"]] = total
    return out


def _utilization(metrics: dict[str, PodMetric], requests: dict[str, int], target: int) -> tuple[float, int, int]:
    """GetResourceUtilizationRatio: (ratio, utilization percent, average raw value)."""
    total = req = n = 0
    for name, m in metrics.items():
        if name in requests:
            total += m.value
            req += requests[name]
            n += 1
    if req == 0:
        raise CalcError("no metrics returned matched known pods")
    utilization = total * 100 // req
    return utilization / target, utilization, total // n


def _usable(metrics: dict[str, PodMetric], pods: list[Obj], resource: str, now: float
            ) -> tuple[int, set[str], set[str]]:
    ready, unready, missing, ignored = group_pods(pods, metrics, resource, now)
    for name in ignored | unready:
        metrics.pop(name, None)
    if not metrics:
        raise CalcError("did not receive metrics for targeted pods (pods might be unready)")
    return ready, unready, missing


def _settle(current: int, ratio: float, new_ratio: float, counted: int) -> int:
    """The second pass: keep the current count when the correction makes the change small or flips it."""
    if abs(1.0 - new_ratio) <= TOLERANCE or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        return current
    replicas = math.ceil(new_ratio * counted)
    if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
        return current
    return replicas


def resource_replicas(current: int, target: int, resource: str, container: str, pods: list[Obj],
                      items: list[Obj], now: float) -> tuple[int, int, int]:
    """GetResourceReplicas: (replicas, utilization percent, average usage) for a Utilization target."""
    if not items:
        raise CalcError(f"unable to get metrics for resource {resource}: no metrics returned from resource metrics API")
    if not pods:
        raise CalcError("no pods returned by selector while calculating replica count")
    metrics = pod_metrics(items, resource, container)
    ready, unready, missing = _usable(metrics, pods, resource, now)
    requests = pod_requests(pods, container, resource)
    ratio, utilization, raw = _utilization(metrics, requests, target)
    if not (unready and ratio > 1.0) and not missing:
        counted = [n for n in metrics if n in requests]
        replicas, _ = utilization_replicas(current, [metrics[n].value for n in counted],
                                           [requests[n] for n in counted], target)
        return (replicas if replicas == current else math.ceil(ratio * ready)), utilization, raw
    if missing and ratio != 1.0:
        fallback = max(100, target)
        for name in missing:
            value = requests.get(name, 0) * fallback // 100 if ratio < 1.0 else 0
            metrics[name] = PodMetric(value, now, 0)
    if unready and ratio > 1.0:
        for name in unready:
            metrics[name] = PodMetric(0, now, 0)
    new_ratio, _, _ = _utilization(metrics, requests, target)
    return _settle(current, ratio, new_ratio, len(metrics)), utilization, raw


def raw_resource_replicas(current: int, target_milli: int, resource: str, container: str, pods: list[Obj],
                          items: list[Obj], now: float) -> tuple[int, int]:
    """GetRawResourceReplicas (calcPlainMetricReplicas): (replicas, average usage) for an AverageValue target."""
    if not items:
        raise CalcError(f"unable to get metrics for resource {resource}: no metrics returned from resource metrics API")
    if not pods:
        raise CalcError("no pods returned by selector while calculating replica count")
    metrics = pod_metrics(items, resource, container)
    ready, unready, missing = _usable(metrics, pods, resource, now)

    def ratio_of(ms: dict[str, PodMetric]) -> tuple[float, int]:
        usage = sum(m.value for m in ms.values()) // len(ms)
        return usage / target_milli, usage

    ratio, usage = ratio_of(metrics)
    if not (unready and ratio > 1.0) and not missing:
        if abs(1.0 - ratio) <= TOLERANCE:
            return current, usage
        return math.ceil(ratio * ready), usage
    if missing and ratio != 1.0:
        for name in missing:
            metrics[name] = PodMetric(target_milli if ratio < 1.0 else 0, now, 0)
    if unready and ratio > 1.0:
        for name in unready:
            metrics[name] = PodMetric(0, now, 0)
    new_ratio, _ = ratio_of(metrics)
    return _settle(current, ratio, new_ratio, len(metrics)), usage
