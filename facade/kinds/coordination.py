"""coordination.k8s.io/v1: Leases (leader election, node heartbeats).

Validation follows pkg/apis/coordination/validation: durations must be positive, transitions
non-negative. Leases have no status and no generation.
"""

from __future__ import annotations

from typing import Any

from facade.errors import FieldError, invalid
from facade.kinds.group_support import is_int
from facade.resource_table import ResourceInfo, Strategy

Obj = dict[str, Any]


class LeaseStrategy(Strategy):
    def validate(self, obj: Obj) -> list[FieldError]:
        spec = obj.get("spec") or {}
        errs: list[FieldError] = []
        duration = spec.get("leaseDurationSeconds")
        if is_int(duration) and duration <= 0:
            errs.append(invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
        transitions = spec.get("leaseTransitions")
        if is_int(transitions) and transitions < 0:
            errs.append(invalid("spec.leaseTransitions", transitions, "must be greater than or equal to 0"))
        return errs


RESOURCES: list[ResourceInfo] = [
    ResourceInfo("coordination.k8s.io", "v1", "Lease", "leases", "lease", True, strategy=LeaseStrategy()),
]
