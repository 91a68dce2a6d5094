"""Endpoints and EndpointSlices from Services' selectors and their pods' readiness.

As kube-controller-manager's endpoint-controller and endpointslice-controller:
- only Services with a selector are managed; the others (and ``default/kubernetes``, which the
  API server itself keeps) are left alone;
- a pod counts once it has an IP and is not finished; ready pods are ``addresses``, the others
  ``notReadyAddresses`` (all ready with ``publishNotReadyAddresses``); terminating pods leave the
  Endpoints but stay in slices with ``terminating: true``;
- a named ``targetPort`` is resolved per pod from its container ports (pods without it are left
  out of that port), and addresses with the same ports share a subset;
- a pod's ``hostname`` is published when its ``subdomain`` is the Service's name (headless DNS);
- Endpoints carry the Service's labels (plus ``service.kubernetes.io/headless``); slices add
  ``kubernetes.io/service-name`` and ``endpointslice.kubernetes.io/managed-by``.
"""

from __future__ import annotations

import copy
from typing import Any

from controllers.base import Controller
from controllers.client import Client
from controllers.endpointslices import SLICE_CONTROLLER, group_by_ports, managed_slices, sync_slices
from controllers.informer import Informer
from controllers.workload_util import controller_ref, is_ready, is_terminal, map_selector_matches
from facade.errors import APIError

Obj = dict[str, Any]

HEADLESS_LABEL = "service.kubernetes.io/headless"


