"""Userspace UDP forwarding for one service address: per-client flows with an idle timeout.

UDP has no connection, so a "flow" is what conntrack would keep: the first datagram from a client
address picks an endpoint (round-robin or ClientIP affinity, as for TCP) and opens a connected
socket to it; later datagrams from that client go through the same socket, and every reply the
endpoint sends back is relayed to the client from the service address, so the client sees its
answer come from the address it asked. A flow that carries nothing for ``idle_timeout`` seconds
(30 s, the kernel's nf_conntrack_udp_timeout) is closed; ``max_flows`` bounds the open sockets
(the oldest flow goes first), since every DNS query of a stub resolver comes from a new port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from runtime.proxy.backends import Backends

log = logging.getLogger("kubefacade.proxy")
Addr = tuple[str, int]


class _Flow(asyncio.DatagramProtocol):
    """The socket towards one endpoint for one client; replies go back through the listener."""

    def __init__(self, owner: UdpForwarder, client: Addr, endpoint: Addr) -> None:
        self.owner = owner
        self.client = client
        self.endpoint = endpoint
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: list[bytes] = []
        self.last = time.monotonic()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.last = time.monotonic()
        self.owner.reply(data, self.client)

    def error_received(self, exc: Exception) -> None:  # e.g. ICMP port unreachable from a stopped endpoint
        log.debug("udp flow %s: %s", self.client, exc)

    def send(self, data: bytes) -> None:
        self.last = time.monotonic()
        if self.transport is None:
            self.pending.append(data)
        else:
            self.transport.sendto(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class _Listener(asyncio.DatagramProtocol):
    def __init__(self, owner: UdpForwarder) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.owner.received(data, (addr[0], addr[1]))

    def error_received(self, exc: Exception) -> None:
        log.debug("udp listener: %s", exc)


class UdpForwarder:
    """Listens on one (address, port) and relays datagrams to ``backends``' endpoints."""

    def __init__(self, backends: Backends, idle_timeout: float = 30.0, max_flows: int = 512) -> None:
        self.backends = backends
        self.idle_timeout = idle_timeout
        self.max_flows = max_flows
        self.flows: dict[Addr, _Flow] = {}
        self.transport: asyncio.DatagramTransport | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._opening: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_datagram_endpoint(lambda: _Listener(self), local_addr=(host, port))
        self._sweeper = asyncio.create_task(self._sweep(), name=f"udp-{host}:{port}-sweeper")

    def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        for flow in self.flows.values():
            flow.close()
        self.flows.clear()
        for task in self._opening:
            task.cancel()
        if self.transport is not None:
            self.transport.close()
            self.transport = None

    def received(self, data: bytes, client: Addr) -> None:
        flow = self.flows.get(client)
        if flow is None:
            ep = self.backends.pick(client[0])
            if ep is None:  # no ready endpoint: drop, the client's own timeout reports it
                return
            if len(self.flows) >= self.max_flows:
                oldest = min(self.flows, key=lambda a: self.flows[a].last)
                self.flows.pop(oldest).close()
            flow = self.flows[client] = _Flow(self, client, ep)
            task = asyncio.get_running_loop().create_task(self._open(flow, ep))
            self._opening.add(task)  # keep a reference until it is done, as asyncio asks
            task.add_done_callback(self._opening.discard)
        flow.send(data)

    def prune(self) -> None:
        """Close the flows whose endpoint is no longer ready (kube-proxy clears their conntrack entries):
        the client's next datagram starts a flow to a ready one."""
        ready = set(self.backends.endpoints)
        for client, flow in list(self.flows.items()):
            if flow.endpoint not in ready:
                flow.close()
                del self.flows[client]

    async def _open(self, flow: _Flow, ep: Addr) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.create_datagram_endpoint(lambda: flow, remote_addr=ep)
        except OSError as e:
            log.debug("udp flow to %s: %s", ep, e)
            if self.flows.get(flow.client) is flow:
                del self.flows[flow.client]
            return
        if self.flows.get(flow.client) is not flow or self.transport is None:  # pruned or closed meanwhile
            flow.close()
            return
        pending, flow.pending = flow.pending, []
        for data in pending:
            flow.send(data)

    def reply(self, data: bytes, client: Addr) -> None:
        if self.transport is not None:
            self.transport.sendto(data, client)

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(min(5.0, self.idle_timeout))
            cutoff = time.monotonic() - self.idle_timeout
            for client, flow in list(self.flows.items()):
                if flow.last < cutoff:
                    with contextlib.suppress(Exception):
                        flow.close()
                    del self.flows[client]
