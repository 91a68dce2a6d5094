"""`kubectl port-forward` (1.32): SPDY/3.1 tunnelled in a WebSocket by default, the plain SPDY upgrade as
its fallback, to pods of the process runtime (which share the host network, so pod ports are free host ports)."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor

from conftest import Server
from portforward_helpers import free_port, http_get, http_server_pod, port_forward


def test_kubectl_port_forward_serves_http_from_the_pod_over_the_websocket_tunnel(server: Server, namespace: str):
    pod_port, local = free_port(), free_port()
    http_server_pod(server, namespace, "web", pod_port)
    with port_forward(server, namespace, "pod/web", f"{local}:{pod_port}", verbosity=4) as pf:
        response = http_get(local)
        pf.wait_for(f"Handling connection for {local}")
        log = pf.text()
    assert response.startswith(b"HTTP/1.0 200 OK")
    assert response.endswith(f"web:{pod_port}\n".encode())
    assert "negotiated protocol: portforward.k8s.io" in log  # the WebSocket tunnel, not the fallback
    assert "lost connection" not in log


def test_concurrent_connections_through_one_port_forward(server: Server, namespace: str):
    pod_port, local = free_port(), free_port()
    http_server_pod(server, namespace, "web", pod_port)
    with port_forward(server, namespace, "pod/web", f"{local}:{pod_port}") as pf:
        with ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(lambda _: http_get(local), range(16)))
        assert pf.proc.poll() is None
    assert all(r.startswith(b"HTTP/1.0 200 OK") and r.endswith(f"web:{pod_port}\n".encode()) for r in responses)


def test_two_ports_forwarded_at_once(server: Server, namespace: str):
    first, second = free_port(), free_port()
    local1, local2 = free_port(), free_port()
    http_server_pod(server, namespace, "two", first, second)
    with port_forward(server, namespace, "pod/two", f"{local1}:{first}", f"{local2}:{second}"):
        one, two = http_get(local1), http_get(local2)
    assert one.endswith(f"two:{first}\n".encode())
    assert two.endswith(f"two:{second}\n".encode())


def test_forwarding_to_a_port_nothing_listens_on_reports_kubelets_error(server: Server, namespace: str):
    pod_port, closed, local = free_port(), free_port(), free_port()
    http_server_pod(server, namespace, "web", pod_port)
    with port_forward(server, namespace, "pod/web", f"{local}:{closed}") as pf:
        assert http_get(local) == b""  # the local connection is closed without data
        code = pf.finish()
    out = pf.text()
    # kubectl 1.32 prints the error stream's text, then closes the whole connection and exits
    assert f"an error occurred forwarding {local} -> {closed}: error forwarding port {closed} to pod" in out
    assert "connect: connection refused" in out
    assert "error: lost connection to pod" in out
    assert code == 1


def test_port_forward_to_a_service_maps_its_port_to_the_pods_target_port(server: Server, namespace: str):
    pod_port, local = free_port(), free_port()
    http_server_pod(server, namespace, "backend", pod_port, labels={"app": "backend"})
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
               "spec": {"selector": {"app": "backend"}, "ports": [{"port": 80, "targetPort": pod_port}]}}
    server.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(service))
    with port_forward(server, namespace, "svc/web", f"{local}:80") as pf:
        response = http_get(local)
    assert re.search(rf"Forwarding from 127.0.0.1:{local} -> {pod_port}", pf.text())
    assert response.endswith(f"backend:{pod_port}\n".encode())


def test_port_forward_to_a_deployment_picks_one_of_its_pods(server: Server, namespace: str):
    pod_port, local = free_port(), free_port()
    script = f"mkdir -p d && echo deployed > d/id && exec python3 -m http.server {pod_port} -d d"
    container = {"name": "web", "image": "busybox", "command": ["sh", "-c", script],
                 "readinessProbe": {"tcpSocket": {"port": pod_port}, "periodSeconds": 1}}
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app"},
                  "spec": {"selector": {"matchLabels": {"app": "app"}},
                           "template": {"metadata": {"labels": {"app": "app"}}, "spec": {"containers": [container]}}}}
    server.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(deployment))
    server.kubectl("rollout", "status", "deployment/app", "-n", namespace, "--timeout=60s")
    with port_forward(server, namespace, "deploy/app", f"{local}:{pod_port}"):
        response = http_get(local)
    assert response.endswith(b"deployed\n")


def test_kubectl_falls_back_to_the_plain_spdy_upgrade(server: Server, namespace: str):
    pod_port, local = free_port(), free_port()
    http_server_pod(server, namespace, "web", pod_port)
    with port_forward(server, namespace, "pod/web", f"{local}:{pod_port}", websockets=False, verbosity=6) as pf:
        with ThreadPoolExecutor(4) as pool:
            responses = list(pool.map(lambda _: http_get(local), range(4)))
        log = pf.text()
    assert re.search(r"POST https://\S+/pods/web/portforward 101 Switching Protocols", log)
    assert all(r.endswith(f"web:{pod_port}\n".encode()) for r in responses)
