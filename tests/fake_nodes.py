"""Nodes and a pretend kubelet for controller tests, until a node agent runs pods (issue 5).

``make_node`` registers a Node with allocatable resources and a Ready condition through the API.
``FakeKubelet`` is a thread that does, over HTTP, the two things of a kubelet the controllers
depend on: it marks pods bound to a node Running and Ready (unless an image name contains
``never-ready``), and it finishes the graceful deletion of pods being deleted.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from typing import Any

from conftest import Server


def make_node(server: Server, name: str, cpu: str = "4", memory: str = "8Gi", pods: str = "110",
              labels: dict[str, str] | None = None, taints: list[dict[str, str]] | None = None,
              ready: str = "True", unschedulable: bool = False) -> dict[str, Any]:
    node: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": {"taints": taints or [], "unschedulable": unschedulable},
    }
    code, _, out = server.request("POST", "/api/v1/nodes", json.dumps(node).encode())
    assert code == 201, out
    status = {"capacity": {"cpu": cpu, "memory": memory, "pods": pods},
              "allocatable": {"cpu": cpu, "memory": memory, "pods": pods},
              "conditions": [{"type": "Ready", "status": ready, "reason": "KubeletReady",
                              "message": "kubelet is posting ready status",
                              "lastHeartbeatTime": _now(), "lastTransitionTime": _now()}]}
    code, _, out = server.request("PATCH", f"/api/v1/nodes/{name}/status", json.dumps({"status": status}).encode(),
                                  {"Content-Type": "application/merge-patch+json"})
    assert code == 200, out
    return json.loads(out)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def clock_now(server: Server) -> str:
    """The controllers' time: the fake clock's when the server runs one, else the wall clock."""
    code, _, out = server.request("GET", "/debug/clock")
    return json.loads(out)["now"] if code == 200 else _now()


def advance(server: Server, seconds: float) -> None:
    code, _, out = server.request("POST", f"/debug/clock?advance={seconds}")
    assert code == 200, out


class FakeKubelet(threading.Thread):
    """Runs pods of one namespace: bound pods become Running/Ready, deleted pods go away."""

    def __init__(self, server: Server, namespace: str, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.namespace = namespace
        self.interval = interval
        self._halt = threading.Event()

    def __enter__(self) -> FakeKubelet:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._halt.set()
        self.join(5)

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                self.step()
            except Exception:  # noqa: BLE001 - a failed round is retried on the next tick
                pass
            self._halt.wait(self.interval)

    def step(self) -> None:
        code, _, out = self.server.request("GET", f"/api/v1/namespaces/{self.namespace}/pods")
        if code != 200:
            return
        for pod in json.loads(out)["items"]:
            name = pod["metadata"]["name"]
            if pod["metadata"].get("deletionTimestamp"):
                body = json.dumps({"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0}).encode()
                self.server.request("DELETE", f"/api/v1/namespaces/{self.namespace}/pods/{name}", body)
                continue
            if not pod["spec"].get("nodeName") or (pod.get("status") or {}).get("phase") == "Running":
                continue
            ready = not any("never-ready" in c.get("image", "") for c in pod["spec"].get("containers", []))
            now = clock_now(self.server)
            status = {
                "phase": "Running", "podIP": "10.244.0.10", "startTime": now,
                "conditions": [
                    {"type": "PodScheduled", "status": "True", "lastTransitionTime": now, "lastProbeTime": None},
                    {"type": "Initialized", "status": "True", "lastTransitionTime": now, "lastProbeTime": None},
                    {"type": "ContainersReady", "status": str(ready), "lastTransitionTime": now, "lastProbeTime": None},
                    {"type": "Ready", "status": str(ready), "lastTransitionTime": now, "lastProbeTime": None},
                ],
                "containerStatuses": [
                    {"name": c["name"], "image": c.get("image", ""), "imageID": "", "ready": ready,
                     "restartCount": 0, "started": True, "state": {"running": {"startedAt": now}}}
                    for c in pod["spec"].get("containers", [])
                ],
            }
            self.server.request("PATCH", f"/api/v1/namespaces/{self.namespace}/pods/{name}/status",
                                json.dumps({"status": status}).encode(),
                                {"Content-Type": "application/merge-patch+json"})


def wait_for(fn: Any, timeout: float = 15.0, interval: float = 0.05) -> Any:
    """Poll ``fn`` until it returns something truthy; fail with its last value after ``timeout``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last value: {last!r}")
