"""How the node serves NodePorts: the Node says which path (nftables DNAT as root, userspace
otherwise), and deleting the Service closes the port even though its pods keep running (no rule
or listener is left behind)."""

from __future__ import annotations

import json
import os
import shutil
import socket

from conftest import Server
from runtime_helpers import create, node_name, wait_for
from test_services_nodeport_loadbalancer import answers, service, start_two_pods

DNAT = "nftables DNAT (userspace for sessionAffinity ClientIP)"


def refused(port: int) -> bool:
    """Nothing answers on 127.0.0.1:port: the connection is refused or reset before any byte."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            return s.recv(100) == b""
    except OSError:
        return True


def test_node_names_its_nodeport_path_and_a_deleted_service_frees_its_port(server: Server, namespace: str) -> None:
    ns = namespace
    start_two_pods(server, ns)
    svc = create(server, ns, service("gone", "NodePort"), "services")
    port = svc["spec"]["ports"][0]["nodePort"]
    wait_for(lambda: answers(f"http://127.0.0.1:{port}/") == {"web-a", "web-b"}, timeout=10,
             what="both replicas through the NodePort")
    node = node_name(server)
    kernel = os.geteuid() == 0 and shutil.which("nft") and os.environ.get("KUBEFACADE_PROXY_MODE") != "userspace"
    expected = DNAT if kernel else "userspace"
    annotations = json.loads(server.request("GET", f"/api/v1/nodes/{node}")[2])["metadata"]["annotations"]
    assert annotations["kubefacade.io/nodeports"] == expected
    code, _, body = server.request("DELETE", f"/api/v1/namespaces/{ns}/services/gone")
    assert code == 200, body
    wait_for(lambda: refused(port), timeout=5, what=f"port {port} closed after the Service was deleted")
    assert answers(f"http://127.0.0.1:{port}/", 4) == set()
