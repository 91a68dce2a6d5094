"""The port-forward session (facade/spdy_portforward.py) driven in memory: stream pairs as kubelet handles them."""

from __future__ import annotations

import asyncio

import pytest

from facade import spdy, spdy_portforward
from facade.spdy_portforward import PortForwardSession


class Client:
    """The client end of an in-memory SPDY connection to a session whose pod port echoes upper-cased bytes."""

    def __init__(self) -> None:
        self.framer = spdy.Framer()
        self.reader = spdy.Framer()
        self.inbox: asyncio.Queue[bytes] = asyncio.Queue()
        self.received: list[spdy.Frame] = []
        self.ports: list[int] = []

    async def _send(self, data: bytes) -> None:
        self.received += self.reader.feed(data)

    async def _connect(self, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        self.ports.append(port)
        if port == 1:
            raise ConnectionRefusedError(111, "Connection refused")

        async def upper(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write((await reader.read()).upper())
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(upper, "127.0.0.1", 0)
        host, real = server.sockets[0].getsockname()[:2]
        return await asyncio.open_connection(host, real)

    def send(self, *frames: spdy.Frame) -> None:
        self.inbox.put_nowait(b"".join(self.framer.encode(f) for f in frames))

    async def run(self, until: object, timeout: float = 10) -> list[spdy.Frame]:
        """Serve until ``until(frames)`` holds or the session ends; then the client leaves. What the server sent."""
        session = PortForwardSession(self._send, self._connect, "sandbox-1")
        task = asyncio.create_task(session.run(self.inbox.get))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not until(self.received) and not task.done() and loop.time() < deadline:  # type: ignore[operator]
            await asyncio.sleep(0.01)
        self.inbox.put_nowait(b"")
        await task
        return self.received


def pair(request_id: int, port: int) -> tuple[spdy.SynStream, spdy.SynStream]:
    headers = {"streamtype": ["error"], "port": [str(port)], "requestid": [str(request_id)]}
    return (spdy.SynStream(4 * request_id + 1, headers, spdy.FLAG_FIN),
            spdy.SynStream(4 * request_id + 3, {**headers, "streamtype": ["data"]}))


def fins(frames: list[spdy.Frame]) -> set[int]:
    return {f.stream_id for f in frames if isinstance(f, spdy.DataFrame) and f.flags & spdy.FLAG_FIN}


def data_on(frames: list[spdy.Frame], stream_id: int) -> bytes:
    return b"".join(f.data for f in frames if isinstance(f, spdy.DataFrame) and f.stream_id == stream_id)


def test_a_pair_is_answered_forwarded_and_closed():
    async def main() -> list[spdy.Frame]:
        client = Client()
        client.send(*pair(0, 8080), spdy.DataFrame(3, b"hello", spdy.FLAG_FIN))
        return await client.run(lambda fs: fins(fs) == {1, 3})

    frames = asyncio.run(main())
    assert [f for f in frames if isinstance(f, spdy.SynReply)] == [spdy.SynReply(1), spdy.SynReply(3)]
    assert data_on(frames, 3) == b"HELLO"
    assert data_on(frames, 1) == b""


def test_streams_without_a_valid_type_or_port_are_reset():
    async def main() -> list[spdy.Frame]:
        client = Client()
        client.send(spdy.SynStream(1, {"streamtype": ["stdin"], "port": ["80"]}),
                    spdy.SynStream(3, {"streamtype": ["data"], "port": ["http"]}),
                    spdy.SynStream(5, {"streamtype": ["data"], "port": ["0"]}),
                    spdy.SynStream(7, {"streamtype": ["data"]}))
        return await client.run(lambda fs: len(fs) >= 4)

    assert asyncio.run(main()) == [spdy.RstStream(i, spdy.CANCEL) for i in (1, 3, 5, 7)]


def test_an_unreachable_port_is_reported_on_the_error_stream():
    async def main() -> list[spdy.Frame]:
        client = Client()
        client.send(*pair(0, 1))
        return await client.run(lambda fs: fins(fs) == {1, 3})

    text = data_on(asyncio.run(main()), 1).decode()
    assert text.startswith("error forwarding port 1 to pod sandbox-1, uid : failed to connect to localhost:1")
    assert "connect: connection refused" in text


def test_an_incomplete_pair_times_out_on_its_error_stream(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(spdy_portforward, "PAIR_TIMEOUT", 0.05)

    async def main() -> tuple[list[spdy.Frame], list[int]]:
        client = Client()
        client.send(pair(0, 8080)[0])
        return await client.run(lambda fs: 1 in fins(fs)), client.ports

    frames, dialled = asyncio.run(main())
    assert data_on(frames, 1).decode().endswith("request=0) timed out waiting for streams")
    assert dialled == []


def test_pings_from_the_client_are_answered_and_goaway_ends_the_session():
    async def main() -> list[spdy.Frame]:
        client = Client()
        client.send(spdy.Ping(1), spdy.Settings([(0, 7, 1 << 20)]), spdy.WindowUpdate(0, 1000),
                    spdy.GoAway(0), spdy.Ping(3))
        return await client.run(lambda fs: False)  # returns when the session ends by itself

    assert asyncio.run(main()) == [spdy.Ping(1)]  # nothing after the GOAWAY is read
