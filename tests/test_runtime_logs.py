"""`kubectl logs` and the Python client's log reads, through the API server to the node agent."""

from __future__ import annotations

import json
import re
import subprocess
import time

from conftest import Server
from runtime_helpers import busybox, create, node_name, phase, wait_for, wait_pod

SCRIPT = "for i in 1 2 3 4 5; do echo line$i; done; echo oops >&2; sleep 3600"


def _running(server: Server, namespace: str, name: str, script: str = SCRIPT, **spec: object) -> None:
    create(server, namespace, busybox(name, node_name(server), script, **spec))
    wait_pod(server, namespace, name, lambda p: phase(p) == "Running")
    wait_for(lambda: "oops" in server.kubectl("logs", name, "-n", namespace).stdout, what="logs")


def test_logs_tail_timestamps_limit_and_since(server: Server, namespace: str) -> None:
    _running(server, namespace, "talker")
    assert server.kubectl("logs", "talker", "-n", namespace).stdout == "line1\nline2\nline3\nline4\nline5\noops\n"
    assert server.kubectl("logs", "talker", "-n", namespace, "--tail=2").stdout == "line5\noops\n"
    stamped = server.kubectl("logs", "talker", "-n", namespace, "--timestamps", "--tail=1").stdout
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z oops\n", stamped), stamped
    assert server.kubectl("logs", "talker", "-n", namespace, "--limit-bytes=8").stdout == "line1\nli"
    assert server.kubectl("logs", "talker", "-n", namespace, "--since=1h").stdout.count("\n") == 6
    future = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    assert server.kubectl("logs", "talker", "-n", namespace, f"--since-time={future}").stdout == ""


def test_logs_of_several_containers(server: Server, namespace: str) -> None:
    pod = busybox("duo", node_name(server), "echo from-a; sleep 3600")
    pod["spec"]["containers"].append({"name": "b", "image": "busybox", "command": ["sh", "-c", "echo from-b; sleep 3600"]})
    create(server, namespace, pod)
    wait_pod(server, namespace, "duo", lambda p: phase(p) == "Running")
    wait_for(lambda: "from-b" in server.kubectl("logs", "duo", "-n", namespace, "-c", "b").stdout)
    assert server.kubectl("logs", "duo", "-n", namespace, "-c", "c").stdout == "from-a\n"
    both = server.kubectl("logs", "duo", "-n", namespace, "--all-containers").stdout
    assert "from-a\n" in both and "from-b\n" in both
    code, _, body = server.request("GET", f"/api/v1/namespaces/{namespace}/pods/duo/log")
    status = json.loads(body)
    assert (code, status["reason"]) == (400, "BadRequest")
    assert status["message"] == "a container name must be specified for pod duo, choose one of: [c b]"
    bad = server.kubectl("logs", "duo", "-n", namespace, "-c", "nope", check=False)
    assert bad.returncode != 0
    assert "container nope is not valid for pod duo" in bad.stderr


def test_log_options_are_validated(server: Server, namespace: str) -> None:
    _running(server, namespace, "valid")
    code, _, body = server.request("GET", f"/api/v1/namespaces/{namespace}/pods/valid/log?tailLines=-1")
    status = json.loads(body)
    assert (code, status["reason"]) == (422, "Invalid")
    assert status["message"] == 'PodLogOptions "valid" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0'
    code, _, body = server.request(
        "GET", f"/api/v1/namespaces/{namespace}/pods/valid/log?sinceSeconds=5&sinceTime=2024-01-01T00:00:00Z")
    assert code == 422 and "at most one of `sinceTime` or `sinceSeconds` may be specified" in json.loads(body)["message"]
    code, _, body = server.request("GET", f"/api/v1/namespaces/{namespace}/pods/valid/log?limitBytes=0")
    assert code == 422 and "limitBytes: Invalid value: 0: must be greater than 0" in json.loads(body)["message"]


def test_previous_logs_need_a_previous_container(server: Server, namespace: str) -> None:
    _running(server, namespace, "fresh")
    out = server.kubectl("logs", "fresh", "-n", namespace, "--previous", check=False)
    assert out.returncode != 0
    assert 'previous terminated container "c" in pod "fresh" not found' in out.stderr


def test_logs_of_a_waiting_container_say_why(server: Server, namespace: str) -> None:
    pod = busybox("waiting", node_name(server), "sleep 3600")
    pod["spec"]["containers"][0]["env"] = [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k"}}}]
    create(server, namespace, pod)
    wait_pod(server, namespace, "waiting", lambda p: "CreateContainerConfigError" in json.dumps(p.get("status")))
    out = server.kubectl("logs", "waiting", "-n", namespace, check=False)
    assert out.returncode != 0
    assert 'container "c" in pod "waiting" is waiting to start: CreateContainerConfigError' in out.stderr


def test_follow_streams_until_the_container_exits(server: Server, namespace: str) -> None:
    script = "echo start; sleep 1; echo middle; sleep 0.5; echo end"
    create(server, namespace, busybox("follow", node_name(server), script, restartPolicy="Never"))
    wait_pod(server, namespace, "follow", lambda p: phase(p) in ("Running", "Succeeded"))
    env = {"KUBECONFIG": str(server.kubeconfig), "PATH": "/usr/local/bin:/usr/bin:/bin"}
    proc = subprocess.Popen(["kubectl", "logs", "-f", "follow", "-n", namespace], stdout=subprocess.PIPE, text=True,
                            env=env)
    first = proc.stdout.readline() if proc.stdout else ""
    assert first == "start\n"
    rest, _ = proc.communicate(timeout=10)
    assert rest == "middle\nend\n"
    assert proc.returncode == 0


def test_python_client_reads_logs(server: Server, namespace: str, api) -> None:
    from kubernetes import client

    _running(server, namespace, "pyread")
    core = client.CoreV1Api(api)
    assert core.read_namespaced_pod_log("pyread", namespace, tail_lines=3) == "line4\nline5\noops\n"
    assert core.read_namespaced_pod_log("pyread", namespace, container="c", limit_bytes=5) == "line1"
