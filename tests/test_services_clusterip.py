"""Service clusterIPs carry real TCP and UDP traffic from the host to ready endpoints, and the kube-dns
clusterIP answers DNS, on a server whose node proxy holds the host's service addresses (root,
``--claim-cluster-ips``; see runtime/proxy/cluster_ip.py). Without root these tests skip; in CI
(CI=true) a skip is a failure."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import socket
import threading
import urllib.request
from collections.abc import Iterator

import pytest
from conftest import Server, free_port, start_server, stop_server
from dnslib import DNSRecord
from runtime_helpers import busybox, create, node_name, wait_for, wait_pod
from test_services_nodeport_loadbalancer import answers, fetch, ready, start_two_pods

ANNOTATION = "kubefacade.io/cluster-ips"


def _skip_or_fail(why: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI must run the clusterIP tests: {why}")
    pytest.skip(why)


def wait_serving(server: Server) -> None:
    """Wait until the server's node holds the host's clusterIPs (its Node annotation says so)."""
    node = node_name(server)

    def state() -> str:
        _, _, body = server.request("GET", f"/api/v1/nodes/{node}")
        return (json.loads(body)["metadata"].get("annotations") or {}).get(ANNOTATION, "")

    try:
        wait_for(lambda: state().startswith("userspace"), timeout=30, what="the node to serve clusterIPs")
    except AssertionError:
        _skip_or_fail(f"this node does not serve clusterIPs: {state()}")


@pytest.fixture(scope="module")
def cluster_ips() -> Iterator[Server]:
    """A server of its own that claims the host's clusterIPs (one server per host holds them)."""
    if os.geteuid() != 0:
        _skip_or_fail("clusterIPs need root (addresses on kf-svc0)")
    s = start_server("--claim-cluster-ips")
    try:
        wait_serving(s)
        yield s
    finally:
        stop_server(s)


@pytest.fixture
def namespace(cluster_ips: Server) -> str:
    name = f"cip-{free_port()}"
    body = json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}).encode()
    code, _, out = cluster_ips.request("POST", "/api/v1/namespaces", body)
    assert code == 201, out
    return name


def service(name: str, **spec: object) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": "web"}, "ports": [{"name": "web", "port": 80, "targetPort": "http"}],
                     **spec}}


def test_cluster_ip_reaches_both_replicas_by_named_port_and_drops_a_deleted_pod(cluster_ips: Server,
                                                                                namespace: str) -> None:
    server, ns = cluster_ips, namespace
    start_two_pods(server, ns)
    ip = create(server, ns, service("web"), "services")["spec"]["clusterIP"]
    url = f"http://{ip}/"
    wait_for(lambda: answers(url) == {"web-a", "web-b"}, timeout=10, what="both replicas through the clusterIP")
    code, _, body = server.request("DELETE", f"/api/v1/namespaces/{ns}/pods/web-a")
    assert code == 200, body
    wait_for(lambda: answers(url) == {"web-b"}, timeout=8, what="only web-b after web-a is deleted")


def test_cluster_ip_session_affinity_client_ip_sticks_to_one_replica(cluster_ips: Server, namespace: str) -> None:
    server, ns = cluster_ips, namespace
    start_two_pods(server, ns)
    ip = create(server, ns, service("sticky", sessionAffinity="ClientIP"), "services")["spec"]["clusterIP"]
    wait_for(lambda: fetch(f"http://{ip}/"), timeout=10, what="an answer through the clusterIP")
    assert len(answers(f"http://{ip}/", 10)) == 1


def echo_pod(name: str, node: str, port: int) -> dict:
    """A pod answering each UDP datagram with its own name and the datagram."""
    code = (f"import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('0.0.0.0',{port}))\n"
            f"while True:\n d,a=s.recvfrom(2048)\n s.sendto(b'{name}:'+d,a)\n")
    pod = busybox(name, node, f"exec python3 -c \"{code}\"")
    pod["metadata"]["labels"] = {"app": "echo"}
    pod["spec"]["containers"][0]["ports"] = [{"name": "udp", "containerPort": port, "protocol": "UDP"}]
    return pod


