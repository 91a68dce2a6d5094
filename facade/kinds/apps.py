"""apps/v1: Deployments, ReplicaSets, StatefulSets, DaemonSets, ControllerRevisions.

Defaults follow pkg/apis/apps/v1/defaults.go, validation pkg/apis/apps/validation and the
registry strategies in pkg/registry/apps/* (status reset on create, generation bumps, the
immutable selector of apps/v1, DaemonSet's template generation annotation).
"""

from __future__ import annotations

import copy
from typing import Any

from facade.errors import FieldError, forbidden, invalid, not_supported, required
from facade.kinds.core_pod import default_pvc_spec
from facade.kinds.group_support import (
    default_object_meta_in_template,
    default_pod_template,
    go_int_or_string,
    go_label_selector,
    go_str,
    go_struct,
    immutable,
    int_or_percent_errors,
    int_or_percent_value,
    invalid_raw,
    nonnegative,
    not_more_than_100_percent,
    not_supported_raw,
    selector_is_empty,
    selector_mismatch,
    selector_parses,
    spec_of,
    validate_label_selector,
    validate_pod_template,
)
from facade.resource_table import ResourceInfo, Strategy
from facade.validation import validate_annotations, validate_labels

Obj = dict[str, Any]

GROUP = "apps"
VERSION = "v1"

#: annotation apps/v1 DaemonSets carry their (internal) spec.templateGeneration in
TEMPLATE_GENERATION_ANNOTATION = "deprecated.daemonset.template.generation"


# ------------------------------------------------------------------------------ shared workload rules


def _validate_selector(spec: Obj, kind_word: str) -> list[FieldError]:
    """spec.selector required, valid, and not empty (Deployment, ReplicaSet, StatefulSet)."""
    sel = spec.get("selector")
    if sel is None:
        return [required("spec.selector", "")]
    errs = validate_label_selector(sel, "spec.selector")
    if selector_is_empty(sel):
        errs.append(invalid_raw("spec.selector", go_label_selector(sel), f"empty selector is invalid for {kind_word}"))
    return errs


def _validate_replicaset_template(spec: Obj, kind: str) -> list[FieldError]:
    """ValidatePodTemplateSpecForReplicaSet (Deployments and ReplicaSets)."""
    sel = spec.get("selector")
    if not selector_parses(sel):
        return [invalid_raw("spec.selector", go_label_selector(sel), "invalid label selector")]
    template = spec.get("template")
    if not isinstance(template, dict):
        return [required("spec.template", "")]
    errs: list[FieldError] = []
    if not selector_is_empty(sel):
        errs += selector_mismatch(sel, template, "spec.template")
    errs += validate_pod_template(template, "spec.template")
    errs += _restart_always(template, "spec.template.spec", kind)
    return errs


def _restart_always(template: Obj, path: str, kind: str) -> list[FieldError]:
    pod = template.get("spec") or {}
    errs: list[FieldError] = []
    rp = pod.get("restartPolicy", "")
    if rp != "Always":
        errs.append(not_supported(f"{path}.restartPolicy", rp, ["Always"]))
    if pod.get("activeDeadlineSeconds") is not None:
        errs.append(forbidden(f"{path}.activeDeadlineSeconds", f"activeDeadlineSeconds in {kind} is not Supported"))
    return errs


def _selector_immutable(new: Obj, old: Obj) -> list[FieldError]:
    """apps/v1 strategies: ``spec.selector: Invalid value: v1.LabelSelector{...}: field is immutable``."""
    ns, os_ = (new.get("spec") or {}).get("selector"), (old.get("spec") or {}).get("selector")
    return immutable(ns, os_, "spec.selector", go_label_selector(ns))


def _status_counts(status: Obj, names: tuple[str, ...]) -> list[FieldError]:
    errs: list[FieldError] = []
    for n in names:
        errs += nonnegative(status.get(n), f"status.{n}")
    return errs


def _not_greater(status: Obj, field: str, than: str, msg: str) -> list[FieldError]:
    v, limit = status.get(field) or 0, status.get(than) or 0
    if v > limit:
        return [invalid(f"status.{field}", v, msg)]
    return []


def _collision_not_decremented(new: Obj, old: Obj) -> list[FieldError]:
    nc = (new.get("status") or {}).get("collisionCount")
    oc = (old.get("status") or {}).get("collisionCount")
    if oc is not None and (nc is None or nc < oc):
        return [invalid("status.collisionCount", nc or 0, "cannot be decremented")]
    return []


