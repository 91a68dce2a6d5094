"""A pod's status as kubelet computes it: phase, conditions, container statuses.

Follows pkg/kubelet/kubelet_pods.go (getPhase, convertToAPIContainerStatuses) and
pkg/kubelet/status/generate.go (the Initialized, ContainersReady, Ready and
PodReadyToStartContainers conditions, their reasons and messages).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runtime.images import normalize_image

Obj = dict[str, Any]

#: conditions the kubelet owns; any other type on the pod (PodScheduled, DisruptionTarget, gates) is kept
KUBELET_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady")


@dataclass
class ContainerRecord:
    """What the agent knows of one container of a pod, across its restarts."""

    spec: Obj
    kind: str  # "init", "sidecar" (init with restartPolicy Always) or "main"
    runtime_name: str = "process"
    id: str = ""
    state: Obj = field(default_factory=lambda: {"waiting": {"reason": "ContainerCreating"}})
    last_state: Obj = field(default_factory=dict)
    restart_count: int = 0
    ready: bool = False
    started: bool = False
    image_ref: str = ""
    running: bool = False
    starting: bool = False
    exit_code: int | None = None  # of the latest run, once it has exited
    finished_clock: float = 0.0  # on the agent's clock, for back-off decisions
    succeeded_once: bool = False  # an init container that has completed
    backoff: float = 0.0
    backoff_updated: float = 0.0
    backoff_event_at: float = -1.0
    attempt: int = -1  # latest log file index
    retry_at: float = 0.0
    probe_tasks: list[Any] = field(default_factory=list)
    start_error: tuple[str, str] | None = None  # (reason, message) of a failed start, e.g. PostStartHookError

    @property
    def name(self) -> str:
        return str(self.spec.get("name", ""))

    @property
    def has_run(self) -> bool:
        return self.attempt >= 0


def go_list(names: list[str]) -> str:
    """How Go's %s prints a []string: ``[a b]``."""
    return "[" + " ".join(names) + "]"


def api_container_status(rec: ContainerRecord) -> Obj:
    out: Obj = {
        "name": rec.name,
        "state": rec.state,
        "lastState": rec.last_state,
        "ready": rec.ready,
        "restartCount": rec.restart_count,
        "image": normalize_image(str(rec.spec.get("image", ""))),
        "imageID": rec.image_ref,
        "started": rec.started,
    }
    if rec.id:
        out["containerID"] = f"{rec.runtime_name}://{rec.id}"
    mounts = []
    for m in rec.spec.get("volumeMounts") or []:
        entry: Obj = {"name": m.get("name", ""), "mountPath": m.get("mountPath", "")}
        if m.get("readOnly"):
            entry["readOnly"] = True
            entry["recursiveReadOnly"] = "Disabled"
        mounts.append(entry)
    if mounts and rec.id:
        out["volumeMounts"] = mounts
    return out


def _terminated(rec: ContainerRecord) -> Obj | None:
    return rec.state.get("terminated")


def _last_failed(rec: ContainerRecord) -> bool:
    term = rec.last_state.get("terminated")
    return bool(term and term.get("exitCode", 0) != 0)


def pod_phase(restart_policy: str, inits: list[ContainerRecord], mains: list[ContainerRecord],
              terminal: bool = False) -> str:
    """getPhase: Pending until initialized and started; Running; Succeeded or Failed once all stopped."""
    pending_init = failed_init = 0
    for rec in inits:
        if rec.kind == "sidecar":
            if not (rec.running and rec.started):
                pending_init += 1
            continue
        term = _terminated(rec)
        if rec.running:
            pending_init += 1
        elif term is not None:
            if term.get("exitCode", 0) != 0:
                failed_init += 1
        elif "waiting" in rec.state:
            if rec.succeeded_once:
                continue
            if _last_failed(rec):
                failed_init += 1
            else:
                pending_init += 1
    if failed_init and restart_policy == "Never":
        return "Failed"
    if pending_init or failed_init:
        return "Pending"
    running = waiting = stopped = succeeded = 0
    for rec in mains:
        term = _terminated(rec)
        if rec.running:
            running += 1
        elif term is not None:
            stopped += 1
            if term.get("exitCode", 0) == 0:
                succeeded += 1
        elif rec.last_state.get("terminated"):
            stopped += 1
            if rec.last_state["terminated"].get("exitCode", 0) == 0:
                succeeded += 1
        else:
            waiting += 1
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if stopped:
        if restart_policy == "Always" and not terminal:
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        if restart_policy == "Never" or terminal:
            return "Failed"
        return "Running"
    return "Pending"


