"""Helpers for the port-forward tests: pods serving HTTP on the host network, `kubectl port-forward` running."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from conftest import Server, free_port


def http_server_pod(server: Server, namespace: str, name: str, *ports: int, labels: dict[str, str] | None = None) -> None:
    """A pod serving ``/id`` (its name and port) over HTTP on each of ``ports``, one container per port.

    Each container is Ready once its port answers (a tcpSocket readiness probe), so the tests need not
    know whether the pod has a network namespace of its own or shares the host's.
    """
    containers = [{
        "name": f"http-{p}", "image": "busybox",
        "command": ["sh", "-c", f"mkdir -p d{p} && echo {name}:{p} > d{p}/id && exec python3 -m http.server {p} -d d{p}"],
        "ports": [{"containerPort": p}],
        "readinessProbe": {"tcpSocket": {"port": p}, "periodSeconds": 1},
    } for p in ports]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {}},
           "spec": {"containers": containers}}
    server.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(pod))
    server.kubectl("wait", "--for=condition=Ready", f"pod/{name}", "-n", namespace, "--timeout=60s")


def http_get(port: int, path: str = "/id") -> bytes:
    """A plain HTTP/1.0 GET through the local end of a port-forward; the whole response."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(f"GET {path} HTTP/1.0\r\nHost: pod\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


class PortForward:
    """A running `kubectl port-forward`: its output so far, read by a thread."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.output: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)

    def text(self) -> str:
        return "".join(self.output)

    def wait_for(self, needle: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            if time.monotonic() > deadline or (self.proc.poll() is not None and needle not in self.text()):
                time.sleep(0.2)
                raise AssertionError(f"kubectl port-forward never printed {needle!r}:\n{self.text()}")
            time.sleep(0.05)

    def finish(self, timeout: float = 20) -> int:
        """Wait for kubectl to exit by itself; its exit code."""
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code


@contextmanager
def port_forward(server: Server, namespace: str, target: str, *mappings: str, websockets: bool = True,
                 verbosity: int = 0) -> Iterator[PortForward]:
    """`kubectl port-forward TARGET MAPPINGS...` until the block ends; ready once it listens on every port."""
    env = dict(os.environ, KUBECONFIG=str(server.kubeconfig))
    if not websockets:
        env["KUBECTL_PORT_FORWARD_WEBSOCKETS"] = "false"  # kubectl's plain SPDY upgrade, its fallback
    args = ["kubectl", "port-forward", "-n", namespace, target, *mappings]
    if verbosity:
        args.append(f"-v={verbosity}")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    pf = PortForward(proc)
    try:
        for m in mappings:
            pf.wait_for(f"Forwarding from 127.0.0.1:{m.split(':')[0]}")
        yield pf
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


__all__ = ["free_port", "http_get", "http_server_pod", "port_forward"]
