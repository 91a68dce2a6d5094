"""Table printers for apps/v1: Deployment, ReplicaSet, StatefulSet, DaemonSet, ControllerRevision.

Descriptions come from the apps/v1 schemas (upstream quotes the same texts from older beta types).
"""

from __future__ import annotations

from typing import Any

from facade.printers.core import CONTAINERS_DOC, IMAGES_DOC
from facade.printers.format import (
    NONE,
    InvalidSelector,
    Obj,
    age_column,
    dig,
    doc,
    format_label_selector,
    format_labels,
    label_selector_string,
    layout_containers,
    meta,
    name,
    name_column,
    obj_age,
)
from facade.resource_table import Column, Printer


def _containers(obj: Obj) -> tuple[str, str]:
    return layout_containers(dig(obj, "spec", "template", "spec", "containers"))


def deployments() -> Printer:
    def cells(obj: Obj) -> list[Any]:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        names, images = _containers(obj)
        try:
            selector = label_selector_string(spec.get("selector"))
        except InvalidSelector:
            selector = "<invalid>"
        return [
            name(obj),
            f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
            status.get("updatedReplicas", 0),
            status.get("availableReplicas", 0),
            obj_age(obj),
            names,
            images,
            selector,
        ]

    return Printer(
        columns=[
            name_column(),
            Column("Ready", "string", "", "Number of the pod with ready state"),
            Column("Up-to-date", "string", "", doc("apps.v1.DeploymentStatus", "updatedReplicas")),
            Column("Available", "string", "", doc("apps.v1.DeploymentStatus", "availableReplicas")),
            age_column(),
            Column("Containers", "string", "", CONTAINERS_DOC, 1),
            Column("Images", "string", "", IMAGES_DOC, 1),
            Column("Selector", "string", "", doc("apps.v1.DeploymentSpec", "selector"), 1),
        ],
        cells=cells,
    )


def replica_sets() -> Printer:
    def cells(obj: Obj) -> list[Any]:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        names, images = _containers(obj)
        return [
            name(obj),
            spec.get("replicas", 1),
            status.get("replicas", 0),
            status.get("readyReplicas", 0),
            obj_age(obj),
            names,
            images,
            format_label_selector(spec.get("selector")),
        ]

    return Printer(
        columns=[
            name_column(),
            Column("Desired", "integer", "", doc("apps.v1.ReplicaSetSpec", "replicas")),
            Column("Current", "integer", "", doc("apps.v1.ReplicaSetStatus", "replicas")),
            Column("Ready", "integer", "", doc("apps.v1.ReplicaSetStatus", "readyReplicas")),
            age_column(),
            Column("Containers", "string", "", CONTAINERS_DOC, 1),
            Column("Images", "string", "", IMAGES_DOC, 1),
            Column("Selector", "string", "", doc("apps.v1.ReplicaSetSpec", "selector"), 1),
        ],
        cells=cells,
    )


def stateful_sets() -> Printer:
    def cells(obj: Obj) -> list[Any]:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        names, images = _containers(obj)
        return [name(obj), f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}", obj_age(obj), names, images]

    return Printer(
        columns=[
            name_column(),
            Column("Ready", "string", "", "Number of the pod with ready state"),
            age_column(),
            Column("Containers", "string", "", CONTAINERS_DOC, 1),
            Column("Images", "string", "", IMAGES_DOC, 1),
        ],
        cells=cells,
    )


def daemon_sets() -> Printer:
    def cells(obj: Obj) -> list[Any]:
        status = obj.get("status") or {}
        names, images = _containers(obj)
        return [
            name(obj),
            status.get("desiredNumberScheduled", 0),
            status.get("currentNumberScheduled", 0),
            status.get("numberReady", 0),
            status.get("updatedNumberScheduled", 0),
            status.get("numberAvailable", 0),
            format_labels(dig(obj, "spec", "template", "spec", "nodeSelector")),
            obj_age(obj),
            names,
            images,
            format_label_selector(dig(obj, "spec", "selector")),
        ]

    return Printer(
        columns=[
            name_column(),
            Column("Desired", "integer", "", doc("apps.v1.DaemonSetStatus", "desiredNumberScheduled")),
            Column("Current", "integer", "", doc("apps.v1.DaemonSetStatus", "currentNumberScheduled")),
            Column("Ready", "integer", "", doc("apps.v1.DaemonSetStatus", "numberReady")),
            Column("Up-to-date", "integer", "", doc("apps.v1.DaemonSetStatus", "updatedNumberScheduled")),
            Column("Available", "integer", "", doc("apps.v1.DaemonSetStatus", "numberAvailable")),
            Column("Node Selector", "string", "", doc("core.v1.PodSpec", "nodeSelector")),
            age_column(),
            Column("Containers", "string", "", CONTAINERS_DOC, 1),
            Column("Images", "string", "", IMAGES_DOC, 1),
            Column("Selector", "string", "", doc("apps.v1.DaemonSetSpec", "selector"), 1),
        ],
        cells=cells,
    )


def controller_ref_name(obj: Obj) -> str:
    """The controller owner as "kind.group/name" (lower-cased group-kind), "<none>" without one."""
    for ref in meta(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            api_version = ref.get("apiVersion", "")
            group = api_version.split("/", 1)[0] if "/" in api_version else ""
            kind = ref.get("kind", "")
            if not kind and not group:
                return ref.get("name", "")
            group_kind = f"{kind}.{group}" if group else kind
            return f"{group_kind.lower()}/{ref.get('name', '')}"
    return NONE


def controller_revisions() -> Printer:
    return Printer(
        columns=[
            name_column(),
            Column("Controller", "string", "", "Controller of the object"),
            Column("Revision", "string", "", doc("apps.v1.ControllerRevision", "revision")),
            age_column(),
        ],
        cells=lambda obj: [name(obj), controller_ref_name(obj), obj.get("revision", 0), obj_age(obj)],
    )


PRINTERS = {
    "Deployment": deployments,
    "ReplicaSet": replica_sets,
    "StatefulSet": stateful_sets,
    "DaemonSet": daemon_sets,
    "ControllerRevision": controller_revisions,
}