def _cond(ctype: str, status: bool, reason: str = "", message: str = "") -> Obj:
    c: Obj = {"type": ctype, "status": "True" if status else "False", "lastProbeTime": None}
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


def kubelet_conditions(phase: str, sandbox_ready: bool, inits: list[ContainerRecord],
                       mains: list[ContainerRecord], readiness_gates: list[str],
                       existing: list[Obj]) -> list[Obj]:
    """PodReadyToStartContainers, Initialized, Ready, ContainersReady (in kubelet's order)."""
    out = [_cond("PodReadyToStartContainers", sandbox_ready)]
    incomplete = [r.name for r in inits if not (
        (r.kind == "sidecar" and r.started) or (r.kind == "init" and r.succeeded_once))]
    if phase == "Succeeded" or not incomplete:
        out.append(_cond("Initialized", True, "PodCompleted" if phase == "Succeeded" and inits else ""))
    else:
        out.append(_cond("Initialized", False, "ContainersNotInitialized",
                         f"containers with incomplete status: {go_list(incomplete)}"))
    if phase in ("Succeeded", "Failed"):
        ready = _cond("Ready", False, "PodCompleted")
        containers_ready = _cond("ContainersReady", False, "PodCompleted")
    else:
        unready = [r.name for r in inits if r.kind == "sidecar" and not r.ready]
        unready += [r.name for r in mains if not r.ready]
        if unready:
            msg = f"containers with unready status: {go_list(unready)}"
            containers_ready = _cond("ContainersReady", False, "ContainersNotReady", msg)
            ready = _cond("Ready", False, "ContainersNotReady", msg)
        else:
            containers_ready = _cond("ContainersReady", True)
            ready = _cond("Ready", True)
            gates = {c.get("type"): c.get("status") for c in existing}
            missing = [g for g in readiness_gates if gates.get(g) != "True"]
            if missing:
                names = [g for g in readiness_gates if g not in gates]
                false = [g for g in readiness_gates if g in gates and gates[g] != "True"]
                parts = []
                if names:
                    parts.append(f"corresponding condition of pod readiness gate {go_list(names)} does not exist.")
                if false:
                    parts.append(f"the status of pod readiness gate {go_list(false)} is not \"True\", but False.")
                ready = _cond("Ready", False, "ReadinessGatesNotReady", " ".join(parts))
    out += [ready, containers_ready]
    return out


def merge_conditions(new: list[Obj], existing: list[Obj], now: str) -> list[Obj]:
    """Kubelet's conditions, then the pod's other ones; transition times kept while a status holds."""
    old = {c.get("type"): c for c in existing if isinstance(c, dict)}
    merged = []
    for c in new:
        prev = old.get(c["type"])
        if prev is not None and prev.get("status") == c["status"] and prev.get("lastTransitionTime"):
            c["lastTransitionTime"] = prev["lastTransitionTime"]
        else:
            c["lastTransitionTime"] = now
        merged.append(c)
    merged += [c for c in existing if isinstance(c, dict) and c.get("type") not in KUBELET_CONDITIONS]
    if "PodScheduled" not in old:  # a pod created with spec.nodeName: the kubelet marks it scheduled
        merged.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": now})
    return merged
