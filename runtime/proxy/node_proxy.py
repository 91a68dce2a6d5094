"""The per-node proxy: listens on each NodePort (and each LoadBalancer ingress address) on the host
and forwards TCP to the Service's ready endpoints (``relay.py``); as root, NodePorts are rewritten
to the endpoints by nftables DNAT rules instead (``nft_nodeports.py``), the listeners kept as the
ports' reservation and fallback.

It re-reads Services and EndpointSlices every ``interval`` seconds rather than watching, so a pod
that stops being ready stops receiving new connections within about a second, and a lost watch
can never leave stale state behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from runtime.proxy.backends import Backends, affinity_seconds, ready_endpoints
from runtime.proxy.cluster_ip import ANNOTATION, ClusterIPPlane
from runtime.proxy.nft_nodeports import NftNodePorts
from runtime.proxy.relay import listen

Obj = dict[str, Any]
log = logging.getLogger("kubefacade.proxy")
Key = tuple[str, int]  # (listen address, port)
#: the Node annotation saying how this node serves NodePorts
NODEPORT_ANNOTATION = "kubefacade.io/nodeports"
NODEPORT_MODES = {True: "nftables DNAT (userspace for sessionAffinity ClientIP)", False: "userspace"}


class NodeProxy:
    """Userspace forwarding for one node's NodePorts and, when ``serve_lb`` is set, LoadBalancer IPs."""

    def __init__(self, client: Any, node_name: str, listen_host: str = "0.0.0.0", interval: float = 0.5,
                 serve_lb: bool = True, cluster_ips: bool = True) -> None:
        self.client = client
        self.node_name = node_name
        self.listen_host = listen_host
        self.interval = interval
        self.serve_lb = serve_lb
        self.backends: dict[Key, Backends] = {}
        self.servers: dict[Key, asyncio.AbstractServer] = {}
        self._task: asyncio.Task[None] | None = None
        #: Service clusterIPs on this host (``cluster_ip.py``); its state is announced on the Node
        self.cluster_ips = ClusterIPPlane(node_name) if cluster_ips else None
        self._announced = ""
        #: as root, NodePorts are DNAT rules in the kernel (``nft_nodeports.py``); the listeners stay
        self.nft = NftNodePorts()
        self.kernel_ports: set[int] = set()
        self._nodeport_mode = ""

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=f"node-{self.node_name}-proxy")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        for srv in self.servers.values():
            srv.close()
        self.servers.clear()
        with contextlib.suppress(Exception):
            await self.nft.stop()
        if self.cluster_ips is not None:
            await self.cluster_ips.stop()

    async def _loop(self) -> None:
        while True:
            try:
                await self.sync()
            except asyncio.CancelledError:
                raise
            except Exception:  # keep proxying with the last good state
                log.exception("node proxy sync failed")
            await asyncio.sleep(self.interval)

    async def sync(self) -> None:
        """Bring listeners and backends in line with the current Services and EndpointSlices."""
        services, _ = await self.client.list("v1", "services")
        slices, _ = await self.client.list("discovery.k8s.io/v1", "endpointslices")
        by_svc: dict[tuple[str, str], list[Obj]] = {}
        for sl in slices:
            md = sl.get("metadata") or {}
            svc_name = (md.get("labels") or {}).get("kubernetes.io/service-name")
            if svc_name:
                by_svc.setdefault((md.get("namespace", ""), svc_name), []).append(sl)
        wanted: dict[Key, tuple[Obj, Obj, bool]] = {}
        for svc in services:
            spec = svc.get("spec") or {}
            if spec.get("type") not in ("NodePort", "LoadBalancer"):
                continue
            local = spec.get("externalTrafficPolicy") == "Local"
            lb_ips = [i.get("ip") for i in ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
                      if i.get("ip")] if self.serve_lb and spec.get("type") == "LoadBalancer" else []
            for port in spec.get("ports") or []:
                if (port.get("protocol") or "TCP") != "TCP":
                    continue
                if port.get("nodePort"):
                    wanted[(self.listen_host, int(port["nodePort"]))] = (svc, port, local)
                for ip in lb_ips:
                    wanted[(ip, int(port["port"]))] = (svc, port, local)
        for key in list(self.servers):
            if key not in wanted:
                self.servers.pop(key).close()
                self.backends.pop(key, None)
        for key, (svc, port, local) in wanted.items():
            md = svc["metadata"]
            eps = ready_endpoints(svc, port, by_svc.get((md.get("namespace", ""), md["name"]), []),
                                  self.node_name, local)
            b = self.backends.setdefault(key, Backends())
            b.endpoints = eps
            b.affinity_seconds = affinity_seconds(svc)
            if key not in self.servers:
                await self._listen(key)
        await self._sync_kernel_ports()
        if self.cluster_ips is not None:
            await self._sync_cluster_ips(services, by_svc)

    async def _sync_cluster_ips(self, services: list[Obj], by_svc: dict[tuple[str, str], list[Obj]]) -> None:
        assert self.cluster_ips is not None
        try:
            await self.cluster_ips.sync(services, by_svc)
        except Exception:  # the NodePorts above keep working whatever happens here
            log.exception("cluster IP proxy sync failed")
        if self.cluster_ips.state != self._announced:
            with contextlib.suppress(Exception):  # no Node object (yet): announce on a later pass
                await self.client.patch("v1", "nodes", self.node_name,
                                        {"metadata": {"annotations": {ANNOTATION: self.cluster_ips.state}}})
                self._announced = self.cluster_ips.state

    async def _sync_kernel_ports(self) -> None:
        """DNAT the NodePorts whose listener this proxy holds (so the port is ours) and whose Service
        needs no per-client state; the rest, and everything when not root, stay in userspace."""
        ports = {key[1]: list(b.endpoints) for key, b in self.backends.items()
                 if key[0] == self.listen_host and key in self.servers and not b.affinity_seconds}
        try:
            self.kernel_ports = await self.nft.apply(ports)
        except Exception:  # the userspace listeners keep serving
            log.exception("NodePort nftables sync failed")
            self.kernel_ports = set()
        mode = NODEPORT_MODES[self.nft.enabled]
        if mode != self._nodeport_mode:
            with contextlib.suppress(Exception):  # no Node object (yet): announce on a later pass
                await self.client.patch("v1", "nodes", self.node_name,
                                        {"metadata": {"annotations": {NODEPORT_ANNOTATION: mode}}})
                self._nodeport_mode = mode

    async def _listen(self, key: Key) -> None:
        try:
            self.servers[key] = await listen(key[0], key[1], lambda: self.backends.get(key))
        except OSError as e:
            log.warning("node proxy cannot listen on %s:%s: %s", key[0], key[1], e)
