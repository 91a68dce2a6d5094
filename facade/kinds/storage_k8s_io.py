"""storage.k8s.io/v1: StorageClasses.

(Named storage_k8s_io so it is not confused with the top-level ``storage`` package.) Defaults
follow pkg/apis/storage/v1/defaults.go (reclaimPolicy Delete, volumeBindingMode Immediate);
validation pkg/apis/storage/validation: a qualified provisioner name, and provisioner, parameters,
reclaimPolicy and volumeBindingMode frozen after creation.
"""

from __future__ import annotations

from typing import Any

from facade.errors import FieldError, forbidden, invalid, not_supported, required, too_long
from facade.kinds.group_support import immutable
from facade.resource_table import ResourceInfo, Strategy
from facade.validation import qualified_name_errors

Obj = dict[str, Any]

MAX_PROVISIONER_PARAMETER_SIZE = 256 * 1024
MAX_PROVISIONER_PARAMETER_LEN = 512
RECLAIM_POLICIES = ["Delete", "Retain"]
BINDING_MODES = ["Immediate", "WaitForFirstConsumer"]


class StorageClassStrategy(Strategy):
    def defaults(self, obj: Obj) -> None:
        if not obj.get("reclaimPolicy"):
            obj["reclaimPolicy"] = "Delete"
        if not obj.get("volumeBindingMode"):
            obj["volumeBindingMode"] = "Immediate"

    def validate(self, obj: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        provisioner = obj.get("provisioner") or ""
        if not provisioner:
            errs.append(required("provisioner", ""))
        else:
            errs += [invalid("provisioner", provisioner.lower(), m) for m in qualified_name_errors(provisioner.lower())]
        params = obj.get("parameters") or {}
        if len(params) > MAX_PROVISIONER_PARAMETER_LEN:
            errs.append(too_long("parameters", "Provisioner Parameters exceeded max allowed", MAX_PROVISIONER_PARAMETER_LEN))
        total = 0
        for k, v in params.items():
            if not k:
                errs.append(invalid("parameters", k, "field can not be empty."))
            total += len(k) + len(str(v))
        if total > MAX_PROVISIONER_PARAMETER_SIZE:
            errs.append(too_long("parameters", "", MAX_PROVISIONER_PARAMETER_SIZE))
        rp = obj.get("reclaimPolicy")
        if rp and rp not in RECLAIM_POLICIES:
            errs.append(not_supported("reclaimPolicy", rp, RECLAIM_POLICIES))
        mode = obj.get("volumeBindingMode")
        if mode is None:
            errs.append(required("volumeBindingMode", ""))
        elif mode not in BINDING_MODES:
            errs.append(not_supported("volumeBindingMode", mode, BINDING_MODES))
        return errs

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        if (new.get("parameters") or {}) != (old.get("parameters") or {}):
            errs.append(forbidden("parameters", "updates to parameters are forbidden."))
        if new.get("provisioner") != old.get("provisioner"):
            errs.append(forbidden("provisioner", "updates to provisioner are forbidden."))
        if new.get("reclaimPolicy") != old.get("reclaimPolicy"):
            errs.append(forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden."))
        errs += immutable(new.get("volumeBindingMode"), old.get("volumeBindingMode"), "volumeBindingMode")
        return errs


RESOURCES: list[ResourceInfo] = [
    ResourceInfo("storage.k8s.io", "v1", "StorageClass", "storageclasses", "storageclass", False, ("sc",),
                 strategy=StorageClassStrategy()),
]
