"""The per-node proxy: listens on each NodePort (and each LoadBalancer ingress address) on the host
and forwards TCP to the Service's ready endpoints.

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

Obj = dict[str, Any]
log = logging.getLogger("kubefacade.proxy")
Key = tuple[str, int]  # (listen address, port)


class NodeProxy:
    """Userspace forwarding for one node's NodePorts and, when ``serve_lb`` is set, LoadBalancer IPs."""

    def __init__(self, client: Any, node_name: str, listen_host: str = "0.0.0.0", interval: float = 0.5,
                 serve_lb: bool = True) -> None:
        self.client = client
        self.node_name = node_name
        self.listen_host = listen_host
        self.interval = interval
        self.serve_lb = serve_lb
        self.backends: dict[Key, Backends] = {}
        self.servers: dict[Key, asyncio.AbstractServer] = {}
        self._task: asyncio.Task[None] | None = None

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

    async def _listen(self, key: Key) -> None:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._forward(key, reader, writer)
        try:
            self.servers[key] = await asyncio.start_server(handle, key[0], key[1], reuse_address=True)
        except OSError as e:
            log.warning("node proxy cannot listen on %s:%s: %s", key[0], key[1], e)

    async def _forward(self, key: Key, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername") or ("", 0)
        b = self.backends.get(key)
        ep = b.pick(peer[0]) if b else None
        if ep is None:  # no ready endpoint: refuse, as kube-proxy's REJECT rule does
            writer.close()
            return
        try:
            up_r, up_w = await asyncio.open_connection(ep[0], ep[1])
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_w), _pipe(up_r, writer), return_exceptions=True)
        for w in (up_w, writer):
            with contextlib.suppress(Exception):
                w.close()


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    try:
        while data := await src.read(65536):
            dst.write(data)
            await dst.drain()
        if dst.can_write_eof():
            dst.write_eof()
    except (OSError, asyncio.IncompleteReadError):
        pass