def udp_ask(ip: str, port: int, data: bytes) -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(1)
        try:
            s.sendto(data, (ip, port))
            return s.recvfrom(2048)[0].decode()
        except OSError:
            return ""


def test_udp_through_a_cluster_ip_reaches_both_replicas(cluster_ips: Server, namespace: str) -> None:
    server, ns = cluster_ips, namespace
    node = node_name(server)
    for name in ("echo-a", "echo-b"):
        create(server, ns, echo_pod(name, node, free_port()))
    for name in ("echo-a", "echo-b"):
        wait_pod(server, ns, name, ready, timeout=20)
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "echo"},
           "spec": {"selector": {"app": "echo"},
                    "ports": [{"name": "echo", "port": 5353, "protocol": "UDP", "targetPort": "udp"}]}}
    ip = create(server, ns, svc, "services")["spec"]["clusterIP"]

    def seen() -> set[str]:
        return {udp_ask(ip, 5353, b"ping") for _ in range(8)} - {""}

    got = wait_for(lambda: (s := seen()) == {"echo-a:ping", "echo-b:ping"} and s, timeout=15,
                   what="answers of both echo pods through the clusterIP")
    assert got == {"echo-a:ping", "echo-b:ping"}
    # two clients keeping their source ports: one flow each, one per pod (round-robin)
    clients = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
    try:
        for c in clients:
            c.settimeout(1)
        wait_for(lambda: {_ask_on(c, ip) for c in clients} == {"echo-a:ping", "echo-b:ping"}, timeout=10,
                 what="one client's flow on each pod")
        code, _, body = server.request("DELETE", f"/api/v1/namespaces/{ns}/pods/echo-a")
        assert code == 200, body
        wait_for(lambda: {_ask_on(c, ip) for c in clients} == {"echo-b:ping"}, timeout=10,
                 what="both clients' flows to move to echo-b once echo-a is deleted")
    finally:
        for c in clients:
            c.close()


def _ask_on(sock: socket.socket, ip: str) -> str:
    try:
        sock.sendto(b"ping", (ip, 5353))
        return sock.recvfrom(2048)[0].decode()
    except OSError:
        return ""


def test_kube_dns_and_kubernetes_cluster_ips_answer(cluster_ips: Server) -> None:
    q = DNSRecord.question("kubernetes.default.svc.cluster.local", "A")
    for tcp in (False, True):
        reply = wait_for(lambda tcp=tcp: _dns(q, tcp), timeout=10, what="an answer from 10.96.0.10:53")
        assert [str(rr.rdata) for rr in reply.rr] == ["10.96.0.1"]
    ctx = cluster_ips.ssl_context()
    ctx.check_hostname = False  # the serving certificate names the host, not the clusterIP
    with urllib.request.urlopen("https://10.96.0.1/readyz", context=ctx, timeout=5) as r:
        assert (r.status, r.read()) == (200, b"ok")


def _dns(q: DNSRecord, tcp: bool) -> DNSRecord | None:
    try:
        return DNSRecord.parse(q.send("10.96.0.10", 53, tcp=tcp, timeout=2))
    except OSError:
        return None