def find_port(pod: Obj, svc_port: Obj) -> int | None:
    """podutil.FindPort: the container port a Service port's targetPort means for this pod."""
    target = svc_port.get("targetPort", svc_port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    proto = svc_port.get("protocol") or "TCP"
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == target and (p.get("protocol") or "TCP") == proto:
                return p.get("containerPort")
    return None


def pod_ip(pod: Obj) -> str:
    status = pod.get("status") or {}
    ips = status.get("podIPs") or []
    return (ips[0].get("ip") if ips else "") or status.get("podIP") or ""


def _target_ref(pod: Obj) -> Obj:
    m = pod["metadata"]
    return {"kind": "Pod", "namespace": m["namespace"], "name": m["name"], "uid": m["uid"]}


def _hostname(pod: Obj, svc: Obj) -> str:
    spec = pod.get("spec") or {}
    if spec.get("hostname") and spec.get("subdomain") == svc["metadata"]["name"]:
        return spec["hostname"]
    return ""


def pod_ports(pod: Obj, svc: Obj, for_slice: bool) -> list[Obj]:
    out = []
    for sp in (svc.get("spec") or {}).get("ports") or []:
        number = find_port(pod, sp)
        if number is None:
            continue
        port: Obj = {"name": sp.get("name", ""), "port": number, "protocol": sp.get("protocol") or "TCP"}
        if sp.get("appProtocol"):
            port["appProtocol"] = sp["appProtocol"]
        if not for_slice and not port["name"]:
            del port["name"]
        out.append(port)
    return out


def desired_subsets(svc: Obj, pods: list[Obj]) -> list[Obj]:
    """Endpoints subsets: addresses grouped by identical port lists, sorted as RepackSubsets does."""
    spec = svc.get("spec") or {}
    tolerate = bool(spec.get("publishNotReadyAddresses"))
    headless_no_ports = spec.get("clusterIP") == "None" and not spec.get("ports")
    groups: dict[str, tuple[list[Obj], list[Obj], list[Obj]]] = {}
    for pod in pods:
        ip = pod_ip(pod)
        if not ip or is_terminal(pod) or (pod["metadata"].get("deletionTimestamp") and not tolerate):
            continue
        addr: Obj = {"ip": ip}
        if _hostname(pod, svc):
            addr["hostname"] = _hostname(pod, svc)
        if (pod.get("spec") or {}).get("nodeName"):
            addr["nodeName"] = pod["spec"]["nodeName"]
        addr["targetRef"] = _target_ref(pod)
        ports = pod_ports(pod, svc, False)
        if not ports and not headless_no_ports:
            continue
        ports.sort(key=lambda p: (p.get("name", ""), p["port"], p["protocol"]))
        key = repr(ports)
        g = groups.setdefault(key, (ports, [], []))
        (g[1] if tolerate or is_ready(pod) else g[2]).append(addr)
    subsets = []
    for ports, ready, not_ready in groups.values():
        ss: Obj = {}
        if ready:
            ss["addresses"] = sorted(ready, key=lambda a: (a["ip"], a["targetRef"]["uid"]))
        if not_ready:
            ss["notReadyAddresses"] = sorted(not_ready, key=lambda a: (a["ip"], a["targetRef"]["uid"]))
        if ports:
            ss["ports"] = ports
        subsets.append(ss)
    return sorted(subsets, key=lambda s: repr(s.get("ports")))


def slice_entries(svc: Obj, pods: list[Obj]) -> list[tuple[list[Obj], Obj]]:
    tolerate = bool((svc.get("spec") or {}).get("publishNotReadyAddresses"))
    out = []
    for pod in pods:
        ip = pod_ip(pod)
        if not ip or is_terminal(pod):
            continue
        serving = is_ready(pod)
        terminating = bool(pod["metadata"].get("deletionTimestamp"))
        ep: Obj = {"addresses": [ip], "conditions": {
            "ready": tolerate or (serving and not terminating), "serving": serving, "terminating": terminating}}
        if _hostname(pod, svc):
            ep["hostname"] = _hostname(pod, svc)
        ep["targetRef"] = _target_ref(pod)
        if (pod.get("spec") or {}).get("nodeName"):
            ep["nodeName"] = pod["spec"]["nodeName"]
        out.append((pod_ports(pod, svc, True), ep))
    return out


class EndpointsController(Controller):
    """Reconciles Services; also re-queued by changes of the pods their selectors pick."""

    plural = "services"
    name = "endpoint-controller"

    def __init__(self, client: Client, slice_client: Client | None, endpoints: bool = True) -> None:
        """``slice_client`` None: write no EndpointSlices; ``endpoints`` False: write no Endpoints
        (kube-controller-manager's endpoint and endpointslice controllers, run one without the other)."""
        super().__init__(client)
        self.slice_client = slice_client
        self.endpoints = endpoints
        self.pods = Informer(client, "v1", "pods", "endpoint-controller-pods")
        self.pods.add_handler(self._on_pod)

    def start(self, workers: int = 1) -> None:
        self.pods.start()
        super().start(workers)

    async def stop(self) -> None:
        await super().stop()
        await self.pods.stop()

    def _on_pod(self, _ev: str, pod: Obj, old: Obj | None) -> None:
        ns = pod["metadata"].get("namespace")
        for key, svc in list(self.cache.items()):
            if not key.startswith(f"{ns}/"):
                continue
            sel = (svc.get("spec") or {}).get("selector")
            if map_selector_matches(sel, pod["metadata"].get("labels")) or \
                    (old is not None and map_selector_matches(sel, old["metadata"].get("labels"))):
                self.queue.add(key)

    async def reconcile(self, key: str) -> None:
        await self.pods.synced.wait()
        ns, _, name = key.partition("/")
        if key == "default/kubernetes":
            return
        svc = self.cache.get(key)
        if svc is None:
            await self._forget_service(ns, name)
            return
        selector = (svc.get("spec") or {}).get("selector")
        if not selector:
            return
        pods = [p for p in self.pods.in_namespace(ns) if map_selector_matches(selector, p["metadata"].get("labels"))]
        if self.endpoints:
            await self._sync_endpoints(svc, pods)
        if self.slice_client is None:
            return
        existing = await managed_slices(self.slice_client, ns, name, SLICE_CONTROLLER)
        labels = self._labels(svc)
        await sync_slices(self.slice_client, ns, name, SLICE_CONTROLLER, labels, controller_ref(svc),
                          group_by_ports(slice_entries(svc, pods)), existing)

    @staticmethod
    def _labels(svc: Obj) -> dict[str, str]:
        labels = dict(svc["metadata"].get("labels") or {})
        if (svc.get("spec") or {}).get("clusterIP") == "None":
            labels[HEADLESS_LABEL] = ""
        else:
            labels.pop(HEADLESS_LABEL, None)
        return labels

    async def _sync_endpoints(self, svc: Obj, pods: list[Obj]) -> None:
        ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
        subsets = desired_subsets(svc, pods)
        labels = self._labels(svc)
        try:
            current = await self.client.get("v1", "endpoints", name, ns)
        except APIError as e:
            if e.code != 404:
                raise
            body = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "namespace": ns,
                                                                           "labels": labels}}
            if subsets:
                body["subsets"] = subsets
            try:
                await self.client.create("v1", "endpoints", body, ns)
            except APIError as e2:
                if e2.code != 409:
                    raise
                self.queue.add(f"{ns}/{name}")
            return
        if (current.get("subsets") or []) == subsets and (current["metadata"].get("labels") or {}) == labels:
            return
        updated = copy.deepcopy(current)
        updated["metadata"]["labels"] = labels
        if subsets:
            updated["subsets"] = subsets
        else:
            updated.pop("subsets", None)
        await self.client.update("v1", "endpoints", updated, ns)

    async def _forget_service(self, ns: str, name: str) -> None:
        """A deleted Service's Endpoints and slices go with it."""
        if self.endpoints:
            await self._forget_endpoints(ns, name)
        if self.slice_client is None:
            return
        for s in await managed_slices(self.slice_client, ns, name, SLICE_CONTROLLER):
            try:
                await self.slice_client.delete("discovery.k8s.io/v1", "endpointslices", s["metadata"]["name"], ns)
            except APIError as e:
                if e.code != 404:
                    raise

    async def _forget_endpoints(self, ns: str, name: str) -> None:
        try:
            current = await self.client.get("v1", "endpoints", name, ns)
            if (current["metadata"].get("labels") or {}).get("endpointslice.kubernetes.io/skip-mirror") != "true":
                await self.client.delete("v1", "endpoints", name, ns)
        except APIError as e:
            if e.code != 404:
                raise
