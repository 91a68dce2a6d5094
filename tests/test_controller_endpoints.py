"""Endpoints and EndpointSlices follow Services' selectors and pod readiness, as kubectl shows them."""

from __future__ import annotations

from conftest import Server
from controller_helpers import api_get, api_send, set_pod_status, wait_default_sa, wait_for


def pod(name: str, labels: dict[str, str], port_name: str = "http", container_port: int = 8080, **spec: object) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": {"schedulerName": "manual", "containers": [{"name": "c", "image": "nginx",
                                     "ports": [{"name": port_name, "containerPort": container_port}]}], **spec}}


def service(name: str, selector: dict[str, str] | None, **spec: object) -> dict:
    body: dict = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": {"team": "a"}},
                  "spec": {"ports": [{"name": "web", "port": 80, "targetPort": "http"}], **spec}}
    if selector is not None:
        body["spec"]["selector"] = selector
    return body


def endpoints(s: Server, ns: str, name: str) -> dict | None:
    return api_get(s, f"/api/v1/namespaces/{ns}/endpoints/{name}")


def slices(s: Server, ns: str, svc: str) -> list[dict]:
    out = api_get(s, f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices?labelSelector=kubernetes.io/service-name={svc}")
    assert out is not None
    return out["items"]


def test_endpoints_split_ready_and_not_ready_pods_with_named_target_ports(server: Server, namespace: str) -> None:
    ns = namespace
    wait_default_sa(server, ns)
    api_send(server, "POST", f"/api/v1/namespaces/{ns}/pods", pod("a", {"app": "web"}))
    api_send(server, "POST", f"/api/v1/namespaces/{ns}/pods", pod("b", {"app": "web"}, container_port=9090))
    api_send(server, "POST", f"/api/v1/namespaces/{ns}/pods", pod("other", {"app": "db"}))
    set_pod_status(server, ns, "a", "Running", ready=True, pod_ip="10.1.0.1")
    set_pod_status(server, ns, "b", "Running", ready=False, pod_ip="10.1.0.2")
    set_pod_status(server, ns, "other", "Running", ready=True, pod_ip="10.1.0.3")
    api_send(server, "POST", f"/api/v1/namespaces/{ns}/services", service("web", {"app": "web"}))
    ep = wait_for(lambda: (lambda e: e if e and len(e.get("subsets") or []) == 2 else None)(endpoints(server, ns, "web")),
                  what="two subsets")
    assert ep["metadata"]["labels"] == {"team": "a"}
    by_port = {ss["ports"][0]["port"]: ss for ss in ep["subsets"]}
    assert by_port[8080]["ports"] == [{"name": "web", "port": 8080, "protocol": "TCP"}]
    assert [a["ip"] for a in by_port[8080]["addresses"]] == ["10.1.0.1"]
    assert by_port[8080]["addresses"][0]["targetRef"]["name"] == "a"
    assert [a["ip"] for a in by_port[9090]["notReadyAddresses"]] == ["10.1.0.2"]
    out = server.kubectl("get", "endpoints", "web", "-n", ns).stdout
    assert "10.1.0.1:8080" in out
    sl = wait_for(lambda: (lambda x: x if x and sum(len(s_.get("endpoints") or []) for s_ in x) == 2 else None)(
        slices(server, ns, "web")), what="slices")
    assert all(s_["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == "endpointslice-controller.k8s.io"
               for s_ in sl)
    assert all(s_["metadata"]["generateName"] == "web-" and s_["addressType"] == "IPv4" for s_ in sl)
    assert sl[0]["metadata"]["ownerReferences"][0]["kind"] == "Service"
    eps = {e["addresses"][0]: e for s_ in sl for e in s_["endpoints"]}
    assert eps["10.1.0.1"]["conditions"] == {"ready": True, "serving": True, "terminating": False}
    assert eps["10.1.0.2"]["conditions"] == {"ready": False, "serving": False, "terminating": False}
    # pod b becomes ready: it moves to addresses
    set_pod_status(server, ns, "b", "Running", ready=True, pod_ip="10.1.0.2")
    wait_for(lambda: all("notReadyAddresses" not in ss for ss in (endpoints(server, ns, "web") or {}).get("subsets", [])),
             what="b ready")


def test_publish_not_ready_addresses_and_headless_hostnames(server: Server, namespace: str) -> None:
    ns = namespace
    wait_default_sa(server, ns)
    api_send(server, "POST", f"/api/v1/namespaces/{ns}/pods",
             pod("db-0", {"app": "db"}, hostname="db-0", subdomain="db"))
    set_pod_status(server, ns, "db-0", "Running", ready=False, pod_ip="10.2.0.1")
    api_send(server, "POST", f"/api/v1/namespaces/{ns}/services",
             service("db", {"app": "db"}, clusterIP="None", publishNotReadyAddresses=True))
    ep = wait_for(lambda: (lambda e: e if e and e.get("subsets") else None)(endpoints(server, ns, "db")), what="subsets")
    assert ep["metadata"]["labels"]["service.kubernetes.io/headless"] == ""
    addr = ep["subsets"][0]["addresses"][0]
    assert (addr["ip"], addr["hostname"]) == ("10.2.0.1", "db-0")
    sl = wait_for(lambda: slices(server, ns, "db"), what="slice")
    assert sl[0]["endpoints"][0]["conditions"]["ready"] is True
    assert sl[0]["endpoints"][0]["hostname"] == "db-0"


def test_service_without_selector_is_left_alone_and_manual_endpoints_are_mirrored(server: Server, namespace: str) -> None:
    ns = namespace
    api_send(server, "POST", f"/api/v1/namespaces/{ns}/services", service("ext", None))
    api_send(server, "POST", f"/api/v1/namespaces/{ns}/endpoints", {
        "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "ext", "labels": {"x": "y"}},
        "subsets": [{"addresses": [{"ip": "192.0.2.10"}], "ports": [{"name": "web", "port": 8443}]}]})
    sl = wait_for(lambda: slices(server, ns, "ext"), what="mirrored slice")
    assert sl[0]["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == \
        "endpointslicemirroring-controller.k8s.io"
    assert sl[0]["metadata"]["labels"]["x"] == "y"
    assert sl[0]["endpoints"][0]["addresses"] == ["192.0.2.10"]
    assert sl[0]["ports"] == [{"name": "web", "port": 8443, "protocol": "TCP"}]
    # the endpoint controller did not touch the hand-written Endpoints
    ep = endpoints(server, ns, "ext")
    assert ep is not None and ep["subsets"][0]["addresses"] == [{"ip": "192.0.2.10"}]


def test_kubernetes_service_endpoints_are_left_to_the_api_server(server: Server) -> None:
    sl = slices(server, "default", "kubernetes")
    assert not [s_ for s_ in sl if s_["metadata"]["labels"].get("endpointslice.kubernetes.io/managed-by") in
                ("endpointslice-controller.k8s.io", "endpointslicemirroring-controller.k8s.io")]


def test_terminated_and_deleted_pods_leave_the_endpoints(server: Server, namespace: str) -> None:
    ns = namespace
    wait_default_sa(server, ns)
    api_send(server, "POST", f"/api/v1/namespaces/{ns}/services", service("svc", {"app": "x"}))
    for name, ip in (("p1", "10.3.0.1"), ("p2", "10.3.0.2")):
        api_send(server, "POST", f"/api/v1/namespaces/{ns}/pods", pod(name, {"app": "x"}))
        set_pod_status(server, ns, name, "Running", ready=True, pod_ip=ip)
    wait_for(lambda: len(((endpoints(server, ns, "svc") or {}).get("subsets") or [{}])[0].get("addresses") or []) == 2,
             what="two addresses")
    set_pod_status(server, ns, "p1", "Failed", ready=False, pod_ip="10.3.0.1")
    code, _, _ = server.request("DELETE", f"/api/v1/namespaces/{ns}/pods/p2")
    assert code == 200
    wait_for(lambda: not (endpoints(server, ns, "svc") or {"subsets": [1]}).get("subsets"), what="no subsets")
    # an empty service keeps one placeholder slice with no endpoints
    sl = wait_for(lambda: (lambda x: x if len(x) == 1 and not x[0].get("endpoints") else None)(slices(server, ns, "svc")),
                  what="placeholder")
    assert "ports" not in sl[0]