def test_frontend_pod_fetches_from_backend_by_service_name(cluster_ips: Server, namespace: str) -> None:
    """The issue's end-to-end case, for pods in network namespaces of their own (root, runtime/pod_network.py):
    both backends listen on :8080, the frontend finds them by name through the cluster DNS."""
    server, ns = cluster_ips, namespace
    node = node_name(server)
    _, _, body = server.request("GET", f"/api/v1/nodes/{node}")
    isolation = (json.loads(body)["metadata"].get("annotations") or {}).get("kubefacade.io/pod-isolation", "")
    if isolation != "netns":
        pytest.skip(f"pods share the host network on this node (kubefacade.io/pod-isolation: {isolation!r})")
    for name in ("backend-a", "backend-b"):
        p = busybox(name, node, f"cd \"$(mktemp -d)\" && echo {name} > index.html && "
                                "exec python3 -m http.server 8080 --bind 0.0.0.0")
        p["metadata"]["labels"] = {"app": "backend"}
        p["spec"]["containers"][0]["readinessProbe"] = {"tcpSocket": {"port": 8080}, "periodSeconds": 1}
        create(server, ns, p)
    create(server, ns, busybox("frontend", node, "exec sleep 3600"))
    create(server, ns, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "backend"},
                        "spec": {"selector": {"app": "backend"}, "ports": [{"port": 80, "targetPort": 8080}]}},
           "services")
    for name in ("backend-a", "backend-b", "frontend"):
        wait_pod(server, ns, name, ready, timeout=30)
    fetch_code = ("import urllib.request as u\nprint(u.urlopen('http://backend/', timeout=3).read().decode().strip())")

    def fetched() -> set[str]:
        seen = set()
        for _ in range(6):
            out = server.kubectl("exec", "-n", ns, "frontend", "--", "python3", "-c", fetch_code, check=False)
            if out.returncode == 0:
                seen.add(out.stdout.strip())
        return seen

    wait_for(lambda: fetched() == {"backend-a", "backend-b"}, timeout=30,
             what="the frontend to reach both backends at http://backend/")
    out = server.kubectl("exec", "-n", ns, "frontend", "--", "getent", "hosts", "kubernetes.default").stdout
    assert out.split()[:2] == ["10.96.0.1", "kubernetes.default.svc.cluster.local"]
    if shutil.which("busybox"):  # busybox's nslookup applies the search path to dotless names only
        lookup = server.kubectl("exec", "-n", ns, "frontend", "--", "busybox", "nslookup",
                                "kubernetes.default.svc.cluster.local").stdout
        assert "Server:\t\t10.96.0.10" in lookup and "Address: 10.96.0.1" in lookup, lookup


def test_selectorless_service_uses_its_slices_and_internal_traffic_policy_local(cluster_ips: Server,
                                                                                namespace: str) -> None:
    """A Service without selector reaches the endpoints of a hand-written EndpointSlice; with
    internalTrafficPolicy Local, only the endpoints on this node count."""
    server, ns = cluster_ips, namespace
    node = node_name(server)
    _, _, body = server.request("GET", f"/api/v1/nodes/{node}")
    node_ip = next(a["address"] for a in json.loads(body)["status"]["addresses"] if a["type"] == "InternalIP")

    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"manual")

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("0.0.0.0", 0), Hello)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "manual"},
               "spec": {"ports": [{"name": "web", "port": 80}]}}
        ip = create(server, ns, svc, "services")["spec"]["clusterIP"]
        es = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
              "metadata": {"name": "manual-1", "labels": {"kubernetes.io/service-name": "manual"}},
              "addressType": "IPv4", "ports": [{"name": "web", "port": httpd.server_address[1]}],
              "endpoints": [{"addresses": [node_ip], "nodeName": "some-other-node"}]}
        create(server, ns, es, "endpointslices", "/apis/discovery.k8s.io/v1")
        wait_for(lambda: fetch(f"http://{ip}/") == "manual", timeout=10, what="the hand-written endpoint")
        patch = json.dumps({"spec": {"internalTrafficPolicy": "Local"}}).encode()
        code, _, out = server.request("PATCH", f"/api/v1/namespaces/{ns}/services/manual", patch,
                                      {"Content-Type": "application/merge-patch+json"})
        assert code == 200, out
        wait_for(lambda: fetch(f"http://{ip}/") == "", timeout=10, what="no endpoint once only this node's count")
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_without_root_the_node_says_cluster_ips_are_not_reachable(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from runtime.proxy.cluster_ip import NOT_ROOT, ClusterIPPlane

    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    plane = ClusterIPPlane("n1", iface="kf-never0")
    asyncio.run(plane.sync([service("web", clusterIP="10.96.5.5", clusterIPs=["10.96.5.5"])], {}))
    assert (plane.owner, plane.tcp, plane.state) == (False, {}, NOT_ROOT)
    assert "not reachable" in NOT_ROOT and "NodePort" in NOT_ROOT