class _WorkloadStrategy(Strategy):
    """What every apps/v1 workload shares: a status subresource and spec-driven generation."""

    has_status = True
    tracks_generation = True
    #: the status an object starts with (upstream resets status to the zero struct; required
    #: int fields then encode as 0)
    zero_status: Obj = {}

    def initial_status(self, obj: Obj) -> None:
        obj["status"] = copy.deepcopy(self.zero_status)

    def generation_changed(self, new: Obj, old: Obj) -> bool:
        return new.get("spec") != old.get("spec")


# -------------------------------------------------------------------------------------- Deployment


class DeploymentStrategy(_WorkloadStrategy):
    #: deploymentStatusStrategy keeps spec and labels only: the controller's revision annotation rides on status writes
    status_metadata = ("annotations",)

    def defaults(self, obj: Obj) -> None:
        spec = spec_of(obj)
        spec.setdefault("replicas", 1)
        strategy = spec.get("strategy")
        if not isinstance(strategy, dict):
            strategy = spec["strategy"] = {}
        if not strategy.get("type"):
            strategy["type"] = "RollingUpdate"
        if strategy["type"] == "RollingUpdate":
            ru = strategy.get("rollingUpdate")
            if not isinstance(ru, dict):
                ru = strategy["rollingUpdate"] = {}
            ru.setdefault("maxUnavailable", "25%")
            ru.setdefault("maxSurge", "25%")
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        default_pod_template(spec.setdefault("template", {}))

    def generation_changed(self, new: Obj, old: Obj) -> bool:
        """Spec changes and annotation changes (the rollback annotation) bump the generation."""
        return new.get("spec") != old.get("spec") or (new.get("metadata") or {}).get("annotations") != (
            old.get("metadata") or {}
        ).get("annotations")

    def validate(self, obj: Obj) -> list[FieldError]:
        spec = obj.get("spec") or {}
        errs = nonnegative(spec.get("replicas"), "spec.replicas")
        errs += _validate_selector(spec, "deployment")
        errs += _validate_replicaset_template(spec, "ReplicaSet")
        errs += _validate_deployment_strategy(spec.get("strategy") or {})
        errs += nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
        errs += nonnegative(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit")
        pds = spec.get("progressDeadlineSeconds")
        if pds is not None:
            errs += nonnegative(pds, "spec.progressDeadlineSeconds")
            if isinstance(pds, int) and pds <= (spec.get("minReadySeconds") or 0):
                errs.append(invalid("spec.progressDeadlineSeconds", pds, "must be greater than minReadySeconds"))
        return errs

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return self.validate(new) + _selector_immutable(new, old)

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        st = new.get("status") or {}
        errs = _status_counts(
            st,
            ("observedGeneration", "replicas", "updatedReplicas", "readyReplicas", "availableReplicas",
             "unavailableReplicas", "collisionCount"),
        )
        msg = "cannot be greater than status.replicas"
        errs += _not_greater(st, "updatedReplicas", "replicas", msg)
        errs += _not_greater(st, "readyReplicas", "replicas", msg)
        errs += _not_greater(st, "availableReplicas", "replicas", msg)
        errs += _not_greater(st, "availableReplicas", "readyReplicas", "cannot be greater than readyReplicas")
        return errs + _collision_not_decremented(new, old)


def _validate_deployment_strategy(strategy: Obj) -> list[FieldError]:
    t = strategy.get("type")
    path = "spec.strategy"
    if t == "Recreate":
        if strategy.get("rollingUpdate") is not None:
            return [forbidden(f"{path}.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'")]
        return []
    if t == "RollingUpdate":
        ru = strategy.get("rollingUpdate")
        if not isinstance(ru, dict):
            return [required(f"{path}.rollingUpdate", "this should be defaulted and never be nil")]
        p = f"{path}.rollingUpdate"
        mu, ms = ru.get("maxUnavailable", 0), ru.get("maxSurge", 0)
        errs = int_or_percent_errors(mu, f"{p}.maxUnavailable")
        errs += int_or_percent_errors(ms, f"{p}.maxSurge")
        if int_or_percent_value(mu) == 0 and int_or_percent_value(ms) == 0:
            errs.append(invalid_raw(f"{p}.maxUnavailable", go_int_or_string(mu), "may not be 0 when `maxSurge` is 0"))
        errs += not_more_than_100_percent(mu, f"{p}.maxUnavailable")
        return errs
    return [not_supported_raw(path, _go_deployment_strategy(strategy), ["Recreate", "RollingUpdate"])]


def _go_deployment_strategy(strategy: Obj) -> str:
    ru = strategy.get("rollingUpdate")
    ru_s = "(*apps.RollingUpdateDeployment)(nil)" if ru is None else "&apps.RollingUpdateDeployment{...}"
    return f"apps.DeploymentStrategy{{Type:{go_str(strategy.get('type', ''))}, RollingUpdate:{ru_s}}}"


# ------------------------------------------------------------------------------------- ReplicaSet


class ReplicaSetStrategy(_WorkloadStrategy):
    zero_status = {"replicas": 0}

    def defaults(self, obj: Obj) -> None:
        spec = spec_of(obj)
        spec.setdefault("replicas", 1)
        default_pod_template(spec.setdefault("template", {}))

    def validate(self, obj: Obj) -> list[FieldError]:
        spec = obj.get("spec") or {}
        errs = nonnegative(spec.get("replicas"), "spec.replicas")
        errs += nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
        # upstream's ReplicaSet check says "deployment" too
        errs += _validate_selector(spec, "deployment")
        errs += _validate_replicaset_template(spec, "ReplicaSet")
        return errs

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return self.validate(new) + _selector_immutable(new, old)

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        st = new.get("status") or {}
        errs = _status_counts(
            st, ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas", "observedGeneration")
        )
        msg = "cannot be greater than status.replicas"
        errs += _not_greater(st, "fullyLabeledReplicas", "replicas", msg)
        errs += _not_greater(st, "readyReplicas", "replicas", msg)
        errs += _not_greater(st, "availableReplicas", "replicas", msg)
        errs += _not_greater(st, "availableReplicas", "readyReplicas", "cannot be greater than readyReplicas")
        return errs

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        return {"status.replicas": str((obj.get("status") or {}).get("replicas") or 0)}


# ------------------------------------------------------------------------------------ StatefulSet


def default_pvc_template(pvc: Any) -> None:
    """Defaults of a volumeClaimTemplate (a PersistentVolumeClaim: volumeMode, phase Pending)."""
    if not isinstance(pvc, dict):
        return
    pvc.setdefault("apiVersion", "v1")
    pvc.setdefault("kind", "PersistentVolumeClaim")
    default_object_meta_in_template(pvc)
    spec = pvc.get("spec")
    if not isinstance(spec, dict):
        spec = pvc["spec"] = {}
    default_pvc_spec(spec)
    status = pvc.get("status")
    if not isinstance(status, dict):
        status = pvc["status"] = {}
    status.setdefault("phase", "Pending")


class StatefulSetStrategy(_WorkloadStrategy):
    name_rule = "label"
    zero_status = {"replicas": 0, "availableReplicas": 0}

    def defaults(self, obj: Obj) -> None:
        spec = spec_of(obj)
        if not spec.get("podManagementPolicy"):
            spec["podManagementPolicy"] = "OrderedReady"
        us = spec.get("updateStrategy")
        if not isinstance(us, dict):
            us = spec["updateStrategy"] = {}
        if not us.get("type"):
            us["type"] = "RollingUpdate"
            if not isinstance(us.get("rollingUpdate"), dict):
                us["rollingUpdate"] = {}
        if us["type"] == "RollingUpdate" and isinstance(us.get("rollingUpdate"), dict):
            us["rollingUpdate"].setdefault("partition", 0)
        policy = spec.get("persistentVolumeClaimRetentionPolicy")
        if not isinstance(policy, dict):
            policy = spec["persistentVolumeClaimRetentionPolicy"] = {}
        if not policy.get("whenDeleted"):
            policy["whenDeleted"] = "Retain"
        if not policy.get("whenScaled"):
            policy["whenScaled"] = "Retain"
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        default_pod_template(spec.setdefault("template", {}))
        for pvc in spec.get("volumeClaimTemplates") or []:
            default_pvc_template(pvc)

    def validate(self, obj: Obj) -> list[FieldError]:
        spec = obj.get("spec") or {}
        errs: list[FieldError] = []
        pmp = spec.get("podManagementPolicy", "")
        if not pmp:
            errs.append(required("spec.podManagementPolicy", ""))
        elif pmp not in ("OrderedReady", "Parallel"):
            errs.append(invalid("spec.podManagementPolicy", pmp, "must be 'OrderedReady' or 'Parallel'"))
        errs += _validate_sts_update_strategy(spec.get("updateStrategy") or {})
        policy = spec.get("persistentVolumeClaimRetentionPolicy")
        if isinstance(policy, dict):
            for f in ("whenDeleted", "whenScaled"):
                v = policy.get(f, "")
                if v not in ("Retain", "Delete"):
                    errs.append(not_supported(f"spec.persistentVolumeClaimRetentionPolicy.{f}", v, ["Retain", "Delete"]))
        errs += nonnegative(spec.get("replicas"), "spec.replicas")
        errs += nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
        ordinals = spec.get("ordinals")
        if isinstance(ordinals, dict):
            errs += nonnegative(ordinals.get("start"), "spec.ordinals.start")
        errs += _validate_selector(spec, "statefulset")
        sel = spec.get("selector")
        template = spec.get("template")
        if not selector_parses(sel):
            errs.append(invalid_raw("spec.selector", go_label_selector(sel), ""))
        elif not isinstance(template, dict):
            errs.append(required("spec.template", ""))
        else:
            if not selector_is_empty(sel):
                errs += selector_mismatch(sel, template, "spec.template")
            meta = template.get("metadata") or {}
            errs += validate_labels(meta.get("labels"), "spec.template.labels")
            errs += validate_annotations(meta.get("annotations"), "spec.template.annotations")
        errs += _restart_always(template if isinstance(template, dict) else {}, "spec.template.spec", "StatefulSet")
        return errs

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs = self.validate(new)
        mutable = ("replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy",
                   "minReadySeconds")
        ns = {k: v for k, v in (new.get("spec") or {}).items() if k not in mutable}
        os_ = {k: v for k, v in (old.get("spec") or {}).items() if k not in mutable}
        if ns != os_:
            errs.append(
                forbidden(
                    "spec",
                    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
                    "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
                )
            )
        return errs

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        st = new.get("status") or {}
        errs = _status_counts(
            st, ("replicas", "readyReplicas", "currentReplicas", "updatedReplicas", "availableReplicas",
                 "observedGeneration", "collisionCount")
        )
        msg = "cannot be greater than status.replicas"
        for f in ("readyReplicas", "currentReplicas", "updatedReplicas", "availableReplicas"):
            errs += _not_greater(st, f, "replicas", msg)
        errs += _not_greater(st, "availableReplicas", "readyReplicas", "cannot be greater than status.readyReplicas")
        return errs + _collision_not_decremented(new, old)


def _validate_sts_update_strategy(us: Obj) -> list[FieldError]:
    t = us.get("type", "")
    path = "spec.updateStrategy"
    if not t:
        return [required(path, "")]
    if t == "OnDelete":
        if us.get("rollingUpdate") is not None:
            return [invalid_raw(f"{path}.rollingUpdate", go_struct(us["rollingUpdate"]),
                                "only allowed for updateStrategy 'RollingUpdate'")]
        return []
    if t == "RollingUpdate":
        ru = us.get("rollingUpdate")
        if not isinstance(ru, dict):
            return []
        p = f"{path}.rollingUpdate"
        errs = nonnegative(ru.get("partition"), f"{p}.partition")
        mu = ru.get("maxUnavailable")
        if mu is not None:
            errs += int_or_percent_errors(mu, f"{p}.maxUnavailable")
            if int_or_percent_value(mu) == 0:
                errs.append(invalid_raw(f"{p}.maxUnavailable", go_int_or_string(mu), "cannot be 0"))
            errs += not_more_than_100_percent(mu, f"{p}.maxUnavailable")
        return errs
    return [invalid_raw(path, go_struct(us), "must be 'RollingUpdate' or 'OnDelete'")]


# -------------------------------------------------------------------------------------- DaemonSet


class DaemonSetStrategy(_WorkloadStrategy):
    zero_status = {"currentNumberScheduled": 0, "desiredNumberScheduled": 0, "numberMisscheduled": 0, "numberReady": 0}

    def defaults(self, obj: Obj) -> None:
        spec = spec_of(obj)
        us = spec.get("updateStrategy")
        if not isinstance(us, dict):
            us = spec["updateStrategy"] = {}
        if not us.get("type"):
            us["type"] = "RollingUpdate"
        if us["type"] == "RollingUpdate":
            ru = us.get("rollingUpdate")
            if not isinstance(ru, dict):
                ru = us["rollingUpdate"] = {}
            ru.setdefault("maxUnavailable", 1)
            ru.setdefault("maxSurge", 0)
        spec.setdefault("revisionHistoryLimit", 10)
        default_pod_template(spec.setdefault("template", {}))

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        _set_template_generation(obj, 1)

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        tg = _template_generation(old)
        if (new.get("spec") or {}).get("template") != (old.get("spec") or {}).get("template"):
            tg += 1
        _set_template_generation(new, tg)

    def validate(self, obj: Obj) -> list[FieldError]:
        spec = obj.get("spec") or {}
        sel = spec.get("selector")
        errs = validate_label_selector(sel, "spec.selector")
        template = spec.get("template") if isinstance(spec.get("template"), dict) else {}
        if selector_parses(sel):
            errs += selector_mismatch(sel, template, "spec.template")
        if selector_is_empty(sel):
            errs.append(invalid_raw("spec.selector", go_label_selector(sel), "empty selector is invalid for daemonset"))
        errs += validate_pod_template(template, "spec.template")
        errs += _restart_always(template, "spec.template.spec", "DaemonSet")
        errs += nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
        errs += _validate_ds_update_strategy(spec.get("updateStrategy") or {})
        errs += nonnegative(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit")
        return errs

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return self.validate(new) + _selector_immutable(new, old)

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        st = new.get("status") or {}
        errs = _status_counts(
            st,
            ("currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled", "numberReady",
             "observedGeneration", "updatedNumberScheduled", "numberAvailable", "numberUnavailable",
             "collisionCount"),
        )
        return errs + _collision_not_decremented(new, old)


def _template_generation(obj: Obj) -> int:
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(TEMPLATE_GENERATION_ANNOTATION)
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


def _set_template_generation(obj: Obj, value: int) -> None:
    if value <= 0:
        return
    meta = obj.setdefault("metadata", {})
    annotations = meta.get("annotations")
    if not isinstance(annotations, dict):
        annotations = meta["annotations"] = {}
    annotations[TEMPLATE_GENERATION_ANNOTATION] = str(value)


def _validate_ds_update_strategy(us: Obj) -> list[FieldError]:
    t = us.get("type")
    path = "spec.updateStrategy"
    if t == "OnDelete":
        return []
    if t == "RollingUpdate":
        ru = us.get("rollingUpdate")
        if not isinstance(ru, dict):
            return [required(f"{path}.rollingUpdate", "")]
        p = f"{path}.rollingUpdate"
        mu, ms = ru.get("maxUnavailable", 0), ru.get("maxSurge", 0)
        errs = int_or_percent_errors(mu, f"{p}.maxUnavailable")
        errs += int_or_percent_errors(ms, f"{p}.maxSurge")
        errs += not_more_than_100_percent(mu, f"{p}.maxUnavailable")
        errs += not_more_than_100_percent(ms, f"{p}.maxSurge")
        has_u, has_s = int_or_percent_value(mu) != 0, int_or_percent_value(ms) != 0
        if has_u and has_s:
            errs.append(invalid_raw(f"{p}.maxSurge", go_int_or_string(ms), "may not be set when maxUnavailable is non-zero"))
        elif not has_u and not has_s:
            errs.append(required(f"{p}.maxUnavailable", "cannot be 0 when maxSurge is 0"))
        return errs
    return [not_supported_raw(path, go_struct(us), ["RollingUpdate", "OnDelete"])]


# ----------------------------------------------------------------------------- ControllerRevision


class ControllerRevisionStrategy(Strategy):
    def validate(self, obj: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        if obj.get("data") is None:
            errs.append(required("data", "data is mandatory"))
        errs += nonnegative(obj.get("revision"), "revision")
        return errs

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return self.validate(new) + immutable(new.get("data"), old.get("data"), "data")


RESOURCES: list[ResourceInfo] = [
    ResourceInfo(GROUP, VERSION, "Deployment", "deployments", "deployment", True, ("deploy",), ("all",),
                 subresources=("status", "scale"), strategy=DeploymentStrategy()),
    ResourceInfo(GROUP, VERSION, "ReplicaSet", "replicasets", "replicaset", True, ("rs",), ("all",),
                 subresources=("status", "scale"), strategy=ReplicaSetStrategy()),
    ResourceInfo(GROUP, VERSION, "StatefulSet", "statefulsets", "statefulset", True, ("sts",), ("all",),
                 subresources=("status", "scale"), strategy=StatefulSetStrategy()),
    ResourceInfo(GROUP, VERSION, "DaemonSet", "daemonsets", "daemonset", True, ("ds",), ("all",),
                 subresources=("status",), strategy=DaemonSetStrategy()),
    ResourceInfo(GROUP, VERSION, "ControllerRevision", "controllerrevisions", "controllerrevision", True,
                 strategy=ControllerRevisionStrategy()),
]
