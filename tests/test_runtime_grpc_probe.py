"""gRPC probes (grpc.health.v1.Health/Check) against a small health server run in a pod (process backend)."""

from __future__ import annotations

import socket
import sys

from conftest import Server
from runtime_helpers import create, cstatus, events_for, get_pod, node_name, phase, wait_for, wait_pod

GRPC_SERVER = """
import sys, time
from concurrent import futures
import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
servicer = health.HealthServicer()
servicer.set("", health_pb2.HealthCheckResponse.SERVING)
servicer.set("db", health_pb2.HealthCheckResponse.NOT_SERVING)
health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
server.add_insecure_port("0.0.0.0:" + sys.argv[1])
server.start()
print("serving", flush=True)
server.wait_for_termination()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


def _grpc_pod(name: str, node: str, port: int, probe: dict) -> dict:
    return {"metadata": {"name": name}, "spec": {"nodeName": node, "terminationGracePeriodSeconds": 1, "containers": [{
        "name": "c", "image": "python:3.11", "command": [sys.executable, "-c", GRPC_SERVER, str(port)],
        "readinessProbe": {"grpc": probe, "periodSeconds": 1}}]}}


def test_grpc_probe_reads_the_health_service(server: Server, namespace: str) -> None:
    port = _free_port()
    create(server, namespace, _grpc_pod("healthy", node_name(server), port, {"port": port}))
    p = wait_pod(server, namespace, "healthy", lambda p: cstatus(p).get("ready") is True, timeout=20)
    assert phase(p) == "Running"


def test_grpc_probe_reports_not_serving_and_unreachable(server: Server, namespace: str) -> None:
    port = _free_port()
    create(server, namespace, _grpc_pod("sick", node_name(server), port, {"port": port, "service": "db"}))
    expected = 'Readiness probe failed: service unhealthy (responded with "NOT_SERVING")'
    wait_for(lambda: expected in _unhealthy(server, namespace, "sick"),
             timeout=20, what="NOT_SERVING event")
    assert cstatus(get_pod(server, namespace, "sick"))["ready"] is False

    closed = _free_port()
    create(server, namespace, _grpc_pod("nobody", node_name(server), _free_port(), {"port": closed}))
    p = wait_pod(server, namespace, "nobody", lambda p: p["status"].get("podIP"), timeout=20)
    addr = f'{p["status"]["podIP"]}:{closed}'
    expected = (f'Readiness probe failed: timeout: failed to connect service "{addr}" within 1s: '
                "context deadline exceeded")
    wait_for(lambda: expected in _unhealthy(server, namespace, "nobody"),
             timeout=20, what="connect timeout event")


def _unhealthy(server: Server, namespace: str, name: str) -> list[str]:
    return [e["message"] for e in events_for(server, namespace, name) if e["reason"] == "Unhealthy"]
