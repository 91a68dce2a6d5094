"""Table printers for the core (v1) kinds, after kubernetes/pkg/printers/internalversion/printers.go.

Each printer renders the wide form (kube-apiserver always does; kubectl drops priority-1 columns).
Objects are the JSON a real cluster stores, so defaulted fields are normally present; where a
field is missing the cell shows what upstream shows for the Go zero value.
"""

from __future__ import annotations

from typing import Any

from facade.printers.format import (
    NONE,
    UNKNOWN,
    UNSET,
    Obj,
    age,
    age_column,
    dig,
    doc,
    format_labels,
    join_host_port,
    layout_containers,
    meta,
    name,
    name_column,
    name_doc,
    obj_age,
    parse_time,
    quantity_string,
    service_ports,
)
from facade.printers.table import RowPrinter
from facade.resource_table import Column, Printer

CONTAINERS_DOC = "Names of each container in the template."
IMAGES_DOC = "Images referenced by each container in the template."

# ------------------------------------------------------------------------------------------- Pod

NODE_UNREACHABLE_REASON = "NodeLost"  # k8s.io/kubernetes/pkg/util/node.NodeUnreachablePodReason


def _is_restartable_init(container: Obj | None) -> bool:
    """A sidecar: an init container with restartPolicy Always."""
    return bool(container) and container.get("restartPolicy") == "Always"


def _condition_true(conditions: list[Obj], ctype: str) -> bool:
    for c in conditions:
        if c.get("type") == ctype:
            return c.get("status") == "True"
    return False


def _later(a: str | None, b: str | None) -> str | None:
    """The later of two timestamps (None is the zero time)."""
    ta, tb = parse_time(a), parse_time(b)
    if tb is None:
        return a
    if ta is None or ta < tb:
        return b
    return a


def pod_status(pod: Obj) -> tuple[str, int, int, int, str | None]:
    """printPod's reasoning: (STATUS, ready containers, total containers, restarts, last restart time).

    STATUS walks the same branches as upstream: phase or status.reason, SchedulingGated, init
    containers (Init:N/M, Init:<reason>, Init:ExitCode:N, Init:Signal:N), container waiting/terminated
    reasons (CrashLoopBackOff, Completed, ExitCode:N ...), Running/NotReady for Completed pods with a
    running container, and Unknown/Terminating for pods being deleted.
    """
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    conditions = status.get("conditions") or []
    init_specs = spec.get("initContainers") or []
    restarts = 0
    sidecar_restarts = 0
    total = len(spec.get("containers") or [])
    ready = 0
    last_restart: str | None = None
    last_sidecar_restart: str | None = None

    phase = status.get("phase", "")
    reason = status.get("reason") or phase
    for c in conditions:
        if c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"

    init_by_name = {c.get("name"): c for c in init_specs}
    total += sum(1 for c in init_specs if _is_restartable_init(c))

    initializing = False
    for i, cs in enumerate(status.get("initContainerStatuses") or []):
        restarts += cs.get("restartCount", 0)
        finished = dig(cs, "lastState", "terminated", "finishedAt")
        if dig(cs, "lastState", "terminated") is not None:
            last_restart = _later(last_restart, finished)
        sidecar = _is_restartable_init(init_by_name.get(cs.get("name")))
        if sidecar:
            sidecar_restarts += cs.get("restartCount", 0)
            if dig(cs, "lastState", "terminated") is not None:
                last_sidecar_restart = _later(last_sidecar_restart, finished)
        state = cs.get("state") or {}
        terminated = state.get("terminated")
        waiting = state.get("waiting")
        if terminated is not None and terminated.get("exitCode", 0) == 0:
            continue
        if sidecar and cs.get("started"):
            if cs.get("ready"):
                ready += 1
            continue
        if terminated is not None:
            if not terminated.get("reason"):
                if terminated.get("signal", 0):
                    reason = f"Init:Signal:{terminated['signal']}"
                else:
                    reason = f"Init:ExitCode:{terminated.get('exitCode', 0)}"
            else:
                reason = "Init:" + terminated["reason"]
        elif waiting is not None and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break

    if not initializing or _condition_true(conditions, "Initialized"):
        restarts = sidecar_restarts
        last_restart = last_sidecar_restart
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            restarts += cs.get("restartCount", 0)
            if dig(cs, "lastState", "terminated") is not None:
                last_restart = _later(last_restart, dig(cs, "lastState", "terminated", "finishedAt"))
            state = cs.get("state") or {}
            waiting, terminated = state.get("waiting"), state.get("terminated")
            if waiting is not None and waiting.get("reason"):
                reason = waiting["reason"]
            elif terminated is not None and terminated.get("reason"):
                reason = terminated["reason"]
            elif terminated is not None:
                if terminated.get("signal", 0):
                    reason = f"Signal:{terminated['signal']}"
                else:
                    reason = f"ExitCode:{terminated.get('exitCode', 0)}"
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(conditions, "Ready") else "NotReady"

    deleting = meta(pod).get("deletionTimestamp") is not None
    if deleting and status.get("reason") == NODE_UNREACHABLE_REASON:
        reason = "Unknown"
    elif deleting and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    return reason, ready, total, restarts, last_restart


