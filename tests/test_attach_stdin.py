"""`kubectl attach -i` and `kubectl run -i`: stdin reaches a `stdin: true` container of the process runtime,
once (`stdinOnce`) or across attach sessions, on a pipe or a terminal (`tty`)."""

from __future__ import annotations

import json
import os
import select
import subprocess
import time

from conftest import Server
from kubernetes import client
from kubernetes.stream import stream

READ_LINES = "while read l; do echo got $l; done; echo stdin closed"


def _pod(server: Server, namespace: str, name: str, script: str, **container: object) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
           "spec": {"restartPolicy": "Never", "containers": [
               {"name": "c", "image": "busybox", "command": ["sh", "-c", script], **container}]}}
    server.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(pod))
    server.kubectl("wait", "--for=condition=Ready", f"pod/{name}", "-n", namespace, "--timeout=30s")


def _attach(server: Server, namespace: str, pod: str, text: str, until: str, wait: float = 30) -> str:
    """`kubectl attach -i` fed ``text`` on stdin; its output once ``until`` shows up (then it is stopped)."""
    env = dict(os.environ, KUBECONFIG=str(server.kubeconfig))
    proc = subprocess.Popen(["kubectl", "attach", "-i", pod, "-n", namespace], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(text.encode())
    proc.stdin.close()
    out = b""
    deadline = time.monotonic() + wait
    try:
        while until.encode() not in out and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 0.5)
            if ready:
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                out += chunk
    finally:
        proc.kill()
        proc.wait()
    return out.decode()


def test_kubectl_run_interactive_sends_stdin_once_then_the_container_ends(server: Server, namespace: str):
    result = server.kubectl("run", "once", "-n", namespace, "-i", "--restart=Never", "--image=busybox",
                            "--command", "--", "sh", "-c", READ_LINES, input="hello\nworld\n")
    assert result.stdout == "got hello\ngot world\nstdin closed\n"
    pod = json.loads(server.kubectl("get", "pod/once", "-n", namespace, "-o", "json").stdout)
    assert pod["spec"]["containers"][0]["stdinOnce"] is True
    assert pod["status"]["phase"] == "Succeeded"


def test_stdin_stays_open_across_attach_sessions_without_stdin_once(server: Server, namespace: str):
    _pod(server, namespace, "reader", READ_LINES, stdin=True)
    assert _attach(server, namespace, "reader", "one\n", until="got one\n") == "got one\n"
    assert _attach(server, namespace, "reader", "two\n", until="got two\n") == "got two\n"
    logs = server.kubectl("logs", "reader", "-n", namespace).stdout
    assert logs == "got one\ngot two\n"  # the first session's end did not close the container's stdin
    phase = server.kubectl("get", "pod/reader", "-n", namespace, "-o", "jsonpath={.status.phase}").stdout
    assert phase == "Running"


def test_attach_with_stdin_once_closes_the_containers_stdin_after_the_session(server: Server, namespace: str):
    _pod(server, namespace, "single", READ_LINES, stdin=True, stdinOnce=True)
    out = _attach(server, namespace, "single", "only\n", until="stdin closed\n")
    assert out == "got only\nstdin closed\n"


def test_tty_container_reads_its_stdin_from_a_terminal(server: Server, namespace: str):
    _pod(server, namespace, "term", "tty; cat", stdin=True, stdinOnce=True, tty=True)
    out = _attach(server, namespace, "term", "typed\n", until="typed\r\ntyped\r\n")
    assert out == "typed\r\ntyped\r\n"  # the terminal's echo, then cat's copy
    logs = server.kubectl("logs", "term", "-n", namespace).stdout
    assert logs.startswith("/dev/pts/")


def test_container_without_stdin_gets_none_from_attach(server: Server, namespace: str):
    _pod(server, namespace, "deaf", "while true; do if read l; then echo got $l; fi; sleep 0.1; done")
    assert _attach(server, namespace, "deaf", "ignored\n", until="got", wait=2) == ""
    assert "got" not in server.kubectl("logs", "deaf", "-n", namespace).stdout


def test_python_client_attach_writes_stdin(server: Server, namespace: str, api):
    _pod(server, namespace, "reader", READ_LINES, stdin=True)
    resp = stream(client.CoreV1Api(api).connect_get_namespaced_pod_attach, "reader", namespace,
                  stdin=True, stdout=True, stderr=True, tty=False, _preload_content=False)
    resp.write_stdin("from python\n")
    seen = ""
    for _ in range(100):
        resp.update(timeout=0.2)
        seen += resp.read_stdout()
        if "\n" in seen:
            break
    resp.close()
    assert seen == "got from python\n"


class Terminal:
    """A program on a pseudo-terminal of a given size, as a user's shell runs kubectl."""

    def __init__(self, argv: list[str], env: dict[str, str], rows: int, cols: int) -> None:
        import fcntl
        import pty
        import struct
        import termios

        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: size its terminal, then become kubectl
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
            os.execvpe(argv[0], argv, env)
        self.out = b""

    def read_until(self, needle: bytes, timeout: float = 20) -> bytes:
        deadline = time.monotonic() + timeout
        while needle not in self.out and time.monotonic() < deadline:
            ready, _, _ = select.select([self.fd], [], [], 0.2)
            if ready:
                try:
                    self.out += os.read(self.fd, 65536)
                except OSError:
                    break
        return self.out

    def type(self, text: bytes) -> None:
        os.write(self.fd, text)

    def resize(self, rows: int, cols: int) -> None:
        import fcntl
        import signal
        import struct
        import termios

        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        os.kill(self.pid, signal.SIGWINCH)

    def wait(self) -> int:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            self.read_until(b"\0", timeout=0.2)
        os.kill(self.pid, 9)
        return os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])


def test_kubectl_attach_it_drives_a_shell_on_the_containers_terminal(server: Server, namespace: str):
    _pod(server, namespace, "shell", "exec sh", stdin=True, tty=True)
    env = dict(os.environ, KUBECONFIG=str(server.kubeconfig))
    term = Terminal(["kubectl", "attach", "-it", "shell", "-n", namespace], env, rows=40, cols=100)
    term.read_until(b"try pressing enter.")
    term.type(b"\x15stty size\r")  # the terminal's size reached the container's terminal
    assert b"\r\n40 100\r\n" in term.read_until(b"40 100\r\n")
    term.resize(30, 90)  # kubectl sends the new size on the resize channel
    term.read_until(b"\0", timeout=1)
    term.type(b"stty size\r")
    assert b"\r\n30 90\r\n" in term.read_until(b"30 90\r\n")
    term.type(b"exit\r")
    assert term.wait() == 0  # the shell exited: the container ends, and so does the attach
    assert term.out.endswith(b"# exit\r\n")
    server.kubectl("wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/shell", "-n", namespace, "--timeout=30s")
