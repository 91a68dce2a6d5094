"""What the process runtime serves, on the docker backend too: image pull events, lifecycle hooks,
``attach -i``, ``exec -it``, ``logs -f``, port-forward, the service-account token, activeDeadlineSeconds.

Same engine needs and skip rules as tests/test_runtime_docker.py (its fixtures are shared): without an
engine these skip on a user's machine and fail in CI.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import tempfile
from pathlib import Path

import test_runtime_docker
from conftest import Server, free_port
from portforward_helpers import http_get, port_forward
from runtime_helpers import create, cstatus, events_for, get_pod, phase, wait_for, wait_pod
from test_attach_stdin import READ_LINES, Terminal, _attach
from test_runtime_docker import IMAGE, container, pod

docker_server = test_runtime_docker.docker_server  # the module's fixtures, shared
ns = test_runtime_docker.ns

TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def _running(server: Server, namespace: str, name: str) -> dict:
    return wait_pod(server, namespace, name, lambda p: phase(p) == "Running" and cstatus(p).get("ready"), timeout=30)


def _events(server: Server, namespace: str, name: str) -> list[tuple[str, str, str]]:
    return [(e["type"], e["reason"], e["message"]) for e in events_for(server, namespace, name)]


def test_local_image_with_if_not_present_is_already_present(docker_server: Server, ns: str) -> None:
    create(docker_server, ns, pod("present", container("c", "sleep 3600", imagePullPolicy="IfNotPresent")))
    _running(docker_server, ns, "present")
    events = _events(docker_server, ns, "present")
    assert ("Normal", "Pulled", f'Container image "{IMAGE}" already present on machine') in events, events
    assert not [e for e in events if e[1] == "Pulling"], events


def test_missing_image_with_always_reads_err_image_pull_then_back_off(docker_server: Server, ns: str) -> None:
    image = "example.invalid/always:2.0"
    create(docker_server, ns, pod("always", {"name": "c", "image": image, "imagePullPolicy": "Always"}))
    p = wait_pod(docker_server, ns, "always",
                 lambda p: (cstatus(p).get("state", {}).get("waiting") or {}).get("reason") == "ErrImagePull",
                 timeout=60)
    message = cstatus(p)["state"]["waiting"]["message"]
    assert message.startswith("Error response from daemon: ") and "example.invalid" in message, message
    wait_pod(docker_server, ns, "always",
             lambda p: (cstatus(p).get("state", {}).get("waiting") or {}).get("reason") == "ImagePullBackOff",
             timeout=60)
    events = _events(docker_server, ns, "always")
    assert ("Normal", "Pulling", f'Pulling image "{image}"') in events, events
    assert ("Warning", "Failed", f'Failed to pull image "{image}": {message}') in events, events
    assert ("Normal", "BackOff", f'Back-off pulling image "{image}"') in events, events
    out = docker_server.kubectl("get", "pod", "always", "-n", ns).stdout
    assert "ImagePullBackOff" in out or "ErrImagePull" in out


def test_post_start_and_pre_stop_exec_hooks_run_in_the_container(docker_server: Server, ns: str) -> None:
    out = Path(tempfile.mkdtemp())
    out.chmod(0o777)
    c = container("c", "trap 'echo term >> /out/order; exit 0' TERM; while true; do sleep 0.1; done",
                  volumeMounts=[{"name": "out", "mountPath": "/out"}],
                  lifecycle={"postStart": {"exec": {"command": ["sh", "-c", "echo started > /tmp/hook; "
                                                                            "echo poststart >> /out/order"]}},
                             "preStop": {"exec": {"command": ["sh", "-c", "echo prestop >> /out/order"]}}})
    create(docker_server, ns, pod("hooks", c, volumes=[{"name": "out", "hostPath": {"path": str(out)}}],
                                  terminationGracePeriodSeconds=10))
    _running(docker_server, ns, "hooks")
    assert docker_server.kubectl("exec", "hooks", "-n", ns, "--", "cat", "/tmp/hook").stdout == "started\n"
    docker_server.kubectl("delete", "pod", "hooks", "-n", ns, "--wait=false")
    wait_for(lambda: get_pod(docker_server, ns, "hooks") is None, timeout=30, what="pod removal")
    assert (out / "order").read_text().split() == ["poststart", "prestop", "term"]
    assert ("Normal", "Killing", "Stopping container c") in _events(docker_server, ns, "hooks")


def test_failing_post_start_hook_kills_the_container(docker_server: Server, ns: str) -> None:
    c = container("c", "sleep 3600", lifecycle={"postStart": {"exec": {"command": ["sh", "-c", "exit 3"]}}})
    create(docker_server, ns, pod("badhook", c, restartPolicy="Never"))
    p = wait_pod(docker_server, ns, "badhook", lambda p: phase(p) == "Failed", timeout=60)
    assert "terminated" in cstatus(p)["state"]
    assert ("Warning", "FailedPostStartHook", "PostStartHook failed") in _events(docker_server, ns, "badhook")


def test_attach_with_stdin_once_closes_the_containers_stdin(docker_server: Server, ns: str) -> None:
    create(docker_server, ns, pod("single", container("c", READ_LINES, stdin=True, stdinOnce=True),
                                  restartPolicy="Never"))
    _running(docker_server, ns, "single")
    out = _attach(docker_server, ns, "single", "only\n", until="stdin closed\n")
    assert out == "got only\nstdin closed\n"
    wait_pod(docker_server, ns, "single", lambda p: phase(p) == "Succeeded", timeout=30)


def test_stdin_stays_open_across_attach_sessions_without_stdin_once(docker_server: Server, ns: str) -> None:
    create(docker_server, ns, pod("reader", container("c", READ_LINES, stdin=True)))
    _running(docker_server, ns, "reader")
    assert _attach(docker_server, ns, "reader", "one\n", until="got one\n") == "got one\n"
    assert _attach(docker_server, ns, "reader", "two\n", until="got two\n") == "got two\n"
    assert docker_server.kubectl("logs", "reader", "-n", ns).stdout == "got one\ngot two\n"
    assert phase(get_pod(docker_server, ns, "reader")) == "Running"


def test_container_without_stdin_gets_nothing_from_attach(docker_server: Server, ns: str) -> None:
    create(docker_server, ns, pod("deaf", container("c", "while true; do if read l; then echo got $l; fi; "
                                                         "sleep 0.1; done")))
    _running(docker_server, ns, "deaf")
    assert _attach(docker_server, ns, "deaf", "ignored\n", until="got", wait=2) == ""


def test_kubectl_exec_it_gives_a_terminal_in_the_container(docker_server: Server, ns: str) -> None:
    create(docker_server, ns, pod("term", container("c", "sleep 3600")))
    _running(docker_server, ns, "term")
    env = dict(os.environ, KUBECONFIG=str(docker_server.kubeconfig))
    term = Terminal(["kubectl", "exec", "-it", "term", "-n", ns, "--", "sh"], env, rows=40, cols=100)
    term.read_until(b"#")
    term.type(b"stty size; hostname; tty\r")
    out = term.read_until(b"/dev/pts/")
    assert b"40 100\r\n" in out and b"term\r\n" in out
    term.type(b"exit 4\r")
    assert term.wait() == 4


def test_kubectl_logs_follow_streams_until_the_container_ends(docker_server: Server, ns: str) -> None:
    create(docker_server, ns, pod("ticker", container("c", "for i in 1 2 3 4; do echo tick $i; sleep 0.5; done"),
                                  restartPolicy="Never"))
    wait_pod(docker_server, ns, "ticker", lambda p: phase(p) in ("Running", "Succeeded"), timeout=30)
    env = dict(os.environ, KUBECONFIG=str(docker_server.kubeconfig))
    proc = subprocess.run(["kubectl", "logs", "-f", "ticker", "-n", ns], capture_output=True, text=True, env=env,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "tick 1\ntick 2\ntick 3\ntick 4\n"


def test_kubectl_port_forward_reaches_a_server_on_the_pods_localhost(docker_server: Server, ns: str) -> None:
    web = container("c", "mkdir -p /www && echo local-only > /www/id && httpd -f -p 127.0.0.1:8080 -h /www",
                    readinessProbe={"exec": {"command": ["wget", "-q", "-O", "-", "http://127.0.0.1:8080/id"]},
                                    "periodSeconds": 1})
    create(docker_server, ns, pod("local", web))
    _running(docker_server, ns, "local")
    local = free_port()
    with port_forward(docker_server, ns, "pod/local", f"{local}:8080"):
        data = http_get(local)
    assert data.startswith(b"HTTP/1.") and b" 200 " in data.split(b"\r\n", 1)[0]
    assert data.endswith(b"local-only\n")


def test_service_account_token_volume_is_mounted_and_authenticates(docker_server: Server, ns: str) -> None:
    create(docker_server, ns, pod("sa", container("c", "sleep 3600")))
    _running(docker_server, ns, "sa")
    listing = docker_server.kubectl("exec", "sa", "-n", ns, "--", "ls", TOKEN_DIR).stdout.split()
    assert listing == ["ca.crt", "namespace", "token"]
    assert docker_server.kubectl("exec", "sa", "-n", ns, "--", "cat", f"{TOKEN_DIR}/namespace").stdout == ns
    token = docker_server.kubectl("exec", "sa", "-n", ns, "--", "cat", f"{TOKEN_DIR}/token").stdout
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["kubernetes.io"]["pod"]["name"] == "sa"
    who = json.loads(docker_server.kubectl("--token", token, "auth", "whoami", "-o", "json").stdout)
    assert who["status"]["userInfo"]["username"] == f"system:serviceaccount:{ns}:default"


def test_active_deadline_fails_the_pod(docker_server: Server, ns: str) -> None:
    create(docker_server, ns, pod("deadline", container("c", "sleep 3600"), activeDeadlineSeconds=3))
    p = wait_pod(docker_server, ns, "deadline", lambda p: phase(p) == "Failed", timeout=60)
    assert p["status"]["reason"] == "DeadlineExceeded"
    assert p["status"]["message"] == "Pod was active on the node longer than the specified deadline"
    assert "terminated" in cstatus(p)["state"]
    assert ("Normal", "DeadlineExceeded", "Pod was active on the node longer than the specified deadline") in \
        _events(docker_server, ns, "deadline")


def test_exec_reads_stdin_and_reports_the_asked_command_on_failure(docker_server: Server, ns: str) -> None:
    from kubernetes import client, config
    from kubernetes.stream import stream

    create(docker_server, ns, pod("box", container("c", "sleep 3600")))
    _running(docker_server, ns, "box")
    assert docker_server.kubectl("exec", "-i", "box", "-n", ns, "--", "cat", input="piped in\n").stdout == "piped in\n"
    api = config.new_client_from_config(str(docker_server.kubeconfig))
    resp = stream(client.CoreV1Api(api).connect_get_namespaced_pod_exec, "box", ns, command=["sh", "-c", "exit 5"],
                  stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
    resp.run_forever(timeout=10)
    status = json.loads(resp.read_channel(3))
    api.close()
    assert status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "5"}]
    assert status["message"] == ("command terminated with non-zero exit code: error executing command "
                                 "[sh -c exit 5], exit code 5")


def test_kubectl_attach_it_drives_a_shell_on_the_containers_terminal(docker_server: Server, ns: str) -> None:
    create(docker_server, ns, pod("shell", container("c", "exec sh", stdin=True, tty=True), restartPolicy="Never"))
    _running(docker_server, ns, "shell")
    env = dict(os.environ, KUBECONFIG=str(docker_server.kubeconfig))
    term = Terminal(["kubectl", "attach", "-it", "shell", "-n", ns], env, rows=40, cols=100)
    term.read_until(b"try pressing enter.")
    # kubectl attach first sends the size plus one row and column, then the size itself (so that a
    # re-attached screen redraws); the engine applies both in order, so ask until the second has landed
    for _ in range(10):
        term.type(b"\x15stty size\r")
        if b"\r\n40 100\r\n" in term.read_until(b"40 100\r\n", timeout=2):
            break
    assert b"\r\n40 100\r\n" in term.out
    term.resize(30, 90)
    term.read_until(b"\0", timeout=1)
    term.type(b"stty size\r")
    assert b"\r\n30 90\r\n" in term.read_until(b"30 90\r\n")
    term.type(b"exit\r")
    assert term.wait() == 0  # the shell exited: the container ends, and so does the attach
    wait_pod(docker_server, ns, "shell", lambda p: phase(p) == "Succeeded", timeout=30)
