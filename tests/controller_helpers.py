"""Helpers for controller tests: play the node agent (pod phases through pods/status), move the
fake clock, and wait for the controllers to converge (polling the API, never sleeping on time that a
clock advance could move)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from conftest import Server

Obj = dict[str, Any]


def api_get(server: Server, path: str) -> Obj | None:
    code, _, body = server.request("GET", path)
    if code == 404:
        return None
    assert code == 200, body
    return json.loads(body)


def api_send(server: Server, method: str, path: str, obj: Obj, ok: tuple[int, ...] = (200, 201)) -> Obj:
    code, _, body = server.request(method, path, json.dumps(obj).encode())
    assert code in ok, (code, body)
    return json.loads(body)


def api_patch(server: Server, path: str, patch: Obj) -> Obj:
    code, _, body = server.request("PATCH", path, json.dumps(patch).encode(),
                                   {"Content-Type": "application/merge-patch+json"})
    assert code == 200, (code, body)
    return json.loads(body)


def wait_for(fn: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll ``fn`` until it returns something truthy; the controllers work asynchronously."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def advance_clock(server: Server, seconds: float) -> Obj:
    code, _, body = server.request("POST", f"/debug/clock?advance={seconds}")
    assert code == 200, body
    return json.loads(body)


def clock_now(server: Server) -> float:
    code, _, body = server.request("GET", "/debug/clock")
    assert code == 200, body
    return float(json.loads(body)["epoch"])


def pods(server: Server, namespace: str, selector: str = "") -> list[Obj]:
    q = f"?labelSelector={selector}" if selector else ""
    out = api_get(server, f"/api/v1/namespaces/{namespace}/pods{q}")
    assert out is not None
    return sorted(out["items"], key=lambda p: p["metadata"]["name"])


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def set_pod_status(server: Server, namespace: str, name: str, phase: str, ready: bool = False,
                   exit_code: int | None = None, pod_ip: str | None = None,
                   conditions: list[Obj] | None = None) -> Obj:
    """What a kubelet would report: phase, Ready condition, container exit codes, pod IP.

    Retried on a conflict: the scheduler may write the pod's PodScheduled condition meanwhile.
    """
    for _ in range(20):
        code, out = _put_pod_status(server, namespace, name, phase, ready, exit_code, pod_ip, conditions)
        if code != 409:
            assert code == 200, out
            return out
    raise AssertionError(f"pods/status of {name} kept conflicting")


def _put_pod_status(server: Server, namespace: str, name: str, phase: str, ready: bool, exit_code: int | None,
                    pod_ip: str | None, conditions: list[Obj] | None) -> tuple[int, Obj]:
    pod = api_get(server, f"/api/v1/namespaces/{namespace}/pods/{name}")
    assert pod is not None
    status = pod.get("status") or {}
    status["phase"] = phase
    now = _now()
    conds = [c for c in status.get("conditions") or [] if c["type"] != "Ready"]
    conds.append({"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": now})
    for c in conditions or []:
        conds = [x for x in conds if x["type"] != c["type"]] + [{"lastTransitionTime": now, **c}]
    status["conditions"] = conds
    if pod_ip:
        status["podIP"] = pod_ip
        status["podIPs"] = [{"ip": pod_ip}]
    if exit_code is not None or phase in ("Succeeded", "Failed"):
        code = exit_code if exit_code is not None else (0 if phase == "Succeeded" else 1)
        status["containerStatuses"] = [{
            "name": c["name"], "image": c.get("image", ""), "imageID": "", "ready": False, "restartCount": 0,
            "started": False,
            "state": {"terminated": {"exitCode": code, "reason": "Completed" if code == 0 else "Error",
                                     "startedAt": now, "finishedAt": now}},
        } for c in pod["spec"]["containers"]]
    elif phase == "Running":
        status["containerStatuses"] = [{
            "name": c["name"], "image": c.get("image", ""), "imageID": "", "ready": ready, "restartCount": 0,
            "started": True, "state": {"running": {"startedAt": now}},
        } for c in pod["spec"]["containers"]]
    pod["status"] = status
    code, _, body = server.request("PUT", f"/api/v1/namespaces/{namespace}/pods/{name}/status",
                                   json.dumps(pod).encode())
    return code, json.loads(body)


def wait_default_sa(server: Server, namespace: str) -> None:
    """Pods are admitted only once the namespace's default ServiceAccount exists."""
    wait_for(lambda: api_get(server, f"/api/v1/namespaces/{namespace}/serviceaccounts/default"),
             what="default serviceaccount")


def events(server: Server, namespace: str, name: str) -> list[tuple[str, str, str]]:
    out = api_get(server, f"/api/v1/namespaces/{namespace}/events?fieldSelector=involvedObject.name={name}")
    assert out is not None
    return [(e["type"], e["reason"], e["message"]) for e in out["items"]]


def create_node(server: Server, name: str, labels: dict[str, str] | None = None, taints: list[Obj] | None = None,
                ready: bool = True) -> Obj:
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {
        "kubernetes.io/hostname": name, **(labels or {})}}, "spec": {"taints": taints or []}}
    out = api_send(server, "POST", "/api/v1/nodes", node)
    out["status"] = {"conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                     "lastHeartbeatTime": _now(), "lastTransitionTime": _now(),
                                     "reason": "KubeletReady", "message": "kubelet is posting ready status"}]}
    return api_send(server, "PUT", f"/api/v1/nodes/{name}/status", out, ok=(200,))
