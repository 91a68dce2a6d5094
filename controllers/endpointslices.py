"""Writes a Service's EndpointSlices so that they hold exactly the wanted endpoints.

Shared by the endpointslice controller (slices from pods) and the endpointslice mirroring
controller (slices from hand-written Endpoints). As upstream's reconciler: endpoints are grouped
by their port list, at most 100 per slice; existing slices of the same ports are updated in place,
new ones are created with ``generateName: <service>-``, and the rest deleted. A Service with no
endpoints keeps one placeholder slice (no endpoints, no ports), as kube-controller-manager leaves.
"""

from __future__ import annotations

from typing import Any

import orjson

from controllers.client import Client
from facade.errors import APIError

Obj = dict[str, Any]

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
SLICE_CONTROLLER = "endpointslice-controller.k8s.io"
MIRRORING_CONTROLLER = "endpointslicemirroring-controller.k8s.io"
MAX_ENDPOINTS_PER_SLICE = 100


def _ports_key(ports: list[Obj]) -> bytes:
    return orjson.dumps(sorted(ports, key=lambda p: (p.get("name") or "", p.get("port") or 0, p.get("protocol") or "")))


def group_by_ports(entries: list[tuple[list[Obj], Obj]]) -> list[tuple[list[Obj], list[Obj]]]:
    """[(ports, endpoint)] -> [(ports, [endpoints])], each group at most MAX_ENDPOINTS_PER_SLICE long."""
    groups: dict[bytes, tuple[list[Obj], list[Obj]]] = {}
    for ports, ep in entries:
        groups.setdefault(_ports_key(ports), (ports, []))[1].append(ep)
    out: list[tuple[list[Obj], list[Obj]]] = []
    for ports, eps in groups.values():
        eps.sort(key=lambda e: (e["addresses"][0], (e.get("targetRef") or {}).get("name", "")))
        for i in range(0, len(eps), MAX_ENDPOINTS_PER_SLICE):
            out.append((ports, eps[i:i + MAX_ENDPOINTS_PER_SLICE]))
    return out


def address_type(entries: list[Obj]) -> str:
    for e in entries:
        if ":" in e["addresses"][0]:
            return "IPv6"
    return "IPv4"


async def sync_slices(client: Client, namespace: str, service_name: str, managed_by: str, labels: dict[str, str],
                      owner_ref: Obj, groups: list[tuple[list[Obj], list[Obj]]],
                      existing: list[Obj], placeholder: bool = True) -> None:
    """Make the slices ``managed_by`` of one service hold ``groups`` (creating, updating, deleting)."""
    if not groups and placeholder:
        groups = [([], [])]
    want_labels = {**labels, SERVICE_NAME_LABEL: service_name, MANAGED_BY_LABEL: managed_by}
    unused = list(existing)
    for ports, eps in groups:
        body = {"addressType": address_type(eps), "endpoints": eps, "ports": ports or None}
        match = next((s for s in unused if _ports_key(s.get("ports") or []) == _ports_key(ports or [])), None)
        if match is not None:
            unused.remove(match)
            current = {"addressType": match.get("addressType"), "endpoints": match.get("endpoints") or [],
                       "ports": match.get("ports") or None}
            if current == body and (match["metadata"].get("labels") or {}) == want_labels:
                continue
            updated = {**match, **body, "metadata": {**match["metadata"], "labels": want_labels}}
            if not ports:
                updated.pop("ports", None)
            try:
                await client.update("discovery.k8s.io/v1", "endpointslices", updated, namespace)
            except APIError as e:
                if e.code not in (404, 409):
                    raise
            continue
        slice_obj: Obj = {
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"generateName": f"{service_name}-", "namespace": namespace, "labels": want_labels,
                         "ownerReferences": [owner_ref]},
            **body,
        }
        if not ports:
            slice_obj.pop("ports")
        await client.create("discovery.k8s.io/v1", "endpointslices", slice_obj, namespace)
    for s in unused:
        try:
            await client.delete("discovery.k8s.io/v1", "endpointslices", s["metadata"]["name"], namespace)
        except APIError as e:
            if e.code != 404:
                raise


async def managed_slices(client: Client, namespace: str, service_name: str, managed_by: str) -> list[Obj]:
    items, _ = await client.list("discovery.k8s.io/v1", "endpointslices", namespace,
                                 label_selector=f"{SERVICE_NAME_LABEL}={service_name},{MANAGED_BY_LABEL}={managed_by}")
    return items
