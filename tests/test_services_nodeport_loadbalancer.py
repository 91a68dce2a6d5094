"""NodePort and LoadBalancer Services carry real TCP traffic from the host to both ready pods, and a
pod that goes away stops receiving new connections within a few seconds."""

from __future__ import annotations

import json
import urllib.request

from conftest import Server, free_port
from runtime_helpers import busybox, create, node_name, wait_for, wait_pod


def web_pod(name: str, node: str, port: int) -> dict:
    """A pod serving its own name over HTTP; pods share the host network, so each needs its own port."""
    script = f"cd \"$(mktemp -d)\" && echo {name} > index.html && exec python3 -m http.server {port} --bind 0.0.0.0"
    pod = busybox(name, node, script)
    pod["metadata"]["labels"] = {"app": "web"}
    c = pod["spec"]["containers"][0]
    c["ports"] = [{"name": "http", "containerPort": port}]
    c["readinessProbe"] = {"tcpSocket": {"port": port}, "periodSeconds": 1}
    return pod


def fetch(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.read().decode().strip()
    except OSError:
        return ""


def ready(p: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in (p.get("status") or {}).get("conditions") or [])


def start_two_pods(server: Server, ns: str) -> None:
    node = node_name(server)
    for name in ("web-a", "web-b"):
        create(server, ns, web_pod(name, node, free_port()))
    for name in ("web-a", "web-b"):
        wait_pod(server, ns, name, ready, timeout=20)


def service(name: str, type_: str, **spec: object) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"type": type_, "selector": {"app": "web"},
                     "ports": [{"name": "web", "port": 80, "targetPort": "http"}], **spec}}


def answers(url: str, n: int = 8) -> set[str]:
    return {fetch(url) for _ in range(n)} - {""}


def test_nodeport_reaches_both_replicas_and_drops_a_deleted_pod(server: Server, namespace: str) -> None:
    ns = namespace
    start_two_pods(server, ns)
    svc = create(server, ns, service("web", "NodePort"), "services")
    url = f"http://127.0.0.1:{svc['spec']['ports'][0]['nodePort']}/"
    wait_for(lambda: answers(url) == {"web-a", "web-b"}, timeout=10, what="both replicas through the NodePort")
    code, _, body = server.request("DELETE", f"/api/v1/namespaces/{ns}/pods/web-a")
    assert code == 200, body
    wait_for(lambda: answers(url) == {"web-b"}, timeout=8, what="only web-b after web-a is deleted")


def test_nodeport_session_affinity_client_ip_sticks_to_one_replica(server: Server, namespace: str) -> None:
    ns = namespace
    start_two_pods(server, ns)
    svc = create(server, ns, service("sticky", "NodePort", sessionAffinity="ClientIP"), "services")
    url = f"http://127.0.0.1:{svc['spec']['ports'][0]['nodePort']}/"
    wait_for(lambda: fetch(url), timeout=10, what="an answer through the NodePort")
    assert len(answers(url, 10)) == 1


def test_loadbalancer_gets_a_loopback_ingress_ip_shown_by_kubectl_and_serving_both(server: Server,
                                                                                   namespace: str) -> None:
    ns = namespace
    start_two_pods(server, ns)
    port = free_port()  # other servers on this host get the same 127.0.1.x: keep ip:port unique
    lb = service("lb", "LoadBalancer")
    lb["spec"]["ports"][0]["port"] = port
    create(server, ns, lb, "services")

    def ingress() -> list[dict]:
        _, _, body = server.request("GET", f"/api/v1/namespaces/{ns}/services/lb")
        return ((json.loads(body).get("status") or {}).get("loadBalancer") or {}).get("ingress") or []

    ing = wait_for(ingress, what="status.loadBalancer.ingress")
    ip = ing[0]["ip"]
    assert ip.startswith("127.0.1.")
    assert ing[0]["ports"] == [{"port": port, "protocol": "TCP"}]
    out = server.kubectl("get", "svc", "lb", "-n", ns).stdout
    assert ip in out.splitlines()[1].split()
    wait_for(lambda: answers(f"http://{ip}:{port}/") == {"web-a", "web-b"}, timeout=10,
             what="both replicas through the load-balancer address")


def test_service_and_pod_proxy_subresources_reach_the_pods(server: Server, namespace: str) -> None:
    ns = namespace
    start_two_pods(server, ns)
    create(server, ns, service("px", "ClusterIP"), "services")

    def via_service() -> set[str]:
        seen = set()
        for _ in range(12):
            code, _, body = server.request("GET", f"/api/v1/namespaces/{ns}/services/px:web/proxy/index.html")
            if code == 200:
                seen.add(body.decode().strip())
        return seen

    wait_for(lambda: via_service() == {"web-a", "web-b"}, timeout=10, what="both replicas through services/proxy")
    pod = json.loads(server.request("GET", f"/api/v1/namespaces/{ns}/pods/web-a")[2])
    port = pod["spec"]["containers"][0]["ports"][0]["containerPort"]
    code, _, body = server.request("GET", f"/api/v1/namespaces/{ns}/pods/web-a:{port}/proxy/")
    assert (code, body.decode().strip()) == (200, "web-a")
    code, _, body = server.request("GET", f"/api/v1/namespaces/{ns}/services/nothing:web/proxy/")
    assert code == 404, body


def test_scaling_the_backend_changes_who_answers(server: Server, namespace: str) -> None:
    """A Deployment behind a NodePort: scaled 1 -> 2 the new replica answers too; scaled back, only one does."""
    ns = namespace
    node = node_name(server)
    _, _, body = server.request("GET", f"/api/v1/nodes/{node}")
    if (json.loads(body)["metadata"].get("annotations") or {}).get("kubefacade.io/pod-isolation") != "netns":
        import pytest

        pytest.skip("replicas of one Deployment listen on one port: that needs pods in network namespaces (root)")
    script = 'cd "$(mktemp -d)" && echo "$HOSTNAME" > index.html && exec python3 -m http.server 8080 --bind 0.0.0.0'
    template = busybox("x", node, script)
    template["spec"]["containers"][0]["readinessProbe"] = {"tcpSocket": {"port": 8080}, "periodSeconds": 1}
    template["spec"]["containers"][0]["ports"] = [{"name": "http", "containerPort": 8080}]
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
              "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                       "template": {"metadata": {"labels": {"app": "web"}}, "spec": template["spec"]}}}
    server.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(deploy))
    svc = create(server, ns, service("web", "NodePort"), "services")
    url = f"http://127.0.0.1:{svc['spec']['ports'][0]['nodePort']}/"
    wait_for(lambda: len(answers(url)) == 1, timeout=30, what="one replica answering")
    server.kubectl("scale", "-n", ns, "deployment/web", "--replicas=2")
    wait_for(lambda: len(answers(url, 12)) == 2, timeout=30, what="both replicas answering after scaling to 2")
    server.kubectl("scale", "-n", ns, "deployment/web", "--replicas=1")
    wait_for(lambda: len(answers(url, 12)) == 1, timeout=30, what="one replica answering after scaling back to 1")
