"""autoscaling: HorizontalPodAutoscalers, served as v2 and v1 from the same stored objects.

Objects are stored in the autoscaling/v2 form (the storage version of kube-apiserver 1.32). The v1
entry's strategy exposes ``to_storage(obj)`` (v1 -> v2) and ``from_storage(obj)`` (v2 -> v1),
converting as pkg/apis/autoscaling/v1/conversion.go does: ``targetCPUUtilizationPercentage`` is the
CPU-utilization metric, and what v1 cannot express (other metrics, current metrics, conditions,
behavior) rides in ``autoscaling.alpha.kubernetes.io/*`` annotations, so a v1 round trip loses
nothing. Defaults follow pkg/apis/autoscaling/v{1,2}/defaults.go, validation
pkg/apis/autoscaling/validation (which runs on the v2 shape for both versions, as upstream validates
the internal type).
"""

from __future__ import annotations

import copy
from typing import Any

import orjson

from facade.errors import FieldError, forbidden, invalid, not_supported, required
from facade.kinds.core_quantity import value_of
from facade.kinds.group_support import is_int, nonnegative, spec_of
from facade.resource_table import ResourceInfo, Strategy
from facade.validation import path_segment_errors

Obj = dict[str, Any]

GROUP = "autoscaling"
STORAGE_RESOURCE = "horizontalpodautoscalers.autoscaling"

METRIC_SPECS_ANNOTATION = "autoscaling.alpha.kubernetes.io/metrics"
METRIC_STATUSES_ANNOTATION = "autoscaling.alpha.kubernetes.io/current-metrics"
CONDITIONS_ANNOTATION = "autoscaling.alpha.kubernetes.io/conditions"
BEHAVIOR_ANNOTATION = "autoscaling.alpha.kubernetes.io/behavior"
_CONVERSION_ANNOTATIONS = (METRIC_SPECS_ANNOTATION, METRIC_STATUSES_ANNOTATION, CONDITIONS_ANNOTATION,
                           BEHAVIOR_ANNOTATION)

DEFAULT_CPU_UTILIZATION = 80
MAX_PERIOD_SECONDS = 1800
MAX_STABILIZATION_WINDOW_SECONDS = 3600
METRIC_SOURCE_TYPES = ["ContainerResource", "External", "Object", "Pods", "Resource"]


def _cpu_metric(utilization: int) -> Obj:
    return {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                        "averageUtilization": utilization}}}


# ---------------------------------------------------------------------------------------- defaults


def _scale_up_rules() -> Obj:
    return {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
        {"type": "Pods", "value": 4, "periodSeconds": 15},
        {"type": "Percent", "value": 100, "periodSeconds": 15},
    ]}


