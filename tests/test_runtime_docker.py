"""Pods on the docker backend (``kubefacade serve --runtime docker``) against a real Docker engine.

Needs an engine (``DOCKER_HOST``) with a local ``busybox:1.36`` image (``.ci/dockerd.sh`` provides
both in CI). Without one these tests skip on a user's machine and fail in CI.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
from conftest import Server, start_server, stop_server
from docker_helpers import docker_unavailable, skip_or_fail
from runtime_helpers import create, cstatus, events_for, phase, wait_for, wait_pod

IMAGE = "busybox:1.36"


@pytest.fixture(scope="module")
def docker_server() -> Iterator[Server]:
    """A server whose node runs pods on Docker; skips without an engine, but fails in CI (CI=true)."""
    why = docker_unavailable(IMAGE)
    if why:
        skip_or_fail(why)
    s = start_server("--runtime", "docker", "--node-name", "docker-node")
    yield s
    stop_server(s)


@pytest.fixture()
def ns(docker_server: Server, request: pytest.FixtureRequest) -> str:
    name = "d-" + request.node.name.lower().replace("_", "-")[:40].strip("-") + "-" + os.urandom(2).hex()
    body = json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}).encode()
    code, _, out = docker_server.request("POST", "/api/v1/namespaces", body)
    assert code == 201, out
    return name


def pod(name: str, *containers: dict, **spec: object) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": "docker-node", "terminationGracePeriodSeconds": 1,
                     "containers": list(containers), **spec}}


def container(name: str, script: str, **fields: object) -> dict:
    return {"name": name, "image": IMAGE, "command": ["sh", "-c", script], **fields}


def test_busybox_pod_runs_in_its_own_network_and_logs_through_kubectl(docker_server: Server, ns: str) -> None:
    create(docker_server, ns, pod("hello", container("c", "echo hello from docker; hostname; sleep 3600")))
    p = wait_pod(docker_server, ns, "hello", lambda p: phase(p) == "Running", timeout=30)
    st = cstatus(p)
    assert st["containerID"].startswith("docker://") and st["ready"] is True
    assert st["image"] == "docker.io/library/busybox:1.36"
    assert p["status"]["podIP"] and p["status"]["podIP"] != "127.0.0.1"
    out = wait_for(lambda: (o := docker_server.kubectl("logs", "-n", ns, "hello").stdout)
                   and "hello from docker" in o and o, 10, "logs")
    assert out.splitlines() == ["hello from docker", "hello"]


def test_image_cmd_is_kept_when_only_args_are_given(docker_server: Server, ns: str) -> None:
    """args without command replace the image's CMD and keep its ENTRYPOINT (busybox: none)."""
    create(docker_server, ns, pod("args", {"name": "c", "image": IMAGE, "args": ["echo", "from", "args"]},
                                   restartPolicy="Never"))
    wait_pod(docker_server, ns, "args", lambda p: phase(p) == "Succeeded", timeout=30)
    assert docker_server.kubectl("logs", "-n", ns, "args").stdout == "from args\n"


def test_two_containers_share_localhost(docker_server: Server, ns: str) -> None:
    server_c = container("server", "mkdir -p /www && echo shared-localhost > /www/index.html && "
                                   "httpd -f -p 8080 -h /www")
    client_c = container("client", "until wget -q -O - http://127.0.0.1:8080/; do sleep 0.2; done; sleep 3600")
    create(docker_server, ns, pod("pair", server_c, client_c))
    wait_pod(docker_server, ns, "pair", lambda p: phase(p) == "Running", timeout=30)
    out = wait_for(lambda: "shared-localhost" in (o := docker_server.kubectl("logs", "-n", ns, "pair", "-c",
                                                                              "client").stdout) and o, 15, "fetch")
    assert out.strip() == "shared-localhost"


