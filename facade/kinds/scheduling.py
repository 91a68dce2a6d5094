"""scheduling.k8s.io/v1: PriorityClasses.

Defaults (preemptionPolicy PreemptLowerPriority) follow pkg/apis/scheduling/v1/defaults.go;
validation pkg/apis/scheduling/validation: the ``system-`` prefix is reserved for the two built-in
classes, user classes are capped at one billion, value and preemptionPolicy are immutable.
"""

from __future__ import annotations

from typing import Any

from facade.errors import FieldError, forbidden, not_supported
from facade.kinds.group_support import immutable, is_int
from facade.resource_table import ResourceInfo, Strategy

Obj = dict[str, Any]

SYSTEM_PRIORITY_CLASS_PREFIX = "system-"
HIGHEST_USER_DEFINABLE_PRIORITY = 1_000_000_000
#: name -> (value, globalDefault) of the classes kube-apiserver creates at start-up
SYSTEM_PRIORITY_CLASSES = {
    "system-node-critical": (2_000_001_000, False),
    "system-cluster-critical": (2_000_000_000, False),
}
PREEMPTION_POLICIES = ["PreemptLowerPriority", "Never"]


def _system_class_error(name: str, value: Any, global_default: bool) -> str | None:
    known = SYSTEM_PRIORITY_CLASSES.get(name)
    if known is None:
        return f"{name} is not a known system priority class"
    if known[0] != value:
        return f"value of {name} PriorityClass must be {known[0]}"
    if known[1] != global_default:
        return f"globalDefault of {name} PriorityClass must be {'true' if known[1] else 'false'}"
    return None


class PriorityClassStrategy(Strategy):
    def defaults(self, obj: Obj) -> None:
        obj.setdefault("value", 0)
        if obj.get("preemptionPolicy") is None:
            obj["preemptionPolicy"] = "PreemptLowerPriority"

    def validate(self, obj: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        name = (obj.get("metadata") or {}).get("name") or ""
        value = obj.get("value", 0)
        if name.startswith(SYSTEM_PRIORITY_CLASS_PREFIX):
            why = _system_class_error(name, value, bool(obj.get("globalDefault")))
            if why:
                errs.append(forbidden("metadata.name", f"priority class names with '{SYSTEM_PRIORITY_CLASS_PREFIX}' "
                                                       f"prefix are reserved for system use only. error: {why}"))
        elif is_int(value) and value > HIGHEST_USER_DEFINABLE_PRIORITY:
            errs.append(forbidden("value", f"maximum allowed value of a user defined priority is "
                                           f"{HIGHEST_USER_DEFINABLE_PRIORITY}"))
        policy = obj.get("preemptionPolicy")
        if policy is not None and policy not in PREEMPTION_POLICIES:
            errs.append(not_supported("preemptionPolicy", policy, PREEMPTION_POLICIES))
        return errs

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        if new.get("value", 0) != old.get("value", 0):
            errs.append(forbidden("value", "may not be changed in an update."))
        errs += immutable(new.get("preemptionPolicy"), old.get("preemptionPolicy"), "preemptionPolicy")
        return errs


RESOURCES: list[ResourceInfo] = [
    ResourceInfo("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", "priorityclass", False, ("pc",),
                 strategy=PriorityClassStrategy()),
]
