"""A real `kubefacade serve` process for the tests, and helpers to drive it with kubectl and the client."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Property tests check behaviour, not speed: on a loaded 2-core machine input generation can be slow,
# and Hypothesis's timing checks would then fail a run whose properties all hold.
settings.register_profile("kubefacade", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("kubefacade")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    port: int
    data_dir: Path
    kubeconfig: Path
    process: subprocess.Popen
    ca: Path

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def token(self) -> str:
        return (self.data_dir / "admin.token").read_text().strip()

    def kubectl(self, *args: str, input: str | None = None, check: bool = True,
                timeout: float = 60) -> subprocess.CompletedProcess:
        env = dict(os.environ, KUBECONFIG=str(self.kubeconfig))
        proc = subprocess.run(["kubectl", *args], input=input, capture_output=True, text=True, env=env,
                              timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}{proc.stdout}")
        return proc

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
                token: str | None = "admin") -> tuple[int, dict[str, str], bytes]:
        """A raw HTTPS request; returns (status, headers, body) whatever the status."""
        h = {"Content-Type": "application/json", **(headers or {})}
        if token == "admin":
            h["Authorization"] = f"Bearer {self.token}"
        elif token:
            h["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, context=self.ssl_context(), timeout=30) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()


def start_server(*extra: str) -> Server:
    port = free_port()
    data_dir = Path(tempfile.mkdtemp(prefix="kubefacade-test-"))
    kubeconfig = data_dir / "kubeconfig"
    proc = subprocess.Popen(
        [sys.executable, "-m", "facade.cli", "serve", "--port", str(port), "--data-dir", str(data_dir), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    ca = data_dir / "ca.crt"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            ctx = ssl.create_default_context(cafile=str(ca))
            with urllib.request.urlopen(f"https://127.0.0.1:{port}/readyz", context=ctx, timeout=1) as r:
                if r.status == 200:
                    break
        except (OSError, ssl.SSLError):
            time.sleep(0.05)
    else:
        proc.kill()
        raise RuntimeError("server did not become ready")
    return Server(port, data_dir, kubeconfig, proc, ca)


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(10)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    s = start_server()
    yield s
    stop_server(s)


@pytest.fixture
def namespace(server: Server, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace per test, so tests never see each other's objects."""
    name = "t-" + request.node.name.lower().replace("_", "-")[:40].strip("-") + "-" + os.urandom(2).hex()
    name = "".join(c if c.isalnum() or c == "-" else "-" for c in name)
    body = json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}).encode()
    code, _, out = server.request("POST", "/api/v1/namespaces", body)
    assert code == 201, out
    yield name
    # Delete it afterwards (not waited for): the session's shared server would otherwise keep every
    # test's pods running, and their processes and pod IPs add up over a whole run.
    try:
        server.request("DELETE", f"/api/v1/namespaces/{name}")
    except Exception:  # noqa: BLE001 - a server a test stopped on purpose is no reason to fail
        pass


@pytest.fixture
def api(server: Server):
    """The official kubernetes Python client, configured from the server's kubeconfig."""
    from kubernetes import client, config

    cfg = client.Configuration()
    config.load_kube_config(config_file=str(server.kubeconfig), client_configuration=cfg)
    with client.ApiClient(cfg) as c:
        yield c