def _engine_enforces_memory_limits() -> None:
    """Skip (fail in CI) where the engine has no memory cgroup: it then drops limits with a warning."""
    import docker

    client = docker.from_env(timeout=5)
    try:
        supported = client.info().get("MemoryLimit", True)
    finally:
        client.close()
    if not supported:
        skip_or_fail("the Docker engine reports no memory limit support (no memory cgroup controller)")


def test_memory_limit_exceeded_reads_oomkilled(docker_server: Server, ns: str) -> None:
    _engine_enforces_memory_limits()
    hog = container("c", "head -c 200m /dev/zero | tail > /dev/null",
                    resources={"limits": {"memory": "32Mi", "cpu": "500m"}})
    create(docker_server, ns, pod("hog", hog, restartPolicy="Never"))
    p = wait_pod(docker_server, ns, "hog", lambda p: phase(p) == "Failed", timeout=30)
    term = cstatus(p)["state"]["terminated"]
    assert term["reason"] == "OOMKilled" and term["exitCode"] == 137


def test_missing_image_reads_err_image_pull_then_image_pull_back_off(docker_server: Server, ns: str) -> None:
    create(docker_server, ns, pod("missing", {"name": "c", "image": "example.invalid/nothing:1.0"}))
    p = wait_pod(docker_server, ns, "missing",
                 lambda p: (cstatus(p).get("state", {}).get("waiting") or {}).get("reason") == "ErrImagePull",
                 timeout=60)
    assert phase(p) == "Pending"
    assert cstatus(p)["state"]["waiting"]["message"]  # the engine's reason, as kubelet reports the CRI's
    wait_pod(docker_server, ns, "missing",
             lambda p: (cstatus(p).get("state", {}).get("waiting") or {}).get("reason") == "ImagePullBackOff",
             timeout=60)
    events = [(e["type"], e["reason"], e["message"]) for e in events_for(docker_server, ns, "missing")]
    assert ("Normal", "Pulling", 'Pulling image "example.invalid/nothing:1.0"') in events, events
    assert any(t == "Warning" and m.startswith('Failed to pull image "example.invalid/nothing:1.0": ')
               for t, _, m in events), events
    assert ("Warning", "Failed", "Error: ErrImagePull") in events, events
    assert ("Normal", "BackOff", 'Back-off pulling image "example.invalid/nothing:1.0"') in events, events
    assert ("Warning", "Failed", "Error: ImagePullBackOff") in events, events


def test_kubectl_exec_runs_inside_the_container(docker_server: Server, ns: str) -> None:
    create(docker_server, ns, pod("box", container("c", "echo inside > /tmp/marker; sleep 3600")))
    wait_pod(docker_server, ns, "box", lambda p: phase(p) == "Running", timeout=30)
    proc = docker_server.kubectl("exec", "box", "-n", ns, "--", "sh", "-c", "cat /tmp/marker; hostname; exit 3",
                                 check=False)
    assert proc.stdout.splitlines() == ["inside", "box"]
    assert proc.returncode == 3


def test_port_forward_reaches_a_server_in_the_pod_network(docker_server: Server, ns: str) -> None:
    from kubernetes import client, config
    from kubernetes.stream import portforward

    web = container("web", "mkdir -p /www && echo from-the-pod > /www/index.html && httpd -f -p 8080 -h /www")
    create(docker_server, ns, pod("web", web))
    wait_pod(docker_server, ns, "web", lambda p: phase(p) == "Running", timeout=30)
    api = config.new_client_from_config(str(docker_server.kubeconfig))

    def fetch() -> bytes:
        pf = portforward(client.CoreV1Api(api).connect_get_namespaced_pod_portforward, "web", ns, ports="8080")
        sock = pf.socket(8080)
        sock.setblocking(True)
        sock.sendall(b"GET /index.html HTTP/1.0\r\nHost: pod\r\n\r\n")
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
        sock.close()
        pf.close()
        return data

    data = wait_for(fetch, 10, "httpd in the pod to answer")
    api.close()
    assert data.startswith(b"HTTP/1.") and b" 200 " in data.split(b"\r\n", 1)[0]
    assert data.endswith(b"from-the-pod\n")
