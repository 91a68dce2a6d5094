"""Mirrors hand-written Endpoints into EndpointSlices, as the endpointslicemirroring-controller does.

Only Endpoints whose Service exists and has no selector are mirrored (a Service with a selector
gets its slices from the endpointslice controller); Endpoints labelled
``endpointslice.kubernetes.io/skip-mirror: "true"`` (the API server's own ``kubernetes``
Endpoints) are skipped. Slices are owned by the Service and labelled
``endpointslice.kubernetes.io/managed-by: endpointslicemirroring-controller.k8s.io``.
"""

from __future__ import annotations

from typing import Any

from controllers.base import Controller
from controllers.client import Client
from controllers.endpointslices import MIRRORING_CONTROLLER, group_by_ports, managed_slices, sync_slices
from controllers.workload_util import controller_ref
from facade.errors import APIError

Obj = dict[str, Any]

SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror"
#: labels of the Endpoints not copied onto the slices
_NOT_COPIED = {SKIP_MIRROR_LABEL, "endpointslice.kubernetes.io/managed-by", "kubernetes.io/service-name"}


def mirrored_entries(endpoints: Obj) -> list[tuple[list[Obj], Obj]]:
    out = []
    for ss in endpoints.get("subsets") or []:
        ports = [{"name": p.get("name", ""), "port": p.get("port"), "protocol": p.get("protocol") or "TCP",
                  **({"appProtocol": p["appProtocol"]} if p.get("appProtocol") else {})}
                 for p in ss.get("ports") or []]
        for ready, field in ((True, "addresses"), (False, "notReadyAddresses")):
            for a in ss.get(field) or []:
                ep: Obj = {"addresses": [a["ip"]], "conditions": {"ready": ready}}
                if a.get("hostname"):
                    ep["hostname"] = a["hostname"]
                if a.get("targetRef"):
                    ep["targetRef"] = a["targetRef"]
                if a.get("nodeName"):
                    ep["nodeName"] = a["nodeName"]
                out.append((ports, ep))
    return out


class EndpointSliceMirroringController(Controller):
    """Reconciles Endpoints; a Service change re-queues its Endpoints through ``services``."""

    plural = "endpoints"
    name = "endpointslicemirroring-controller"

    def __init__(self, client: Client) -> None:
        super().__init__(client)

    async def reconcile(self, key: str) -> None:
        ns, _, name = key.partition("/")
        endpoints = self.cache.get(key)
        svc = None
        try:
            svc = await self.client.get("v1", "services", name, ns)
        except APIError as e:
            if e.code != 404:
                raise
        existing = await managed_slices(self.client, ns, name, MIRRORING_CONTROLLER)
        skip = (endpoints is None or svc is None or (svc.get("spec") or {}).get("selector")
                or (endpoints["metadata"].get("labels") or {}).get(SKIP_MIRROR_LABEL) == "true")
        if skip:
            for s in existing:
                try:
                    await self.client.delete("discovery.k8s.io/v1", "endpointslices", s["metadata"]["name"], ns)
                except APIError as e:
                    if e.code != 404:
                        raise
            return
        assert endpoints is not None and svc is not None
        labels = {k: v for k, v in (endpoints["metadata"].get("labels") or {}).items() if k not in _NOT_COPIED}
        await sync_slices(self.client, ns, name, MIRRORING_CONTROLLER, labels, controller_ref(svc),
                          group_by_ports(mirrored_entries(endpoints)), existing, placeholder=False)


class ServiceToEndpointsWatch(Controller):
    """Re-queues the Endpoints of a Service that appears, changes or goes (its selector decides)."""

    plural = "services"
    name = "endpointslicemirroring-services"

    def __init__(self, client: Client, target: EndpointSliceMirroringController) -> None:
        super().__init__(client)
        self.target = target

    async def reconcile(self, key: str) -> None:
        self.target.queue.add(key)
