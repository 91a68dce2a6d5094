"""Forwarding names outside the cluster zone to the host's resolvers (CoreDNS's ``forward . /etc/resolv.conf``).

The nameservers are read from the host's resolv.conf (re-read when the file changes). A loopback stub
resolver such as systemd-resolved's 127.0.0.53 is fine: the query leaves from this process, on the
host, not from a pod. The cluster DNS address itself is skipped so a query can never loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import struct
from pathlib import Path

from runtime.cluster_dns import CLUSTER_DNS_IP

RESOLV_CONF = Path("/etc/resolv.conf")
TIMEOUT = 2.0


class Upstreams:
    """The host's nameservers, and forwarding of one raw query to them in order."""

    def __init__(self, resolv_conf: Path = RESOLV_CONF, skip: tuple[str, ...] = (CLUSTER_DNS_IP,),
                 timeout: float = TIMEOUT) -> None:
        self.resolv_conf = resolv_conf
        self.skip = set(skip)
        self.timeout = timeout
        self._servers: list[str] = []
        self._mtime = -1.0

    def servers(self) -> list[str]:
        try:
            mtime = os.stat(self.resolv_conf).st_mtime
        except OSError:
            return self._servers
        if mtime != self._mtime:
            self._mtime = mtime
            out = []
            for line in self.resolv_conf.read_text(errors="replace").splitlines():
                words = line.split("#", 1)[0].split()
                if len(words) >= 2 and words[0] == "nameserver" and words[1] not in self.skip:
                    out.append(words[1].split("%", 1)[0])
            self._servers = out
        return self._servers

    async def forward(self, query: bytes, tcp: bool = False) -> bytes | None:
        """The first upstream answer to ``query`` (raw wire bytes), or None when none answers in time."""
        for server in self.servers():
            try:
                if tcp:
                    return await asyncio.wait_for(_tcp_query(server, query), self.timeout)
                return await asyncio.wait_for(_udp_query(server, query), self.timeout)
            except (TimeoutError, OSError, asyncio.IncompleteReadError):
                continue
        return None


class _OneReply(asyncio.DatagramProtocol):
    def __init__(self, txid: bytes) -> None:
        self.txid = txid
        self.reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: object) -> None:
        if data[:2] == self.txid and not self.reply.done():
            self.reply.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.reply.done():
            self.reply.set_exception(exc)


async def _udp_query(server: str, query: bytes) -> bytes:
    loop = asyncio.get_running_loop()
    proto = _OneReply(query[:2])
    transport, _ = await loop.create_datagram_endpoint(lambda: proto, remote_addr=(server, 53))
    try:
        transport.sendto(query)
        return await proto.reply
    finally:
        transport.close()


async def _tcp_query(server: str, query: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(server, 53)
    try:
        writer.write(struct.pack("!H", len(query)) + query)
        await writer.drain()
        (size,) = struct.unpack("!H", await reader.readexactly(2))
        return await reader.readexactly(size)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
