"""The Python client's port-forward (v4.channel.k8s.io over WebSocket) to a pod of the process runtime."""

from __future__ import annotations

import json
import os
import socket
import time

from kubernetes import client
from kubernetes.stream import portforward


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(server, ns: str, pod: str, port: int) -> None:
    """The server in the pod binds its port a moment after the pod is Ready (no readiness probe); checked
    from inside the pod, whose localhost is the host's only when pods are not isolated."""
    probe = f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=1).close()"
    deadline = time.monotonic() + 15
    while server.kubectl("exec", pod, "-n", ns, "--", "python3", "-c", probe, check=False).returncode:
        assert time.monotonic() < deadline, f"nothing listens on port {port} in pod {pod}"
        time.sleep(0.1)


def test_python_client_port_forward_reaches_an_http_server_in_the_pod(server, api):
    ns = "pf-" + os.urandom(3).hex()
    server.request("POST", "/api/v1/namespaces", json.dumps({"metadata": {"name": ns}}).encode())
    port = free_port()  # free on the host too, for nodes whose pods share the host network
    server.kubectl("run", "web", "-n", ns, "--image=busybox", "--command", "--",
                   "python3", "-m", "http.server", str(port), "--bind", "127.0.0.1")
    server.kubectl("wait", "--for=condition=Ready", "pod/web", "-n", ns, "--timeout=30s")
    wait_listening(server, ns, "web", port)
    core = client.CoreV1Api(api)
    pf = portforward(core.connect_get_namespaced_pod_portforward, "web", ns, ports=str(port))
    sock = pf.socket(port)
    sock.setblocking(True)
    sock.sendall(b"GET / HTTP/1.0\r\nHost: pod\r\n\r\n")
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    sock.close()
    assert data.startswith(b"HTTP/1.0 200 OK")
    assert pf.error(port) is None


def test_port_forward_to_a_closed_port_reports_on_the_error_channel(server, api):
    ns = "pf-" + os.urandom(3).hex()
    server.request("POST", "/api/v1/namespaces", json.dumps({"metadata": {"name": ns}}).encode())
    server.kubectl("run", "idle", "-n", ns, "--image=busybox", "--command", "--", "sh", "-c", "sleep 3600")
    server.kubectl("wait", "--for=condition=Ready", "pod/idle", "-n", ns, "--timeout=30s")
    port = free_port()
    pf = portforward(client.CoreV1Api(api).connect_get_namespaced_pod_portforward, "idle", ns, ports=str(port))
    sock = pf.socket(port)
    sock.setblocking(True)
    assert sock.recv(4096) == b""
    sock.close()
    assert f"error forwarding port {port} to pod" in (pf.error(port) or "")
