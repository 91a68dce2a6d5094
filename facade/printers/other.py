"""Table printers for the smaller groups: coordination (Lease), events.k8s.io (Event), policy
(PodDisruptionBudget), rbac (RoleBinding, ClusterRoleBinding), storage (StorageClass), scheduling
(PriorityClass) and apiregistration (APIService, whose convertor lives in kube-aggregator).

Role, ClusterRole and CustomResourceDefinition have no printer upstream: the default convertor
(NAME, CREATED AT) serves them.
"""

from __future__ import annotations

from typing import Any

from facade.printers.core import event_cells, event_columns
from facade.printers.format import (
    Obj,
    age_column,
    doc,
    int_or_string,
    meta,
    name,
    name_column,
    obj_age,
)
from facade.resource_table import Column, Printer

# ------------------------------------------------------------------------------------------ Lease


def leases() -> Printer:
    def cells(obj: Obj) -> list[Any]:
        holder = (obj.get("spec") or {}).get("holderIdentity")
        return [name(obj), holder if holder is not None else "", obj_age(obj)]

    return Printer(
        columns=[
            name_column(),
            Column("Holder", "string", "", doc("coordination.v1.LeaseSpec", "holderIdentity")),
            age_column(),
        ],
        cells=cells,
    )


# ---------------------------------------------------------------------------- events.k8s.io Event


def events_v1_as_core(obj: Obj) -> Obj:
    """An events.k8s.io/v1 Event in core/v1 field names (both are one stored resource upstream).

    An object already in the core/v1 shape is returned unchanged.
    """
    if "involvedObject" in obj or obj.get("apiVersion") == "v1":
        return obj
    return {
        "metadata": obj.get("metadata") or {},
        "involvedObject": obj.get("regarding") or {},
        "reason": obj.get("reason", ""),
        "message": obj.get("note", ""),
        "source": obj.get("deprecatedSource") or {},
        "firstTimestamp": obj.get("deprecatedFirstTimestamp"),
        "lastTimestamp": obj.get("deprecatedLastTimestamp"),
        "count": obj.get("deprecatedCount", 0),
        "type": obj.get("type", ""),
        "eventTime": obj.get("eventTime"),
        "series": obj.get("series"),
        "reportingComponent": obj.get("reportingController", ""),
        "reportingInstance": obj.get("reportingInstance", ""),
    }


def events_v1() -> Printer:
    return Printer(columns=event_columns(), cells=lambda obj: event_cells(events_v1_as_core(obj)))


# ---------------------------------------------------------------------------- PodDisruptionBudget


def pod_disruption_budgets() -> Printer:
    def cells(obj: Obj) -> list[Any]:
        spec = obj.get("spec") or {}
        min_available = spec.get("minAvailable")
        max_unavailable = spec.get("maxUnavailable")
        return [
            name(obj),
            int_or_string(min_available) if min_available is not None else "N/A",
            int_or_string(max_unavailable) if max_unavailable is not None else "N/A",
            (obj.get("status") or {}).get("disruptionsAllowed", 0),
            obj_age(obj),
        ]

    return Printer(
        columns=[
            name_column(),
            Column("Min Available", "string", "", "The minimum number of pods that must be available."),
            Column("Max Unavailable", "string", "", "The maximum number of pods that may be unavailable."),
            Column("Allowed Disruptions", "integer", "", "Calculated number of pods that may be disrupted at this time."),
            age_column(),
        ],
        cells=cells,
    )


# ------------------------------------------------------------------------------------------- RBAC


def subjects_strings(subjects: list[Obj]) -> tuple[list[str], list[str], list[str]]:
    """rbac.SubjectsStrings: users, groups and "namespace/name" service accounts."""
    users, groups, sas = [], [], []
    for s in subjects:
        kind = s.get("kind")
        if kind == "ServiceAccount":
            sas.append(f"{s.get('namespace', '')}/{s.get('name', '')}")
        elif kind == "User":
            users.append(s.get("name", ""))
        elif kind == "Group":
            groups.append(s.get("name", ""))
    return users, groups, sas


