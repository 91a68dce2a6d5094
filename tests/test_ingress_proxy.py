"""The Ingress reverse proxy on its own (no API server): upstream keep-alive, a kept connection the
backend closed meanwhile, an endpoint that refuses connections, a response cut short."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

from runtime.ingress.proxy import Decision, HttpProxy

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _request(port: int, raw: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return data


def run(backend: Handler, router: Callable[[int], Decision], client: Callable[[int], Awaitable[object]]) -> object:
    """Start ``backend`` and a proxy routing every request by ``router(backend_port)``; run ``client``."""

    async def main() -> object:
        up = await asyncio.start_server(backend, "127.0.0.1", 0)
        up_port = up.sockets[0].getsockname()[1]
        proxy = HttpProxy(lambda host, target: router(up_port), "http", 0)
        front = await asyncio.start_server(proxy.handle, "127.0.0.1", 0)
        try:
            return await client(front.sockets[0].getsockname()[1])
        finally:
            front.close()
            up.close()

    return asyncio.run(main())


ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def test_upstream_connections_are_kept_alive_and_a_closed_one_is_replaced() -> None:
    connections: list[int] = []

    async def backend(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        first, served = len(connections) == 1, False
        while True:
            try:
                await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                break
            if first and served:  # the first connection closes as the 2nd request arrives (a keep-alive
                break  # timeout racing the request): the proxy must send that request again, fresh
            writer.write(ANSWER)
            await writer.drain()
            served = True
        writer.close()

    async def client(port: int) -> list[bytes]:
        out = []
        for _ in range(3):
            out.append(await _request(port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
        return out

    answers = run(backend, lambda p: Decision(endpoints=[("127.0.0.1", p)]), client)
    assert all(a.startswith(b"HTTP/1.1 200 ") and a.endswith(b"ok") for a in answers)  # type: ignore[union-attr]
    assert len(connections) == 2  # the first kept, then found closed; the second kept for requests 2 and 3


def test_a_refusing_endpoint_is_skipped_and_none_left_is_502() -> None:
    async def backend(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(ANSWER)
        await writer.drain()

    dead = free_port()
    get = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    answer = run(backend, lambda p: Decision(endpoints=[("127.0.0.1", dead), ("127.0.0.1", p)]),
                 lambda port: _request(port, get))
    assert answer.startswith(b"HTTP/1.1 200 ")  # type: ignore[union-attr]
    answer = run(backend, lambda p: Decision(endpoints=[("127.0.0.1", dead)]), lambda port: _request(port, get))
    assert answer.startswith(b"HTTP/1.1 502 Bad Gateway\r\n") and answer.endswith(b"502 Bad Gateway\n")  # type: ignore[union-attr]


def test_a_response_cut_short_closes_the_client_connection() -> None:
    async def backend(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly-part")
        await writer.drain()
        writer.close()

    answer = run(backend, lambda p: Decision(endpoints=[("127.0.0.1", p)]),
                 lambda port: _request(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b"only-part")  # type: ignore[union-attr]


def test_proxy_answers_and_bad_requests() -> None:
    async def backend(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async def client(port: int) -> tuple[bytes, bytes]:
        not_found = await _request(port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        bad = await _request(port, b"NOT HTTP\r\n\r\n")
        return not_found, bad

    not_found, bad = run(backend, lambda p: Decision(404, b"default backend - 404"), client)  # type: ignore[misc]
    assert not_found.startswith(b"HTTP/1.1 404 Not Found\r\n") and not_found.endswith(b"default backend - 404")
    assert bad.startswith(b"HTTP/1.1 400 Bad Request\r\n")
