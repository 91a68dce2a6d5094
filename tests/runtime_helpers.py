"""Helpers for the node-agent tests: create pods on a node, wait for what a user would see."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from conftest import Server

Obj = dict[str, Any]


def node_name(server: Server) -> str:
    """The server's own process-backend node (named after the host)."""
    code, _, body = server.request("GET", "/api/v1/nodes")
    assert code == 200, body
    names = [n["metadata"]["name"] for n in json.loads(body)["items"]
             if n["metadata"].get("annotations", {}).get("kubefacade.io/runtime") == "process"]
    assert names, "the server runs no process-backend node"
    return names[0]


def busybox(name: str, node: str, script: str, **spec: Any) -> Obj:
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"nodeName": node, "terminationGracePeriodSeconds": 2,
                 "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", script]}], **spec},
    }


def create(server: Server, namespace: str, obj: Obj, plural: str = "pods", api: str = "/api/v1") -> Obj:
    code, _, body = server.request("POST", f"{api}/namespaces/{namespace}/{plural}", json.dumps(obj).encode())
    assert code == 201, body
    return json.loads(body)


def get_pod(server: Server, namespace: str, name: str) -> Obj | None:
    code, _, body = server.request("GET", f"/api/v1/namespaces/{namespace}/pods/{name}")
    if code == 404:
        return None
    assert code == 200, body
    return json.loads(body)


def wait_for(fn: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def wait_pod(server: Server, namespace: str, name: str, pred: Callable[[Obj], bool], timeout: float = 10.0) -> Obj:
    def check() -> Obj | None:
        pod = get_pod(server, namespace, name)
        return pod if pod is not None and pred(pod) else None

    return wait_for(check, timeout, f"pod {name}")


def phase(p: Obj) -> str:
    return (p.get("status") or {}).get("phase", "")


def cstatus(p: Obj, container: str = "c", init: bool = False) -> Obj:
    key = "initContainerStatuses" if init else "containerStatuses"
    for s in (p.get("status") or {}).get(key) or []:
        if s["name"] == container:
            return s
    return {}


def condition(p: Obj, ctype: str) -> Obj:
    return next((c for c in (p.get("status") or {}).get("conditions") or [] if c["type"] == ctype), {})


def events_for(server: Server, namespace: str, name: str) -> list[Obj]:
    code, _, body = server.request(
        "GET", f"/api/v1/namespaces/{namespace}/events?fieldSelector=involvedObject.name%3D{name}")
    assert code == 200, body
    return json.loads(body)["items"]


def advance(server: Server, seconds: float) -> None:
    code, _, body = server.request("POST", f"/debug/clock?advance={seconds}")
    assert code == 200, body
