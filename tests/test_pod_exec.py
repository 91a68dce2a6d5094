"""`kubectl exec` and the Python client's exec stream, over WebSocket, against the process runtime."""

from __future__ import annotations

import json
import os
import pty
import select
import time

import pytest
from kubernetes import client
from kubernetes.stream import stream


@pytest.fixture(scope="module")
def shell_pod(server):
    ns = "exec-" + os.urandom(3).hex()
    server.request("POST", "/api/v1/namespaces", json.dumps({"metadata": {"name": ns}}).encode())
    server.kubectl("run", "sh", "-n", ns, "--image=busybox", "--command", "--", "sh", "-c", "sleep 3600")
    server.kubectl("wait", "--for=condition=Ready", "pod/sh", "-n", ns, "--timeout=30s")
    return ns


def test_kubectl_exec_separates_stdout_and_stderr_and_returns_the_exit_code(server, shell_pod):
    proc = server.kubectl("exec", "sh", "-n", shell_pod, "--", "sh", "-c", "echo out $HOSTNAME; echo err >&2; exit 3",
                          check=False)
    assert proc.returncode == 3
    assert proc.stdout == "out sh\n"
    assert proc.stderr.startswith("err\n")
    assert "command terminated with exit code 3" in proc.stderr


def test_kubectl_exec_passes_stdin(server, shell_pod):
    proc = server.kubectl("exec", "-i", "sh", "-n", shell_pod, "--", "cat", input="piped input\n")
    assert proc.stdout == "piped input\n"


def test_kubectl_exec_it_gives_an_interactive_terminal(server, shell_pod):
    env = dict(os.environ, KUBECONFIG=str(server.kubeconfig))
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child becomes kubectl
        os.execvpe("kubectl", ["kubectl", "exec", "-it", "sh", "-n", shell_pod, "--", "sh"], env)
    out = b""

    def read_until(marker: bytes, timeout: float = 10) -> None:
        nonlocal out
        end = time.monotonic() + timeout
        while marker not in out and time.monotonic() < end:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    out += os.read(fd, 4096)
                except OSError:
                    return

    read_until(b"#")
    os.write(fd, b"echo $((6*7)); tty\n")
    read_until(b"/dev/pts/")
    os.write(fd, b"exit 0\n")
    _, status = os.waitpid(pid, 0)
    text = out.decode(errors="replace")
    assert "42" in text and "/dev/pts/" in text
    assert "can't access tty" not in text
    assert os.WEXITSTATUS(status) == 0


def test_python_client_exec_stream(api, shell_pod):
    core = client.CoreV1Api(api)
    out = stream(core.connect_get_namespaced_pod_exec, "sh", shell_pod, command=["sh", "-c", "echo from-python"],
                 stderr=True, stdin=False, stdout=True, tty=False)
    assert out == "from-python\n"
    resp = stream(core.connect_get_namespaced_pod_exec, "sh", shell_pod, command=["sh", "-c", "exit 5"],
                  stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
    resp.run_forever(timeout=10)
    assert resp.returncode == 5


def test_exec_in_an_unknown_container_is_refused(server, shell_pod):
    proc = server.kubectl("exec", "sh", "-c", "nope", "-n", shell_pod, "--", "true", check=False)
    assert proc.returncode != 0
    assert "container nope is not valid for pod sh" in proc.stderr


def test_kubectl_cp_copies_both_ways(server, shell_pod, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("local content\n")
    server.kubectl("cp", str(src), f"{shell_pod}/sh:copied.txt")
    assert server.kubectl("exec", "sh", "-n", shell_pod, "--", "cat", "copied.txt").stdout == "local content\n"
    server.kubectl("exec", "sh", "-n", shell_pod, "--", "sh", "-c", "echo remote > made.txt")
    dst = tmp_path / "out.txt"
    server.kubectl("cp", f"{shell_pod}/sh:made.txt", str(dst))
    assert dst.read_text() == "remote\n"