def _scale_down_rules() -> Obj:
    # stabilizationWindowSeconds stays unset: the controller's command-line flag decides it
    return {"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}


def _fill_rules(given: Any, defaults: Obj) -> Obj:
    """copyHPAScalingRules: the given fields over a fresh copy of the defaults."""
    if not isinstance(given, dict):
        return defaults
    for f in ("selectPolicy", "stabilizationWindowSeconds", "policies"):
        if given.get(f) is not None:
            defaults[f] = given[f]
    return defaults


def default_v2(obj: Obj) -> None:
    """autoscaling/v2 SetDefaults_HorizontalPodAutoscaler."""
    spec = spec_of(obj)
    if spec.get("minReplicas") is None:
        spec["minReplicas"] = 1
    if not spec.get("metrics"):
        spec["metrics"] = [_cpu_metric(DEFAULT_CPU_UTILIZATION)]
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        behavior["scaleUp"] = _fill_rules(behavior.get("scaleUp"), _scale_up_rules())
        behavior["scaleDown"] = _fill_rules(behavior.get("scaleDown"), _scale_down_rules())


# -------------------------------------------------------------------------------------- validation


def _quantity_sign(raw: Any) -> int | None:
    """The sign of a quantity, or None when it does not parse (the schema check reports that)."""
    try:
        v = value_of(raw)
    except ValueError:
        return None
    if v is None:
        return None
    return (v > 0) - (v < 0)


def _validate_reference(ref: Any, path: str) -> list[FieldError]:
    """ValidateCrossVersionObjectReference: kind and name required, valid path segments."""
    ref = ref if isinstance(ref, dict) else {}
    errs: list[FieldError] = []
    for f in ("kind", "name"):
        v = ref.get(f) or ""
        if not v:
            errs.append(required(f"{path}.{f}", ""))
        else:
            errs += [invalid(f"{path}.{f}", v, m) for m in path_segment_errors(v)]
    return errs


def _validate_target(t: Any, path: str) -> list[FieldError]:
    t = t if isinstance(t, dict) else {}
    errs: list[FieldError] = []
    tt = t.get("type", "")
    if not tt:
        errs.append(required(f"{path}.type", "must specify a metric target type"))
    if tt not in ("Utilization", "Value", "AverageValue"):
        errs.append(invalid(f"{path}.type", tt, "must be either Utilization, Value, or AverageValue"))
    for f in ("value", "averageValue"):
        if t.get(f) is not None and _quantity_sign(t[f]) not in (1, None):
            errs.append(invalid(f"{path}.{f}", t[f], "must be positive"))
    au = t.get("averageUtilization")
    if is_int(au) and au < 1:
        errs.append(invalid(f"{path}.averageUtilization", au, "must be greater than 0"))
    return errs


def _validate_metric_identifier(m: Any, path: str) -> list[FieldError]:
    if not isinstance(m, dict) or not m.get("name"):
        return [required(f"{path}.name", "must specify a metric name")]
    return []


def _validate_source(kind: str, src: Obj, path: str) -> list[FieldError]:
    target = src.get("target") if isinstance(src.get("target"), dict) else {}
    tp = f"{path}.target"
    errs: list[FieldError] = []
    if kind == "object":
        errs += _validate_reference(src.get("describedObject"), f"{path}.describedObject")
        errs += _validate_metric_identifier(src.get("metric"), f"{path}.metric")
        errs += _validate_target(target, tp)
        if target.get("value") is None and target.get("averageValue") is None:
            errs.append(required(f"{tp}.value", "must set either a target value or averageValue"))
    elif kind == "pods":
        errs += _validate_metric_identifier(src.get("metric"), f"{path}.metric")
        errs += _validate_target(target, tp)
        if target.get("averageValue") is None:
            errs.append(required(f"{tp}.averageValue", "must specify a positive target averageValue"))
    elif kind == "external":
        errs += _validate_metric_identifier(src.get("metric"), f"{path}.metric")
        errs += _validate_target(target, tp)
        if target.get("value") is None and target.get("averageValue") is None:
            errs.append(required(f"{tp}.value", "must set either a target value for metric or a per-pod target"))
        if target.get("value") is not None and target.get("averageValue") is not None:
            errs.append(forbidden(f"{tp}.value", "may not set both a target value for metric and a per-pod target"))
    else:  # resource, containerResource
        if not src.get("name"):
            errs.append(required(f"{path}.name", "must specify a resource name"))
        if kind == "containerResource" and not src.get("container"):
            errs.append(required(f"{path}.container", "must specify a container"))
        errs += _validate_target(target, tp)
        if target.get("averageUtilization") is None and target.get("averageValue") is None:
            errs.append(required(f"{tp}.averageUtilization", "must set either a target raw value or a target utilization"))
        if target.get("averageUtilization") is not None and target.get("averageValue") is not None:
            errs.append(forbidden(f"{tp}.averageValue", "may not set both a target raw value and a target utilization"))
    return errs


_SOURCE_FIELD = {"Object": "object", "Pods": "pods", "Resource": "resource", "ContainerResource": "containerResource",
                 "External": "external"}


def _validate_metric_spec(m: Any, path: str) -> list[FieldError]:
    m = m if isinstance(m, dict) else {}
    errs: list[FieldError] = []
    t = m.get("type", "")
    if not t:
        errs.append(required(f"{path}.type", "must specify a metric source type"))
    if t not in _SOURCE_FIELD:
        errs.append(not_supported(f"{path}.type", t, METRIC_SOURCE_TYPES))
    present = [f for f in ("object", "pods", "resource", "containerResource", "external") if m.get(f) is not None]
    if present:
        errs += _validate_source(present[0], m[present[0]], f"{path}.{present[0]}")
    expected = _SOURCE_FIELD.get(t)
    if expected is not None:
        if m.get(expected) is None:
            errs.append(required(f"{path}.{expected}", "must populate information for the given metric source"))
    else:
        errs.append(not_supported(f"{path}.type", t, METRIC_SOURCE_TYPES))
    if len(present) != 1:
        for f in present:
            if f != expected:
                errs.append(forbidden(f"{path}.{f}", "must populate the given metric source only"))
    return errs


def _validate_rules(rules: Any, path: str) -> list[FieldError]:
    if not isinstance(rules, dict):
        return []
    errs: list[FieldError] = []
    sws = rules.get("stabilizationWindowSeconds")
    if is_int(sws) and sws < 0:
        errs.append(invalid(f"{path}.stabilizationWindowSeconds", sws, "must be greater than or equal to zero"))
    if is_int(sws) and sws > MAX_STABILIZATION_WINDOW_SECONDS:
        errs.append(invalid(f"{path}.stabilizationWindowSeconds", sws,
                            f"must be less than or equal to {MAX_STABILIZATION_WINDOW_SECONDS}"))
    sp = rules.get("selectPolicy")
    if sp is not None and sp not in ("Disabled", "Max", "Min"):
        errs.append(not_supported(f"{path}.selectPolicy", sp, ["Disabled", "Max", "Min"]))
    policies = rules.get("policies") or []
    if not policies:
        errs.append(required(f"{path}.policies", "must specify at least one Policy"))
    for i, p in enumerate(policies):
        p = p if isinstance(p, dict) else {}
        pp = f"{path}.policies[{i}]"
        if p.get("type") not in ("Pods", "Percent"):
            errs.append(not_supported(f"{pp}.type", p.get("type", ""), ["Percent", "Pods"]))
        if (p.get("value") or 0) <= 0:
            errs.append(invalid(f"{pp}.value", p.get("value") or 0, "must be greater than zero"))
        period = p.get("periodSeconds") or 0
        if period <= 0:
            errs.append(invalid(f"{pp}.periodSeconds", period, "must be greater than zero"))
        if period > MAX_PERIOD_SECONDS:
            errs.append(invalid(f"{pp}.periodSeconds", period, f"must be less than or equal to {MAX_PERIOD_SECONDS}"))
    return errs


def validate_v2(obj: Obj) -> list[FieldError]:
    """validateHorizontalPodAutoscalerSpec on the v2 shape."""
    spec = obj.get("spec") or {}
    errs: list[FieldError] = []
    mn, mx = spec.get("minReplicas"), spec.get("maxReplicas") or 0
    if is_int(mn) and mn < 1:
        errs.append(invalid("spec.minReplicas", mn, "must be greater than or equal to 1"))
    if mx < 1:
        errs.append(invalid("spec.maxReplicas", mx, "must be greater than 0"))
    if is_int(mn) and mx < mn:
        errs.append(invalid("spec.maxReplicas", mx, "must be greater than or equal to `minReplicas`"))
    errs += _validate_reference(spec.get("scaleTargetRef"), "spec.scaleTargetRef")
    has_object_or_external = False
    for i, m in enumerate(spec.get("metrics") or []):
        errs += _validate_metric_spec(m, f"spec.metrics[{i}]")
        if isinstance(m, dict) and m.get("type") in ("Object", "External"):
            has_object_or_external = True
    if mn == 0 and not has_object_or_external:
        errs.append(forbidden("spec.metrics", "must specify at least one Object or External metric to support scaling "
                                              "to zero replicas"))
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        errs += _validate_rules(behavior.get("scaleUp"), "spec.behavior.scaleUp")
        errs += _validate_rules(behavior.get("scaleDown"), "spec.behavior.scaleDown")
    return errs


def validate_status(obj: Obj) -> list[FieldError]:
    st = obj.get("status") or {}
    return nonnegative(st.get("currentReplicas"), "status.currentReplicas") + nonnegative(
        st.get("desiredReplicas"), "status.desiredReplicas"
    )


class HorizontalPodAutoscalerV2Strategy(Strategy):
    has_status = True

    def defaults(self, obj: Obj) -> None:
        default_v2(obj)

    def initial_status(self, obj: Obj) -> None:
        obj["status"] = {"currentMetrics": None, "desiredReplicas": 0}

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_v2(obj)

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return validate_status(new)


# -------------------------------------------------------------------------------------- v1 <-> v2


def _drop_none(d: Obj) -> Obj:
    return {k: v for k, v in d.items() if v is not None}


def _metric_spec_to_v1(m: Obj) -> Obj:
    """A v2 MetricSpec in the autoscaling/v1 annotation format (the v2beta1 field names)."""
    out: Obj = {"type": m.get("type")}
    if isinstance(m.get("object"), dict):
        s = m["object"]
        t, mi = s.get("target") or {}, s.get("metric") or {}
        out["object"] = _drop_none({"target": s.get("describedObject"), "metricName": mi.get("name"),
                                    "targetValue": t.get("value"), "selector": mi.get("selector"),
                                    "averageValue": t.get("averageValue")})
    if isinstance(m.get("pods"), dict):
        s = m["pods"]
        t, mi = s.get("target") or {}, s.get("metric") or {}
        out["pods"] = _drop_none({"metricName": mi.get("name"), "targetAverageValue": t.get("averageValue"),
                                  "selector": mi.get("selector")})
    for f in ("resource", "containerResource"):
        if isinstance(m.get(f), dict):
            s = m[f]
            t = s.get("target") or {}
            out[f] = _drop_none({"name": s.get("name"), "targetAverageUtilization": t.get("averageUtilization"),
                                 "targetAverageValue": t.get("averageValue"), "container": s.get("container")})
    if isinstance(m.get("external"), dict):
        s = m["external"]
        t, mi = s.get("target") or {}, s.get("metric") or {}
        out["external"] = _drop_none({"metricName": mi.get("name"), "metricSelector": mi.get("selector"),
                                      "targetValue": t.get("value"), "targetAverageValue": t.get("averageValue")})
    return out


def _metric_spec_from_v1(m: Obj) -> Obj:
    out: Obj = {"type": m.get("type")}
    if isinstance(m.get("object"), dict):
        s = m["object"]
        target: Obj = {"type": "AverageValue" if s.get("averageValue") is not None else "Value"}
        target.update(_drop_none({"value": s.get("targetValue"), "averageValue": s.get("averageValue")}))
        out["object"] = {"describedObject": s.get("target"), "target": target,
                         "metric": _drop_none({"name": s.get("metricName"), "selector": s.get("selector")})}
    if isinstance(m.get("pods"), dict):
        s = m["pods"]
        out["pods"] = {"metric": _drop_none({"name": s.get("metricName"), "selector": s.get("selector")}),
                       "target": _drop_none({"type": "AverageValue", "averageValue": s.get("targetAverageValue")})}
    for f in ("resource", "containerResource"):
        if isinstance(m.get(f), dict):
            s = m[f]
            if s.get("targetAverageUtilization") is not None:
                target = {"type": "Utilization", "averageUtilization": s["targetAverageUtilization"]}
            else:
                target = _drop_none({"type": "AverageValue", "averageValue": s.get("targetAverageValue")})
            out[f] = _drop_none({"name": s.get("name"), "container": s.get("container"), "target": target})
    if isinstance(m.get("external"), dict):
        s = m["external"]
        if s.get("targetValue") is not None:
            target = {"type": "Value", "value": s["targetValue"]}
        else:
            target = _drop_none({"type": "AverageValue", "averageValue": s.get("targetAverageValue")})
        out["external"] = {"metric": _drop_none({"name": s.get("metricName"), "selector": s.get("metricSelector")}),
                           "target": target}
    return out


def _metric_status_to_v1(m: Obj) -> Obj:
    out: Obj = {"type": m.get("type")}
    if isinstance(m.get("object"), dict):
        s = m["object"]
        c, mi = s.get("current") or {}, s.get("metric") or {}
        out["object"] = _drop_none({"target": s.get("describedObject"), "metricName": mi.get("name"),
                                    "currentValue": c.get("value"), "selector": mi.get("selector"),
                                    "averageValue": c.get("averageValue")})
    if isinstance(m.get("pods"), dict):
        s = m["pods"]
        c, mi = s.get("current") or {}, s.get("metric") or {}
        out["pods"] = _drop_none({"metricName": mi.get("name"), "currentAverageValue": c.get("averageValue"),
                                  "selector": mi.get("selector")})
    for f in ("resource", "containerResource"):
        if isinstance(m.get(f), dict):
            s = m[f]
            c = s.get("current") or {}
            out[f] = _drop_none({"name": s.get("name"), "currentAverageUtilization": c.get("averageUtilization"),
                                 "currentAverageValue": c.get("averageValue"), "container": s.get("container")})
    if isinstance(m.get("external"), dict):
        s = m["external"]
        c, mi = s.get("current") or {}, s.get("metric") or {}
        out["external"] = _drop_none({"metricName": mi.get("name"), "metricSelector": mi.get("selector"),
                                      "currentValue": c.get("value"), "currentAverageValue": c.get("averageValue")})
    return out


def _metric_status_from_v1(m: Obj) -> Obj:
    out: Obj = {"type": m.get("type")}
    if isinstance(m.get("object"), dict):
        s = m["object"]
        out["object"] = {"describedObject": s.get("target"),
                         "metric": _drop_none({"name": s.get("metricName"), "selector": s.get("selector")}),
                         "current": _drop_none({"value": s.get("currentValue"), "averageValue": s.get("averageValue")})}
    if isinstance(m.get("pods"), dict):
        s = m["pods"]
        out["pods"] = {"metric": _drop_none({"name": s.get("metricName"), "selector": s.get("selector")}),
                       "current": _drop_none({"averageValue": s.get("currentAverageValue")})}
    for f in ("resource", "containerResource"):
        if isinstance(m.get(f), dict):
            s = m[f]
            out[f] = _drop_none({"name": s.get("name"), "container": s.get("container"), "current": _drop_none(
                {"averageUtilization": s.get("currentAverageUtilization"), "averageValue": s.get("currentAverageValue")})})
    if isinstance(m.get("external"), dict):
        s = m["external"]
        out["external"] = {"metric": _drop_none({"name": s.get("metricName"), "selector": s.get("metricSelector")}),
                           "current": _drop_none({"value": s.get("currentValue"),
                                                  "averageValue": s.get("currentAverageValue")})}
    return out


def _behavior_to_annotation(behavior: Obj) -> str:
    """Upstream marshals the *internal* Go type here, so the JSON keys are the Go field names."""

    def rules(r: Any) -> Any:
        if not isinstance(r, dict):
            return None
        return {
            "StabilizationWindowSeconds": r.get("stabilizationWindowSeconds"),
            "SelectPolicy": r.get("selectPolicy"),
            "Policies": None if r.get("policies") is None else [
                {"Type": p.get("type", ""), "Value": p.get("value", 0), "PeriodSeconds": p.get("periodSeconds", 0)}
                for p in r["policies"]
            ],
        }

    return orjson.dumps({"ScaleUp": rules(behavior.get("scaleUp")), "ScaleDown": rules(behavior.get("scaleDown"))}).decode()


def _behavior_from_annotation(text: str) -> Obj | None:
    """Go's json.Unmarshal matches keys case-insensitively: read either spelling."""
    try:
        raw = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(raw, dict):
        return None

    def get(d: Obj, key: str) -> Any:
        for k, v in d.items():
            if k.lower() == key.lower():
                return v
        return None

    def rules(r: Any) -> Any:
        if not isinstance(r, dict):
            return None
        policies = get(r, "policies")
        return _drop_none({
            "stabilizationWindowSeconds": get(r, "stabilizationWindowSeconds"),
            "selectPolicy": get(r, "selectPolicy"),
            "policies": None if policies is None else [
                {"type": get(p, "type"), "value": get(p, "value"), "periodSeconds": get(p, "periodSeconds")}
                for p in policies if isinstance(p, dict)
            ],
        })

    return _drop_none({"scaleUp": rules(get(raw, "scaleUp")), "scaleDown": rules(get(raw, "scaleDown"))})


def _json_list(text: str | None) -> list[Obj]:
    if not text:
        return []
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return []
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def to_storage(obj: Obj) -> Obj:
    """autoscaling/v1 HorizontalPodAutoscaler -> the stored autoscaling/v2 form (v2 defaults applied)."""
    v1 = copy.deepcopy(obj)
    meta = v1.get("metadata") or {}
    annotations = dict(meta.get("annotations") or {})
    spec = v1.get("spec") or {}
    status = v1.get("status")
    out_spec: Obj = {}
    if "scaleTargetRef" in spec:
        out_spec["scaleTargetRef"] = spec["scaleTargetRef"]
    if spec.get("minReplicas") is not None:
        out_spec["minReplicas"] = spec["minReplicas"]
    out_spec["maxReplicas"] = spec.get("maxReplicas", 0)
    metrics: list[Obj] = []
    if spec.get("targetCPUUtilizationPercentage") is not None:
        metrics.append(_cpu_metric(spec["targetCPUUtilizationPercentage"]))
    metrics += [_metric_spec_from_v1(m) for m in _json_list(annotations.get(METRIC_SPECS_ANNOTATION))]
    if not metrics:
        metrics = [_cpu_metric(DEFAULT_CPU_UTILIZATION)]
    out_spec["metrics"] = metrics
    if BEHAVIOR_ANNOTATION in annotations:
        behavior = _behavior_from_annotation(annotations[BEHAVIOR_ANNOTATION])
        if behavior is not None:
            out_spec["behavior"] = behavior
    out: Obj = {"apiVersion": f"{GROUP}/v2", "kind": "HorizontalPodAutoscaler", "metadata": meta, "spec": out_spec}
    if isinstance(status, dict):
        st: Obj = _drop_none({"observedGeneration": status.get("observedGeneration"),
                              "lastScaleTime": status.get("lastScaleTime")})
        if status.get("currentReplicas"):
            st["currentReplicas"] = status["currentReplicas"]
        st["desiredReplicas"] = status.get("desiredReplicas", 0)
        current: list[Obj] | None = None
        if status.get("currentCPUUtilizationPercentage") is not None:
            current = [{"type": "Resource", "resource": {"name": "cpu", "current": {
                "averageUtilization": status["currentCPUUtilizationPercentage"]}}}]
        if METRIC_STATUSES_ANNOTATION in annotations:
            # the annotation has more information than the CPU figure: it wins
            current = [_metric_status_from_v1(m) for m in _json_list(annotations[METRIC_STATUSES_ANNOTATION])]
        st["currentMetrics"] = current
        conditions = _json_list(annotations.get(CONDITIONS_ANNOTATION))
        if conditions:
            st["conditions"] = conditions
        out["status"] = st
    for a in _CONVERSION_ANNOTATIONS:
        annotations.pop(a, None)
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    default_v2(out)  # what is read back from storage is v2-defaulted, as kube-apiserver decodes it
    return out


def from_storage(obj: Obj) -> Obj:
    """The stored autoscaling/v2 form -> autoscaling/v1."""
    v2 = copy.deepcopy(obj)
    meta = v2.get("metadata") or {}
    spec = v2.get("spec") or {}
    status = v2.get("status")
    extra: dict[str, str] = {}
    out_spec: Obj = {}
    if "scaleTargetRef" in spec:
        out_spec["scaleTargetRef"] = spec["scaleTargetRef"]
    if spec.get("minReplicas") is not None:
        out_spec["minReplicas"] = spec["minReplicas"]
    out_spec["maxReplicas"] = spec.get("maxReplicas", 0)
    other: list[Obj] = []
    cpu_seen = False
    for m in spec.get("metrics") or []:
        res = m.get("resource") if isinstance(m, dict) else None
        is_cpu = m.get("type") == "Resource" and isinstance(res, dict) and res.get("name") == "cpu"
        util = ((res or {}).get("target") or {}).get("averageUtilization") if is_cpu else None
        if is_cpu and not cpu_seen:
            cpu_seen = True
            if util is not None:
                out_spec["targetCPUUtilizationPercentage"] = util
        if is_cpu and util is not None:
            continue
        other.append(_metric_spec_to_v1(m))
    if other:
        extra[METRIC_SPECS_ANNOTATION] = orjson.dumps(other).decode()
    if isinstance(spec.get("behavior"), dict):
        extra[BEHAVIOR_ANNOTATION] = _behavior_to_annotation(spec["behavior"])
    out: Obj = {"apiVersion": f"{GROUP}/v1", "kind": "HorizontalPodAutoscaler", "metadata": meta, "spec": out_spec}
    if isinstance(status, dict):
        st: Obj = _drop_none({"observedGeneration": status.get("observedGeneration"),
                              "lastScaleTime": status.get("lastScaleTime")})
        st["currentReplicas"] = status.get("currentReplicas", 0)
        st["desiredReplicas"] = status.get("desiredReplicas", 0)
        current = status.get("currentMetrics") or []
        for m in current:
            res = m.get("resource") if isinstance(m, dict) else None
            if m.get("type") == "Resource" and isinstance(res, dict) and res.get("name") == "cpu":
                util = (res.get("current") or {}).get("averageUtilization")
                if util is not None:
                    st["currentCPUUtilizationPercentage"] = util
        if current:
            extra[METRIC_STATUSES_ANNOTATION] = orjson.dumps([_metric_status_to_v1(m) for m in current]).decode()
        if status.get("conditions"):
            extra[CONDITIONS_ANNOTATION] = orjson.dumps(status["conditions"]).decode()
        out["status"] = st
    if extra:
        annotations = dict(meta.get("annotations") or {})
        annotations.update(extra)
        meta["annotations"] = annotations
    return out


class HorizontalPodAutoscalerV1Strategy(Strategy):
    """autoscaling/v1: defaults and validation on the v1 shape via the v2 rules; conversion for storage."""

    has_status = True

    def defaults(self, obj: Obj) -> None:
        spec = spec_of(obj)
        if spec.get("minReplicas") is None:
            spec["minReplicas"] = 1

    def initial_status(self, obj: Obj) -> None:
        obj["status"] = {"currentReplicas": 0, "desiredReplicas": 0}

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_v2(to_storage(obj))

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return validate_status(new)

    def to_storage(self, obj: Obj) -> Obj:
        return to_storage(obj)

    def from_storage(self, obj: Obj) -> Obj:
        return from_storage(obj)


RESOURCES: list[ResourceInfo] = [
    ResourceInfo(GROUP, "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", "horizontalpodautoscaler", True,
                 ("hpa",), ("all",), subresources=("status",), strategy=HorizontalPodAutoscalerV2Strategy(),
                 storage_resource=STORAGE_RESOURCE),
    ResourceInfo(GROUP, "v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers", "horizontalpodautoscaler", True,
                 ("hpa",), ("all",), subresources=("status",), strategy=HorizontalPodAutoscalerV1Strategy(),
                 storage_resource=STORAGE_RESOURCE),
]
