"""Table printer for HorizontalPodAutoscalers, autoscaling/v2 and autoscaling/v1.

Upstream prints the internal (v2-shaped) object, so a v1 object is first seen the way the server
sees it: its CPU target as one Resource metric (80% when unset, the v2 default the stored object
gets) and its current CPU utilization as the matching current metric.
"""

from __future__ import annotations

from typing import Any

from facade.printers.format import Obj, age_column, dig, doc, name, name_column, obj_age, quantity_string
from facade.resource_table import Column, Printer

DEFAULT_CPU_UTILIZATION = 80


def _q(value: Any) -> str:
    """Quantity pointer String(): "<nil>" for a missing one."""
    return "<nil>" if value is None else quantity_string(value)


def _target_pair(spec_src: Obj, status_src: Obj | None, label: str | None) -> str:
    target = spec_src.get("target") or {}
    current = (status_src or {}).get("current") or {}
    prefix = f"{label}: " if label is not None else ""
    if label is not None:  # Resource / ContainerResource
        if target.get("averageValue") is not None:
            cur = _q(current.get("averageValue")) if status_src is not None else "<unknown>"
            return f"{prefix}{cur}/{_q(target['averageValue'])}"
        cur = "<unknown>"
        if status_src is not None and current.get("averageUtilization") is not None:
            cur = f"{current['averageUtilization']}%"
        tgt = f"{target['averageUtilization']}%" if target.get("averageUtilization") is not None else "<auto>"
        return f"{prefix}{cur}/{tgt}"
    if target.get("averageValue") is not None:  # Object / External with an average target
        cur = "<unknown>"
        if status_src is not None and current.get("averageValue") is not None:
            cur = _q(current["averageValue"])
        return f"{cur}/{_q(target['averageValue'])} (avg)"
    cur = _q(current.get("value")) if status_src is not None else "<unknown>"
    return f"{cur}/{_q(target.get('value'))}"


def format_hpa_metrics(specs: list[Obj], statuses: list[Obj]) -> str:
    """formatHPAMetrics: "cpu: 30%/80%", "<unknown>" currents, at most two then " + N more..."."""
    if not specs:
        return "<none>"
    shown: list[str] = []
    for i, spec in enumerate(specs):
        status = statuses[i] if i < len(statuses) else {}
        mtype = spec.get("type")
        if mtype == "External":
            shown.append(_target_pair(spec.get("external") or {}, status.get("external"), None))
        elif mtype == "Pods":
            src = spec.get("pods") or {}
            cur = _q(dig(status, "pods", "current", "averageValue")) if status.get("pods") is not None else "<unknown>"
            shown.append(f"{cur}/{_q(dig(src, 'target', 'averageValue'))}")
        elif mtype == "Object":
            shown.append(_target_pair(spec.get("object") or {}, status.get("object"), None))
        elif mtype == "Resource":
            src = spec.get("resource") or {}
            shown.append(_target_pair(src, status.get("resource"), src.get("name", "")))
        elif mtype == "ContainerResource":
            src = spec.get("containerResource") or {}
            shown.append(_target_pair(src, status.get("containerResource"), src.get("name", "")))
        else:
            shown.append("<unknown type>")
    if len(shown) > 2:
        return f"{', '.join(shown[:2])} + {len(shown) - 2} more..."
    return ", ".join(shown)


def v1_as_v2(obj: Obj) -> Obj:
    """The spec.metrics / status.currentMetrics an autoscaling/v1 object has in the internal form.

    An object already in the v2 shape (a store that keeps v2) is returned unchanged.
    """
    spec = obj.get("spec") or {}
    if "metrics" in spec or obj.get("apiVersion", "").startswith("autoscaling/v2"):
        return obj
    status = obj.get("status") or {}
    target = spec.get("targetCPUUtilizationPercentage")
    if target is None:
        target = DEFAULT_CPU_UTILIZATION
    metrics = [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}}}]
    current: list[Obj] = []
    if status.get("currentCPUUtilizationPercentage") is not None:
        current = [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "current": {"averageUtilization": status["currentCPUUtilizationPercentage"]}},
            }
        ]
    return {
        **obj,
        "spec": {**spec, "metrics": metrics},
        "status": {**status, "currentMetrics": current},
    }


def _cells(obj: Obj) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    ref = spec.get("scaleTargetRef") or {}
    min_replicas = spec.get("minReplicas")
    return [
        name(obj),
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        format_hpa_metrics(spec.get("metrics") or [], status.get("currentMetrics") or []),
        str(min_replicas) if min_replicas is not None else "<unset>",
        spec.get("maxReplicas", 0),
        status.get("currentReplicas", 0),
        obj_age(obj),
    ]


def _columns() -> list[Column]:
    spec = "autoscaling.v2.HorizontalPodAutoscalerSpec"
    return [
        name_column(),
        Column("Reference", "string", "", doc(spec, "scaleTargetRef")),
        Column("Targets", "string", "", doc(spec, "metrics")),
        Column("MinPods", "string", "", doc(spec, "minReplicas")),
        Column("MaxPods", "string", "", doc(spec, "maxReplicas")),
        Column("Replicas", "string", "", doc("autoscaling.v2.HorizontalPodAutoscalerStatus", "currentReplicas")),
        age_column(),
    ]


def horizontal_pod_autoscalers() -> Printer:
    """autoscaling/v2 HPAs."""
    return Printer(columns=_columns(), cells=_cells)


def horizontal_pod_autoscalers_v1() -> Printer:
    """autoscaling/v1 HPAs: the same table, read through ``v1_as_v2``."""
    return Printer(columns=_columns(), cells=lambda obj: _cells(v1_as_v2(obj)))
