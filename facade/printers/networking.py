"""Table printers for networking.k8s.io (Ingress, IngressClass, NetworkPolicy) and discovery.k8s.io
(EndpointSlice)."""

from __future__ import annotations

from typing import Any

from facade.printers.format import (
    NONE,
    Obj,
    age_column,
    dig,
    doc,
    format_label_selector,
    list_with_more,
    name,
    name_column,
    obj_age,
)
from facade.resource_table import Column, Printer


def ingress_hosts(rules: list[Obj]) -> str:
    """formatHosts: up to three hosts, "*" when none; " + N more..." counts rules, as upstream."""
    shown: list[str] = []
    more = False
    for rule in rules:
        if len(shown) == 3:
            more = True
        if not more and rule.get("host"):
            shown.append(rule["host"])
    if not shown:
        return "*"
    text = ",".join(shown)
    return f"{text} + {len(rules) - 3} more..." if more else text


def ingress_address(obj: Obj) -> str:
    """The load-balancer IPs/hostnames, sorted and unique (wide form: the server never clips it)."""
    found = set()
    for ing in dig(obj, "status", "loadBalancer", "ingress", default=[]):
        if ing.get("ip"):
            found.add(ing["ip"])
        elif ing.get("hostname"):
            found.add(ing["hostname"])
    return ",".join(sorted(found))


def ingresses() -> Printer:
    def cells(obj: Obj) -> list[Any]:
        spec = obj.get("spec") or {}
        class_name = spec.get("ingressClassName")
        return [
            name(obj),
            class_name if class_name is not None else NONE,
            ingress_hosts(spec.get("rules") or []),
            ingress_address(obj),
            "80, 443" if spec.get("tls") else "80",
            obj_age(obj),
        ]

    return Printer(
        columns=[
            name_column(),
            Column("Class", "string", "", "The name of the IngressClass resource that should be used for additional configuration"),
            Column("Hosts", "string", "", "Hosts that incoming requests are matched against before the ingress rule"),
            Column("Address", "string", "", "Address is a list containing ingress points for the load-balancer"),
            Column("Ports", "string", "", "Ports of TLS configurations that open"),
            age_column(),
        ],
        cells=cells,
    )


def ingress_classes() -> Printer:
    def cells(obj: Obj) -> list[Any]:
        spec = obj.get("spec") or {}
        params = spec.get("parameters")
        text = NONE
        if params is not None:
            text = params.get("kind", "")
            if params.get("apiGroup") is not None:
                text += "." + params["apiGroup"]
            text += "/" + params.get("name", "")
        return [name(obj), spec.get("controller", ""), text, obj_age(obj)]

    return Printer(
        columns=[
            name_column(),
            Column("Controller", "string", "", "Controller that is responsible for handling this class"),
            Column("Parameters", "string", "", "A reference to a resource with additional parameters"),
            age_column(),
        ],
        cells=cells,
    )


def network_policies() -> Printer:
    return Printer(
        columns=[
            name_column(),
            Column("Pod-Selector", "string", "", doc("networking.v1.NetworkPolicySpec", "podSelector")),
            age_column(),
        ],
        cells=lambda obj: [name(obj), format_label_selector(dig(obj, "spec", "podSelector", default={})), obj_age(obj)],
    )


def endpoint_slice_ports(ports: list[Obj]) -> str:
    """formatDiscoveryPorts: port numbers (or names, or "*"), at most three."""
    shown = []
    for p in ports:
        if p.get("port") is not None:
            shown.append(str(p["port"]))
        elif p.get("name") is not None:
            shown.append(p["name"])
        else:
            shown.append("*")
    return list_with_more(shown, len(ports))


def endpoint_slice_endpoints(endpoints: list[Obj]) -> str:
    """formatDiscoveryEndpoints: the addresses of all endpoints, at most three."""
    addresses = [a for ep in endpoints for a in ep.get("addresses") or []]
    return list_with_more(addresses, len(addresses))


def endpoint_slices() -> Printer:
    def cells(obj: Obj) -> list[Any]:
        return [
            name(obj),
            obj.get("addressType", ""),
            endpoint_slice_ports(obj.get("ports") or []),
            endpoint_slice_endpoints(obj.get("endpoints") or []),
            obj_age(obj),
        ]

    return Printer(
        columns=[
            name_column(),
            Column("AddressType", "string", "", doc("discovery.v1.EndpointSlice", "addressType")),
            Column("Ports", "string", "", doc("discovery.v1.EndpointSlice", "ports")),
            Column("Endpoints", "string", "", doc("discovery.v1.EndpointSlice", "endpoints")),
            age_column(),
        ],
        cells=cells,
    )
