"""The userspace NodePort data path (runtime/proxy/relay.py), driven with real sockets on loopback:
what a client of the proxy sees (bytes, half-close, refusal), on asyncio's loop and on uvloop (the
loop `kubefacade serve` runs)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable

import pytest

from runtime.proxy.backends import Backends
from runtime.proxy.relay import listen

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is a dependency of serve, but keep the test usable
    uvloop = None

LOOPS = ["asyncio"] + (["uvloop"] if uvloop is not None else [])


def run(loop_name: str, main: Callable[[], Awaitable[None]]) -> None:
    if loop_name == "uvloop":
        assert uvloop is not None
        uvloop.run(asyncio.wait_for(main(), 20))
    else:
        asyncio.run(asyncio.wait_for(main(), 20))


async def start_upstream(handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
                         ) -> tuple[asyncio.AbstractServer, int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def proxy_to(endpoints: list[tuple[str, int]], **backend: int) -> tuple[asyncio.AbstractServer, int, Backends]:
    b = Backends(endpoints=endpoints, **backend)
    server = await listen("127.0.0.1", 0, lambda: b)
    return server, server.sockets[0].getsockname()[1], b


@pytest.mark.parametrize("loop_name", LOOPS)
def test_request_sent_at_once_and_an_answer_closed_by_the_server_arrive_whole(loop_name: str) -> None:
    """An HTTP/1.0-style exchange: the client writes before the proxy has connected upstream, the
    server answers and closes (as busybox httpd does); the client reads the answer, then EOF."""

    async def main() -> None:
        async def upstream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            request = await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.0 200 OK\r\n\r\nyou sent " + request.split(b" ")[1])
            await writer.drain()
            writer.close()

        up, up_port = await start_upstream(upstream)
        px, port, _ = await proxy_to([("127.0.0.1", up_port)])
        for i in range(20):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(f"GET /{i} HTTP/1.0\r\n\r\n".encode())
            assert await reader.read() == f"HTTP/1.0 200 OK\r\n\r\nyou sent /{i}".encode()
            writer.close()
        px.close()
        up.close()

    run(loop_name, main)


@pytest.mark.parametrize("loop_name", LOOPS)
def test_client_half_close_reaches_the_server_and_its_reply_still_comes_back(loop_name: str) -> None:
    """The client's FIN is passed on (the server reads to EOF) while the way back stays open."""

    async def main() -> None:
        async def upstream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            data = await reader.read()  # until the client's FIN
            writer.write(hashlib.sha256(data).hexdigest().encode())
            await writer.drain()
            writer.close()

        up, up_port = await start_upstream(upstream)
        px, port, _ = await proxy_to([("127.0.0.1", up_port)])
        payload = bytes(range(256)) * 20_000  # 5 MB: more than the transports buffer, so back-pressure acts
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(payload)
        await writer.drain()
        writer.write_eof()
        assert await reader.read() == hashlib.sha256(payload).hexdigest().encode()
        writer.close()
        px.close()
        up.close()

    run(loop_name, main)


@pytest.mark.parametrize("loop_name", LOOPS)
def test_large_download_arrives_intact(loop_name: str) -> None:
    async def main() -> None:
        blob = bytes(range(251)) * 40_000  # 10 MB, not a multiple of any buffer size

        async def upstream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\n")
            writer.write(blob)
            await writer.drain()
            writer.close()

        up, up_port = await start_upstream(upstream)
        px, port, _ = await proxy_to([("127.0.0.1", up_port)])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"go\n")
        got = await reader.read()
        assert len(got) == len(blob) and got == blob
        writer.close()
        px.close()
        up.close()

    run(loop_name, main)


@pytest.mark.parametrize("loop_name", LOOPS)
def test_no_ready_endpoint_or_a_refusing_one_resets_the_client_connection(loop_name: str) -> None:
    async def main() -> None:
        px, port, b = await proxy_to([])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.0\r\n\r\n")
        with pytest.raises(ConnectionResetError):
            await reader.read()  # refused outright, as kube-proxy's REJECT does
        writer.close()
        closed, closed_port = await start_upstream(lambda r, w: asyncio.sleep(0))
        closed.close()
        await closed.wait_closed()
        b.endpoints = [("127.0.0.1", closed_port)]  # a port nobody listens on any more
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.0\r\n\r\n")
        with pytest.raises(ConnectionResetError):
            await reader.read()
        writer.close()
        px.close()

    run(loop_name, main)


@pytest.mark.parametrize("loop_name", LOOPS)
def test_connections_alternate_between_two_endpoints(loop_name: str) -> None:
    async def main() -> None:
        def named(name: bytes) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
            async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                writer.write(name)
                await writer.drain()
                writer.close()
            return handler

        a, a_port = await start_upstream(named(b"a"))
        b, b_port = await start_upstream(named(b"b"))
        px, port, _ = await proxy_to([("127.0.0.1", a_port), ("127.0.0.1", b_port)])
        seen = []
        for _ in range(4):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            seen.append(await reader.read())
            writer.close()
        assert sorted(seen) == [b"a", b"a", b"b", b"b"]
        for s in (px, a, b):
            s.close()

    run(loop_name, main)


@pytest.mark.parametrize("loop_name", LOOPS)
def test_raced_connects_deliver_each_request_exactly_once(loop_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """With every retry due at once, several upstream connections race for each client; the
    request still reaches the server once, on the connection whose answer the client gets."""
    from runtime.proxy import relay

    monkeypatch.setattr(relay, "RETRY_AFTER", (0.0, 0.0, 0.0))

    async def main() -> None:
        requests: list[bytes] = []

        async def upstream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            data = await reader.read(100)  # b"" on a connection that lost the race
            if data:
                requests.append(data)
                writer.write(b"answer to " + data)
                await writer.drain()
            writer.close()

        up, up_port = await start_upstream(upstream)
        px, port, _ = await proxy_to([("127.0.0.1", up_port)])
        for i in range(10):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"request %d" % i)
            assert await reader.read() == b"answer to request %d" % i
            writer.close()
        assert requests == [b"request %d" % i for i in range(10)]
        px.close()
        up.close()

    run(loop_name, main)