def _pod_cells(pod: Obj) -> list[Any]:
    reason, ready, total, restarts, last_restart = pod_status(pod)
    restarts_str = str(restarts)
    if restarts != 0 and parse_time(last_restart) is not None:
        restarts_str = f"{restarts} ({age(last_restart)} ago)"
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    pod_ip = dig(status, "podIPs", 0, "ip") or NONE
    gates = spec.get("readinessGates") or []
    gates_str = NONE
    if gates:
        conditions = status.get("conditions") or []
        true_count = 0
        for gate in gates:
            for c in conditions:
                if c.get("type") == gate.get("conditionType"):
                    if c.get("status") == "True":
                        true_count += 1
                    break
        gates_str = f"{true_count}/{len(gates)}"
    return [
        name(pod),
        f"{ready}/{total}",
        reason,
        restarts_str,
        obj_age(pod),
        pod_ip,
        spec.get("nodeName") or NONE,
        status.get("nominatedNodeName") or NONE,
        gates_str,
    ]


def _pod_conditions(pod: Obj) -> list[Obj]:
    phase = dig(pod, "status", "phase")
    if phase == "Succeeded":
        return [{"type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."}]
    if phase == "Failed":
        return [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]
    return []


def pods() -> Printer:
    return RowPrinter(
        columns=[
            name_column(),
            Column("Ready", "string", "", "The aggregate readiness state of this pod for accepting traffic."),
            Column("Status", "string", "", "The aggregate status of the containers in this pod."),
            Column(
                "Restarts",
                "string",
                "",
                "The number of times the containers in this pod have been restarted and when the last "
                "container in this pod has restarted.",
            ),
            age_column(),
            Column("IP", "string", "", doc("core.v1.PodStatus", "podIP"), 1),
            Column("Node", "string", "", doc("core.v1.PodSpec", "nodeName"), 1),
            Column("Nominated Node", "string", "", doc("core.v1.PodStatus", "nominatedNodeName"), 1),
            Column("Readiness Gates", "string", "", doc("core.v1.PodSpec", "readinessGates"), 1),
        ],
        cells=_pod_cells,
        conditions=_pod_conditions,
    )


# ------------------------------------------------------------------------------------ PodTemplate


def pod_templates() -> Printer:
    def cells(obj: Obj) -> list[Any]:
        names, images = layout_containers(dig(obj, "template", "spec", "containers"))
        return [name(obj), names, images, format_labels(dig(obj, "template", "metadata", "labels"))]

    return Printer(
        columns=[
            name_column(),
            Column("Containers", "string", "", CONTAINERS_DOC),
            Column("Images", "string", "", IMAGES_DOC),
            Column("Pod Labels", "string", "", "The labels for the pod template."),
        ],
        cells=cells,
    )


# ------------------------------------------------------------------------- ReplicationController


