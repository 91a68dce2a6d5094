"""SPDY/3.1 framing (facade/spdy.py), and the plain `Upgrade: SPDY/3.1` port-forward driven by a client of our own."""

from __future__ import annotations

import hashlib
import json
import socket
import zlib

import pytest
from conftest import Server
from portforward_helpers import free_port, http_server_pod

from facade import spdy

FRAMES: list[spdy.Frame] = [
    spdy.SynStream(1, {"streamtype": ["error"], "port": ["8080"], "requestid": ["0"]}, spdy.FLAG_FIN, 0, 3),
    spdy.SynReply(1, {}),
    spdy.SynReply(3, {"x-multi": ["a", "b"]}, spdy.FLAG_FIN),
    spdy.HeadersFrame(3, {"status": ["200 OK"]}),
    spdy.DataFrame(3, b"hello" * 1000),
    spdy.DataFrame(3, b"", spdy.FLAG_FIN),
    spdy.RstStream(5, spdy.CANCEL),
    spdy.Settings([(0, 7, 65536), (1, 4, 100)]),
    spdy.Ping(7),
    spdy.WindowUpdate(3, 1 << 20),
    spdy.GoAway(9, spdy.GOAWAY_OK),
]


def test_header_dictionary_is_spdy3s():
    assert len(spdy.DICTIONARY) == 1423
    assert hashlib.sha256(spdy.DICTIONARY).hexdigest() == (
        "51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02")


def test_frames_round_trip_through_a_byte_stream_cut_anywhere():
    writer, reader = spdy.Framer(), spdy.Framer()
    wire = b"".join(writer.encode(f) for f in FRAMES)
    parsed = []
    for i in range(0, len(wire), 7):  # as WebSocket messages may cut it
        parsed += reader.feed(wire[i:i + 7])
    assert parsed == FRAMES


def test_header_blocks_share_one_compression_context_per_direction():
    framer = spdy.Framer()
    headers = {"streamtype": ["data"], "port": ["8080"], "requestid": ["1"]}
    first = framer.encode(spdy.SynStream(1, headers))
    second = framer.encode(spdy.SynStream(3, headers))
    assert len(second) < len(first)  # the second block refers back to the first
    inflate = zlib.decompressobj(zdict=spdy.DICTIONARY)
    assert spdy.decode_header_block(inflate.decompress(first[18:])) == headers
    assert spdy.decode_header_block(inflate.decompress(second[18:])) == headers
    with pytest.raises(spdy.ProtocolError):
        spdy.Framer().feed(second)  # a fresh context cannot inflate the second block alone


def test_control_frame_of_another_version_is_a_protocol_error():
    frame = bytearray(spdy.Framer().encode(spdy.Ping(1)))
    frame[1] = 2
    with pytest.raises(spdy.ProtocolError):
        spdy.Framer().feed(bytes(frame))


def test_wire_layout_of_a_data_frame_and_a_ping():
    framer = spdy.Framer()
    assert framer.encode(spdy.DataFrame(3, b"ab", spdy.FLAG_FIN)) == bytes.fromhex("00000003" "01000002") + b"ab"
    assert framer.encode(spdy.Ping(5)) == bytes.fromhex("80030006" "00000004" "00000005")


class SpdyClient:
    """A raw TLS connection upgraded to SPDY/3.1, as client-go's SPDY round tripper does it."""

    def __init__(self, server: Server, path: str, token: str | None = None) -> None:
        raw = socket.create_connection(("127.0.0.1", server.port), timeout=15)
        self.sock = server.ssl_context().wrap_socket(raw, server_hostname="127.0.0.1")
        auth = f"Authorization: Bearer {token or server.token}\r\n"
        self.sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Length: 0\r\n"
                          "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                          "X-Stream-Protocol-Version: portforward.k8s.io\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            head += chunk
        self.head, _, rest = head.partition(b"\r\n\r\n")
        self.status = int(self.head.split(b" ")[1])
        self.body = rest
        self.framer = spdy.Framer()
        self.pending: list[spdy.Frame] = self.framer.feed(rest) if self.status == 101 else []

    def send(self, *frames: spdy.Frame) -> None:
        self.sock.sendall(b"".join(self.framer.encode(f) for f in frames))

    def frames(self):
        while True:
            while self.pending:
                yield self.pending.pop(0)
            chunk = self.sock.recv(65536)
            if not chunk:
                return
            self.pending += self.framer.feed(chunk)

    def read_body(self) -> bytes:
        while chunk := self.sock.recv(65536):
            self.body += chunk
        return self.body


