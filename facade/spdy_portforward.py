"""``portforward.k8s.io`` over SPDY/3.1: the server side of kubectl's port-forward, as kubelet serves it.

For every local connection the client opens two streams with headers ``streamtype`` (``error`` then
``data``), ``port`` and ``requestid``; the pair shares the request id. The server replies to each
stream, connects to the pod's port once the pair is complete, relays bytes between the data stream
and that connection, and writes a failure, as text, on the error stream. When the pod's side ends,
both streams are closed (a FIN), which is how kubectl learns the forwarded connection is over.
As kubelet does, a stream without a valid ``streamtype`` or ``port`` is reset, and a pair whose
second stream does not come within 30 s says "timed out waiting for streams" on its error stream.

The same session runs over two byte transports: a WebSocket whose binary messages carry the SPDY
byte stream (subprotocol ``SPDY/3.1+portforward.k8s.io``, kubectl 1.32's default) and a raw
connection after an HTTP ``Upgrade: SPDY/3.1`` (facade/spdy_upgrade.py, kubectl's fallback).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from facade import spdy

PROTOCOL = "portforward.k8s.io"
TUNNEL_PROTOCOL = "SPDY/3.1+" + PROTOCOL
CHUNK = 32 * 1024
PAIR_TIMEOUT = 30.0  # kubelet's stream creation timeout: both streams of a pair must arrive within it
QUEUED = 64  # data frames held per stream before the connection stops being read (spdystream holds one)

Connect = Callable[[int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


def forward_error(sandbox: str, port: int, error: BaseException) -> str:
    """kubelet's text for a port that cannot be reached, with the runtime's reason after it."""
    reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return (f"error forwarding port {port} to pod {sandbox}, uid : failed to connect to localhost:{port} "
            f'inside namespace "{sandbox}", IPv4: dial tcp4 127.0.0.1:{port}: connect: {reason.lower()} ')


@dataclass
class _Stream:
    id: int
    kind: str
    port: str
    incoming: asyncio.Queue[bytes | None] = field(default_factory=lambda: asyncio.Queue(QUEUED))
    sent_fin: bool = False
    reset: bool = False
    done: bool = False  # nobody reads ``incoming`` any more: what arrives is dropped

    async def deliver(self, item: bytes | None) -> None:
        """Queue what the client sent; a full queue holds up the connection, as spdystream's does."""
        if not self.done:
            await self.incoming.put(item)

    def stop_reading(self) -> None:
        self.done = True
        while not self.incoming.empty():  # frees a delivery waiting for room
            self.incoming.get_nowait()


@dataclass
class _Pair:
    request_id: str
    error: _Stream | None = None
    data: _Stream | None = None