def replication_controllers() -> Printer:
    def cells(obj: Obj) -> list[Any]:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        names, images = layout_containers(dig(spec, "template", "spec", "containers"))
        return [
            name(obj),
            spec.get("replicas", 1),
            status.get("replicas", 0),
            status.get("readyReplicas", 0),
            obj_age(obj),
            names,
            images,
            format_labels(spec.get("selector")),
        ]

    return Printer(
        columns=[
            name_column(),
            Column("Desired", "integer", "", doc("core.v1.ReplicationControllerSpec", "replicas")),
            Column("Current", "integer", "", doc("core.v1.ReplicationControllerStatus", "replicas")),
            Column("Ready", "integer", "", doc("core.v1.ReplicationControllerStatus", "readyReplicas")),
            age_column(),
            Column("Containers", "string", "", CONTAINERS_DOC, 1),
            Column("Images", "string", "", IMAGES_DOC, 1),
            Column("Selector", "string", "", doc("core.v1.ReplicationControllerSpec", "selector"), 1),
        ],
        cells=cells,
    )


# ---------------------------------------------------------------------------------------- Service


def _load_balancer_ips(lb_status: Obj | None) -> str:
    """loadBalancerStatusStringer in its wide form (the server never clips it): sorted unique IPs/hosts."""
    found = set()
    for ing in (lb_status or {}).get("ingress") or []:
        if ing.get("ip"):
            found.add(ing["ip"])
        elif ing.get("hostname"):
            found.add(ing["hostname"])
    return ",".join(sorted(found))


def service_external_ip(svc: Obj) -> str:
    """getServiceExternalIP: externalIPs, load-balancer ingress, "<pending>", or the external name."""
    spec = svc.get("spec") or {}
    svc_type = spec.get("type", "ClusterIP")
    external_ips = spec.get("externalIPs") or []
    if svc_type in ("ClusterIP", "NodePort"):
        return ",".join(external_ips) if external_ips else NONE
    if svc_type == "LoadBalancer":
        lb = _load_balancer_ips(dig(svc, "status", "loadBalancer"))
        if external_ips:
            return ",".join(([*lb.split(",")] if lb else []) + external_ips)
        return lb or "<pending>"
    if svc_type == "ExternalName":
        return spec.get("externalName", "")
    return UNKNOWN


def services() -> Printer:
    def cells(obj: Obj) -> list[Any]:
        spec = obj.get("spec") or {}
        cluster_ips = spec.get("clusterIPs") or []
        return [
            name(obj),
            spec.get("type", "ClusterIP"),
            cluster_ips[0] if cluster_ips else NONE,
            service_external_ip(obj),
            service_ports(spec.get("ports")) or NONE,
            obj_age(obj),
            format_labels(spec.get("selector")),
        ]

    return Printer(
        columns=[
            name_column(),
            Column("Type", "string", "", doc("core.v1.ServiceSpec", "type")),
            Column("Cluster-IP", "string", "", doc("core.v1.ServiceSpec", "clusterIP")),
            Column("External-IP", "string", "", doc("core.v1.ServiceSpec", "externalIPs")),
            Column("Port(s)", "string", "", doc("core.v1.ServiceSpec", "ports")),
            age_column(),
            Column("Selector", "string", "", doc("core.v1.ServiceSpec", "selector"), 1),
        ],
        cells=cells,
    )


# -------------------------------------------------------------------------------------- Endpoints


def format_endpoints(obj: Obj) -> str:
    """formatEndpoints: up to three "ip:port" (or bare IPs for port-less subsets), then " + N more..."."""
    subsets = obj.get("subsets") or []
    if not subsets:
        return NONE
    shown: list[str] = []
    limit, more, count = 3, False, 0
    for ss in subsets:
        addresses = ss.get("addresses") or []
        ports = ss.get("ports") or []
        if not ports:
            count += len(addresses)
            for a in addresses:
                if len(shown) == limit:
                    more = True
                    break
                shown.append(a.get("ip", ""))
            continue
        for port in ports:
            count += len(addresses)
            for a in addresses:
                if len(shown) == limit:
                    more = True
                    break
                shown.append(join_host_port(a.get("ip", ""), port.get("port", 0)))
    text = ",".join(shown)
    return f"{text} + {count - limit} more..." if more else text


