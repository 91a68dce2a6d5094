"""The cluster DNS server answers the Kubernetes DNS specification's records, asked with dnslib over UDP
and TCP at the server's ``--dns-port``, and forwards other names to the host's resolvers."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from conftest import Server, free_port, start_server, stop_server
from dnslib import QTYPE, RCODE, DNSRecord
from runtime_helpers import busybox, create, node_name, wait_for, wait_pod


@pytest.fixture(scope="module")
def dns_server() -> Iterator[tuple[Server, int]]:
    port = free_port()
    s = start_server("--dns-port", str(port))
    yield s, port
    stop_server(s)


@pytest.fixture
def ns(dns_server: tuple[Server, int]) -> str:
    server, _ = dns_server
    name = f"dns-{free_port()}"
    code, _, body = server.request("POST", "/api/v1/namespaces", json.dumps(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}).encode())
    assert code == 201, body
    return name


def ask(port: int, name: str, qtype: str = "A", tcp: bool = False) -> DNSRecord:
    reply = DNSRecord.question(name, qtype).send("127.0.0.1", port, tcp=tcp, timeout=5)
    return DNSRecord.parse(reply)


def values(reply: DNSRecord, qtype: str) -> list[str]:
    return sorted(str(rr.rdata) for rr in reply.rr if rr.rtype == getattr(QTYPE, qtype))


def svc(name: str, **spec: object) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


def until(port: int, name: str, qtype: str, pred: Callable[[DNSRecord], object], what: str) -> DNSRecord:
    def check() -> DNSRecord | None:
        reply = ask(port, name, qtype)
        return reply if pred(reply) else None
    return wait_for(check, timeout=10, what=what)


def test_kube_dns_service_is_bootstrapped_and_listed_by_cluster_info(dns_server: tuple[Server, int]) -> None:
    server, port = dns_server
    line = next(x for x in server.kubectl("get", "svc", "-n", "kube-system").stdout.splitlines()
                if x.startswith("kube-dns "))
    assert line.split()[1:5] == ["ClusterIP", "10.96.0.10", "<none>", "53/UDP,53/TCP"]
    info = server.kubectl("cluster-info").stdout.splitlines()
    assert info[1] == (f"CoreDNS is running at {server.url}/api/v1/namespaces/kube-system/services/"
                       "kube-dns:dns/proxy")
    eps = json.loads(server.kubectl("get", "endpoints", "kube-dns", "-n", "kube-system", "-o", "json").stdout)
    assert {p["port"] for p in eps["subsets"][0]["ports"]} == {port}
    taken = svc("taken", clusterIP="10.96.0.10", ports=[{"port": 53}])
    code, _, body = server.request("POST", "/api/v1/namespaces/default/services", json.dumps(taken).encode())
    assert code == 422 and "provided IP is already allocated" in json.loads(body)["message"], body


def test_service_a_srv_ptr_and_nxdomain_over_udp_and_tcp(dns_server: tuple[Server, int], ns: str) -> None:
    server, port = dns_server
    web = create(server, ns, svc("web", selector={"app": "web"}, ports=[{"name": "http", "port": 80, "protocol": "TCP"}]),
               "services")
    ip = web["spec"]["clusterIP"]
    fqdn = f"web.{ns}.svc.cluster.local"
    reply = until(port, fqdn, "A", lambda r: r.rr, "the web Service's A record")
    assert values(reply, "A") == [ip] and reply.rr[0].ttl == 30 and reply.header.aa == 1
    assert values(ask(port, fqdn.upper(), tcp=True), "A") == [ip]
    srv = ask(port, f"_http._tcp.{fqdn}", "SRV")
    assert [str(rr.rdata).split()[2:] for rr in srv.rr] == [["80", f"{fqdn}."]]
    assert [str(rr.rdata) for rr in srv.ar] == [ip]
    assert ask(port, f"_http._udp.{fqdn}", "SRV").header.rcode == RCODE.NXDOMAIN  # no such port
    ptr = ask(port, ".".join(reversed(ip.split("."))) + ".in-addr.arpa", "PTR")
    assert values(ptr, "PTR") == [f"{fqdn}."]
    aaaa = ask(port, fqdn, "AAAA")  # the name exists, without records of that type: NODATA
    assert (aaaa.header.rcode, aaaa.rr, aaaa.auth[0].rtype) == (RCODE.NOERROR, [], QTYPE.SOA)
    missing = ask(port, f"nothing.{ns}.svc.cluster.local")
    assert missing.header.rcode == RCODE.NXDOMAIN and missing.auth
    # what a pod's resolver tries for "kubernetes.default" with search "<ns>.svc.cluster.local svc.cluster.local"
    assert ask(port, f"kubernetes.default.{ns}.svc.cluster.local").header.rcode == RCODE.NXDOMAIN
    assert values(ask(port, "kubernetes.default.svc.cluster.local"), "A") == ["10.96.0.1"]
    assert values(ask(port, "dns-version.cluster.local", "TXT"), "TXT") == ['"1.1.0"']
    soa = ask(port, "cluster.local", "SOA")
    assert [str(rr.rdata).split()[:2] for rr in soa.rr] == [["ns.dns.cluster.local.", "hostmaster.cluster.local."]]
    assert values(ask(port, "ns.dns.cluster.local"), "A") == ["10.96.0.10"]
    assert values(ask(port, f"10-1-2-3.{ns}.pod.cluster.local"), "A") == ["10.1.2.3"]


def test_headless_selectorless_endpoints_hostnames_and_not_ready(dns_server: tuple[Server, int], ns: str) -> None:
    server, port = dns_server
    create(server, ns, svc("db", clusterIP="None", ports=[{"name": "pg", "port": 5432}]), "services")
    create(server, ns, {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "db"}, "subsets": [{
        "addresses": [{"ip": "10.244.7.1", "hostname": "db-0"}, {"ip": "10.244.7.2"}],
        "notReadyAddresses": [{"ip": "10.244.7.3", "hostname": "db-2"}],
        "ports": [{"name": "pg", "port": 5433}]}]}, "endpoints")
    fqdn = f"db.{ns}.svc.cluster.local"
    reply = until(port, fqdn, "A", lambda r: r.rr, "the headless Service's endpoints")
    assert values(reply, "A") == ["10.244.7.1", "10.244.7.2"]
    assert values(ask(port, f"db-0.{fqdn}"), "A") == ["10.244.7.1"]
    assert values(ask(port, f"10-244-7-2.{fqdn}"), "A") == ["10.244.7.2"]  # no hostname: the dashed IP
    assert ask(port, f"db-2.{fqdn}").header.rcode == RCODE.NXDOMAIN  # not ready
    srv = ask(port, f"_pg._tcp.{fqdn}", "SRV", tcp=True)
    assert sorted(str(rr.rdata).split()[2:] for rr in srv.rr) == [
        ["5433", f"10-244-7-2.{fqdn}."], ["5433", f"db-0.{fqdn}."]]
    assert values(ask(port, "1.7.244.10.in-addr.arpa", "PTR"), "PTR") == [f"db-0.{fqdn}."]
    patch = json.dumps({"spec": {"publishNotReadyAddresses": True}}).encode()
    code, _, body = server.request("PATCH", f"/api/v1/namespaces/{ns}/services/db", patch,
                                   {"Content-Type": "application/merge-patch+json"})
    assert code == 200, body
    until(port, f"db-2.{fqdn}", "A", lambda r: values(r, "A") == ["10.244.7.3"], "db-2 once not-ready is published")
    create(server, ns, svc("empty", clusterIP="None", ports=[{"port": 1}]), "services")
    until(port, f"empty.{ns}.svc.cluster.local", "A", lambda r: r.header.rcode == RCODE.NXDOMAIN,
          "NXDOMAIN for a headless Service without endpoints")


def test_statefulset_style_pods_resolve_by_hostname(dns_server: tuple[Server, int], ns: str) -> None:
    server, port = dns_server
    node = node_name(server)
    create(server, ns, svc("db", clusterIP="None", selector={"app": "db"}, ports=[{"name": "x", "port": 1}]),
           "services")
    for name in ("db-0", "db-1"):
        pod = busybox(name, node, "sleep 3600", hostname=name, subdomain="db")
        pod["metadata"]["labels"] = {"app": "db"}
        create(server, ns, pod)

    def ready_ip(p: dict) -> bool:
        st = p.get("status") or {}
        return bool(st.get("podIP")) and any(c["type"] == "Ready" and c["status"] == "True"
                                             for c in st.get("conditions") or [])

    ips = {n: wait_pod(server, ns, n, ready_ip, timeout=20)["status"]["podIP"] for n in ("db-0", "db-1")}
    fqdn = f"db.{ns}.svc.cluster.local"
    until(port, f"db-1.{fqdn}", "A", lambda r: values(r, "A") == [ips["db-1"]], "db-1's A record")
    assert values(ask(port, f"db-0.{fqdn}"), "A") == [ips["db-0"]]
    assert values(ask(port, fqdn), "A") == sorted(set(ips.values()))


def test_external_name_is_a_cname_followed_inside_the_zone(dns_server: tuple[Server, int], ns: str) -> None:
    server, port = dns_server
    create(server, ns, svc("ext", type="ExternalName", externalName=f"web.{ns}.svc.cluster.local"), "services")
    web = create(server, ns, svc("web", ports=[{"port": 80}]), "services")
    reply = until(port, f"ext.{ns}.svc.cluster.local", "A", lambda r: len(r.rr) == 2, "the ExternalName CNAME")
    assert [(QTYPE[rr.rtype], str(rr.rdata)) for rr in reply.rr] == [
        ("CNAME", f"web.{ns}.svc.cluster.local."), ("A", web["spec"]["clusterIP"])]
    cname = ask(port, f"ext.{ns}.svc.cluster.local", "CNAME")
    assert values(cname, "CNAME") == [f"web.{ns}.svc.cluster.local."]


def test_names_outside_the_cluster_go_to_the_hosts_resolver(dns_server: tuple[Server, int]) -> None:
    _, port = dns_server
    with open("/etc/resolv.conf") as f:
        upstream = next((line.split()[1] for line in f if line.startswith("nameserver")), "")
    if not upstream:
        pytest.skip("this host has no nameserver in /etc/resolv.conf")
    try:
        direct = DNSRecord.parse(DNSRecord.question("example.com", "A").send(upstream, 53, timeout=3))
    except OSError as e:
        pytest.skip(f"the host's resolver {upstream} does not answer here: {e}")
    ours = ask(port, "example.com")
    assert (ours.header.rcode, ours.header.aa) == (direct.header.rcode, 0)
    assert bool(values(ours, "A")) == bool(values(direct, "A"))


def test_large_answers_are_truncated_over_udp_and_whole_over_tcp(dns_server: tuple[Server, int], ns: str) -> None:
    server, port = dns_server
    create(server, ns, svc("many", clusterIP="None", ports=[{"name": "p", "port": 1}]), "services")
    ips = [f"10.244.9.{i}" for i in range(1, 61)]
    create(server, ns, {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "many"}, "subsets": [{
        "addresses": [{"ip": ip} for ip in ips], "ports": [{"name": "p", "port": 1}]}]}, "endpoints")
    fqdn = f"many.{ns}.svc.cluster.local"
    udp = until(port, fqdn, "A", lambda r: r.header.tc == 1, "a truncated UDP answer")
    assert (udp.rr, str(udp.q.qname)) == ([], f"{fqdn}.")
    assert values(ask(port, fqdn, tcp=True), "A") == sorted(ips)
