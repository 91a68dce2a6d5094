"""PersistentVolumes and PersistentVolumeClaims (pkg/registry/core/persistentvolume{,claim}).

Both take path-segment names (any name without "/" or "%"), start Pending, and are mostly immutable:
a PV's volume source never changes, a claim's spec only grows its storage request once bound.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from facade.errors import FieldError, forbidden, invalid, not_supported, required
from facade.kinds import core_quantity
from facade.kinds.core_fields import as_dict, as_list, key, subdomain_errors, validate_quantity_value
from facade.kinds.core_pod import default_pvc_spec, default_volume
from facade.resource_table import Strategy

Obj = dict[str, Any]

ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")
RECLAIM_POLICIES = ("Delete", "Recycle", "Retain")
VOLUME_MODES = ("Block", "Filesystem")
PV_SOURCES = (
    "gcePersistentDisk", "awsElasticBlockStore", "hostPath", "glusterfs", "nfs", "rbd", "iscsi", "cinder", "cephfs",
    "fc", "flocker", "flexVolume", "azureFile", "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk",
    "portworxVolume", "scaleIO", "local", "storageos", "csi",
)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _access_mode_errors(modes: Any, path: str, required_detail: str) -> list[FieldError]:
    errs: list[FieldError] = []
    modes = as_list(modes)
    if not modes:
        errs.append(required(path, required_detail))
    for m in modes:
        if m not in ACCESS_MODES:
            errs.append(not_supported(path, m, ACCESS_MODES))
    if "ReadWriteOncePod" in modes and len(set(modes)) > 1:
        errs.append(forbidden(path, "may not use ReadWriteOncePod with other access modes"))
    return errs


def _go_diff(kind: str, old: Any, new: Any) -> str:
    """A readable stand-in for the ``cmp.Diff`` upstream appends to whole-spec immutability errors."""
    return f"  {kind}{{\n- \t{orjson.dumps(old).decode()}\n+ \t{orjson.dumps(new).decode()}\n  }}"


class PersistentVolumeStrategy(Strategy):
    name_rule = "path"
    has_status = True

    def defaults(self, obj: Obj) -> None:
        spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
        obj["spec"] = spec
        if not spec.get("persistentVolumeReclaimPolicy"):
            spec["persistentVolumeReclaimPolicy"] = "Retain"
        if spec.get("volumeMode") is None:
            spec["volumeMode"] = "Filesystem"
        core_quantity.canonicalize_list(spec.get("capacity"))
        if isinstance(spec.get("hostPath"), dict) or any(isinstance(spec.get(s), dict) for s in ("rbd", "iscsi", "azureDisk", "scaleIO")):
            default_volume(spec)  # the per-source defaults are the same as for pod volumes

    def initial_status(self, obj: Obj) -> None:
        obj["status"] = {"phase": "Pending", "lastPhaseTransitionTime": _now()}

    def validate(self, obj: Obj) -> list[FieldError]:
        spec = as_dict(obj.get("spec"))
        errs = _access_mode_errors(spec.get("accessModes"), "spec.accessModes", "")
        cap = spec.get("capacity")
        if not cap:
            errs.append(required("spec.capacity", ""))
        else:
            for name in as_dict(cap):
                if name != "storage":
                    errs.append(not_supported("spec.capacity", name, ["storage"]))
                else:
                    errs += validate_quantity_value(name, cap[name], key("spec.capacity", name))
        rp = spec.get("persistentVolumeReclaimPolicy") or ""
        if rp and rp not in RECLAIM_POLICIES:
            errs.append(not_supported("spec.persistentVolumeReclaimPolicy", rp, RECLAIM_POLICIES))
        if spec.get("storageClassName"):
            errs += subdomain_errors(spec["storageClassName"], "spec.storageClassName")
        n = 0
        for src in PV_SOURCES:
            if spec.get(src) is None:
                continue
            if n:
                errs.append(forbidden(f"spec.{src}", "may not specify more than 1 volume type"))
                continue
            n += 1
            s = as_dict(spec[src])
            if src in ("hostPath", "local") and not s.get("path"):
                errs.append(required(f"spec.{src}.path", ""))
            if src == "local" and not spec.get("nodeAffinity"):
                errs.append(required("spec.nodeAffinity", "Local volume requires node affinity"))
            if src == "nfs":
                if not s.get("server"):
                    errs.append(required("spec.nfs.server", ""))
                if not s.get("path"):
                    errs.append(required("spec.nfs.path", ""))
            if src == "csi":
                if not s.get("driver"):
                    errs.append(required("spec.csi.driver", ""))
                if not s.get("volumeHandle"):
                    errs.append(required("spec.csi.volumeHandle", ""))
        if n == 0:
            errs.append(required("spec", "must specify a volume type"))
        vm = spec.get("volumeMode")
        if vm is not None and vm not in VOLUME_MODES:
            errs.append(not_supported("spec.volumeMode", vm, VOLUME_MODES))
        return errs

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs = self.validate(new)
        ns, os_ = as_dict(new.get("spec")), as_dict(old.get("spec"))
        new_src = {k: ns.get(k) for k in PV_SOURCES if k in ns}
        old_src = {k: os_.get(k) for k in PV_SOURCES if k in os_}
        if new_src != old_src:
            errs.append(forbidden("spec.persistentvolumesource", "spec.persistentvolumesource is immutable after creation\n"
                                  + _go_diff("core.PersistentVolumeSource", old_src, new_src)))
        if ns.get("volumeMode") != os_.get("volumeMode"):
            errs.append(invalid("spec.volumeMode", ns.get("volumeMode"), "field is immutable"))
        if os_.get("nodeAffinity") is not None and ns.get("nodeAffinity") != os_.get("nodeAffinity"):
            errs.append(forbidden("spec.nodeAffinity", "field is immutable"))
        return errs

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        phase = as_dict(new.get("status")).get("phase")
        phases = ("Available", "Bound", "Failed", "Pending", "Released")
        if phase and phase not in phases:
            return [not_supported("status.phase", phase, phases)]
        return []

    def prepare_for_status_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_status_update(new, old)
        if as_dict(new.get("status")).get("phase") != as_dict(old.get("status")).get("phase"):
            new.setdefault("status", {})["lastPhaseTransitionTime"] = _now()


class PersistentVolumeClaimStrategy(Strategy):
    name_rule = "path"
    has_status = True

    def defaults(self, obj: Obj) -> None:
        spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
        obj["spec"] = spec
        default_pvc_spec(spec)
        status = obj.get("status")
        if isinstance(status, dict):
            core_quantity.canonicalize_list(status.get("capacity"))
            if not status.get("phase"):
                status["phase"] = "Pending"

    def initial_status(self, obj: Obj) -> None:
        obj["status"] = {"phase": "Pending"}

    def validate(self, obj: Obj) -> list[FieldError]:
        spec = as_dict(obj.get("spec"))
        errs = _access_mode_errors(spec.get("accessModes"), "spec.accessModes", "at least 1 access mode is required")
        requests = as_dict(as_dict(spec.get("resources")).get("requests"))
        path = key("spec.resources", "storage")
        if "storage" not in requests:
            errs.append(required(path, ""))
        else:
            v = core_quantity.value_of(requests["storage"])
            if v is not None and v <= 0:
                errs.append(invalid(path, str(requests["storage"]), "must be greater than zero"))
            else:
                errs += validate_quantity_value("storage", requests["storage"], path)
        if spec.get("storageClassName"):
            errs += subdomain_errors(spec["storageClassName"], "spec.storageClassName")
        vm = spec.get("volumeMode")
        if vm is not None and vm not in VOLUME_MODES:
            errs.append(not_supported("spec.volumeMode", vm, VOLUME_MODES))
        return errs

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs = self.validate(new)
        ns, os_ = dict(as_dict(new.get("spec"))), dict(as_dict(old.get("spec")))
        bound = bool(os_.get("volumeName")) or as_dict(old.get("status")).get("phase") == "Bound"
        # the binder sets volumeName once; a bound claim may change only its requests
        if not os_.get("volumeName"):
            ns_cmp = {k: v for k, v in ns.items() if k != "volumeName"}
            os_cmp = {k: v for k, v in os_.items() if k != "volumeName"}
        else:
            ns_cmp, os_cmp = ns, os_
        if bound:
            ns_cmp = {**ns_cmp, "resources": {**as_dict(ns_cmp.get("resources")), "requests": None}}
            os_cmp = {**os_cmp, "resources": {**as_dict(os_cmp.get("resources")), "requests": None}}
        if ns_cmp != os_cmp:
            errs.append(forbidden("spec", "spec is immutable after creation except resources.requests for bound claims\n"
                                  + _go_diff("core.PersistentVolumeClaimSpec", os_, ns)))
        elif bound:
            new_req = core_quantity.value_of(as_dict(as_dict(ns.get("resources")).get("requests")).get("storage"))
            old_req = core_quantity.value_of(as_dict(as_dict(os_.get("resources")).get("requests")).get("storage"))
            if new_req is not None and old_req is not None and new_req < old_req:
                errs.append(forbidden("spec.resources.requests.storage", "field can not be less than previous value"))
        return errs