def endpoints() -> Printer:
    return Printer(
        columns=[name_column(), Column("Endpoints", "string", "", doc("core.v1.Endpoints", "subsets")), age_column()],
        cells=lambda obj: [name(obj), format_endpoints(obj), obj_age(obj)],
    )


# ------------------------------------------------------------------------------------- Node


def node_roles(node: Obj) -> list[str]:
    """findNodeRoles: node-role.kubernetes.io/<role> keys and kubernetes.io/role values, sorted unique."""
    roles = set()
    for key, value in (meta(node).get("labels") or {}).items():
        if key.startswith("node-role.kubernetes.io/"):
            role = key[len("node-role.kubernetes.io/"):]
            if role:
                roles.add(role)
        elif key == "kubernetes.io/role" and value:
            roles.add(value)
    return sorted(roles)


def _node_address(node: Obj, kind: str) -> str:
    for a in dig(node, "status", "addresses", default=[]):
        if a.get("type") == kind:
            return a.get("address", "")
    return NONE


def nodes() -> Printer:
    def cells(obj: Obj) -> list[Any]:
        status_parts = []
        for c in dig(obj, "status", "conditions", default=[]):
            if c.get("type") == "Ready":
                status_parts = ["Ready" if c.get("status") == "True" else "NotReady"]
        if not status_parts:
            status_parts = ["Unknown"]
        if dig(obj, "spec", "unschedulable"):
            status_parts.append("SchedulingDisabled")
        info = dig(obj, "status", "nodeInfo", default={})
        return [
            name(obj),
            ",".join(status_parts),
            ",".join(node_roles(obj)) or NONE,
            obj_age(obj),
            info.get("kubeletVersion", ""),
            _node_address(obj, "InternalIP"),
            _node_address(obj, "ExternalIP"),
            info.get("osImage") or UNKNOWN,
            info.get("kernelVersion") or UNKNOWN,
            info.get("containerRuntimeVersion") or UNKNOWN,
        ]

    return Printer(
        columns=[
            name_column(),
            Column("Status", "string", "", "The status of the node"),
            Column("Roles", "string", "", "The roles of the node"),
            age_column(),
            Column("Version", "string", "", doc("core.v1.NodeSystemInfo", "kubeletVersion")),
            Column("Internal-IP", "string", "", doc("core.v1.NodeStatus", "addresses"), 1),
            Column("External-IP", "string", "", doc("core.v1.NodeStatus", "addresses"), 1),
            Column("OS-Image", "string", "", doc("core.v1.NodeSystemInfo", "osImage"), 1),
            Column("Kernel-Version", "string", "", doc("core.v1.NodeSystemInfo", "kernelVersion"), 1),
            Column("Container-Runtime", "string", "", doc("core.v1.NodeSystemInfo", "containerRuntimeVersion"), 1),
        ],
        cells=cells,
    )


# ------------------------------------------------------------------------------------------ Event


def _event_source(source: Obj | None, controller: str, instance: str) -> str:
    """formatEventSource: "component, host", falling back to reportingController/Instance."""
    component = (source or {}).get("component") or controller or ""
    host = (source or {}).get("host") or instance or ""
    return component if not host else f"{component}, {host}"


def event_cells(obj: Obj) -> list[Any]:
    """printEvent over a core/v1 Event (events.k8s.io events are mapped to this shape first)."""
    first = age(obj.get("firstTimestamp")) if parse_time(obj.get("firstTimestamp")) else age(obj.get("eventTime"))
    last = age(obj.get("lastTimestamp")) if parse_time(obj.get("lastTimestamp")) else first
    count = obj.get("count") or 0
    series = obj.get("series")
    if series is not None:
        last = age(series.get("lastObservedTime"))
        count = series.get("count", 0)
    elif count == 0:
        count = 1
    involved = obj.get("involvedObject") or {}
    kind = (involved.get("kind") or "").lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    return [
        last,
        obj.get("type", ""),
        obj.get("reason", ""),
        target,
        involved.get("fieldPath", ""),
        _event_source(obj.get("source"), obj.get("reportingComponent", ""), obj.get("reportingInstance", "")),
        (obj.get("message") or "").strip(),
        first,
        count,
        name(obj),
    ]


