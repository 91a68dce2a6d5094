"""The HTTP/1.1 reverse proxy of the Ingress controller, over asyncio streams with h11 on both sides.

One client connection carries many requests (keep-alive). Each request goes to an endpoint the
router picks, over a kept-alive upstream connection when it has no body (``upstream.py``), else a
fresh one. Request and response bodies are streamed both ways at once, chunk by chunk with
back-pressure (``drain``), never buffered whole. h11 frames each side on its own: a chunked upload
may reach the upstream chunked, a close-delimited HTTP/1.0 response reaches a 1.1 client chunked.
A ``101 Switching Protocols`` answer to an ``Upgrade`` request (WebSocket) turns the exchange into
a raw byte pipe.

Headers as ingress-nginx sets them by default: the client's Host is kept; X-Forwarded-For and
X-Real-IP carry the client address (replacing what the client sent, as nginx does when it does not
trust forwarded headers), X-Forwarded-Host/-Port/-Proto/-Scheme the original request; hop-by-hop
headers (Connection and what it names, Keep-Alive, TE, Trailer, Proxy-*) are not forwarded.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus

import h11

from runtime.ingress.upstream import MAX_EVENT, Upstream, UpstreamPool, connect

CHUNK = 65536
HEADER_TIMEOUT = 60.0  # upstream response headers (ingress-nginx proxy-read-timeout)
IDLE_TIMEOUT = 75.0  # a keep-alive client connection without a request (nginx keepalive_timeout)
HOP_BY_HOP = {b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"upgrade",
              b"proxy-authenticate", b"proxy-authorization"}
FORWARDED = {b"x-forwarded-for", b"x-real-ip", b"x-forwarded-host", b"x-forwarded-port", b"x-forwarded-proto",
             b"x-forwarded-scheme"}
Headers = list[tuple[bytes, bytes]]


@dataclass
class Decision:
    """What to do with a request: answer ``status`` with ``body`` itself, or try ``endpoints`` in order."""

    status: int = 0
    body: bytes = b""
    endpoints: list[tuple[str, int]] = field(default_factory=list)


Router = Callable[[str, str], Decision]  # (Host header, request target) -> Decision


class _Abort(Exception):
    """The exchange cannot go on; close the client connection."""


class _Stale(Exception):
    """A reused upstream connection was closed by its server before answering."""


def _hop_names(headers: Headers) -> set[bytes]:
    names = set(HOP_BY_HOP)
    for k, v in headers:
        if k == b"connection":
            names |= {t.strip().lower() for t in v.split(b",") if t.strip()}
    return names


def _wants_upgrade(headers: Headers) -> bytes:
    """The Upgrade token when the request asks for a protocol switch (Connection: upgrade)."""
    conn = b",".join(v for k, v in headers if k == b"connection").lower()
    if b"upgrade" not in {t.strip() for t in conn.split(b",")}:
        return b""
    return next((v for k, v in headers if k == b"upgrade"), b"")


def _has_body(req: h11.Request) -> bool:
    return any(k in (b"content-length", b"transfer-encoding") and v != b"0" for k, v in req.headers)


def _response_headers(headers: Headers) -> Headers:
    hop = _hop_names(headers)
    return [(k, v) for k, v in headers if k not in hop]


async def _send(writer: asyncio.StreamWriter, conn: h11.Connection, event: h11.Event) -> None:
    data = conn.send(event)
    if data:
        writer.write(data)
        await writer.drain()


async def _next_event(conn: h11.Connection, reader: asyncio.StreamReader) -> h11.Event | type[h11.PAUSED]:
    while True:
        event = conn.next_event()
        if event is not h11.NEED_DATA:
            return event  # type: ignore[return-value]
        conn.receive_data(await reader.read(CHUNK))


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    try:
        while data := await src.read(CHUNK):
            dst.write(data)
            await dst.drain()
        if dst.can_write_eof():
            dst.write_eof()
    except (OSError, RuntimeError):
        pass


class HttpProxy:
    """Serves one listener: ``handle`` is the asyncio.start_server callback."""

    def __init__(self, router: Router, scheme: str, port: int) -> None:
        self.router = router
        self.scheme = scheme.encode()
        self.port = str(port).encode()
        self.pool = UpstreamPool()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername") or ("", 0)
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_EVENT)
        try:
            while True:
                try:
                    async with asyncio.timeout(IDLE_TIMEOUT):
                        event = await _next_event(conn, reader)
                except (TimeoutError, h11.RemoteProtocolError) as e:
                    if isinstance(e, h11.RemoteProtocolError) and conn.our_state is h11.IDLE:
                        await self._answer(conn, writer, e.error_status_hint, b"Bad Request\n")
                    break
                if not isinstance(event, h11.Request):
                    break
                if not await self._exchange(conn, event, reader, writer, str(peer[0])):
                    break
                if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    break
                conn.start_next_cycle()
        except (_Abort, OSError, h11.ProtocolError, asyncio.IncompleteReadError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _answer(self, conn: h11.Connection, writer: asyncio.StreamWriter, status: int, body: bytes) -> None:
        """A response of the proxy's own (404, 502, 503)."""
        headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
        try:
            reason = HTTPStatus(status).phrase.encode()
        except ValueError:
            reason = b""
        writer.write(conn.send(h11.Response(status_code=status, headers=headers, reason=reason))
                     + conn.send(h11.Data(data=body))
                     + conn.send(h11.EndOfMessage()))
        await writer.drain()

    async def _drain_request(self, conn: h11.Connection, reader: asyncio.StreamReader) -> None:
        """Read the rest of a request body nobody will see, so that the connection can be reused."""
        while conn.their_state is h11.SEND_BODY:
            ev = await _next_event(conn, reader)
            if isinstance(ev, h11.ConnectionClosed) or ev is h11.PAUSED:
                break

    async def _exchange(self, conn: h11.Connection, req: h11.Request, reader: asyncio.StreamReader,
                        writer: asyncio.StreamWriter, client_ip: str) -> bool:
        """Proxy one request; False when the client connection must close afterwards."""
        host = next((v for k, v in req.headers if k == b"host"), b"").decode("latin-1")
        decision = (Decision(405, b"405 Method Not Allowed\n") if req.method == b"CONNECT"
                    else self.router(host, req.target.decode("latin-1")))
        if decision.status:
            await self._answer(conn, writer, decision.status, decision.body)
            await self._drain_request(conn, reader)
            return True
        reusable = not _has_body(req) and not _wants_upgrade(req.headers)
        upstream = self.pool.take(decision.endpoints[0]) if reusable else None
        while True:
            upstream = upstream or await connect(decision.endpoints)
            if upstream is None:
                await self._answer(conn, writer, 502, b"502 Bad Gateway\n")
                await self._drain_request(conn, reader)
                return True
            try:
                return await self._forward(conn, req, reader, writer, upstream, host, client_ip, reusable)
            except _Stale:  # a kept-alive upstream connection its server had closed: once more, fresh
                upstream.close()
                upstream = None
            finally:
                if upstream is not None:
                    upstream.close()

    def _request_headers(self, req: h11.Request, host: str, client_ip: str, upgrade: bytes) -> Headers:
        hop = _hop_names(req.headers)
        out: Headers = [(k, v) for k, v in req.headers if k not in hop and k not in FORWARDED]
        if upgrade:
            out += [(b"connection", b"upgrade"), (b"upgrade", upgrade)]
        ip = client_ip.encode()
        out += [(b"x-forwarded-for", ip), (b"x-real-ip", ip), (b"x-forwarded-host", host.encode("latin-1")),
                (b"x-forwarded-port", self.port), (b"x-forwarded-proto", self.scheme),
                (b"x-forwarded-scheme", self.scheme)]
        return out

    async def _forward(self, conn: h11.Connection, req: h11.Request, reader: asyncio.StreamReader,
                       writer: asyncio.StreamWriter, upstream: Upstream, host: str, client_ip: str,
                       reusable: bool) -> bool:
        upgrade = _wants_upgrade(req.headers)
        up, up_writer = upstream.conn, upstream.writer
        head = up.send(h11.Request(method=req.method, target=req.target,
                                   headers=self._request_headers(req, host, client_ip, upgrade)))
        body_task: asyncio.Task[bool] | None = None
        if reusable:  # no body: the client's EndOfMessage is already parsed, nothing to stream
            if conn.their_state is h11.SEND_BODY:
                await _next_event(conn, reader)
            head += up.send(h11.EndOfMessage())
        try:
            up_writer.write(head)
            await up_writer.drain()
        except OSError:
            raise (_Stale if upstream.reused else _Abort) from None
        if not reusable:
            body_task = asyncio.create_task(self._request_body(conn, reader, up, up_writer))
        try:
            ok = await self._response(conn, writer, upstream, upgrade, reader, body_task)
            if ok is None:  # switched protocols: the connection was piped to its end
                return False
            if body_task is not None:
                ok = await body_task and ok  # the upstream may answer before reading the whole request
            if reusable and up.our_state is h11.DONE and up.their_state is h11.DONE:
                self.pool.give(upstream)
            return ok
        finally:
            if body_task is not None and not body_task.done():
                body_task.cancel()
                with contextlib.suppress(BaseException):
                    await body_task

    async def _response(self, conn: h11.Connection, writer: asyncio.StreamWriter, upstream: Upstream,
                        upgrade: bytes, reader: asyncio.StreamReader,
                        body_task: asyncio.Task[bool] | None) -> bool | None:
        """Relay the upstream's response; small pieces are written to the client together."""
        up, up_reader = upstream.conn, upstream.reader
        out = bytearray()
        started = False
        while True:
            try:
                ev = up.next_event()
            except h11.RemoteProtocolError:  # a malformed or cut-short response
                ev = h11.ConnectionClosed()
            if ev is h11.NEED_DATA:
                if out:
                    writer.write(bytes(out))
                    out.clear()
                    await writer.drain()
                try:
                    if started:
                        data = await up_reader.read(CHUNK)
                    else:
                        async with asyncio.timeout(HEADER_TIMEOUT):
                            data = await up_reader.read(CHUNK)
                except TimeoutError:
                    await self._answer(conn, writer, 504, b"504 Gateway Time-out\n")
                    return False
                except OSError:
                    data = b""
                up.receive_data(data)
                continue
            if isinstance(ev, h11.InformationalResponse):
                if ev.status_code == 101 and upgrade:
                    await self._switch(conn, ev, reader, writer, upstream, body_task)
                    return None
                if ev.status_code != 101:
                    out += conn.send(h11.InformationalResponse(status_code=ev.status_code, reason=ev.reason,
                                                               headers=_response_headers(ev.headers)))
            elif isinstance(ev, h11.Response):
                started = True
                out += conn.send(h11.Response(status_code=ev.status_code, reason=ev.reason,
                                              headers=_response_headers(ev.headers)))
            elif isinstance(ev, h11.Data):
                out += conn.send(h11.Data(data=ev.data))
                if len(out) >= CHUNK:
                    writer.write(bytes(out))
                    out.clear()
                    await writer.drain()
            elif isinstance(ev, h11.EndOfMessage):
                writer.write(bytes(out + conn.send(h11.EndOfMessage())))
                await writer.drain()
                return True
            elif started:  # the upstream closed in the middle of the body
                raise _Abort
            elif upstream.reused:
                raise _Stale
            else:
                await self._answer(conn, writer, 502, b"502 Bad Gateway\n")
                return False

    async def _request_body(self, conn: h11.Connection, reader: asyncio.StreamReader, up: h11.Connection,
                            up_writer: asyncio.StreamWriter) -> bool:
        """Stream the request body upstream; False when the client went away mid-body."""
        upstream_ok = True
        while True:
            ev = await _next_event(conn, reader)
            if isinstance(ev, h11.Data):
                if upstream_ok:
                    try:
                        await _send(up_writer, up, h11.Data(data=ev.data))
                    except (OSError, h11.LocalProtocolError):
                        upstream_ok = False  # the upstream stopped reading; keep draining the client
            elif isinstance(ev, h11.EndOfMessage):
                if upstream_ok:
                    with contextlib.suppress(OSError, h11.LocalProtocolError):
                        await _send(up_writer, up, h11.EndOfMessage())
                return True
            else:
                return False

    async def _switch(self, conn: h11.Connection, ev: h11.InformationalResponse, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter, upstream: Upstream, body_task: asyncio.Task[bool] | None) -> None:
        """101 from the upstream: answer the client the same and pipe raw bytes both ways."""
        if body_task is not None:
            await body_task  # an Upgrade request's (empty) body is complete before the switch
        headers = [(k, v) for k, v in ev.headers if k not in (b"connection", b"upgrade", b"keep-alive")]
        headers += [(b"connection", b"upgrade")]
        headers += [(b"upgrade", v) for k, v in ev.headers if k == b"upgrade"]
        await _send(writer, conn, h11.InformationalResponse(status_code=101, headers=headers, reason=ev.reason))
        client_rest, _ = conn.trailing_data
        up_rest, _ = upstream.conn.trailing_data
        if client_rest:
            upstream.writer.write(client_rest)
        if up_rest:
            writer.write(up_rest)
        await asyncio.gather(_pipe(reader, upstream.writer), _pipe(upstream.reader, writer))
