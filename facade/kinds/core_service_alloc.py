"""ClusterIP and NodePort allocation for Services, as kube-apiserver's service REST storage does it.

Allocation is derived from the store (every Service's clusterIPs and nodePorts) plus a small table of
reservations made by creates that are still in flight. The server is one asyncio loop, so choosing a
free value and reserving it happen with no ``await`` in between: two racing creates can never get
the same IP or port. A reservation is dropped as soon as the store shows the service, or when a
create fails (``after_delete``), or after a short expiry as a last resort.
"""

from __future__ import annotations

import ipaddress
import random
import time
from dataclasses import dataclass, field
from typing import Any

from facade import errors
from facade.errors import FieldError, invalid
from facade.kinds.core_fields import as_dict, as_list, idx
from facade.kinds.group_support import go_string_slice, invalid_raw

Obj = dict[str, Any]

SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")
NODE_PORT_RANGE = (30000, 32767)
_RESERVATION_TTL = 30.0


def int_field(v: Any) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


def is_headless(svc: Obj) -> bool:
    return as_dict(svc.get("spec")).get("clusterIP") == "None"


def externally_accessible(spec: Obj) -> bool:
    t = spec.get("type")
    return t in ("LoadBalancer", "NodePort") or (t == "ClusterIP" and bool(spec.get("externalIPs")))


def needs_cluster_ip(spec: Obj) -> bool:
    return spec.get("type", "ClusterIP") != "ExternalName"