def event_columns() -> list[Column]:
    return [
        Column("Last Seen", "string", "", doc("core.v1.Event", "lastTimestamp")),
        Column("Type", "string", "", doc("core.v1.Event", "type")),
        Column("Reason", "string", "", doc("core.v1.Event", "reason")),
        Column("Object", "string", "", doc("core.v1.Event", "involvedObject")),
        Column("Subobject", "string", "", doc("core.v1.ObjectReference", "fieldPath"), 1),
        Column("Source", "string", "", doc("core.v1.Event", "source"), 1),
        Column("Message", "string", "", doc("core.v1.Event", "message")),
        Column("First Seen", "string", "", doc("core.v1.Event", "firstTimestamp"), 1),
        Column("Count", "string", "", doc("core.v1.Event", "count"), 1),
        Column("Name", "string", "name", name_doc(), 1),
    ]


def events() -> Printer:
    return Printer(columns=event_columns(), cells=event_cells)


# ------------------------------------------------------------------------------ Namespace & co.


def namespaces() -> Printer:
    return Printer(
        columns=[name_column(), Column("Status", "string", "", "The status of the namespace"), age_column()],
        cells=lambda obj: [name(obj), dig(obj, "status", "phase", default=""), obj_age(obj)],
    )


def secrets() -> Printer:
    return Printer(
        columns=[
            name_column(),
            Column("Type", "string", "", doc("core.v1.Secret", "type")),
            Column("Data", "string", "", doc("core.v1.Secret", "data")),
            age_column(),
        ],
        cells=lambda obj: [name(obj), obj.get("type", ""), len(obj.get("data") or {}), obj_age(obj)],
    )


def service_accounts() -> Printer:
    return Printer(
        columns=[name_column(), Column("Secrets", "string", "", doc("core.v1.ServiceAccount", "secrets")), age_column()],
        cells=lambda obj: [name(obj), len(obj.get("secrets") or []), obj_age(obj)],
    )


def config_maps() -> Printer:
    return Printer(
        columns=[name_column(), Column("Data", "string", "", doc("core.v1.ConfigMap", "data")), age_column()],
        cells=lambda obj: [name(obj), len(obj.get("data") or {}) + len(obj.get("binaryData") or {}), obj_age(obj)],
    )


# ------------------------------------------------------------------------------ volumes and claims

