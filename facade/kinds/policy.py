"""policy/v1: PodDisruptionBudgets.

Validation follows pkg/apis/policy/validation: minAvailable and maxUnavailable are exclusive ints or
percentages of at most 100%, the selector is a valid label selector. Status is reset on create to
the zero counts the disruption controller later fills in; spec changes bump the generation.
"""

from __future__ import annotations

from typing import Any

from facade.errors import FieldError, not_supported
from facade.kinds.group_support import (
    go_struct,
    int_or_percent_errors,
    invalid_raw,
    nonnegative,
    not_more_than_100_percent,
    validate_label_selector,
)
from facade.resource_table import ResourceInfo, Strategy

Obj = dict[str, Any]

UNHEALTHY_POD_EVICTION_POLICIES = ["AlwaysAllow", "IfHealthyBudget"]


class PodDisruptionBudgetStrategy(Strategy):
    has_status = True
    tracks_generation = True

    def initial_status(self, obj: Obj) -> None:
        obj["status"] = {"currentHealthy": 0, "desiredHealthy": 0, "disruptionsAllowed": 0, "expectedPods": 0}

    def generation_changed(self, new: Obj, old: Obj) -> bool:
        return new.get("spec") != old.get("spec")

    def validate(self, obj: Obj) -> list[FieldError]:
        spec = obj.get("spec") or {}
        errs: list[FieldError] = []
        min_a, max_u = spec.get("minAvailable"), spec.get("maxUnavailable")
        if min_a is not None and max_u is not None:
            errs.append(invalid_raw("spec", "policy.PodDisruptionBudgetSpec" + go_struct(spec),
                                    "minAvailable and maxUnavailable cannot be both set"))
        for name, value in (("minAvailable", min_a), ("maxUnavailable", max_u)):
            if value is not None:
                errs += int_or_percent_errors(value, f"spec.{name}")
                errs += not_more_than_100_percent(value, f"spec.{name}")
        errs += validate_label_selector(spec.get("selector"), "spec.selector")
        policy = spec.get("unhealthyPodEvictionPolicy")
        if policy is not None and policy not in UNHEALTHY_POD_EVICTION_POLICIES:
            errs.append(not_supported("spec.unhealthyPodEvictionPolicy", policy, UNHEALTHY_POD_EVICTION_POLICIES))
        return errs

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        st = new.get("status") or {}
        errs: list[FieldError] = []
        for f in ("disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods"):
            errs += nonnegative(st.get(f), f"status.{f}")
        return errs


RESOURCES: list[ResourceInfo] = [
    ResourceInfo("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", "poddisruptionbudget", True, ("pdb",),
                 subresources=("status",), strategy=PodDisruptionBudgetStrategy()),
]