class PortForwardSession:
    """One SPDY connection: streams in, pairs of them forwarded to the pod's ports."""

    def __init__(self, send: Callable[[bytes], Awaitable[None]], connect: Connect, sandbox: str) -> None:
        self.framer = spdy.Framer()
        self._send = send
        self._lock = asyncio.Lock()  # frames leave in the order their headers were compressed
        self.connect = connect
        self.sandbox = sandbox
        self.streams: dict[int, _Stream] = {}
        self.pairs: dict[str, _Pair] = {}
        self.tasks: set[asyncio.Task[Any]] = set()
        self.closed = False

    async def send(self, frame: spdy.Frame) -> None:
        if self.closed:
            return
        async with self._lock:
            try:
                await self._send(self.framer.encode(frame))
            except (ConnectionError, RuntimeError, OSError):
                self.closed = True

    async def run(self, receive: Callable[[], Awaitable[bytes]]) -> None:
        """Serve until the client goes away (EOF, GOAWAY); ``receive`` returns b"" at the end."""
        try:
            while data := await receive():
                for frame in self.framer.feed(data):
                    if not await self._handle(frame):
                        return
        except spdy.ProtocolError:
            await self.send(spdy.GoAway(0, spdy.GOAWAY_PROTOCOL_ERROR))
        finally:
            self.closed = True
            for task in list(self.tasks):
                task.cancel()
            if self.tasks:
                await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _handle(self, frame: spdy.Frame) -> bool:
        if isinstance(frame, spdy.SynStream):
            await self._new_stream(frame)
        elif isinstance(frame, spdy.DataFrame | spdy.HeadersFrame):
            stream = self.streams.get(frame.stream_id)
            if stream is None:
                return True
            if isinstance(frame, spdy.DataFrame) and frame.data:
                await stream.deliver(frame.data)
            if frame.flags & spdy.FLAG_FIN:  # the client's half-close
                await stream.deliver(None)
        elif isinstance(frame, spdy.RstStream):
            stream = self.streams.pop(frame.stream_id, None)
            if stream is not None:
                stream.reset = True
                stream.stop_reading()
                stream.incoming.put_nowait(None)
        elif isinstance(frame, spdy.Ping):
            if frame.id % 2:  # the client's ping (odd ids): answer it; ours would be even
                await self.send(frame)
        elif isinstance(frame, spdy.GoAway):
            return False
        return True  # SETTINGS, WINDOW_UPDATE: nothing to do (spdystream enforces no windows)

    async def _new_stream(self, frame: spdy.SynStream) -> None:
        kind = (frame.headers.get("streamtype") or [""])[0]
        port = (frame.headers.get("port") or [""])[0]
        if frame.stream_id in self.streams or frame.stream_id % 2 == 0:
            await self.send(spdy.RstStream(frame.stream_id, spdy.PROTOCOL_ERROR))
            return
        if kind not in ("error", "data") or not port.isdigit() or not 0 < int(port) < 65536:
            await self.send(spdy.RstStream(frame.stream_id, spdy.CANCEL))  # kubelet rejects such a stream
            return
        # Clients older than request ids pair a data stream with the error stream created just before it.
        request_id = (frame.headers.get("requestid") or [""])[0] or str(
            frame.stream_id if kind == "error" else frame.stream_id - 2)
        stream = _Stream(frame.stream_id, kind, port)
        self.streams[frame.stream_id] = stream
        await self.send(spdy.SynReply(frame.stream_id))
        if kind == "error":  # nothing the client sends on it is read
            stream.stop_reading()
        elif frame.flags & spdy.FLAG_FIN:  # a data stream the client will not write to
            stream.incoming.put_nowait(None)
        pair = self.pairs.get(request_id)
        if pair is None:
            pair = self.pairs[request_id] = _Pair(request_id)
            asyncio.get_running_loop().call_later(PAIR_TIMEOUT, self._pair_timed_out, pair)
        if getattr(pair, kind) is not None:
            await self.send(spdy.RstStream(frame.stream_id, spdy.PROTOCOL_ERROR))
            return
        setattr(pair, kind, stream)
        if pair.error is not None and pair.data is not None:
            del self.pairs[request_id]
            task = asyncio.create_task(self._forward(pair.error, pair.data))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    def _pair_timed_out(self, pair: _Pair) -> None:
        """The pair's other stream never came: say so on its error stream, as kubelet does, and end it."""
        if self.closed or self.pairs.get(pair.request_id) is not pair:
            return
        del self.pairs[pair.request_id]

        async def report() -> None:
            if pair.error is not None:
                await self._write(pair.error, f"(conn={id(self):#x}, request={pair.request_id}) "
                                              "timed out waiting for streams".encode())
            for stream in (pair.error, pair.data):
                if stream is not None:
                    stream.stop_reading()
                    await self._finish(stream)

        task = asyncio.create_task(report())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _write(self, stream: _Stream, data: bytes) -> None:
        if not stream.reset and not stream.sent_fin:
            await self.send(spdy.DataFrame(stream.id, data))

    async def _finish(self, stream: _Stream) -> None:
        if not stream.reset and not stream.sent_fin:
            stream.sent_fin = True
            await self.send(spdy.DataFrame(stream.id, b"", spdy.FLAG_FIN))
        self.streams.pop(stream.id, None)

    async def _forward(self, error: _Stream, data: _Stream) -> None:
        port = int(data.port)
        try:
            reader, writer = await self.connect(port)
        except (TimeoutError, OSError, NotImplementedError) as e:
            await self._write(error, forward_error(self.sandbox, port, e).encode())
            await self._finish(data)
            await self._finish(error)
            return

        async def to_pod() -> None:
            while (chunk := await data.incoming.get()) is not None:
                writer.write(chunk)
                await writer.drain()
            if not data.reset and writer.can_write_eof():
                writer.write_eof()  # the client has nothing more to send: half-close, as kubelet does

        upstream = asyncio.create_task(to_pod())
        try:
            while not data.reset and (chunk := await reader.read(CHUNK)):
                await self._write(data, chunk)
        except (ConnectionError, OSError):
            pass
        finally:
            upstream.cancel()
            data.stop_reading()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
                await upstream
            writer.close()
            if not self.closed:
                await self._finish(data)
                await self._finish(error)