_ACCESS_MODES = (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"), ("ReadWriteOncePod", "RWOP"))
BETA_STORAGE_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"


def access_modes(modes: list[str] | None) -> str:
    """GetAccessModesAsString: RWO,ROX,RWX,RWOP in that order, each once."""
    present = set(modes or [])
    return ",".join(short for full, short in _ACCESS_MODES if full in present)


def _storage_class(obj: Obj) -> str:
    """GetPersistentVolume(Claim)Class: the beta annotation wins over spec.storageClassName."""
    annotated = (meta(obj).get("annotations") or {}).get(BETA_STORAGE_CLASS_ANNOTATION)
    if annotated is not None:
        return annotated
    return dig(obj, "spec", "storageClassName", default="")


def persistent_volumes() -> Printer:
    def cells(obj: Obj) -> list[Any]:
        spec = obj.get("spec") or {}
        claim = spec.get("claimRef")
        claim_str = f"{claim.get('namespace', '')}/{claim.get('name', '')}" if claim else ""
        phase = dig(obj, "status", "phase", default="")
        if meta(obj).get("deletionTimestamp") is not None:
            phase = "Terminating"
        return [
            name(obj),
            quantity_string(dig(spec, "capacity", "storage", default=0)),
            access_modes(spec.get("accessModes")),
            spec.get("persistentVolumeReclaimPolicy", ""),
            phase,
            claim_str,
            _storage_class(obj),
            spec["volumeAttributesClassName"] if spec.get("volumeAttributesClassName") is not None else UNSET,
            dig(obj, "status", "reason", default=""),
            obj_age(obj),
            spec.get("volumeMode") or UNSET,
        ]

    return Printer(
        columns=[
            name_column(),
            Column("Capacity", "string", "", doc("core.v1.PersistentVolumeSpec", "capacity")),
            Column("Access Modes", "string", "", doc("core.v1.PersistentVolumeSpec", "accessModes")),
            Column("Reclaim Policy", "string", "", doc("core.v1.PersistentVolumeSpec", "persistentVolumeReclaimPolicy")),
            Column("Status", "string", "", doc("core.v1.PersistentVolumeStatus", "phase")),
            Column("Claim", "string", "", doc("core.v1.PersistentVolumeSpec", "claimRef")),
            Column("StorageClass", "string", "", "StorageClass of the pv"),
            Column("VolumeAttributesClass", "string", "", "VolumeAttributesClass of the pv"),
            Column("Reason", "string", "", doc("core.v1.PersistentVolumeStatus", "reason")),
            age_column(),
            Column("VolumeMode", "string", "", doc("core.v1.PersistentVolumeSpec", "volumeMode"), 1),
        ],
        cells=cells,
    )


def persistent_volume_claims() -> Printer:
    def cells(obj: Obj) -> list[Any]:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        phase = status.get("phase", "")
        if meta(obj).get("deletionTimestamp") is not None:
            phase = "Terminating"
        capacity, modes = "", ""
        if spec.get("volumeName"):
            modes = access_modes(status.get("accessModes"))
            capacity = quantity_string(dig(status, "capacity", "storage", default=0))
        return [
            name(obj),
            phase,
            spec.get("volumeName", ""),
            capacity,
            modes,
            _storage_class(obj),
            spec["volumeAttributesClassName"] if spec.get("volumeAttributesClassName") is not None else UNSET,
            obj_age(obj),
            spec.get("volumeMode") or UNSET,
        ]

    return Printer(
        columns=[
            name_column(),
            Column("Status", "string", "", doc("core.v1.PersistentVolumeClaimStatus", "phase")),
            Column("Volume", "string", "", doc("core.v1.PersistentVolumeClaimSpec", "volumeName")),
            Column("Capacity", "string", "", doc("core.v1.PersistentVolumeClaimStatus", "capacity")),
            Column("Access Modes", "string", "", doc("core.v1.PersistentVolumeClaimStatus", "accessModes")),
            Column("StorageClass", "string", "", "StorageClass of the pvc"),
            Column("VolumeAttributesClass", "string", "", "VolumeAttributesClass of the pvc"),
            age_column(),
            Column("VolumeMode", "string", "", doc("core.v1.PersistentVolumeClaimSpec", "volumeMode"), 1),
        ],
        cells=cells,
    )


# ---------------------------------------------------------------------------------- ResourceQuota


def resource_quotas() -> Printer:
    def cells(obj: Obj) -> list[Any]:
        hard = dig(obj, "status", "hard", default={})
        used = dig(obj, "status", "used", default={})
        requests, limits = [], []
        for resource in sorted(hard):
            text = f"{resource}: {quantity_string(used.get(resource, 0))}/{quantity_string(hard[resource])}"
            pieces = resource.split(".")
            (limits if len(pieces) > 1 and pieces[0] == "limits" else requests).append(text)
        return [name(obj), ", ".join(requests), ", ".join(limits), obj_age(obj)]

    return Printer(
        columns=[
            name_column(),
            Column("Request", "string", "", "Request represents a minimum amount of cpu/memory that a container may consume."),
            Column(
                "Limit",
                "string",
                "",
                "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.",
            ),
            age_column(),
        ],
        cells=cells,
    )


PRINTERS = {
    "Pod": pods,
    "PodTemplate": pod_templates,
    "ReplicationController": replication_controllers,
    "Service": services,
    "Endpoints": endpoints,
    "Node": nodes,
    "Event": events,
    "Namespace": namespaces,
    "Secret": secrets,
    "ServiceAccount": service_accounts,
    "ConfigMap": config_maps,
    "PersistentVolume": persistent_volumes,
    "PersistentVolumeClaim": persistent_volume_claims,
    "ResourceQuota": resource_quotas,
    # LimitRange has no printer upstream: the default convertor (NAME, CREATED AT) serves it.
}
