"""The built-in Ingress controller: real HTTP(S) through the `kubefacade` IngressClass to real pods."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
import ssl
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Server, free_port, start_server, stop_server
from ingress_helpers import (
    backend_container,
    backend_pod,
    get,
    ingress,
    make_cert,
    name_of,
    rule,
    service,
    tls_get,
)
from runtime_helpers import create, node_name, wait_for, wait_pod

NET = "/apis/networking.k8s.io/v1"


def ready(p: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in (p.get("status") or {}).get("conditions") or [])


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """A server of its own: the Ingress listeners on free ports (the default 8080/8443 may be taken)."""
    http_port, https_port = free_port(), free_port()
    s = start_server("--ingress-http-port", str(http_port), "--ingress-https-port", str(https_port))
    s.http_port, s.https_port = http_port, https_port  # type: ignore[attr-defined]
    yield s
    stop_server(s)


@pytest.fixture(scope="module")
def web(server: Server) -> str:
    """Namespace with pods web-a and web-b behind Services svc-a and svc-b (ports 80 -> named "http")."""
    ns = "ingress-web-" + os.urandom(2).hex()
    server.kubectl("create", "namespace", ns)
    node = node_name(server)
    for suffix in ("a", "b"):
        create(server, ns, backend_pod(f"web-{suffix}", f"web-{suffix}", node, free_port()))
        create(server, ns, service(f"svc-{suffix}", f"web-{suffix}"), "services")
    for suffix in ("a", "b"):
        wait_pod(server, ns, f"web-{suffix}", ready, timeout=30)
    return ns


def http_port(server: Server) -> int:
    return server.http_port  # type: ignore[attr-defined]


def https_port(server: Server) -> int:
    return server.https_port  # type: ignore[attr-defined]


def add(server: Server, ns: str, obj: dict) -> dict:
    return create(server, ns, obj, "ingresses", NET)


def test_kubefacade_class_is_the_default_and_new_ingresses_get_it(server: Server, namespace: str) -> None:
    out = server.kubectl("get", "ingressclass", "kubefacade").stdout.splitlines()
    assert out[1].split()[:3] == ["kubefacade", "kubefacade.io/ingress-controller", "<none>"]
    cls = json.loads(server.kubectl("get", "ingressclass", "kubefacade", "-o", "json").stdout)
    assert cls["metadata"]["annotations"]["ingressclass.kubernetes.io/is-default-class"] == "true"
    made = add(server, namespace, ingress("plain", rule("plain.test", ("/", "Prefix", "svc"))))
    assert made["spec"]["ingressClassName"] == "kubefacade"
    legacy = ingress("legacy", rule("legacy.test", ("/", "Prefix", "svc")))
    legacy["metadata"]["annotations"] = {"kubernetes.io/ingress.class": "other"}
    assert "ingressClassName" not in add(server, namespace, legacy)["spec"]


def test_kubectl_create_ingress_with_class_gets_an_address(server: Server, namespace: str) -> None:
    out = server.kubectl("create", "ingress", "made", "--class=kubefacade", "--rule=made.test/*=svc-a:80",
                         "-n", namespace).stdout.strip()
    assert out == "ingress.networking.k8s.io/made created"

    def row() -> list[str]:
        lines = server.kubectl("get", "ingress", "made", "-n", namespace).stdout.splitlines()
        cells = lines[1].split()
        return cells if len(cells) == 6 else []

    cells = wait_for(row, timeout=10, what="an ADDRESS in kubectl get ingress")
    assert cells[:5] == ["made", "kubefacade", "made.test", "127.0.0.1", "80"]
    described = server.kubectl("describe", "ingress", "made", "-n", namespace).stdout
    assert "Address:          127.0.0.1" in described
    assert "Normal  Sync" in described and "Scheduled for sync" in described
    got = json.loads(server.kubectl("get", "ingress", "made", "-n", namespace, "-o", "json").stdout)
    assert got["status"]["loadBalancer"]["ingress"] == [{"ip": "127.0.0.1", "ports": [
        {"port": http_port(server), "protocol": "TCP"}, {"port": https_port(server), "protocol": "TCP"}]}]


def test_ingress_of_another_class_is_neither_served_nor_given_an_address(server: Server, namespace: str,
                                                                         web: str) -> None:
    other = ingress("other", rule("other-class.test", ("/", "Prefix", "svc-a")), ingressClassName="nginx")
    add(server, web, other)
    add(server, web, ingress("mine", rule("mine.test", ("/", "Prefix", "svc-a"))))
    port = http_port(server)
    wait_for(lambda: name_of(port, "mine.test") == "web-a", what="mine.test served")
    assert name_of(port, "other-class.test") == "404 default backend - 404"
    got = json.loads(server.kubectl("get", "ingress", "other", "-n", web, "-o", "json").stdout)
    assert got["status"] == {"loadBalancer": {}}


def test_host_rules_send_each_host_to_its_service(server: Server, web: str) -> None:
    add(server, web, ingress("hosts", rule("a.test", ("/", "Prefix", "svc-a")), rule("b.test", ("/", "Prefix", "svc-b")),
                             rule("*.wild.test", ("/", "Prefix", "svc-b"))))
    port = http_port(server)
    wait_for(lambda: name_of(port, "a.test") == "web-a", what="a.test -> web-a")
    assert name_of(port, "b.test") == "web-b"
    assert name_of(port, f"B.test:{port}") == "web-b"  # host compared without port, case-insensitively
    assert name_of(port, "x.wild.test") == "web-b"
    assert name_of(port, "x.y.wild.test") == "404 default backend - 404"  # one label only
    assert name_of(port, "wild.test") == "404 default backend - 404"
    assert name_of(port, "unknown.test") == "404 default backend - 404"
    status, body = get(port, "a.test", "/some/where?q=1")
    seen = json.loads(body)
    assert (status, seen["path"]) == (200, "/some/where?q=1")
    assert seen["headers"]["host"] == "a.test"
    assert seen["headers"]["x-forwarded-host"] == "a.test"
    assert seen["headers"]["x-forwarded-proto"] == "http"
    assert seen["headers"]["x-forwarded-for"] == "127.0.0.1"


def test_exact_beats_prefix_and_prefix_matches_whole_path_elements(server: Server, web: str) -> None:
    add(server, web, ingress("paths", rule("paths.test", ("/foo", "Prefix", "svc-a"), ("/foo/bar", "Exact", "svc-b"),
                                           ("/foo/bar/baz", "Prefix", "svc-b"), ("/x", "Exact", "svc-b"),
                                           ("/x", "Prefix", "svc-a"), ("/img", "ImplementationSpecific", "svc-b"))))
    port = http_port(server)
    wait_for(lambda: name_of(port, "paths.test", "/foo") == "web-a", what="paths.test served")
    assert name_of(port, "paths.test", "/foo/") == "web-a"
    assert name_of(port, "paths.test", "/foo/other") == "web-a"
    assert name_of(port, "paths.test", "/foo/bar") == "web-b"  # Exact, longer than /foo
    assert name_of(port, "paths.test", "/foo/bar/") == "web-a"  # Exact does not match a trailing slash
    assert name_of(port, "paths.test", "/foo/bar/baz/1") == "web-b"  # the longest prefix
    assert name_of(port, "paths.test", "/x") == "web-b"  # same length: Exact before Prefix
    assert name_of(port, "paths.test", "/x/y") == "web-a"
    assert name_of(port, "paths.test", "/img/1.png") == "web-b"
    assert name_of(port, "paths.test", "/foobar") == "404 default backend - 404"  # not an element prefix
    assert name_of(port, "paths.test", "/") == "404 default backend - 404"


def test_default_backend_takes_what_no_rule_matches(server: Server, web: str) -> None:
    port = http_port(server)
    add(server, web, ingress("host-default", rule("dflt.test", ("/only", "Exact", "svc-a")),
                             defaultBackend={"service": {"name": "svc-b", "port": {"number": 80}}}))
    wait_for(lambda: name_of(port, "dflt.test", "/only") == "web-a", what="dflt.test served")
    assert name_of(port, "dflt.test", "/else") == "web-b"  # the Ingress's own default for its host
    assert name_of(port, "nowhere.test") == "404 default backend - 404"
    add(server, web, ingress("catch-all", defaultBackend={"service": {"name": "svc-a", "port": {"number": 80}}}))
    wait_for(lambda: name_of(port, "nowhere.test") == "web-a", what="the catch-all default backend")
    server.kubectl("delete", "ingress", "catch-all", "-n", web)
    wait_for(lambda: name_of(port, "nowhere.test") == "404 default backend - 404", what="404 again")


def test_backend_without_ready_endpoints_answers_503(server: Server, web: str) -> None:
    create(server, web, service("svc-empty", "nothing-has-this-label"), "services")
    add(server, web, ingress("empty", rule("empty.test", ("/", "Prefix", "svc-empty")),
                             rule("missing.test", ("/", "Prefix", "svc-missing"))))
    port = http_port(server)
    wait_for(lambda: get(port, "empty.test")[0] == 503, what="503 for a Service without endpoints")
    assert get(port, "missing.test")[0] == 503


def test_both_replicas_of_a_deployment_answer_until_scaled_to_zero(server: Server, namespace: str) -> None:
    """Where pods share the host network the replicas share the port (SO_REUSEPORT) and one endpoint:
    they answer with Connection: close so that each request is a new connection the kernel spreads."""
    port = free_port()
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "rep"},
              "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "rep"}},
                       "template": {"metadata": {"labels": {"app": "rep"}},
                                    "spec": {"terminationGracePeriodSeconds": 1,
                                             "containers": [backend_container('"$POD_NAME"', port, "close")]}}}}
    create(server, namespace, deploy, "deployments", "/apis/apps/v1")
    create(server, namespace, service("rep", "rep"), "services")
    add(server, namespace, ingress("rep", rule("rep.test", ("/", "Prefix", "rep"))))
    ingress_port = http_port(server)

    def names() -> set[str]:
        seen = {name_of(ingress_port, "rep.test") for _ in range(24)}
        return seen if len(seen) == 2 and all(n.startswith("rep-") for n in seen) else set()

    wait_for(names, timeout=40, what="answers from both replicas")
    server.kubectl("scale", "deployment", "rep", "--replicas=0", "-n", namespace)
    wait_for(lambda: get(ingress_port, "rep.test")[0] == 503, timeout=30, what="503 once no replica is left")


def test_tls_host_is_served_with_its_secret_chosen_by_sni(server: Server, web: str) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="ingress-tls-"))
    crt, key = make_cert("secure.test", tmp)
    server.kubectl("create", "secret", "tls", "secure-tls", f"--cert={crt}", f"--key={key}", "-n", web)
    add(server, web, ingress("secure", rule("secure.test", ("/", "Prefix", "svc-a")),
                             tls=[{"hosts": ["secure.test"], "secretName": "secure-tls"}]))
    port = https_port(server)

    def served() -> tuple[int, bytes, str] | None:
        try:
            out = tls_get(port, "secure.test", str(crt))
        except OSError:  # ssl.SSLCertVerificationError until the Secret is loaded
            return None
        return out if out[0] == 200 else None

    status, body, cn = wait_for(served, timeout=10, what="secure.test over TLS with its certificate")
    seen = json.loads(body)
    assert (cn, seen["name"], seen["headers"]["x-forwarded-proto"]) == ("secure.test", "web-a", "https")
    status, body, cn = tls_get(port, "a.test", None)  # a host without TLS config: the default certificate
    assert (status, json.loads(body)["name"]) == (200, "web-a")
    assert cn == "Kubefacade Ingress Controller Fake Certificate"
    lines = server.kubectl("get", "ingress", "secure", "-n", web).stdout.splitlines()
    assert lines[1].split()[4] == "80," and lines[1].split()[5] == "443"


def test_large_streamed_post_reaches_the_backend_whole(server: Server, web: str) -> None:
    add(server, web, ingress("upload", rule("upload.test", ("/", "Prefix", "svc-b"))))
    port = http_port(server)
    wait_for(lambda: name_of(port, "upload.test") == "web-b", what="upload.test served")
    block = os.urandom(1 << 20)
    total = 64  # MiB, sent chunked: neither side knows the length in advance
    digest = hashlib.sha256()
    for _ in range(total):
        digest.update(block)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", "/upload", body=(block for _ in range(total)), headers={"Host": "upload.test"},
                 encode_chunked=True)
    r = conn.getresponse()
    got = json.loads(r.read())
    assert (r.status, got["count"], got["sha256"], got["chunked"]) == (200, total << 20, digest.hexdigest(), True)
    body = b"x" * 300_000  # with a Content-Length, on the same keep-alive connection
    conn.request("POST", "/again", body=body, headers={"Host": "upload.test"})
    r = conn.getresponse()
    got = json.loads(r.read())
    assert (r.status, got["count"], got["sha256"]) == (200, len(body), hashlib.sha256(body).hexdigest())
    conn.close()


def test_websocket_upgrade_passes_through(server: Server, web: str) -> None:
    from websockets.sync.client import connect

    ws_port = free_port()
    create(server, web, backend_pod("ws", "ws", node_name(server), ws_port, "ws"))
    create(server, web, service("svc-ws", "ws"), "services")
    add(server, web, ingress("ws", rule("ws.test", ("/", "Prefix", "svc-ws"))))
    wait_pod(server, web, "ws", ready, timeout=30)
    port = http_port(server)
    wait_for(lambda: get(port, "ws.test")[0] not in (0, 404, 503), what="ws.test served")
    sock = socket.create_connection(("127.0.0.1", port))
    with connect(f"ws://ws.test:{port}/echo", sock=sock, open_timeout=10) as ws:
        ws.send("hello")
        assert ws.recv(timeout=10) == "ws:hello"
        ws.send("again")
        assert ws.recv(timeout=10) == "ws:again"
    tls = ssl.create_default_context()
    tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE  # the default (self-signed) certificate
    sock = socket.create_connection(("127.0.0.1", https_port(server)))
    with connect(f"wss://ws.test:{https_port(server)}/", sock=sock, ssl=tls, open_timeout=10) as ws:
        ws.send("secure")
        assert ws.recv(timeout=10) == "ws:secure"


def test_streamed_response_reaches_the_client_chunk_by_chunk(server: Server, web: str) -> None:
    add(server, web, ingress("stream", rule("stream.test", ("/", "Prefix", "svc-a"))))
    port = http_port(server)
    wait_for(lambda: name_of(port, "stream.test") == "web-a", what="stream.test served")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    conn.request("GET", "/stream", headers={"Host": "stream.test"})
    r = conn.getresponse()
    assert (r.status, r.getheader("transfer-encoding")) == (200, "chunked")
    # the backend sends the rest only after /release: a proxy that buffered the body would hang here
    assert r.read1() == b"first\n"
    assert get(port, "stream.test", "/release")[0] == 200
    assert r.read() == b"second\n"
    conn.close()
