"""networking.k8s.io/v1: Ingresses, IngressClasses, NetworkPolicies.

Defaults follow pkg/apis/networking/v1/defaults.go (NetworkPolicy policyTypes and port protocol,
IngressClass parameters scope); validation pkg/apis/networking/validation: Ingress rules, paths
(pathType required, absolute paths), backends (service name and port, or a resource), TLS hosts;
IngressClass controller a domain-prefixed path, immutable; NetworkPolicy ports, peers, ipBlocks.
"""

from __future__ import annotations

import re
from typing import Any

from facade.errors import FieldError, forbidden, invalid, not_supported, required, too_long
from facade.kinds.group_support import (
    cidr_errors,
    immutable,
    invalid_raw,
    is_int,
    parse_cidr,
    parse_ip,
    port_name_errors,
    port_number_errors,
    validate_label_selector,
)
from facade.resource_table import ResourceInfo, Strategy
from facade.validation import (
    DNS1123_SUBDOMAIN_FMT,
    dns1035_label_errors,
    dns1123_subdomain_errors,
    regex_error,
)

Obj = dict[str, Any]

GROUP = "networking.k8s.io"

PATH_TYPES = ["Exact", "ImplementationSpecific", "Prefix"]
INVALID_PATH_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
INVALID_PATH_SUFFIXES = ("/..", "/.")
MAX_LEN_INGRESS_CLASS_CONTROLLER = 250

_WILDCARD_FMT = "\\*\\." + DNS1123_SUBDOMAIN_FMT
_WILDCARD = re.compile("^" + _WILDCARD_FMT + "$")
_VALID_PATH = re.compile(r"^[A-Za-z0-9/\-._~%!$&'()*+,;=:]+$")


def wildcard_subdomain_errors(value: str) -> list[str]:
    """validation.IsWildcardDNS1123Subdomain."""
    errs = []
    if len(value) > 253:
        errs.append("must be no more than 253 characters")
    if not _WILDCARD.match(value):
        errs.append(regex_error(
            "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must "
            "consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character",
            _WILDCARD_FMT, "*.example.com"))
    return errs


def _host_errors(host: str, path: str) -> list[FieldError]:
    if "*" in host:
        return [invalid(path, host, m) for m in wildcard_subdomain_errors(host)]
    return [invalid(path, host, m) for m in dns1123_subdomain_errors(host)]


# ----------------------------------------------------------------------------------------- Ingress


def _validate_backend(backend: Any, path: str) -> list[FieldError]:
    backend = backend if isinstance(backend, dict) else {}
    resource, service = backend.get("resource"), backend.get("service")
    if resource is not None and service is not None:
        return [invalid(path, "", "cannot set both resource and service backends")]
    if resource is not None:
        resource = resource if isinstance(resource, dict) else {}
        errs: list[FieldError] = []
        for f in ("kind", "name"):
            if not resource.get(f):
                errs.append(required(f"{path}.resource.{f}", ""))
        group = resource.get("apiGroup")
        if group is not None:
            errs += [invalid(f"{path}.resource.apiGroup", group, m) for m in dns1123_subdomain_errors(group)]
        return errs
    if service is not None:
        service = service if isinstance(service, dict) else {}
        errs = []
        name = service.get("name") or ""
        if not name:
            errs.append(required(f"{path}.service.name", ""))
        else:
            errs += [invalid(f"{path}.service.name", name, m) for m in dns1035_label_errors(name)]
        port = service.get("port") if isinstance(service.get("port"), dict) else {}
        pname, pnum = port.get("name") or "", port.get("number") or 0
        if pname and pnum:
            errs.append(invalid(path, "", "cannot set both port name & port number"))
        elif pname:
            errs += [invalid(f"{path}.service.port.name", pname, m) for m in port_name_errors(pname)]
        elif pnum:
            errs += [invalid(f"{path}.service.port.number", pnum, m) for m in port_number_errors(pnum)]
        else:
            errs.append(required(path, "port name or number is required"))
        return errs
    return [invalid(path, "", "resource or service backend is required")]


def _validate_http_path(p: Any, path: str) -> list[FieldError]:
    p = p if isinstance(p, dict) else {}
    path_type = p.get("pathType")
    if path_type is None:
        return [required(f"{path}.pathType", "pathType must be specified")]
    errs: list[FieldError] = []
    value = p.get("path") or ""
    if path_type in ("Exact", "Prefix"):
        if not value.startswith("/"):
            errs.append(invalid(f"{path}.path", value, "must be an absolute path"))
        if value:
            for seq in INVALID_PATH_SEQUENCES:
                if seq in value:
                    errs.append(invalid(f"{path}.path", value, f"must not contain '{seq}'"))
            for suffix in INVALID_PATH_SUFFIXES:
                if value.endswith(suffix):
                    errs.append(invalid(f"{path}.path", value, f"cannot end with '{suffix}'"))
    elif path_type == "ImplementationSpecific":
        if value and not value.startswith("/"):
            errs.append(invalid(f"{path}.path", value, "must be an absolute path"))
    else:
        errs.append(not_supported(f"{path}.pathType", path_type, PATH_TYPES))
    errs += _validate_backend(p.get("backend"), f"{path}.backend")
    return errs


