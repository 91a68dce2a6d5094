"""One HPA metric spec -> a replica proposal and its MetricStatus (computeReplicasForMetric).

Resource and ContainerResource metrics come from metrics.k8s.io. This project serves no custom or
external metrics API, so Pods, Object and External metrics fail as they do on a cluster without
one: the metric is invalid, with upstream's reason (FailedGetPodsMetric, ...) in the event and the
ScalingActive condition.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from controllers.hpa_calculator import CalcError, milli_value, raw_resource_replicas, resource_replicas
from facade.kinds.core_quantity import DECIMAL, canonical

Obj = dict[str, Any]

NO_CUSTOM_METRICS = "the server could not find the requested resource"


class MetricError(Exception):
    """An invalid metric: ``reason`` and ``detail`` go to the event and condition, ``message`` up."""

    def __init__(self, reason: str, detail: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.detail = detail
        self.message = message


def milli_quantity(milli: int) -> str:
    """resource.NewMilliQuantity(v, DecimalSI).String()."""
    return canonical(Fraction(milli, 1000), DECIMAL)


def _resource(spec: Obj, src: Obj, container: str, spec_replicas: int, pods: list[Obj], items: list[Obj] | None,
              fetch_error: str, now: float) -> tuple[int, str, Obj]:
    name = src.get("name", "")
    target = src.get("target") or {}
    kind = "ContainerResource" if container else "Resource"
    try:
        if fetch_error:
            raise CalcError(f"unable to get metrics for resource {name}: unable to fetch metrics from resource "
                            f"metrics API: {fetch_error}")
        if target.get("averageValue") is not None:
            try:
                replicas, usage = raw_resource_replicas(spec_replicas, milli_value(target["averageValue"]), name, container,
                                                        pods, items or [], now)
            except CalcError as e:
                raise CalcError(f"failed to get {name} usage: {e}") from None
            metric = f"{name} resource"
            current: Obj = {"averageValue": milli_quantity(usage)}
        elif target.get("averageUtilization") is None:
            raise CalcError("invalid resource metric source: neither an average utilization target nor an average "
                            "value (usage) target was set")
        else:
            try:
                replicas, utilization, raw = resource_replicas(spec_replicas, int(target["averageUtilization"]), name,
                                                               container, pods, items or [], now)
            except CalcError as e:
                raise CalcError(f"failed to get {name} utilization: {e}") from None
            metric = (f"{name} container resource utilization (percentage of request)" if container
                      else f"{name} resource utilization (percentage of request)")
            current = {"averageUtilization": utilization, "averageValue": milli_quantity(raw)}
    except CalcError as e:
        if container:
            raise MetricError("FailedGetContainerResourceMetric", str(e),
                              f"failed to get {container} container metric value: {e}") from None
        raise MetricError("FailedGetResourceMetric", str(e), f"failed to get {name} resource metric value: {e}") from None
    status: Obj = {"name": name, "current": current}
    if container:
        status["container"] = container
        return replicas, metric, {"type": kind, "containerResource": status}
    return replicas, metric, {"type": kind, "resource": status}


def compute_metric(spec: Obj, spec_replicas: int, pods: list[Obj], items: list[Obj] | None, now: float,
                   fetch_error: str = "") -> tuple[int, str, Obj]:
    """(replica proposal, metric description, MetricStatus) for one entry of spec.metrics."""
    mtype = spec.get("type")
    if mtype == "Resource":
        return _resource(spec, spec.get("resource") or {}, "", spec_replicas, pods, items, fetch_error, now)
    if mtype == "ContainerResource":
        src = spec.get("containerResource") or {}
        return _resource(spec, src, src.get("container", ""), spec_replicas, pods, items, fetch_error, now)
    if mtype == "Pods":
        name = ((spec.get("pods") or {}).get("metric") or {}).get("name", "")
        detail = (f"unable to get metric {name}: unable to fetch metrics from custom metrics API: "
                  f"{NO_CUSTOM_METRICS} (get pods.custom.metrics.k8s.io *)")
        raise MetricError("FailedGetPodsMetric", detail, f"failed to get pods metric value: {detail}")
    if mtype == "Object":
        src = spec.get("object") or {}
        name = (src.get("metric") or {}).get("name", "")
        ref = src.get("describedObject") or {}
        detail = (f"unable to get metric {name}: {ref.get('kind', '')} on {ref.get('name', '')}: unable to fetch "
                  f"metrics from custom metrics API: {NO_CUSTOM_METRICS}")
        raise MetricError("FailedGetObjectMetric", detail, f"failed to get object metric value: {detail}")
    if mtype == "External":
        name = (((spec.get("external") or {}).get("metric")) or {}).get("name", "")
        detail = f"unable to get external metric {name}: unable to fetch metrics from external metrics API: " \
                 f"{NO_CUSTOM_METRICS}"
        raise MetricError("FailedGetExternalMetric", detail, f"failed to get {name} external metric value: {detail}")
    detail = f'unknown metric source type "{mtype}"'
    raise MetricError("InvalidMetricSourceType", detail, detail)