def needs_node_ports(spec: Obj) -> bool:
    t = spec.get("type")
    return t == "NodePort" or (t == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts", True) is not False)


def needs_health_check(spec: Obj) -> bool:
    return spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"


# -- allocation -------------------------------------------------------------------------------------


@dataclass
class _Reservations:
    """Values handed out to creates/updates that the store may not show yet: value -> (owner, when)."""

    ips: dict[str, tuple[str, float]] = field(default_factory=dict)
    ports: dict[int, tuple[str, float]] = field(default_factory=dict)

    def prune(self, used_ips: set[str], used_ports: set[int]) -> None:
        """Forget reservations the store now shows (or that are too old to still be in flight)."""
        now = time.monotonic()
        for table, used in ((self.ips, used_ips), (self.ports, used_ports)):
            for value, (_owner, when) in list(table.items()):
                if value in used or now - when > _RESERVATION_TTL:
                    del table[value]

    def release(self, owner: str) -> None:
        for table in (self.ips, self.ports):
            for value, (o, _when) in list(table.items()):
                if o == owner:
                    del table[value]


def _owner(svc: Obj) -> str:
    meta = as_dict(svc.get("metadata"))
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def _used(services: list[Obj], exclude: str) -> tuple[set[str], set[int]]:
    ips: set[str] = set()
    ports: set[int] = set()
    for s in services:
        if _owner(s) == exclude:
            continue
        spec = as_dict(s.get("spec"))
        for ip in as_list(spec.get("clusterIPs")) or ([spec["clusterIP"]] if spec.get("clusterIP") else []):
            if ip and ip != "None":
                ips.add(str(ip))
        for p in as_list(spec.get("ports")):
            if int_field(as_dict(p).get("nodePort")):
                ports.add(as_dict(p)["nodePort"])
        if int_field(spec.get("healthCheckNodePort")):
            ports.add(spec["healthCheckNodePort"])
    return ips, ports


class ServiceAllocator:
    """ClusterIPs from SERVICE_CIDR and node ports from NODE_PORT_RANGE, for one store."""

    def __init__(self) -> None:
        self.reserved = _Reservations()

    def _random_ip(self, taken: set[str]) -> str:
        net = SERVICE_CIDR
        size = net.num_addresses
        # Upstream prefers the upper part of the range for dynamic IPs, leaving the lower part for static ones.
        lo = max(2, min(size // 16, 256))
        for _ in range(64):
            candidate = str(net.network_address + random.randrange(lo, size - 1))
            if candidate not in taken:
                return candidate
        for offset in range(1, size - 1):
            candidate = str(net.network_address + offset)
            if candidate not in taken:
                return candidate
        raise errors.internal("failed to allocate a serviceIP: range is full")

    def _random_port(self, taken: set[int]) -> int:
        lo, hi = NODE_PORT_RANGE
        for _ in range(64):
            candidate = random.randint(lo, hi)
            if candidate not in taken:
                return candidate
        for candidate in range(lo, hi + 1):
            if candidate not in taken:
                return candidate
        raise errors.internal("failed to allocate a nodePort: range is full")

    def allocate(self, svc: Obj, old: Obj | None, services: list[Obj]) -> None:
        """Fill in clusterIP(s), IP families and node ports; raise 422 for unavailable requested values.

        Runs with no await: ``services`` was read before, reservations cover creates still in flight.
        """
        owner = _owner(svc)
        used_ips, used_ports = _used(services, owner)
        self.reserved.prune(used_ips, used_ports)
        taken_ips = used_ips | {ip for ip, (o, _) in self.reserved.ips.items() if o != owner}
        taken_ports = used_ports | {p for p, (o, _) in self.reserved.ports.items() if o != owner}
        spec = svc.setdefault("spec", {})
        name = as_dict(svc.get("metadata")).get("name", "")
        now = time.monotonic()
        new_ips: list[str] = []
        new_ports: list[int] = []
        if needs_cluster_ip(spec):
            self._init_families(spec)
            old_ips = as_list(as_dict((old or {}).get("spec")).get("clusterIPs"))
            cip = spec.get("clusterIP") or ""
            if not cip:
                cip = self._random_ip(taken_ips)
                spec["clusterIP"] = cip
                spec["clusterIPs"] = [cip]
                new_ips.append(cip)
            elif cip != "None" and cip not in old_ips:
                ips = as_list(spec.get("clusterIPs")) or [cip]
                try:
                    ip = ipaddress.ip_address(cip)
                except ValueError:
                    raise errors.invalid_error("Service", "", name, [invalid(
                        "spec.clusterIPs[0]", cip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")]) from None
                if ip not in SERVICE_CIDR or ip in (SERVICE_CIDR.network_address, SERVICE_CIDR.broadcast_address):
                    raise errors.invalid_error("Service", "", name, [invalid_raw(
                        "spec.clusterIPs", go_string_slice(ips),
                        f"failed to allocate IP {cip}: the provided IP ({cip}) is not in the valid range. "
                        f"The range of valid IPs is {SERVICE_CIDR}")])
                if cip in taken_ips:
                    raise errors.invalid_error("Service", "", name, [invalid_raw(
                        "spec.clusterIPs", go_string_slice(ips), f"failed to allocate IP {cip}: provided IP is already allocated")])
                spec["clusterIPs"] = ips
                new_ips.append(cip)
        if needs_node_ports(spec):
            old_ports = {
                int_field(as_dict(p).get("nodePort"))
                for p in as_list(as_dict((old or {}).get("spec")).get("ports"))
            }
            ports = as_list(spec.get("ports"))
            for i, p in enumerate(ports):
                if not isinstance(p, dict):
                    continue
                np = int_field(p.get("nodePort"))
                if np:
                    if np in old_ports or np in new_ports:
                        continue
                    lo, hi = NODE_PORT_RANGE
                    if not lo <= np <= hi:
                        raise errors.invalid_error("Service", "", name, [invalid(
                            f"spec.ports[{i}].nodePort", np,
                            f"provided port is not in the valid range. The range of valid ports is {lo}-{hi}")])
                    if np in taken_ports:
                        raise errors.invalid_error("Service", "", name, [invalid(
                            f"spec.ports[{i}].nodePort", np, "provided port is already allocated")])
                    new_ports.append(np)
            for p in ports:
                if not isinstance(p, dict) or int_field(p.get("nodePort")):
                    continue
                # the same port number under another protocol shares its node port, as upstream does
                same = next((int_field(as_dict(q).get("nodePort")) for q in ports
                             if as_dict(q).get("port") == p.get("port") and int_field(as_dict(q).get("nodePort"))), 0)
                np = same or self._random_port(taken_ports | set(new_ports) | old_ports)
                p["nodePort"] = np
                if not same:
                    new_ports.append(np)
        if needs_health_check(spec):
            hc = int_field(spec.get("healthCheckNodePort"))
            old_hc = int_field(as_dict((old or {}).get("spec")).get("healthCheckNodePort"))
            if not hc:
                hc = self._random_port(taken_ports | set(new_ports))
                spec["healthCheckNodePort"] = hc
                new_ports.append(hc)
            elif hc != old_hc:
                if hc in taken_ports or hc in new_ports:
                    raise errors.invalid_error("Service", "", name, [invalid(
                        "spec.healthCheckNodePort", hc, "provided port is already allocated")])
                new_ports.append(hc)
        for ip in new_ips:
            self.reserved.ips[ip] = (owner, now)
        for np in new_ports:
            self.reserved.ports[np] = (owner, now)

    def _init_families(self, spec: Obj) -> None:
        """initIPFamilyFields for a single-stack IPv4 cluster."""
        headless_no_selector = spec.get("clusterIP") == "None" and not spec.get("selector")
        if headless_no_selector:
            if spec.get("ipFamilyPolicy") is None:
                spec["ipFamilyPolicy"] = "RequireDualStack"
            if not spec.get("ipFamilies"):
                spec["ipFamilies"] = ["IPv4"]
            if spec["ipFamilyPolicy"] != "SingleStack" and len(spec["ipFamilies"]) == 1:
                spec["ipFamilies"].append("IPv6" if spec["ipFamilies"][0] == "IPv4" else "IPv4")
            return
        if spec.get("ipFamilyPolicy") is None:
            spec["ipFamilyPolicy"] = "SingleStack"
        if not spec.get("ipFamilies"):
            spec["ipFamilies"] = ["IPv4"]
        if spec.get("clusterIP") == "None" and not spec.get("clusterIPs"):
            spec["clusterIPs"] = ["None"]

    @staticmethod
    def check_families(svc: Obj) -> list[FieldError]:
        """What a single-stack IPv4 cluster refuses: dual-stack required, or IPv6 first."""
        spec = as_dict(svc.get("spec"))
        if not needs_cluster_ip(spec) or (spec.get("clusterIP") == "None" and not spec.get("selector")):
            return []
        errs = []
        if spec.get("ipFamilyPolicy") == "RequireDualStack":
            errs.append(invalid("spec.ipFamilyPolicy", "RequireDualStack",
                                "this cluster is not configured for dual-stack services"))
        for i, f in enumerate(as_list(spec.get("ipFamilies"))):
            if f == "IPv6":
                errs.append(invalid(idx("spec.ipFamilies", i), f, "not configured on this cluster"))
        if len(as_list(spec.get("clusterIPs"))) > 1:
            errs.append(invalid_raw("spec.clusterIPs", go_string_slice(spec["clusterIPs"]),
                                    "only one clusterIP may be specified on a single-stack cluster"))
        return errs

    def release(self, svc: Obj) -> None:
        self.reserved.release(_owner(svc))
