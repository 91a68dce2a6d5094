"""The cluster DNS server (what CoreDNS does in a kubeadm cluster), over UDP and TCP, in the server process.

It answers the cluster zone from informer caches of Services, EndpointSlices and Pods
(``records.py``) and forwards every other name to the host's resolvers (``upstream.py``). It listens
on the node's own address at one port (``--dns-port``, or any free port when that is 0) and
publishes that address as the endpoint of the ``kube-system/kube-dns`` Service (``publish.py``), so
the node proxy's clusterIP listener on 10.96.0.10:53 forwards to it exactly as kube-proxy forwards
to CoreDNS pods. Wire format: dnslib.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from typing import Any

from dnslib import EDNS0, QTYPE, RCODE, DNSError, DNSHeader, DNSRecord

from controllers.informer import Informer
from runtime.cluster_dns import CLUSTER_DNS_IP, CLUSTER_DOMAIN
from runtime.dns.publish import publish_endpoints, unpublish_endpoints
from runtime.dns.records import ClusterZone
from runtime.dns.upstream import Upstreams

log = logging.getLogger("kubefacade.dns")
MAX_CHASE = 8


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: ClusterDNS) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.server.spawn(self._answer(data, addr))

    async def _answer(self, data: bytes, addr: Any) -> None:
        out = await self.server.resolve(data, tcp=False)
        if out is not None and self.transport is not None:
            self.transport.sendto(out, addr)


class ClusterDNS:
    """Serves DNS on ``hosts`` at ``port`` (0: a free port, the same for UDP and TCP and every host)."""

    def __init__(self, client: Any, node_name: str, hosts: list[str], port: int = 0, endpoint_ip: str = "",
                 zone: str = CLUSTER_DOMAIN, dns_ip: str = CLUSTER_DNS_IP, upstreams: Upstreams | None = None) -> None:
        self.client = client
        self.node_name = node_name
        self.hosts = ["0.0.0.0"] if "0.0.0.0" in hosts else list(dict.fromkeys(hosts))
        self.port = port
        self.endpoint_ip = endpoint_ip
        self.upstreams = upstreams or Upstreams(skip=(dns_ip,))
        self.informers = [Informer(client, "v1", "services", "dns-services"),
                          Informer(client, "discovery.k8s.io/v1", "endpointslices", "dns-endpointslices"),
                          Informer(client, "v1", "pods", "dns-pods")]
        svc, slices, pods = (i.cache for i in self.informers)
        self.zone = ClusterZone(svc, slices, pods, zone, dns_ip)
        for inf in self.informers:
            inf.add_handler(self.zone.invalidate)
        self._udp: list[asyncio.DatagramTransport] = []
        self._tcp: list[asyncio.AbstractServer] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self.published = False

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def start(self) -> None:
        for inf in self.informers:
            inf.start()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(i.synced.wait() for i in self.informers)), 10)
        await self._bind()
        if self.endpoint_ip:
            try:
                await publish_endpoints(self.client, self.endpoint_ip, self.port, self.node_name)
                self.published = True
            except Exception:  # noqa: BLE001 - DNS on the host port still works
                log.exception("cannot publish the kube-dns endpoints")
        log.info("cluster DNS on %s port %d", ", ".join(self.hosts), self.port)

    async def _bind(self) -> None:
        loop = asyncio.get_running_loop()
        for attempt in range(20):
            udp: list[asyncio.DatagramTransport] = []
            tcp: list[asyncio.AbstractServer] = []
            port = self.port
            try:
                for host in self.hosts:
                    transport, _ = await loop.create_datagram_endpoint(lambda: _Udp(self), local_addr=(host, port))
                    udp.append(transport)
                    port = port or transport.get_extra_info("sockname")[1]
                    tcp.append(await asyncio.start_server(self._tcp_client, host, port, reuse_address=True))
            except OSError:
                for t in udp:
                    t.close()
                for s in tcp:
                    s.close()
                if self.port or attempt == 19:
                    raise
                continue
            self.port, self._udp, self._tcp = port, udp, tcp
            return

    async def listen_also(self, ip: str, port: int, protocol: str) -> Any:
        """Serve on one more address (the kube-dns clusterIP, when the node proxy owns it); returns
        what to close."""
        if protocol == "UDP":
            transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
                lambda: _Udp(self), local_addr=(ip, port))
            self._udp.append(transport)
            return transport
        server = await asyncio.start_server(self._tcp_client, ip, port, reuse_address=True)
        self._tcp.append(server)
        return server

    async def stop(self) -> None:
        for t in self._udp:
            t.close()
        for s in self._tcp:
            s.close()
        for task in list(self._tasks):
            task.cancel()
        if self.published:
            with contextlib.suppress(Exception):
                await unpublish_endpoints(self.client)
        for inf in self.informers:
            await inf.stop()

    async def _tcp_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                (size,) = struct.unpack("!H", await asyncio.wait_for(reader.readexactly(2), 30))
                out = await self.resolve(await reader.readexactly(size), tcp=True)
                if out is None:
                    break
                writer.write(struct.pack("!H", len(out)) + out)
                await writer.drain()
        except (TimeoutError, OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def resolve(self, data: bytes, tcp: bool) -> bytes | None:
        """The answer to one query (wire bytes), or None to drop a datagram that is no query."""
        try:
            req = DNSRecord.parse(data)
        except (DNSError, Exception):  # noqa: BLE001 - garbage in: no answer, as servers drop it
            return None
        if req.header.qr:
            return None
        reply = req.reply()
        if req.header.opcode != 0 or len(req.questions) != 1:
            reply.header.rcode = RCODE.NOTIMP if req.header.opcode != 0 else RCODE.FORMERR
            return reply.pack()
        q = req.q
        try:
            ans = self.zone.answer(str(q.qname), q.qtype)
        except Exception:  # noqa: BLE001 - a bug must cost one answer, not the server
            log.exception("answering %s %s", q.qname, QTYPE.get(q.qtype))
            reply.header.rcode = RCODE.SERVFAIL
            return reply.pack()
        if ans is None:
            out = await self.upstreams.forward(data, tcp)
            if out is not None:
                return out
            reply.header.aa = 0
            reply.header.rcode = RCODE.SERVFAIL
            return reply.pack()
        reply.header.rcode = ans.rcode
        for rr in ans.answers:
            reply.add_answer(rr)
        if ans.chase:
            await self._chase(reply, ans.chase, q.qtype, tcp)
        if ans.authority:
            reply.add_auth(self.zone.soa())
        for rr in ans.additional:
            reply.add_ar(rr)
        edns = next((rr for rr in req.ar if rr.rtype == QTYPE.OPT), None)
        if edns is not None:
            reply.add_ar(EDNS0(udp_len=1232))
        out = reply.pack()
        limit = max(512, min(int(edns.rclass), 4096)) if edns is not None else 512
        if not tcp and len(out) > limit:  # the question stays: stub resolvers match it before retrying over TCP
            short = DNSRecord(DNSHeader(id=req.header.id, qr=1, aa=reply.header.aa, ra=1, tc=1,
                                        rcode=reply.header.rcode), q=req.q)
            out = short.pack()
        return out

    async def _chase(self, reply: DNSRecord, target: str, qtype: int, tcp: bool) -> None:
        """Follow a CNAME: inside the zone from the caches, outside through the upstreams."""
        for _ in range(MAX_CHASE):
            inner = self.zone.answer(target, qtype)
            if inner is None:
                data = await self.upstreams.forward(DNSRecord.question(target.rstrip("."), QTYPE[qtype]).pack(), tcp)
                if data is None:
                    return
                with contextlib.suppress(Exception):
                    up = DNSRecord.parse(data)
                    for rr in up.rr:
                        reply.add_answer(rr)
                    if up.header.rcode == RCODE.NXDOMAIN:
                        reply.header.rcode = RCODE.NXDOMAIN
                return
            for rr in inner.answers:
                reply.add_answer(rr)
            if inner.rcode != RCODE.NOERROR:
                reply.header.rcode = inner.rcode
            if not inner.chase:
                return
            target = inner.chase

