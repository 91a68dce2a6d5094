"""The records of the cluster zone, per the Kubernetes DNS-based service discovery specification
(kubernetes/dns docs/specification.md, schema 1.1.0 as CoreDNS serves it), read from informer caches.

- ``<svc>.<ns>.svc.<zone>``: A of the clusterIP; for a headless Service, A of each ready endpoint
  (every endpoint with ``publishNotReadyAddresses``) and NXDOMAIN when there is none; for an
  ExternalName Service, a CNAME.
- ``<hostname>.<svc>.<ns>.svc.<zone>``: A of the endpoint whose hostname (or, without one, its
  dashed IP, the "system-assigned identifier") matches, so StatefulSet pods are ``db-0.db.ns.svc``.
- ``_<port>._<proto>.<svc>.<ns>.svc.<zone>``: SRV per named port (per endpoint when headless),
  with the targets' A records in the additional section; unnamed ports have none.
- ``<a-b-c-d>.<ns>.pod.<zone>``: A of that address (CoreDNS's ``pods insecure``, kubeadm's default).
- PTR for clusterIPs (the Service), endpoint IPs (``<hostname>.<svc>.<ns>.svc``) and, beyond the
  spec, the IP of a pod that is the only one holding it (``<a-b-c-d>.<ns>.pod``).
- ``dns-version.<zone>`` TXT, and SOA/NS at the apex.
A name that exists without records of the asked type answers NOERROR with no records (NODATA);
a name that does not exist, NXDOMAIN; both carry the zone's SOA for negative caching. Names are
compared case-insensitively and answered with the asker's spelling. TTL is 30 s, what kubeadm's
Corefile sets (``ttl 30``); CoreDNS's own default would be 5.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dnslib import AAAA, CNAME, NS, PTR, QTYPE, RCODE, RR, SOA, SRV, TXT, A, DNSLabel

Obj = dict[str, Any]
TTL = 30
SCHEMA_VERSION = "1.1.0"
SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")


@dataclass
class Endpoint:
    hostname: str  # the endpoint's hostname, or its dashed IP when it has none
    ip: str
    ready: bool
    ports: dict[tuple[str, str], int]  # (port name, protocol) -> port


@dataclass
class Answer:
    """What the zone says about one question; ``chase`` is a CNAME target to resolve further."""

    rcode: int = RCODE.NOERROR
    answers: list[RR] = field(default_factory=list)
    additional: list[RR] = field(default_factory=list)
    authority: bool = False  # add the SOA (negative answers)
    chase: str = ""


def dashed(ip: str) -> str:
    return ip.replace(".", "-").replace(":", "-")


class ClusterZone:
    """Answers questions about ``zone`` from caches of Services, EndpointSlices and Pods ("ns/name" -> object).

    Indexes are rebuilt on the first question after ``invalidate`` (which informer handlers call), so a
    burst of changes costs one rebuild.
    """

    def __init__(self, services: Mapping[str, Obj], slices: Mapping[str, Obj], pods: Mapping[str, Obj],
                 zone: str, dns_ip: str) -> None:
        self.services, self.slices, self.pods = services, slices, pods
        self.zone = zone.strip(".").lower()
        self.zone_labels = self.zone.split(".")
        self.dns_ip = dns_ip
        self._dirty = True
        self._svc: dict[tuple[str, str], Obj] = {}
        self._eps: dict[tuple[str, str], list[Endpoint]] = {}
        self._namespaces: set[str] = set()
        self._ptr: dict[str, list[str]] = {}

    def invalidate(self, *_: Any) -> None:
        self._dirty = True

    # -- indexes ---------------------------------------------------------------------------------

    def _rebuild(self) -> None:
        self._svc = {}
        for svc in list(self.services.values()):
            md = svc.get("metadata") or {}
            self._svc[(md.get("namespace", "").lower(), md.get("name", "").lower())] = svc
        self._namespaces = {ns for ns, _ in self._svc}
        self._eps = {}
        for sl in list(self.slices.values()):
            md = sl.get("metadata") or {}
            name = (md.get("labels") or {}).get("kubernetes.io/service-name")
            if not name or sl.get("addressType", "IPv4") == "FQDN":
                continue
            ports = {((p.get("name") or "").lower(), p.get("protocol") or "TCP"): int(p["port"])
                     for p in sl.get("ports") or [] if p.get("port")}
            out = self._eps.setdefault((md.get("namespace", "").lower(), name.lower()), [])
            for ep in sl.get("endpoints") or []:
                ready = (ep.get("conditions") or {}).get("ready") is not False
                for ip in ep.get("addresses") or []:
                    out.append(Endpoint((ep.get("hostname") or dashed(ip)).lower(), ip, ready, ports))
        ptr: dict[str, list[str]] = {}
        for (ns, name), svc in self._svc.items():
            spec = svc.get("spec") or {}
            for ip in spec.get("clusterIPs") or [spec.get("clusterIP")]:
                if ip and ip != "None":
                    ptr.setdefault(ip, []).append(f"{name}.{ns}.svc.{self.zone}")
            if spec.get("clusterIP") == "None":
                for ep in self._ready((ns, name)):
                    ptr.setdefault(ep.ip, []).append(f"{ep.hostname}.{name}.{ns}.svc.{self.zone}")
        by_ip: dict[str, list[str]] = {}
        for pod in list(self.pods.values()):
            st, spec = pod.get("status") or {}, pod.get("spec") or {}
            if st.get("podIP") and not spec.get("hostNetwork") and st.get("phase") in ("Pending", "Running"):
                by_ip.setdefault(st["podIP"], []).append((pod.get("metadata") or {}).get("namespace", ""))
        for ip, namespaces in by_ip.items():
            if len(namespaces) == 1 and ip not in ptr:
                ptr[ip] = [f"{dashed(ip)}.{namespaces[0]}.pod.{self.zone}"]
        self._ptr = ptr
        self._dirty = False

    def _ready(self, key: tuple[str, str]) -> list[Endpoint]:
        svc = self._svc.get(key) or {}
        everyone = bool((svc.get("spec") or {}).get("publishNotReadyAddresses"))
        seen: set[tuple[str, str]] = set()
        out = []
        for ep in self._eps.get(key, []):
            if (ep.ready or everyone) and (ep.hostname, ep.ip) not in seen:
                seen.add((ep.hostname, ep.ip))
                out.append(ep)
        return out

    # -- questions -------------------------------------------------------------------------------

    def soa(self) -> RR:
        return RR(self.zone + ".", QTYPE.SOA, ttl=TTL,
                  rdata=SOA(f"ns.dns.{self.zone}.", f"hostmaster.{self.zone}.", (1, 7200, 1800, 86400, TTL)))

    def answer(self, qname: str, qtype: int) -> Answer | None:
        """The zone's answer, or None for a name it does not hold (to forward upstream)."""
        if self._dirty:
            self._rebuild()
        labels = [x.decode(errors="replace") if isinstance(x, bytes) else x for x in DNSLabel(qname).label]
        low = [x.lower() for x in labels]
        if low[-2:] == ["in-addr", "arpa"]:
            return self._reverse(qname, low[:-2], qtype)
        n = len(self.zone_labels)
        if low[-n:] != self.zone_labels:
            return None
        rel = low[:-n]
        if not rel:
            return self._apex(qname, qtype)
        if rel == ["dns-version"]:
            return self._only(qname, qtype, QTYPE.TXT, [TXT(SCHEMA_VERSION)])
        if rel == ["ns", "dns"]:
            return self._only(qname, qtype, QTYPE.A, [A(self.dns_ip)])
        if rel == ["dns"]:
            return Answer(authority=True)
        if rel[-1] == "svc":
            return self._svc_name(qname, rel[:-1], qtype)
        if rel[-1] == "pod":
            return self._pod_name(qname, rel[:-1], qtype)
        return Answer(RCODE.NXDOMAIN, authority=True)

    def _only(self, qname: str, qtype: int, rtype: int, rdatas: list[Any]) -> Answer:
        if qtype not in (rtype, QTYPE.ANY):
            return Answer(authority=True)
        return Answer(answers=[RR(qname, rtype, ttl=TTL, rdata=r) for r in rdatas])

    def _apex(self, qname: str, qtype: int) -> Answer:
        if qtype == QTYPE.SOA:
            return Answer(answers=[self.soa()])
        if qtype == QTYPE.NS:
            return Answer(answers=[RR(qname, QTYPE.NS, ttl=TTL, rdata=NS(f"ns.dns.{self.zone}."))],
                          additional=[RR(f"ns.dns.{self.zone}.", QTYPE.A, ttl=TTL, rdata=A(self.dns_ip))])
        return Answer(authority=True)

    def _pod_name(self, qname: str, parts: list[str], qtype: int) -> Answer:
        if len(parts) <= 1:
            return Answer(authority=True)
        if len(parts) != 2:
            return Answer(RCODE.NXDOMAIN, authority=True)
        try:
            ip = ipaddress.IPv4Address(parts[0].replace("-", "."))
        except ValueError:
            return Answer(RCODE.NXDOMAIN, authority=True)
        return self._only(qname, qtype, QTYPE.A, [A(str(ip))])

    def _svc_name(self, qname: str, parts: list[str], qtype: int) -> Answer:
        if not parts:
            return Answer(authority=True)
        if len(parts) == 1:
            return Answer(RCODE.NOERROR if parts[0] in self._namespaces else RCODE.NXDOMAIN, authority=True)
        key = (parts[-1], parts[-2])
        svc = self._svc.get(key)
        if svc is None:
            return Answer(RCODE.NXDOMAIN, authority=True)
        if len(parts) == 2:
            return self._service(qname, key, svc, qtype)
        if len(parts) == 3:
            if parts[0].startswith("_"):  # _tcp.<svc>.<ns>: an empty non-terminal above the SRV names
                return Answer(authority=True)
            eps = [ep for ep in self._ready(key) if ep.hostname == parts[0]]
            if not eps:
                return Answer(RCODE.NXDOMAIN, authority=True)
            return self._addresses(qname, qtype, [ep.ip for ep in eps])
        if len(parts) == 4 and parts[0].startswith("_") and parts[1].startswith("_"):
            return self._srv(qname, key, svc, qtype, parts[0][1:], parts[1][1:].upper())
        return Answer(RCODE.NXDOMAIN, authority=True)

    def _addresses(self, qname: str, qtype: int, ips: list[str]) -> Answer:
        ips = list(dict.fromkeys(ips))  # pods sharing the host's network share its address
        v4 = [A(ip) for ip in ips if ":" not in ip]
        v6 = [AAAA(ip) for ip in ips if ":" in ip]
        if qtype == QTYPE.AAAA:
            return self._only(qname, qtype, QTYPE.AAAA, v6) if v6 else Answer(authority=True)
        if qtype == QTYPE.ANY:
            return Answer(answers=[RR(qname, QTYPE.A, ttl=TTL, rdata=r) for r in v4] +
                          [RR(qname, QTYPE.AAAA, ttl=TTL, rdata=r) for r in v6])
        return self._only(qname, qtype, QTYPE.A, v4) if v4 else Answer(authority=True)

    def _service(self, qname: str, key: tuple[str, str], svc: Obj, qtype: int) -> Answer:
        spec = svc.get("spec") or {}
        if spec.get("type") == "ExternalName":
            target = str(spec.get("externalName") or "").rstrip(".") + "."
            rr = RR(qname, QTYPE.CNAME, ttl=TTL, rdata=CNAME(target))
            return Answer(answers=[rr], chase="" if qtype == QTYPE.CNAME else target)
        if qtype == QTYPE.SRV:
            return self._srv(qname, key, svc, qtype, "", "")
        if spec.get("clusterIP") == "None":
            eps = self._ready(key)
            if not eps:
                return Answer(RCODE.NXDOMAIN, authority=True)
            return self._addresses(qname, qtype, [ep.ip for ep in eps])
        return self._addresses(qname, qtype, [ip for ip in spec.get("clusterIPs") or [spec.get("clusterIP")] if ip])

    def _srv(self, qname: str, key: tuple[str, str], svc: Obj, qtype: int, port_name: str, proto: str) -> Answer:
        """SRV for the named port (every named port when ``port_name`` is empty)."""
        spec = svc.get("spec") or {}
        ports = [p for p in spec.get("ports") or [] if p.get("name")
                 and (not port_name or p["name"].lower() == port_name)
                 and (not proto or (p.get("protocol") or "TCP") == proto)]
        if not ports:
            return Answer(RCODE.NXDOMAIN, authority=True)
        if qtype not in (QTYPE.SRV, QTYPE.ANY):
            return Answer(authority=True)
        fqdn = f"{key[1]}.{key[0]}.svc.{self.zone}."
        records: list[tuple[int, str, str]] = []  # (port, target, ip)
        if spec.get("clusterIP") == "None":
            for ep in self._ready(key):
                for p in ports:
                    number = ep.ports.get((p["name"].lower(), p.get("protocol") or "TCP"))
                    if number:
                        records.append((number, f"{ep.hostname}.{fqdn}", ep.ip))
        else:
            ips = [ip for ip in spec.get("clusterIPs") or [spec.get("clusterIP")] if ip]
            records = [(int(p["port"]), fqdn, ip) for p in ports for ip in ips[:1]]
        if not records:
            return Answer(RCODE.NXDOMAIN, authority=True)
        weight = max(1, 100 // len(records))
        out = Answer()
        seen: set[tuple[str, str]] = set()
        for port, target, ip in records:
            out.answers.append(RR(qname, QTYPE.SRV, ttl=TTL, rdata=SRV(0, weight, port, target)))
            if (target, ip) not in seen and ":" not in ip:
                seen.add((target, ip))
                out.additional.append(RR(target, QTYPE.A, ttl=TTL, rdata=A(ip)))
        return out

    def _reverse(self, qname: str, labels: list[str], qtype: int) -> Answer | None:
        if len(labels) != 4:
            return None
        ip = ".".join(reversed(labels))
        try:
            addr = ipaddress.IPv4Address(ip)
        except ValueError:
            return None
        names = self._ptr.get(ip)
        if not names:
            return Answer(RCODE.NXDOMAIN, authority=True) if addr in SERVICE_CIDR else None
        return self._only(qname, qtype, QTYPE.PTR, [PTR(n + ".") for n in names])
