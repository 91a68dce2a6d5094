"""What a node reports about itself: capacity and allocatable, pressure conditions, nodeInfo, labels.

Read from the host (``/proc``, ``statvfs``, ``/etc/os-release``) for a process-backend node, or
configured for simulated ones. Allocatable follows kubelet's defaults: memory minus the 100Mi hard
eviction threshold, ephemeral storage minus the 10% ``nodefs.available`` threshold.
"""

from __future__ import annotations

import os
import platform
import shutil
import uuid
from pathlib import Path
from typing import Any

Obj = dict[str, Any]

EVICTION_MEMORY_KI = 100 * 1024
DEFAULT_MAX_PODS = "110"


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def meminfo() -> dict[str, int]:
    """/proc/meminfo in KiB."""
    out: dict[str, int] = {}
    for line in _read("/proc/meminfo").splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            out[key] = int(parts[0])
    return out


def arch() -> str:
    m = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(m, m)


def host_resources(data_dir: Path) -> tuple[Obj, Obj]:
    """(capacity, allocatable) of this machine."""
    mem_ki = meminfo().get("MemTotal", 0)
    disk = shutil.disk_usage(data_dir)
    capacity = {
        "cpu": str(os.cpu_count() or 1),
        "ephemeral-storage": f"{disk.total // 1024}Ki",
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "memory": f"{mem_ki}Ki",
        "pods": DEFAULT_MAX_PODS,
    }
    allocatable = dict(capacity)
    allocatable["memory"] = f"{max(0, mem_ki - EVICTION_MEMORY_KI)}Ki"
    allocatable["ephemeral-storage"] = str(int(disk.total * 0.9))
    return capacity, allocatable


def host_pressure(data_dir: Path) -> dict[str, bool]:
    """Which eviction signals are past kubelet's default hard thresholds."""
    mem = meminfo()
    disk = shutil.disk_usage(data_dir)
    pid_max = int(_read("/proc/sys/kernel/pid_max") or 0)
    pids = sum(1 for p in os.listdir("/proc") if p.isdigit()) if os.path.isdir("/proc") else 0
    return {
        "MemoryPressure": bool(mem) and mem.get("MemAvailable", 1 << 40) < EVICTION_MEMORY_KI,
        "DiskPressure": disk.free < disk.total * 0.10,
        "PIDPressure": bool(pid_max) and pids > pid_max * 0.9,
    }


_CONDITION_TEXT = {
    # type: (reason when False, message when False, reason when True, message when True)
    "MemoryPressure": ("KubeletHasSufficientMemory", "kubelet has sufficient memory available",
                       "KubeletHasInsufficientMemory", "kubelet has insufficient memory available"),
    "DiskPressure": ("KubeletHasNoDiskPressure", "kubelet has no disk pressure",
                     "KubeletHasDiskPressure", "kubelet has disk pressure"),
    "PIDPressure": ("KubeletHasSufficientPID", "kubelet has sufficient PID available",
                    "KubeletHasInsufficientPID", "kubelet has insufficient PID available"),
}


def node_conditions(pressure: dict[str, bool], now: str, previous: list[Obj]) -> list[Obj]:
    """MemoryPressure, DiskPressure, PIDPressure, Ready — transition times kept while a status holds."""
    old = {c.get("type"): c for c in previous}
    out = []
    for ctype, (r_false, m_false, r_true, m_true) in _CONDITION_TEXT.items():
        on = pressure.get(ctype, False)
        out.append({"type": ctype, "status": "True" if on else "False", "reason": r_true if on else r_false,
                    "message": m_true if on else m_false})
    out.append({"type": "Ready", "status": "True", "reason": "KubeletReady",
                "message": "kubelet is posting ready status"})
    for c in out:
        prev = old.get(c["type"])
        c["lastHeartbeatTime"] = now
        c["lastTransitionTime"] = prev["lastTransitionTime"] if prev and prev.get("status") == c["status"] else now
    return out


def node_system_info(runtime_name: str, runtime_version: str, kubelet_version: str, simulated: bool) -> Obj:
    if simulated:
        return {
            "architecture": arch(), "bootID": "", "containerRuntimeVersion": f"{runtime_name}://{runtime_version}",
            "kernelVersion": "", "kubeProxyVersion": "", "kubeletVersion": kubelet_version, "machineID": "",
            "operatingSystem": "linux", "osImage": "", "systemUUID": "",
        }
    machine_id = _read("/etc/machine-id")
    os_image = ""
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            os_image = line.split("=", 1)[1].strip().strip('"')
    return {
        "architecture": arch(),
        "bootID": _read("/proc/sys/kernel/random/boot_id"),
        "containerRuntimeVersion": f"{runtime_name}://{runtime_version}",
        "kernelVersion": platform.release(),
        "kubeProxyVersion": "",
        "kubeletVersion": kubelet_version,
        "machineID": machine_id,
        "operatingSystem": platform.system().lower() or "linux",
        "osImage": os_image or platform.platform(),
        "systemUUID": _read("/sys/class/dmi/id/product_uuid") or (str(uuid.UUID(machine_id)) if len(machine_id) == 32
                                                                   else ""),
    }


def node_labels(name: str) -> dict[str, str]:
    a, o = arch(), "linux"
    return {
        "beta.kubernetes.io/arch": a,
        "beta.kubernetes.io/os": o,
        "kubernetes.io/arch": a,
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": o,
    }
