"""discovery.k8s.io/v1: EndpointSlices.

Defaults follow pkg/apis/discovery/v1/defaults.go (ports get name "" and protocol TCP); validation
pkg/apis/discovery/validation: addressType, addresses of that type (no special IPs), DNS-label
port names without duplicates. Any change other than metadata bumps the generation, as the
endpointslice strategy does.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from facade.errors import FieldError, invalid, not_supported, required, too_many
from facade.kinds.group_support import parse_ip
from facade.resource_table import ResourceInfo, Strategy
from facade.validation import dns1123_label_errors, dns1123_subdomain_errors, qualified_name_errors

Obj = dict[str, Any]

ADDRESS_TYPES = ["FQDN", "IPv4", "IPv6"]
PORT_PROTOCOLS = ["SCTP", "TCP", "UDP"]
MAX_ENDPOINTS = 1000
MAX_ADDRESSES = 100
MAX_PORTS = 20000


def non_special_ip_errors(value: str, path: str) -> list[FieldError]:
    """apivalidation.ValidateNonSpecialIP."""
    ip = parse_ip(value)
    if ip is None:
        return [invalid(path, value, "must be a valid IP address")]
    errs: list[FieldError] = []
    if ip.is_unspecified:
        errs.append(invalid(path, value, f"may not be unspecified ({value})"))
    if ip.is_loopback:
        errs.append(invalid(path, value, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
    if ip.is_link_local and not ip.is_multicast:
        errs.append(invalid(path, value, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
    if ip in ipaddress.ip_network("224.0.0.0/24" if ip.version == 4 else "ff02::/16"):
        errs.append(invalid(path, value, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"))
    return errs


def fqdn_errors(name: str, path: str) -> list[FieldError]:
    """validation.IsFullyQualifiedDomainName."""
    if not name:
        return [required(path, "")]
    name = name[:-1] if name.endswith(".") else name
    msgs = dns1123_subdomain_errors(name)
    if msgs:
        return [invalid(path, name, ",".join(msgs))]
    labels = name.split(".")
    if len(labels) < 2:
        return [invalid(path, name, "should be a domain with at least two segments separated by dots")]
    for label in labels:
        msgs = dns1123_label_errors(label)
        if msgs:
            return [invalid(path, label, ",".join(msgs))]
    return []


def _address_errors(address: str, address_type: str, path: str) -> list[FieldError]:
    if address_type in ("IPv4", "IPv6"):
        ip = parse_ip(address)
        want = 4 if address_type == "IPv4" else 6
        if ip is None or ip.version != want:
            return [invalid(path, address, f"must be a valid {address_type} address")]
        return non_special_ip_errors(address, path)
    if address_type == "FQDN":
        return fqdn_errors(address, path)
    return []


class EndpointSliceStrategy(Strategy):
    tracks_generation = True

    def defaults(self, obj: Obj) -> None:
        for port in obj.get("ports") or []:
            if isinstance(port, dict):
                if port.get("name") is None:
                    port["name"] = ""
                if port.get("protocol") is None:
                    port["protocol"] = "TCP"

    def generation_changed(self, new: Obj, old: Obj) -> bool:
        keys = (set(new) | set(old)) - {"metadata", "apiVersion", "kind"}
        return any(new.get(k) != old.get(k) for k in keys)

    def validate(self, obj: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        address_type = obj.get("addressType") or ""
        if not address_type:
            errs.append(required("addressType", ""))
        elif address_type not in ADDRESS_TYPES:
            errs.append(not_supported("addressType", address_type, ADDRESS_TYPES))
        endpoints = obj.get("endpoints") or []
        if len(endpoints) > MAX_ENDPOINTS:
            errs.append(too_many("endpoints", len(endpoints), MAX_ENDPOINTS))
        for i, ep in enumerate(endpoints):
            ep = ep if isinstance(ep, dict) else {}
            p = f"endpoints[{i}]"
            addresses = ep.get("addresses") or []
            if not addresses:
                errs.append(required(f"{p}.addresses", "must contain at least 1 address"))
            elif len(addresses) > MAX_ADDRESSES:
                errs.append(too_many(f"{p}.addresses", len(addresses), MAX_ADDRESSES))
            for j, address in enumerate(addresses):
                errs += _address_errors(str(address), address_type, f"{p}.addresses[{j}]")
            node = ep.get("nodeName")
            if node is not None:
                errs += [invalid(f"{p}.nodeName", node, m) for m in dns1123_subdomain_errors(node)]
            hostname = ep.get("hostname")
            if hostname is not None:
                errs += [invalid(f"{p}.hostname", hostname, m) for m in dns1123_label_errors(hostname)]
        ports = obj.get("ports") or []
        if len(ports) > MAX_PORTS:
            errs.append(too_many("ports", len(ports), MAX_PORTS))
        seen: set[str] = set()
        for i, port in enumerate(ports):
            port = port if isinstance(port, dict) else {}
            p = f"ports[{i}]"
            name = port.get("name") or ""
            if name:
                errs += [invalid(f"{p}.name", name, m) for m in dns1123_label_errors(name)]
            if name in seen:
                errs.append(FieldError("FieldValueDuplicate", f"{p}.name", name))
            seen.add(name)
            proto = port.get("protocol")
            if proto is None:
                errs.append(required(f"{p}.protocol", ""))
            elif proto not in PORT_PROTOCOLS:
                errs.append(not_supported(f"{p}.protocol", proto, PORT_PROTOCOLS))
            app = port.get("appProtocol")
            if app is not None:
                errs += [invalid(f"{p}.appProtocol", app, m) for m in qualified_name_errors(app)]
        return errs

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs = self.validate(new)
        if old.get("addressType") != "IP" and new.get("addressType") != old.get("addressType"):
            errs.append(invalid("addressType", new.get("addressType") or "", "field is immutable"))
        return errs


RESOURCES: list[ResourceInfo] = [
    ResourceInfo("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", "endpointslice", True,
                 strategy=EndpointSliceStrategy()),
]