def validate_ingress_spec(spec: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    rules = spec.get("rules") or []
    if not rules and spec.get("defaultBackend") is None:
        errs.append(invalid_raw("spec", "[]networking.IngressRule(nil)", "either `defaultBackend` or `rules` must be specified"))
    if spec.get("defaultBackend") is not None:
        errs += _validate_backend(spec["defaultBackend"], "spec.defaultBackend")
    for i, rule in enumerate(rules):
        rule = rule if isinstance(rule, dict) else {}
        rp = f"spec.rules[{i}]"
        host = rule.get("host") or ""
        if host:
            if parse_ip(host) is not None:
                errs.append(invalid(f"{rp}.host", host, "must be a DNS name, not an IP address"))
            errs += _host_errors(host, f"{rp}.host")
        http = rule.get("http")
        if isinstance(http, dict):
            paths = http.get("paths") or []
            if not paths:
                errs.append(required(f"{rp}.http.paths", ""))
            for j, p in enumerate(paths):
                errs += _validate_http_path(p, f"{rp}.http.paths[{j}]")
    for i, tls in enumerate(spec.get("tls") or []):
        tls = tls if isinstance(tls, dict) else {}
        for j, host in enumerate(tls.get("hosts") or []):
            errs += _host_errors(str(host), f"spec.tls[{i}].hosts[{j}]")
        secret = tls.get("secretName")
        if secret:
            errs += [invalid(f"spec.tls[{i}].secretName", secret, m) for m in dns1123_subdomain_errors(secret)]
    cls = spec.get("ingressClassName")
    if cls is not None:
        errs += [invalid("spec.ingressClassName", cls, m) for m in dns1123_subdomain_errors(cls)]
    return errs


class IngressStrategy(Strategy):
    has_status = True
    tracks_generation = True

    def initial_status(self, obj: Obj) -> None:
        obj["status"] = {"loadBalancer": {}}

    def generation_changed(self, new: Obj, old: Obj) -> bool:
        return new.get("spec") != old.get("spec")

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_ingress_spec(obj.get("spec") or {})


# ------------------------------------------------------------------------------------ IngressClass


def domain_prefixed_path_errors(value: str, path: str) -> list[FieldError]:
    """validation.IsDomainPrefixedPath."""
    if not value:
        return [required(path, "")]
    host, sep, rest = value.partition("/")
    if not sep:
        return [invalid(path, value, 'must be a domain-prefixed path (such as "acme.io/foo")')]
    errs = [invalid(path, host, m) for m in dns1123_subdomain_errors(host)]
    if not _VALID_PATH.match(rest):
        errs.append(invalid(path, rest, "must be a valid path"))
    return errs


class IngressClassStrategy(Strategy):
    tracks_generation = True

    def defaults(self, obj: Obj) -> None:
        params = (obj.get("spec") or {}).get("parameters")
        if isinstance(params, dict) and params.get("scope") is None:
            params["scope"] = "Cluster"

    def generation_changed(self, new: Obj, old: Obj) -> bool:
        return new.get("spec") != old.get("spec")

    def validate(self, obj: Obj) -> list[FieldError]:
        spec = obj.get("spec") or {}
        controller = spec.get("controller") or ""
        errs: list[FieldError] = []
        if len(controller) > MAX_LEN_INGRESS_CLASS_CONTROLLER:
            errs.append(too_long("spec.controller", controller, MAX_LEN_INGRESS_CLASS_CONTROLLER))
        errs += domain_prefixed_path_errors(controller, "spec.controller")
        params = spec.get("parameters")
        if isinstance(params, dict):
            pp = "spec.parameters"
            for f in ("kind", "name"):
                if not params.get(f):
                    errs.append(required(f"{pp}.{f}", ""))
            scope = params.get("scope")
            if scope is not None and scope not in ("Cluster", "Namespace"):
                errs.append(not_supported(f"{pp}.scope", scope, ["Cluster", "Namespace"]))
            if scope == "Namespace" and not params.get("namespace"):
                errs.append(required(f"{pp}.namespace", "`parameters.scope` is set to 'Namespace'"))
            if scope == "Cluster" and params.get("namespace"):
                errs.append(forbidden(f"{pp}.namespace", "`parameters.scope` is set to 'Cluster'"))
        return errs

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs = self.validate(new)
        errs += immutable((new.get("spec") or {}).get("controller"), (old.get("spec") or {}).get("controller"),
                          "spec.controller")
        return errs


# ----------------------------------------------------------------------------------- NetworkPolicy


def _validate_np_port(port: Any, path: str) -> list[FieldError]:
    port = port if isinstance(port, dict) else {}
    errs: list[FieldError] = []
    proto = port.get("protocol")
    if proto is not None and proto not in ("TCP", "UDP", "SCTP"):
        errs.append(not_supported(f"{path}.protocol", proto, ["TCP", "UDP", "SCTP"]))
    value, end = port.get("port"), port.get("endPort")
    if value is not None:
        if is_int(value):
            errs += [invalid(f"{path}.port", value, m) for m in port_number_errors(value)]
            if end is not None:
                if is_int(end) and end < value:
                    errs.append(invalid(f"{path}.endPort", value, "must be greater than or equal to `port`"))
                errs += [invalid(f"{path}.endPort", end, m) for m in port_number_errors(end)]
        else:
            if end is not None:
                errs.append(invalid(f"{path}.endPort", end, "may not be specified when `port` is non-numeric"))
            errs += [invalid(f"{path}.port", value, m) for m in port_name_errors(str(value))]
    elif end is not None:
        errs.append(invalid(f"{path}.endPort", end, "may not be specified when `port` is not specified"))
    return errs


def _validate_ip_block(block: Any, path: str) -> list[FieldError]:
    block = block if isinstance(block, dict) else {}
    cidr = block.get("cidr") or ""
    if not cidr:
        return [required(f"{path}.cidr", "")]
    errs = cidr_errors(cidr, f"{path}.cidr")
    net = parse_cidr(cidr)
    if net is None:
        return errs
    for i, ex in enumerate(block.get("except") or []):
        ep = f"{path}.except[{i}]"
        errs += cidr_errors(ex, ep)
        exnet = parse_cidr(ex) if isinstance(ex, str) else None
        if exnet is None:
            continue
        if exnet.version != net.version or exnet.network_address not in net or net.prefixlen >= exnet.prefixlen:
            errs.append(invalid(ep, ex, "must be a strict subset of `cidr`"))
    return errs


def _validate_peer(peer: Any, path: str) -> list[FieldError]:
    peer = peer if isinstance(peer, dict) else {}
    errs: list[FieldError] = []
    count = 0
    for f in ("podSelector", "namespaceSelector"):
        if peer.get(f) is not None:
            count += 1
            errs += validate_label_selector(peer[f], f"{path}.{f}")
    if peer.get("ipBlock") is not None:
        count += 1
        errs += _validate_ip_block(peer["ipBlock"], f"{path}.ipBlock")
    if count == 0:
        errs.append(required(path, "must specify a peer"))
    elif count > 1 and peer.get("ipBlock") is not None:
        errs.append(forbidden(path, "may not specify both ipBlock and another peer"))
    return errs


class NetworkPolicyStrategy(Strategy):
    tracks_generation = True

    def defaults(self, obj: Obj) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            spec = obj["spec"] = {}
        spec.setdefault("podSelector", {})
        for direction in ("ingress", "egress"):
            for rule in spec.get(direction) or []:
                for port in (rule or {}).get("ports") or []:
                    if isinstance(port, dict) and port.get("protocol") is None:
                        port["protocol"] = "TCP"
        if not spec.get("policyTypes"):
            spec["policyTypes"] = ["Ingress"] + (["Egress"] if spec.get("egress") else [])

    def generation_changed(self, new: Obj, old: Obj) -> bool:
        return new.get("spec") != old.get("spec")

    def validate(self, obj: Obj) -> list[FieldError]:
        spec = obj.get("spec") or {}
        errs = validate_label_selector(spec.get("podSelector"), "spec.podSelector")
        for i, rule in enumerate(spec.get("ingress") or []):
            rule = rule if isinstance(rule, dict) else {}
            for j, port in enumerate(rule.get("ports") or []):
                errs += _validate_np_port(port, f"spec.ingress[{i}].ports[{j}]")
            for j, peer in enumerate(rule.get("from") or []):
                errs += _validate_peer(peer, f"spec.ingress[{i}].from[{j}]")
        for i, rule in enumerate(spec.get("egress") or []):
            rule = rule if isinstance(rule, dict) else {}
            for j, peer in enumerate(rule.get("to") or []):
                errs += _validate_peer(peer, f"spec.egress[{i}].to[{j}]")
            for j, port in enumerate(rule.get("ports") or []):
                errs += _validate_np_port(port, f"spec.egress[{i}].ports[{j}]")
        types = spec.get("policyTypes") or []
        if len(types) > 2:
            errs.append(invalid_raw("spec.policyTypes", "&[]networking.PolicyType{" + ", ".join(
                f'"{t}"' for t in types) + "}", "may not specify more than two policyTypes"))
            return errs
        for i, t in enumerate(types):
            if t not in ("Ingress", "Egress"):
                errs.append(not_supported(f"spec.policyTypes[{i}]", t, ["Ingress", "Egress"]))
        return errs


RESOURCES: list[ResourceInfo] = [
    ResourceInfo(GROUP, "v1", "IngressClass", "ingressclasses", "ingressclass", False, strategy=IngressClassStrategy()),
    ResourceInfo(GROUP, "v1", "Ingress", "ingresses", "ingress", True, ("ing",), subresources=("status",),
                 strategy=IngressStrategy()),
    ResourceInfo(GROUP, "v1", "NetworkPolicy", "networkpolicies", "networkpolicy", True, ("netpol",),
                 strategy=NetworkPolicyStrategy()),
]