def _forward(client: SpdyClient, port: int, request_id: int, payload: bytes) -> tuple[bytes, bytes, list[spdy.Frame]]:
    """Open an error/data pair for ``port``, send ``payload`` then FIN; (data, error text, control frames seen)."""
    headers = {"streamtype": ["error"], "port": [str(port)], "requestid": [str(request_id)]}
    error_id, data_id = 4 * request_id + 1, 4 * request_id + 3
    client.send(spdy.SynStream(error_id, headers, spdy.FLAG_FIN),
                spdy.SynStream(data_id, {**headers, "streamtype": ["data"]}),
                spdy.Ping(1), spdy.DataFrame(data_id, payload, spdy.FLAG_FIN))
    data, error, control, finished = b"", b"", [], set()
    for frame in client.frames():
        if isinstance(frame, spdy.DataFrame):
            if frame.stream_id == data_id:
                data += frame.data
            elif frame.stream_id == error_id:
                error += frame.data
            if frame.flags & spdy.FLAG_FIN:
                finished.add(frame.stream_id)
        else:
            control.append(frame)
        if finished == {error_id, data_id}:
            break
    return data, error, control


def test_plain_spdy_upgrade_forwards_to_the_pod(server: Server, namespace: str):
    pod_port = free_port()
    http_server_pod(server, namespace, "web", pod_port)
    client = SpdyClient(server, f"/api/v1/namespaces/{namespace}/pods/web/portforward")
    assert client.status == 101
    assert b"x-stream-protocol-version: portforward.k8s.io" in client.head.lower()
    data, error, control = _forward(client, pod_port, 0, b"GET /id HTTP/1.0\r\n\r\n")
    assert data.startswith(b"HTTP/1.0 200 OK") and data.endswith(f"web:{pod_port}\n".encode())
    assert error == b""
    assert spdy.SynReply(1, {}) in control and spdy.SynReply(3, {}) in control
    assert spdy.Ping(1) in control  # the client's ping is answered
    # a second forwarded connection on the same SPDY connection: a closed port, reported on its error stream
    closed = free_port()
    data, error, _ = _forward(client, closed, 1, b"")
    assert data == b""
    assert error.decode().startswith(f"error forwarding port {closed} to pod ")
    client.sock.close()


def test_plain_spdy_upgrade_needs_the_bearer_token(server: Server, namespace: str):
    client = SpdyClient(server, f"/api/v1/namespaces/{namespace}/pods/web/portforward", token="wrong")
    assert client.status == 401
    assert json.loads(client.read_body())["reason"] == "Unauthorized"


def test_plain_spdy_upgrade_to_a_missing_pod_is_a_not_found_status(server: Server, namespace: str):
    client = SpdyClient(server, f"/api/v1/namespaces/{namespace}/pods/nope/portforward")
    assert client.status == 404
    status = json.loads(client.read_body())
    assert (status["reason"], status["message"]) == ("NotFound", 'pods "nope" not found')


def _tunnel(server: Server, path: str):
    """websocket-client (the kubernetes client's dependency): unlike `websockets`, it lets the subprotocol
    carry the '/' that kubectl puts in it."""
    import ssl

    import websocket

    return websocket.create_connection(
        f"wss://127.0.0.1:{server.port}{path}", subprotocols=["SPDY/3.1+portforward.k8s.io"], timeout=15,
        header=[f"Authorization: Bearer {server.token}"],
        sslopt={"cert_reqs": ssl.CERT_REQUIRED, "ca_certs": str(server.ca)})


def test_websocket_tunnel_carries_spdy_cut_into_small_messages(server: Server, namespace: str):
    pod_port = free_port()
    http_server_pod(server, namespace, "web", pod_port)
    framer = spdy.Framer()
    headers = {"streamtype": ["error"], "port": [str(pod_port)], "requestid": ["0"]}
    wire = b"".join(framer.encode(f) for f in (
        spdy.SynStream(1, headers, spdy.FLAG_FIN), spdy.SynStream(3, {**headers, "streamtype": ["data"]}),
        spdy.DataFrame(3, b"GET /id HTTP/1.0\r\n\r\n", spdy.FLAG_FIN)))
    reader, data, finished = spdy.Framer(), b"", set()
    ws = _tunnel(server, f"/api/v1/namespaces/{namespace}/pods/web/portforward")
    assert ws.getsubprotocol() == "spdy/3.1+portforward.k8s.io"  # websocket-client lower-cases it
    for i in range(0, len(wire), 5):  # frames split across binary messages: one byte stream
        ws.send_binary(wire[i:i + 5])
    while finished != {1, 3}:
        for frame in reader.feed(ws.recv()):
            if isinstance(frame, spdy.DataFrame):
                data += frame.data if frame.stream_id == 3 else b""
                if frame.flags & spdy.FLAG_FIN:
                    finished.add(frame.stream_id)
    ws.close()
    assert data.endswith(f"web:{pod_port}\n".encode())


def test_websocket_tunnel_to_a_missing_pod_is_refused_with_its_status(server: Server, namespace: str):
    from websocket import WebSocketBadStatusException

    with pytest.raises(WebSocketBadStatusException) as refused:
        _tunnel(server, f"/api/v1/namespaces/{namespace}/pods/nope/portforward")
    assert refused.value.status_code == 404
    assert json.loads(refused.value.resp_body)["message"] == 'pods "nope" not found'
