"""The plain ``Upgrade: SPDY/3.1`` for ``pods/{name}/portforward``, below ASGI (uvicorn's HTTP/1.1 protocol).

kubectl falls back to it when the WebSocket upgrade fails: ``POST .../portforward`` with
``Connection: Upgrade``, ``Upgrade: SPDY/3.1``, ``X-Stream-Protocol-Version: portforward.k8s.io``,
answered ``101 Switching Protocols``; after that the TLS connection carries SPDY/3.1 frames. ASGI
has no way to take over a connection, so a subclass of uvicorn's httptools protocol recognises the
request, authenticates the bearer token as facade/app.py's TokenAuth does, writes the 101 (or a
Status) itself and hands the transport to a port-forward session (facade/spdy_portforward.py).
Every other request, WebSocket upgrades included, goes through uvicorn unchanged.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
from typing import Any

import httptools
import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from facade import errors, identity
from facade.errors import APIError
from facade.spdy_portforward import PROTOCOL, PortForwardSession

log = logging.getLogger("kubefacade")
PATH = re.compile(r"^/api/v1/namespaces/([a-z0-9.-]+)/pods/([a-z0-9.-]+)/portforward$")
_PAUSE_AT = 64  # received chunks queued before the socket stops being read


class _SpdyTransport(asyncio.Protocol):
    """The upgraded connection as a byte stream: chunks in through a queue, writes with back-pressure."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.chunks: asyncio.Queue[bytes] = asyncio.Queue()
        self.writable = asyncio.Event()
        self.writable.set()
        self.paused = False

    def data_received(self, data: bytes) -> None:
        self.chunks.put_nowait(data)
        if self.chunks.qsize() >= _PAUSE_AT and not self.paused:
            self.paused = True
            self.transport.pause_reading()

    def eof_received(self) -> bool:
        self.chunks.put_nowait(b"")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.chunks.put_nowait(b"")
        self.writable.set()

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    async def receive(self) -> bytes:
        data = await self.chunks.get()
        if self.paused and self.chunks.qsize() < _PAUSE_AT // 2:
            self.paused = False
            self.transport.resume_reading()
        return data

    async def send(self, data: bytes) -> None:
        if self.transport.is_closing():
            raise ConnectionError("connection closed")
        self.transport.write(data)
        await self.writable.wait()


class SpdyUpgradeProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, plus the SPDY upgrade; ``rest`` and ``token`` are set by ``protocol_class``."""

    rest: Any = None
    token: str | None = None
    sessions: set[asyncio.Task[Any]] = set()

    def _should_upgrade(self) -> bool:
        return self._get_upgrade() == b"spdy/3.1" or super()._should_upgrade()

    def handle_websocket_upgrade(self) -> None:
        """uvicorn calls this for every upgrade ``_should_upgrade`` accepts; SPDY is taken here."""
        if self._get_upgrade() == b"spdy/3.1":
            self.handle_spdy_upgrade()
            return
        super().handle_websocket_upgrade()

    def handle_spdy_upgrade(self) -> None:
        self.connections.discard(self)  # no longer an HTTP connection uvicorn waits for on shutdown
        self._unset_keepalive_if_required()
        transport = self.transport
        stream = _SpdyTransport(transport)
        transport.set_protocol(stream)
        url = httptools.parse_url(self.url)
        task = asyncio.ensure_future(self._serve(stream, url.path.decode("latin-1"), list(self.headers)))
        self.sessions.add(task)
        task.add_done_callback(self.sessions.discard)

    def _refuse(self, transport: asyncio.Transport, err: APIError) -> None:
        body = orjson.dumps(err.status())
        reason = _reason(err.code)
        transport.write(f"HTTP/1.1 {err.code} {reason}\r\nContent-Type: application/json\r\n"
                        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
        transport.close()

    async def _authenticate(self, headers: list[tuple[bytes, bytes]]) -> None:
        """As the ASGI app authenticates (facade/app.py's TokenAuth, found in the app's chain), else the token."""
        app = self.app
        while app is not None and not hasattr(app, "authenticate"):
            app = getattr(app, "app", None)
        if app is not None:
            identity.current_user.set(await app.authenticate(headers))
            return
        given = dict(headers).get(b"authorization", b"")
        if self.token and not hmac.compare_digest(given, f"Bearer {self.token}".encode()):
            raise errors.unauthorized()

    async def _serve(self, stream: _SpdyTransport, path: str, raw_headers: list[tuple[bytes, bytes]]) -> None:
        from facade.pod_portforward import _pod_runtime

        transport = stream.transport
        headers = dict(raw_headers)
        try:
            await self._authenticate(raw_headers)
            match = PATH.match(path)
            if match is None:
                raise errors.bad_request(f"the SPDY/3.1 upgrade is served for pods/portforward only, not {path}")
            offered = [p.strip() for p in headers.get(b"x-stream-protocol-version", b"").decode().split(",") if p]
            if offered and PROTOCOL not in offered:
                raise errors.APIError(403, "Forbidden", f"unable to upgrade: unable to negotiate protocol: client "
                                      f"supports {offered}, server supports [{PROTOCOL}]")
            if self.rest is None:
                raise errors.APIError(503, "ServiceUnavailable", "port-forward is not served by this server")
            runtime, sandbox, _ = await _pod_runtime(self.rest, match.group(1), match.group(2))
        except APIError as e:
            self._refuse(transport, e)
            return
        transport.write(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                        + f"X-Stream-Protocol-Version: {PROTOCOL}\r\n\r\n".encode())

        async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            return await runtime.port_forward(sandbox, port)  # type: ignore[no-any-return]

        try:
            await PortForwardSession(stream.send, connect, sandbox).run(stream.receive)
        except Exception:  # noqa: BLE001 - a session's failure must not reach the event loop unlogged
            log.exception("port-forward session over SPDY failed")
        finally:
            transport.close()


def _reason(code: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Error"


def protocol_class(rest: Any, token: str | None, base: type[HttpToolsProtocol] = HttpToolsProtocol) -> type:
    """The class to give uvicorn as ``http=``: ``base`` (uvicorn's protocol or a subclass of it) plus
    the SPDY upgrade, whose sessions reach ``rest`` and require ``token``."""
    bases = (SpdyUpgradeProtocol,) if base is HttpToolsProtocol else (SpdyUpgradeProtocol, base)
    return type("SpdyUpgradeHttpProtocol", bases, {"rest": rest, "token": token, "sessions": set()})
