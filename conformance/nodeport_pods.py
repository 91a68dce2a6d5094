"""The pods and Services `kubefacade bench nodeport` measures: two web pods behind a NodePort Service.

Two backends are deployed, each as two pods selected by one NodePort Service:

- ``httpd``: ``busybox httpd`` serving a small file. It answers HTTP/1.0-style (``Connection:
  close``), so every request is a new TCP connection through the proxy: accept, pick, connect, relay.
- ``keepalive``: a tiny HTTP/1.1 keep-alive server (python), so only the relay of bytes is measured.

Where pods share the host network (the process backend without network namespaces: a pod's IP is
its node's), two replicas of one Deployment would both bind the same port. The bench therefore
starts one pod first; if its podIP is its hostIP it adds a second single-pod Deployment on another
port, otherwise it scales the first Deployment to two. The Service's ``targetPort`` is the
container port's *name*, so it resolves per pod either way.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from conformance.httpclient import Connection, HTTPError

Obj = dict[str, Any]

# The page lives in the container's working directory (the pod's own directory on the process
# backend, so it goes with the pod), or in a temporary one where that is not writable.
HTTPD_SCRIPT = ('d=kf-www; mkdir -p "$d" 2>/dev/null || d=$(mktemp -d); '
                'echo kubefacade-nodeport-bench > "$d/index.html" && exec busybox httpd -f -p {port} -h "$d"')

# An HTTP/1.1 server that keeps connections open and answers every request with a fixed body.
KEEPALIVE_SERVER = r"""
import asyncio, sys
BODY = b"kubefacade-nodeport-bench\n"
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
class Web(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buf = transport, b""
    def data_received(self, data):
        self.buf += data
        n = self.buf.count(b"\r\n\r\n")
        if n:
            self.buf = self.buf[self.buf.rindex(b"\r\n\r\n") + 4:]
            self.transport.write(ANSWER * n)
async def main():
    server = await asyncio.get_running_loop().create_server(Web, "0.0.0.0", int(sys.argv[1]), backlog=1024)
    await server.serve_forever()
asyncio.run(main())
"""


@dataclass
class Backend:
    """One measured backend: its Service and the pods behind it."""

    kind: str  # "httpd" or "keepalive"
    service: str
    node_port: int = 0
    pods: list[tuple[str, int]] = field(default_factory=list)  # (podIP, port) of each ready pod
    layout: str = ""


def container(kind: str, port: int) -> Obj:
    """The web container of ``kind`` listening on ``port`` (named ``http``), with a TCP readiness probe."""
    if kind == "httpd":
        spec: Obj = {"image": "busybox", "command": ["sh", "-c", HTTPD_SCRIPT.format(port=port)]}
    else:
        spec = {"image": "python:3.12-alpine", "command": ["python3", "-c", KEEPALIVE_SERVER, str(port)]}
    return {"name": "web", **spec, "ports": [{"name": "http", "containerPort": port}],
            "readinessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 1}}


def deployment(name: str, app: str, kind: str, port: int, replicas: int) -> Obj:
    labels = {"app": app, "instance": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"terminationGracePeriodSeconds": 1, "containers": [container(kind, port)]}}}}


def service(name: str, app: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"type": "NodePort", "selector": {"app": app},
                     "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]}}


def pick_port() -> int:
    """A port for a pod: one free on this host right now (pods may share its network), which the
    kernel picks from its ephemeral range, above the node ports (30000-32767)."""
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        return sock.getsockname()[1]


def wait(what: str, fn: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.2)
    raise TimeoutError(f"timed out after {timeout:g} s waiting for {what} (last: {last!r})")


def _ready(pod: Obj) -> bool:
    conds = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)


def ready_pods(conn: Connection, namespace: str, app: str) -> list[Obj]:
    resp = conn.request("GET", f"/api/v1/namespaces/{quote(namespace)}/pods?labelSelector=app%3D{quote(app)}")
    if not resp.ok:
        raise HTTPError("listing the bench pods", resp)
    return [p for p in resp.json()["items"] if _ready(p) and not p["metadata"].get("deletionTimestamp")]


def ready_endpoints(conn: Connection, namespace: str, svc: str) -> list[tuple[str, int]]:
    """The (address, port) pairs of the Service's ready endpoints, read from its EndpointSlices."""
    resp = conn.request("GET", f"/apis/discovery.k8s.io/v1/namespaces/{quote(namespace)}/endpointslices"
                               f"?labelSelector=kubernetes.io%2Fservice-name%3D{quote(svc)}")
    if not resp.ok:
        raise HTTPError("listing the bench EndpointSlices", resp)
    out: set[tuple[str, int]] = set()
    for sl in resp.json()["items"]:
        port = next((p.get("port") for p in sl.get("ports") or [] if p.get("name") == "http"), None)
        for ep in sl.get("endpoints") or []:
            if port and (ep.get("conditions") or {}).get("ready") is not False:
                out.update((addr, int(port)) for addr in ep.get("addresses") or [])
    return sorted(out)


def create(conn: Connection, path: str, obj: Obj) -> Obj:
    resp = conn.request("POST", path, obj)
    if not resp.ok:
        raise HTTPError(f"creating {obj['kind']} {obj['metadata']['name']}", resp)
    return resp.json()


def deploy(conn: Connection, namespace: str, kind: str, timeout: float = 90.0) -> Backend:
    """Two ready pods of ``kind`` behind a NodePort Service; see the module docstring for the layout."""
    app = f"bench-{kind}"
    ns = quote(namespace)
    backend = Backend(kind, app)
    svc = create(conn, f"/api/v1/namespaces/{ns}/services", service(app, app))
    backend.node_port = int(svc["spec"]["ports"][0]["nodePort"])
    first = f"{app}-0"
    create(conn, f"/apis/apps/v1/namespaces/{ns}/deployments", deployment(first, app, kind, pick_port(), 1))
    pod = wait(f"a ready {kind} pod", lambda: ready_pods(conn, namespace, app), timeout)[0]
    status = pod.get("status") or {}
    if status.get("podIP") and status.get("podIP") == status.get("hostIP"):
        backend.layout = "two Deployments of 1 pod on distinct ports (pods share the host network)"
        create(conn, f"/apis/apps/v1/namespaces/{ns}/deployments",
               deployment(f"{app}-1", app, kind, pick_port(), 1))
    else:
        backend.layout = "one Deployment of 2 pods"
        path = f"/apis/apps/v1/namespaces/{ns}/deployments/{first}/scale"
        scale = conn.request("GET", path).json()
        scale["spec"]["replicas"] = 2
        resp = conn.request("PUT", path, scale)
        if not resp.ok:
            raise HTTPError(f"scaling {first} to 2", resp)
    backend.pods = wait(f"2 ready endpoints of {app}",
                        lambda: (eps if len(eps := ready_endpoints(conn, namespace, app)) >= 2 else None), timeout)
    return backend
