"""The NodePort data path: accept, pick an endpoint, connect, relay bytes — with asyncio Protocols.

Each accepted connection costs two Protocol objects and one task per upstream connect attempt
(normally one; see ``_Downstream`` for why a slow connect is raced); bytes go
from one transport's ``data_received`` straight into the other transport's ``write``, with no
StreamReader/StreamWriter buffers, coroutines or ``drain`` in between. Back-pressure is the
transports' own: when one side's write buffer passes its high-water mark, its protocol's
``pause_writing`` pauses reading on the other side until ``resume_writing``.

Half-close is forwarded (a FIN from one side becomes ``write_eof`` on the other, and the
connection is closed once both directions have ended), so HTTP/1.0-style servers that close after
the response, like busybox httpd, are relayed faithfully. A reset or error on either side closes
both; a client for which no endpoint is ready, or whose endpoint refuses, gets a RST. Nothing is
logged per connection.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Callable
from typing import Any, cast

from runtime.proxy.backends import Backends

CONNECT_TIMEOUT = 5.0
#: seconds after which one more connection to a silent endpoint is raced (see ``_Downstream``)
RETRY_AFTER = (0.05, 0.1, 0.2, 0.4)
LISTEN_BACKLOG = 4096  # the kernel caps it at net.core.somaxconn

Endpoint = tuple[str, int]


class _Side(asyncio.Protocol):
    """One end of a relayed connection; ``peer`` is the other end."""

    __slots__ = ("transport", "peer", "eof")

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.peer: _Side | None = None
        self.eof = False

    def data_received(self, data: bytes) -> None:
        peer = self.peer
        if peer is not None and peer.transport is not None:
            peer.transport.write(data)

    def eof_received(self) -> bool:
        self.eof = True
        peer = self.peer
        if peer is None or peer.transport is None:
            return False
        if peer.eof:  # both directions have ended
            peer.transport.close()
            return False
        if peer.transport.can_write_eof():
            peer.transport.write_eof()
        return True  # keep our sending direction open for the peer's remaining bytes

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        peer = self.peer
        if peer is not None and peer.transport is not None:
            if exc is None:
                peer.transport.close()  # flushes what is buffered, then closes
            else:
                peer.transport.abort()

    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()


class _Upstream(_Side):
    """The connection to the endpoint: one of possibly several raced attempts (see ``_Downstream``)."""

    __slots__ = ("client", "task")

    def __init__(self, client: _Downstream) -> None:
        super().__init__()
        self.client = client
        self.task: asyncio.Future[Any] | None = None  # the create_connection that made it

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        if self.client.peer is not None or self.client.transport is None:  # lost the race, or nobody waits
            self.transport.close()
            return
        self.peer = self.client
        self.client.connected(self)


class _Downstream(_Side):
    """The accepted client connection. Until the endpoint's connection is up, reading is paused and
    whatever still arrives (uvloop may deliver a first read) is kept in ``early``.

    A server whose accept queue is full drops the SYN, and the kernel resends it only after a
    second: a client connecting directly waits in connect(), but here the client is already
    connected, so that second would land in its first request. So when the endpoint has not
    answered after ``RETRY_AFTER[0]`` s another connection is raced, and so on; the first
    established one is used and the others are closed.
    """

    __slots__ = ("pick", "early", "endpoint", "attempts", "timer", "tries")

    def __init__(self, pick: Callable[[str], Endpoint | None]) -> None:
        super().__init__()
        self.pick = pick
        self.early: list[bytes] | None = []
        self.endpoint: Endpoint = ("", 0)
        self.attempts: list[asyncio.Future[Any]] = []
        self.timer: asyncio.TimerHandle | None = None
        self.tries = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it
        peername = self.transport.get_extra_info("peername")
        endpoint = self.pick(peername[0] if peername else "")
        if endpoint is None:  # no ready endpoint: refuse, as kube-proxy's REJECT rule does
            reset(self.transport)
            return
        self.endpoint = endpoint
        self.transport.pause_reading()
        self._attempt()

    def _attempt(self) -> None:
        """Start one more connection attempt, and set the timer for the next (or for giving up)."""
        loop = asyncio.get_running_loop()
        up = _Upstream(self)
        task = loop.create_task(loop.create_connection(lambda: up, self.endpoint[0], self.endpoint[1]))
        task.add_done_callback(self._attempt_done)
        up.task = task
        self.attempts.append(task)
        if self.tries < len(RETRY_AFTER):
            self.timer = loop.call_later(RETRY_AFTER[self.tries], self._attempt)
        else:
            self.timer = loop.call_later(CONNECT_TIMEOUT - sum(RETRY_AFTER), self._give_up)
        self.tries += 1

    def _attempt_done(self, task: asyncio.Future[Any]) -> None:
        if task.cancelled() or task.exception() is None:  # cancelled by us, or connected
            return
        if self.peer is None and all(t.done() for t in self.attempts):
            self._give_up()  # every attempt was refused or unreachable: nothing listens there

    def _give_up(self) -> None:
        self._stop_connecting()
        if self.transport is not None and self.peer is None:
            reset(self.transport)

    def _stop_connecting(self, winner: asyncio.Future[Any] | None = None) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        for t in self.attempts:
            if t is not winner and not t.done():  # cancelling the winner's would close its transport
                t.cancel()
        self.attempts = []

    def connected(self, up: _Upstream) -> None:
        """``up`` won the race: relay through it from now on."""
        self._stop_connecting(up.task)
        self.peer = up
        assert self.transport is not None and up.transport is not None
        early, self.early = self.early or [], None
        for chunk in early:
            up.transport.write(chunk)
        if self.eof:
            if up.transport.can_write_eof():
                up.transport.write_eof()
        else:
            self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        if self.early is not None:
            self.early.append(data)
        else:
            super().data_received(data)

    def eof_received(self) -> bool:
        if self.early is not None:  # not connected yet: the FIN is passed on once it is
            self.eof = True
            return True
        return super().eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is None:
            self._stop_connecting()
        super().connection_lost(exc)


def reset(transport: asyncio.BaseTransport) -> None:
    """Close with a RST (SO_LINGER 0), so that the client reads "connection reset", not an empty answer."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    cast(asyncio.Transport, transport).abort()


def _nodelay(server: asyncio.AbstractServer) -> None:
    for sock in getattr(server, "sockets", None) or []:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass


async def listen(host: str, port: int, backends: Callable[[], Backends | None]) -> asyncio.AbstractServer:
    """Listen on ``host:port`` and relay every connection to the endpoint ``backends()`` picks.

    ``backends`` is called per connection, so the caller can swap the endpoint set at any time.
    """

    def pick(client_ip: str) -> Endpoint | None:
        b = backends()
        return b.pick(client_ip) if b is not None else None

    server = await asyncio.get_running_loop().create_server(
        lambda: _Downstream(pick), host, port, reuse_address=True, backlog=LISTEN_BACKLOG)
    _nodelay(server)  # accepted sockets inherit TCP_NODELAY from the listener on Linux
    return server