def _binding_cells(obj: Obj) -> list[Any]:
    ref = obj.get("roleRef") or {}
    users, groups, sas = subjects_strings(obj.get("subjects") or [])
    return [
        name(obj),
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        obj_age(obj),
        ", ".join(users),
        ", ".join(groups),
        ", ".join(sas),
    ]


def _binding_printer(kind: str, what: str) -> Printer:
    return Printer(
        columns=[
            name_column(),
            Column("Role", "string", "", doc(f"rbac.v1.{kind}", "roleRef")),
            age_column(),
            Column("Users", "string", "", f"Users in the {what}", 1),
            Column("Groups", "string", "", f"Groups in the {what}", 1),
            Column("ServiceAccounts", "string", "", f"ServiceAccounts in the {what}", 1),
        ],
        cells=_binding_cells,
    )


def role_bindings() -> Printer:
    return _binding_printer("RoleBinding", "roleBinding")


def cluster_role_bindings() -> Printer:
    return _binding_printer("ClusterRoleBinding", "clusterRoleBinding")


# ----------------------------------------------------------------------------------- StorageClass

DEFAULT_CLASS_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)


def storage_classes() -> Printer:
    def cells(obj: Obj) -> list[Any]:
        annotations = meta(obj).get("annotations") or {}
        shown = name(obj)
        if any(annotations.get(a) == "true" for a in DEFAULT_CLASS_ANNOTATIONS):
            shown += " (default)"
        return [
            shown,
            obj.get("provisioner", ""),
            obj.get("reclaimPolicy") or "Delete",
            obj.get("volumeBindingMode") or "Immediate",
            bool(obj.get("allowVolumeExpansion", False)),
            obj_age(obj),
        ]

    sc = "storage.v1.StorageClass"
    return Printer(
        columns=[
            name_column(),
            Column("Provisioner", "string", "", doc(sc, "provisioner")),
            Column("ReclaimPolicy", "string", "", doc(sc, "reclaimPolicy")),
            Column("VolumeBindingMode", "string", "", doc(sc, "volumeBindingMode")),
            Column("AllowVolumeExpansion", "string", "", doc(sc, "allowVolumeExpansion")),
            age_column(),
        ],
        cells=cells,
    )


# ---------------------------------------------------------------------------------- PriorityClass


def priority_classes() -> Printer:
    def cells(obj: Obj) -> list[Any]:
        return [
            name(obj),
            obj.get("value", 0),
            bool(obj.get("globalDefault", False)),
            obj_age(obj),
            obj.get("preemptionPolicy") or "",
        ]

    pc = "scheduling.v1.PriorityClass"
    return Printer(
        columns=[
            name_column(),
            Column("Value", "integer", "", doc(pc, "value")),
            Column("Global-Default", "boolean", "", doc(pc, "globalDefault")),
            age_column(),
            Column("PreemptionPolicy", "string", "", doc(pc, "preemptionPolicy")),
        ],
        cells=cells,
    )


# ------------------------------------------------------------------------------------- APIService


def api_service_available(obj: Obj) -> str:
    """"True", or "False (Reason)", or "Unknown" without an Available condition."""
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Available":
            status = c.get("status", "")
            if status == "True":
                return status
            if c.get("reason"):
                return f"{status} ({c['reason']})"
            return status
    return "Unknown"


def api_services() -> Printer:
    def cells(obj: Obj) -> list[Any]:
        svc = (obj.get("spec") or {}).get("service")
        service = f"{svc.get('namespace', '')}/{svc.get('name', '')}" if svc is not None else "Local"
        return [name(obj), service, api_service_available(obj), obj_age(obj)]

    return Printer(
        columns=[
            name_column(),
            Column("Service", "string", "", "The reference to the service that hosts this API endpoint."),
            Column("Available", "string", "", "Whether this service is available."),
            age_column(),
        ],
        cells=cells,
    )
