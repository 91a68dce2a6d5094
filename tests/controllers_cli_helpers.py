"""Running `kubefacade controllers` subprocesses against a `kubefacade serve --no-controllers` in tests."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

from conftest import Server, start_server, stop_server
from controller_helpers import api_get

Obj = dict[str, Any]


def controllers_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "facade.cli", "controllers", *args]


def start_controllers(server: Server, only: str) -> subprocess.Popen:
    proc = subprocess.Popen(controllers_cmd("--kubeconfig", str(server.kubeconfig), "--only", only,
                                            "--data-dir", str(server.data_dir / "controllers")),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()  # printed once every controller has started
    if "running against https://127.0.0.1" not in line:
        proc.kill()
        _, err = proc.communicate(timeout=15)
        raise AssertionError(f"kubefacade controllers did not start: {line}{err}")
    return proc


def terminate(proc: subprocess.Popen) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=15)
    return proc.returncode, err


def bare_server() -> Iterator[Server]:
    """A server that runs no controllers and no real node: two simulated nodes only."""
    s = start_server("--no-controllers", "--sim-nodes", "2", "--no-node")
    yield s
    stop_server(s)


def controllers_process(server: Server, only: str) -> Iterator[subprocess.Popen]:
    proc = start_controllers(server, only)
    yield proc
    proc.kill()
    proc.wait()


WORKLOADS = "deployment,replicaset,scheduler"
LIFECYCLE = "namespace,garbagecollector,serviceaccount,root-ca-cert-publisher"


def new_namespace(server: Server, name: str) -> str:
    server.kubectl("create", "namespace", name)
    return name


def items(server: Server, path: str) -> list[Obj]:
    out = api_get(server, path)
    assert out is not None, path
    return out["items"]
