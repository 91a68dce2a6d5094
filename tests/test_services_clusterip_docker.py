"""Docker-backend pods get the cluster resolver (10.96.0.10, the namespace's search path, ndots:5) and
fetch from a Service by name through the cluster DNS and the Service's clusterIP.

Runs with the docker tests' engine (``.ci/dockerd.sh``): skips without one, fails in CI. The server
claims the host's clusterIPs (``--claim-cluster-ips``: one server per host holds them).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
from conftest import Server, free_port, start_server, stop_server
from docker_helpers import docker_unavailable, skip_or_fail
from runtime_helpers import create, wait_for, wait_pod
from test_runtime_docker import IMAGE, pod

ANNOTATION = "kubefacade.io/cluster-ips"


@pytest.fixture(scope="module")
def docker_server() -> Iterator[Server]:
    why = ("" if os.geteuid() == 0 else "clusterIPs need root") or docker_unavailable(IMAGE)
    if why:
        skip_or_fail(why, "the docker clusterIP test")
    s = start_server("--runtime", "docker", "--node-name", "docker-node", "--claim-cluster-ips")
    yield s
    stop_server(s)


@pytest.fixture
def ns(docker_server: Server) -> str:
    name = f"dcip-{free_port()}"
    body = json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}).encode()
    code, _, out = docker_server.request("POST", "/api/v1/namespaces", body)
    assert code == 201, out
    return name


def ready(p: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in (p.get("status") or {}).get("conditions") or [])


def test_docker_pod_resolves_and_reaches_a_service_by_name(docker_server: Server, ns: str) -> None:
    server = docker_server
    backend = pod("backend", {"name": "c", "image": IMAGE, "command": [
        "sh", "-c", "mkdir -p /www && echo from-backend > /www/index.html && exec httpd -f -p 8080 -h /www"],
        "ports": [{"name": "http", "containerPort": 8080}],
        "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1}})
    backend["metadata"]["labels"] = {"app": "backend"}
    create(server, ns, backend)
    create(server, ns, pod("frontend", {"name": "c", "image": IMAGE, "command": ["sleep", "3600"]}))
    create(server, ns, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "backend"},
                        "spec": {"selector": {"app": "backend"}, "ports": [{"port": 80, "targetPort": "http"}]}},
           "services")
    for name in ("backend", "frontend"):
        wait_pod(server, ns, name, ready, timeout=60)
    resolv = server.kubectl("exec", "-n", ns, "frontend", "--", "cat", "/etc/resolv.conf").stdout.splitlines()
    assert "nameserver 10.96.0.10" in resolv
    search = next(line.split()[1:] for line in resolv if line.startswith("search "))
    assert search[:3] == [f"{ns}.svc.cluster.local", "svc.cluster.local", "cluster.local"]
    assert any(line.startswith("options") and "ndots:5" in line.split() for line in resolv)
    wait_for(lambda: _state(server).startswith("userspace"), timeout=30, what="the node to serve clusterIPs")

    def fetched() -> str:  # nc, not wget: the static busybox image's wget crashes in getservbyname
        out = server.kubectl("exec", "-n", ns, "frontend", "--", "sh", "-c",
                             r"printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 2 backend 80", check=False)
        return out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""

    assert wait_for(fetched, timeout=20, what="the frontend to fetch http://backend/") == "from-backend"


def _state(server: Server) -> str:
    _, _, body = server.request("GET", "/api/v1/nodes/docker-node")
    return (json.loads(body)["metadata"].get("annotations") or {}).get(ANNOTATION, "")
