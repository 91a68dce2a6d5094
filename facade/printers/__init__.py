"""Server-side Table printers: what ``kubectl get`` shows for every built-in kind.

``printer_for(group, kind)`` gives the Printer upstream's kube-apiserver uses for a kind (its
pkg/printers/internalversion handlers, or kube-aggregator's for APIServices); kinds served by the
generic default convertor (Role, ClusterRole, LimitRange, CustomResourceDefinition) get
``default_printer()``; unknown kinds get None, and callers fall back to ``default_printer()``.
``table(...)`` turns a printer and objects into the ``meta.k8s.io/v1`` Table.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from facade.printers import apps, autoscaling, batch, core, networking, other
from facade.printers.table import RowPrinter, default_printer, partial_object_metadata, table
from facade.resource_table import Printer

__all__ = ["RowPrinter", "default_printer", "partial_object_metadata", "printer_for", "table"]

_FACTORIES: dict[tuple[str, str], Callable[[], Printer]] = {
    **{("", kind): f for kind, f in core.PRINTERS.items()},
    ("", "LimitRange"): default_printer,
    **{("apps", kind): f for kind, f in apps.PRINTERS.items()},
    **{("batch", kind): f for kind, f in batch.PRINTERS.items()},
    ("autoscaling", "HorizontalPodAutoscaler"): autoscaling.horizontal_pod_autoscalers,
    ("coordination.k8s.io", "Lease"): other.leases,
    ("events.k8s.io", "Event"): other.events_v1,
    ("discovery.k8s.io", "EndpointSlice"): networking.endpoint_slices,
    ("networking.k8s.io", "Ingress"): networking.ingresses,
    ("networking.k8s.io", "IngressClass"): networking.ingress_classes,
    ("networking.k8s.io", "NetworkPolicy"): networking.network_policies,
    ("policy", "PodDisruptionBudget"): other.pod_disruption_budgets,
    ("rbac.authorization.k8s.io", "Role"): default_printer,
    ("rbac.authorization.k8s.io", "ClusterRole"): default_printer,
    ("rbac.authorization.k8s.io", "RoleBinding"): other.role_bindings,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): other.cluster_role_bindings,
    ("storage.k8s.io", "StorageClass"): other.storage_classes,
    ("scheduling.k8s.io", "PriorityClass"): other.priority_classes,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): default_printer,
    ("apiregistration.k8s.io", "APIService"): other.api_services,
}

#: kinds whose objects differ in shape between served versions (the printer reads that version)
_BY_VERSION: dict[tuple[str, str, str], Callable[[], Printer]] = {
    ("autoscaling", "v1", "HorizontalPodAutoscaler"): autoscaling.horizontal_pod_autoscalers_v1,
}


@functools.cache
def printer_for(group: str, kind: str, version: str = "") -> Printer | None:
    """The Printer for a built-in kind (built once: column descriptions come from the schemas).

    ``version`` matters only where the served versions differ in shape (autoscaling/v1 HPAs);
    None means upstream has no printer for the kind: use ``default_printer()``.
    """
    factory = _BY_VERSION.get((group, version, kind)) or _FACTORIES.get((group, kind))
    return factory() if factory is not None else None
