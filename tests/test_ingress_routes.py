"""Which backend the Ingress controller picks for a request, and which Ingresses and class it serves."""

from __future__ import annotations

from facade.admission_ingress import default_class_name
from runtime.ingress import status_address
from runtime.ingress.controller import served
from runtime.ingress.routes import RouteTable, normalize_host


def ing(name: str, *rules: dict, ts: str = "2026-01-01T00:00:00Z", cls: str | None = None, **spec: object) -> dict:
    body: dict = {"rules": list(rules), **spec}
    if cls is not None:
        body["ingressClassName"] = cls
    return {"metadata": {"name": name, "namespace": "ns", "creationTimestamp": ts}, "spec": body}


def r(host: str, *paths: tuple[str, str, str]) -> dict:
    return {"host": host, "http": {"paths": [
        {"path": p, "pathType": t, "backend": {"service": {"name": s, "port": {"number": 80}}}} for p, t, s in paths]}}


def backend(s: str) -> dict:
    return {"service": {"name": s, "port": {"number": 80}}}


def svc(table: RouteTable, host: str, path: str = "/") -> str | None:
    ref = table.match(host, path)
    return ref.service if ref else None


def test_exact_host_beats_wildcard_beats_hostless_and_does_not_fall_through() -> None:
    table = RouteTable([ing("a", r("shop.example.com", ("/api", "Prefix", "exact")),
                            r("*.example.com", ("/", "Prefix", "wild")), r("", ("/", "Prefix", "any")))])
    assert svc(table, "shop.example.com", "/api/v1") == "exact"
    assert svc(table, "shop.example.com", "/other") is None  # the host's tier has no such path: 404
    assert svc(table, "blog.example.com", "/x") == "wild"
    assert svc(table, "a.blog.example.com", "/x") == "any"  # the wildcard covers one label only
    assert svc(table, "example.com") == "any"
    assert svc(table, "SHOP.example.com.:8080", "/api") == "exact"


def test_path_precedence_longest_then_exact_then_oldest_ingress() -> None:
    old = ing("old", r("h", ("/a", "Prefix", "old-a")), ts="2026-01-01T00:00:00Z")
    new = ing("new", r("h", ("/a", "Prefix", "new-a"), ("/a", "Exact", "new-exact"), ("/a/b/", "Prefix", "ab")),
              ts="2026-02-01T00:00:00Z")
    table = RouteTable([new, old])
    assert svc(table, "h", "/a") == "new-exact"
    assert svc(table, "h", "/a/") == "old-a"  # Exact /a does not match /a/; of the Prefixes the older wins
    assert svc(table, "h", "/a/b") == "ab"  # a trailing slash in a Prefix is ignored
    assert svc(table, "h", "/a/bc") == "old-a"
    assert svc(table, "h", "/ab") is None
    assert svc(table, "h", "/a/b?x=/c") == "ab"


def test_default_backends_per_host_then_controller_wide() -> None:
    table = RouteTable([ing("h", r("h", ("/x", "Exact", "x")), defaultBackend=backend("h-default"))])
    assert svc(table, "h", "/y") == "h-default"
    assert svc(table, "other") is None  # an Ingress with rules gives no controller-wide default
    table = RouteTable([ing("h", r("h", ("/x", "Exact", "x"))),
                        ing("all", defaultBackend=backend("catch-all"), rules=[])])
    assert svc(table, "h", "/y") == "catch-all"
    assert svc(table, "other") == "catch-all"


def test_backend_by_port_name_and_resource_backends() -> None:
    spec_rule = {"host": "h", "http": {"paths": [
        {"path": "/n", "pathType": "Prefix", "backend": {"service": {"name": "s", "port": {"name": "web"}}}},
        {"path": "/r", "pathType": "Prefix", "backend": {"resource": {"kind": "Bucket", "name": "b"}}}]}}
    table = RouteTable([ing("p", spec_rule)])
    ref = table.match("h", "/n/1")
    assert ref is not None and (ref.service, ref.port_name, ref.port_number) == ("s", "web", 0)
    ref = table.match("h", "/r")
    assert ref is not None and ref.service == ""  # nothing to proxy to: the controller answers 503


def test_normalize_host() -> None:
    assert normalize_host("Example.COM:8080") == "example.com"
    assert normalize_host("[::1]:80") == "[::1]"
    assert normalize_host("") == ""


def cls(name: str, controller: str, default: bool = False, ts: str = "2026-01-01T00:00:00Z") -> dict:
    md: dict = {"name": name, "creationTimestamp": ts}
    if default:
        md["annotations"] = {"ingressclass.kubernetes.io/is-default-class": "true"}
    return {"metadata": md, "spec": {"controller": controller}}


def test_served_ingresses_by_class_annotation_and_default() -> None:
    classes = [cls("kubefacade", "kubefacade.io/ingress-controller", default=True), cls("nginx", "k8s.io/ingress-nginx")]
    legacy = ing("legacy")
    legacy["metadata"]["annotations"] = {"kubernetes.io/ingress.class": "nginx"}
    mine = [ing("named", cls="kubefacade"), ing("unnamed")]
    got = served([*mine, ing("other", cls="nginx"), legacy], classes)
    assert [i["metadata"]["name"] for i in got] == ["named", "unnamed"]
    assert served([ing("unnamed")], [cls("kubefacade", "kubefacade.io/ingress-controller")]) == []


def test_default_class_is_the_newest_then_the_smaller_name() -> None:
    assert default_class_name([cls("a", "x/y"), cls("b", "x/y")]) is None
    older = cls("old", "x/y", True, "2026-01-01T00:00:00Z")
    newer = cls("zed", "x/y", True, "2026-01-02T00:00:00Z")
    assert default_class_name([older, newer]) == "zed"
    assert default_class_name([cls("b", "x/y", True), cls("a", "x/y", True), cls("ab", "x/y", True)]) == "a"


def test_status_address_is_the_listen_address_or_the_hosts_own() -> None:
    assert status_address("127.0.0.1") == "127.0.0.1"
    assert status_address("[::1]") == "::1"
    wildcard = status_address("0.0.0.0")
    assert wildcard and wildcard != "0.0.0.0"
