"""ReplicationControllers and PodTemplates: the core kinds that embed a pod template.

The template's defaults and validation are the Pod's (``core_pod``); what is added here is the RC's
own rules: selector and labels default from the template, one replica by default, the selector
must match the template's labels, and the template's pods must restart Always.
"""

from __future__ import annotations

from typing import Any

from facade.errors import FieldError, invalid, not_supported, required
from facade.kinds.core_fields import as_dict, nonnegative
from facade.kinds.group_support import default_pod_template, go_string_map, invalid_raw, validate_pod_template
from facade.resource_table import Strategy
from facade.validation import validate_labels

Obj = dict[str, Any]


def _matches(selector: dict[str, Any], labels: Any) -> bool:
    labels = as_dict(labels)
    return all(labels.get(k) == v for k, v in selector.items())


def validate_rc_spec(spec: Obj) -> list[FieldError]:
    """ValidateReplicationControllerSpec."""
    errs = nonnegative(spec.get("minReadySeconds", 0), "spec.minReadySeconds")
    selector = as_dict(spec.get("selector"))
    if not selector:
        errs.append(required("spec.selector", ""))
    errs += validate_labels(selector, "spec.selector")
    errs += nonnegative(spec.get("replicas", 0), "spec.replicas")
    template = spec.get("template")
    if not isinstance(template, dict):
        errs.append(required("spec.template", ""))
        return errs
    labels = as_dict(template.get("metadata")).get("labels")
    if selector and not _matches(selector, labels):
        errs.append(invalid_raw("spec.template.metadata.labels", go_string_map(labels), "`selector` does not match template `labels`"))
    errs += validate_pod_template(template, "spec.template")
    tspec = as_dict(template.get("spec"))
    rp = tspec.get("restartPolicy")
    if rp != "Always":
        errs.append(not_supported("spec.template.spec.restartPolicy", rp or "", ["Always"]))
    if tspec.get("activeDeadlineSeconds") is not None:
        errs.append(invalid("spec.template.spec.activeDeadlineSeconds", tspec["activeDeadlineSeconds"],
                            "activeDeadlineSeconds in ReplicationController is not Supported"))
    return errs


class ReplicationControllerStrategy(Strategy):
    has_status = True
    tracks_generation = True

    def defaults(self, obj: Obj) -> None:
        spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
        obj["spec"] = spec
        template = spec.get("template")
        if isinstance(template, dict):
            labels = as_dict(template.get("metadata")).get("labels")
            if labels:
                if not spec.get("selector"):
                    spec["selector"] = dict(labels)
                meta = obj.setdefault("metadata", {})
                if not meta.get("labels"):
                    meta["labels"] = dict(labels)
            default_pod_template(template)
        if spec.get("replicas") is None:
            spec["replicas"] = 1

    def initial_status(self, obj: Obj) -> None:
        obj["status"] = {"replicas": 0}

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_rc_spec(as_dict(obj.get("spec")))

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        status = as_dict(new.get("status"))
        errs: list[FieldError] = []
        for f in ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas", "observedGeneration"):
            errs += nonnegative(status.get(f, 0), f"status.{f}")
        replicas = status.get("replicas", 0)
        for f in ("fullyLabeledReplicas", "readyReplicas"):
            if isinstance(status.get(f), int) and isinstance(replicas, int) and status[f] > replicas:
                errs.append(invalid(f"status.{f}", status[f], "cannot be greater than status.replicas"))
        if isinstance(status.get("availableReplicas"), int) and isinstance(status.get("readyReplicas", 0), int) and \
                status["availableReplicas"] > status.get("readyReplicas", 0):
            errs.append(invalid("status.availableReplicas", status["availableReplicas"], "cannot be greater than readyReplicas"))
        return errs

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        return {"status.replicas": str(as_dict(obj.get("status")).get("replicas", 0))}


class PodTemplateStrategy(Strategy):
    def defaults(self, obj: Obj) -> None:
        template = obj.get("template")
        if isinstance(template, dict):
            default_pod_template(template)

    def validate(self, obj: Obj) -> list[FieldError]:
        template = obj.get("template")
        if not isinstance(template, dict):
            template = {}  # a Go zero struct: validated as an empty, defaulted template
            default_pod_template(template)
        return validate_pod_template(template, "template")
