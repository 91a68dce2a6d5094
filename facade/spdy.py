"""SPDY/3.1 framing, as kubectl's port-forward (moby/spdystream under client-go) speaks it.

A connection carries frames. A data frame is ``0|stream-id(31) flags(8) length(24) data``; a control
frame is ``1|version(15)=3 type(16) flags(8) length(24) payload``. Name/value header blocks (SYN_STREAM,
SYN_REPLY, HEADERS) are ``count(32) {len(32) name len(32) value}*``, compressed with zlib primed with
SPDY/3's dictionary; each direction of a connection has one compression context that lives as long
as the connection, and every block ends with a sync flush (so the peer can inflate it at once).

Flow control: SPDY/3.1 has windows, but spdystream neither sends WINDOW_UPDATE nor enforces them,
so this module parses WINDOW_UPDATE and SETTINGS frames and the session ignores them, as spdystream
does. Multiple header values are joined with NUL bytes, as the protocol says.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02
MAX_DATA = (1 << 24) - 1

# RST_STREAM status codes
PROTOCOL_ERROR, INVALID_STREAM, REFUSED_STREAM, UNSUPPORTED_VERSION, CANCEL, INTERNAL_ERROR = 1, 2, 3, 4, 5, 6
# GOAWAY status codes
GOAWAY_OK, GOAWAY_PROTOCOL_ERROR, GOAWAY_INTERNAL_ERROR = 0, 1, 2

# SPDY/3's zlib dictionary (draft 3, section 2.6.10.1): length-prefixed lower-case words, then a
# run of status codes, reason phrases, dates and common header values. Built here from its parts;
# tests/test_spdy.py pins the result's SHA-256.
_DICTIONARY_WORDS = (
    "options head post put delete trace accept accept-charset accept-encoding accept-language "
    "accept-ranges age allow authorization cache-control connection content-base content-encoding "
    "content-language content-length content-location content-md5 content-range content-type date etag "
    "expect expires from host if-match if-modified-since if-none-match if-range if-unmodified-since "
    "last-modified location max-forwards pragma proxy-authenticate proxy-authorization range referer "
    "retry-after server te trailer transfer-encoding upgrade user-agent vary via warning www-authenticate "
    "method get status |200 OK| version HTTP/1.1 url public set-cookie keep-alive origin"
)
_DICTIONARY_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request"
    "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented"
    "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
    "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,"
    "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age="
    "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)


def _dictionary() -> bytes:
    words: list[str] = []
    for i, part in enumerate(_DICTIONARY_WORDS.split("|")):  # |...| holds one word with a space in it
        words += [part] if i % 2 else part.split()
    out = b"".join(struct.pack(">I", len(w)) + w.encode() for w in words)
    return out + _DICTIONARY_TAIL.encode()


DICTIONARY = _dictionary()

Headers = dict[str, list[str]]


@dataclass
class DataFrame:
    stream_id: int
    data: bytes = b""
    flags: int = 0


@dataclass
class SynStream:
    stream_id: int
    headers: Headers = field(default_factory=dict)
    flags: int = 0
    associated_id: int = 0
    priority: int = 0
    slot: int = 0


@dataclass
class SynReply:
    stream_id: int
    headers: Headers = field(default_factory=dict)
    flags: int = 0


@dataclass
class HeadersFrame:
    stream_id: int
    headers: Headers = field(default_factory=dict)
    flags: int = 0


@dataclass
class RstStream:
    stream_id: int
    status: int = CANCEL


@dataclass
class Settings:
    entries: list[tuple[int, int, int]] = field(default_factory=list)  # (flags, id, value)
    flags: int = 0


@dataclass
class Ping:
    id: int


@dataclass
class GoAway:
    last_good_stream_id: int
    status: int = GOAWAY_OK


@dataclass
class WindowUpdate:
    stream_id: int
    delta: int


Frame = DataFrame | SynStream | SynReply | HeadersFrame | RstStream | Settings | Ping | GoAway | WindowUpdate


class ProtocolError(Exception):
    """The peer sent something that is not SPDY/3: the connection cannot go on."""


def encode_header_block(headers: Headers) -> bytes:
    """The uncompressed name/value block; names are lower-cased, several values joined with NUL."""
    parts = [struct.pack(">I", len(headers))]
    for name, values in headers.items():
        n = name.lower().encode()
        v = "\x00".join(values).encode()
        parts += [struct.pack(">I", len(n)), n, struct.pack(">I", len(v)), v]
    return b"".join(parts)


def decode_header_block(block: bytes) -> Headers:
    try:
        (count,) = struct.unpack_from(">I", block, 0)
        pos, headers = 4, {}
        for _ in range(count):
            (n,) = struct.unpack_from(">I", block, pos)
            name = block[pos + 4:pos + 4 + n].decode()
            pos += 4 + n
            (n,) = struct.unpack_from(">I", block, pos)
            value = block[pos + 4:pos + 4 + n].decode()
            pos += 4 + n
            if pos > len(block):
                raise ProtocolError("truncated header block")
            headers.setdefault(name.lower(), []).extend(value.split("\x00"))
    except (struct.error, UnicodeDecodeError) as e:
        raise ProtocolError(f"invalid header block: {e}") from None
    return headers


class Framer:
    """Encodes frames to bytes and parses bytes into frames, for one end of one connection.

    ``feed`` accepts the byte stream in pieces of any size (a WebSocket message may hold part of a
    frame or several frames) and returns the frames completed so far.
    """

    def __init__(self) -> None:
        self._deflate = zlib.compressobj(9, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY, DICTIONARY)
        self._inflate = zlib.decompressobj(15, DICTIONARY)
        self._buffer = bytearray()

    # -- writing
    def _compress(self, headers: Headers) -> bytes:
        return self._deflate.compress(encode_header_block(headers)) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    @staticmethod
    def _control(kind: int, flags: int, payload: bytes) -> bytes:
        return struct.pack(">HHI", 0x8000 | VERSION, kind, (flags << 24) | len(payload)) + payload

    def encode(self, frame: Frame) -> bytes:
        """The frame's bytes. Header-bearing frames advance the compression context: write them in order."""
        if isinstance(frame, DataFrame):
            if len(frame.data) > MAX_DATA:
                raise ValueError("data frame longer than 2^24-1 bytes")
            return struct.pack(">II", frame.stream_id & 0x7FFFFFFF, (frame.flags << 24) | len(frame.data)) + frame.data
        if isinstance(frame, SynStream):
            head = struct.pack(">IIBB", frame.stream_id, frame.associated_id, (frame.priority & 7) << 5, frame.slot)
            return self._control(SYN_STREAM, frame.flags, head + self._compress(frame.headers))
        if isinstance(frame, SynReply):
            return self._control(SYN_REPLY, frame.flags, struct.pack(">I", frame.stream_id) + self._compress(frame.headers))
        if isinstance(frame, HeadersFrame):
            return self._control(HEADERS, frame.flags, struct.pack(">I", frame.stream_id) + self._compress(frame.headers))
        if isinstance(frame, RstStream):
            return self._control(RST_STREAM, 0, struct.pack(">II", frame.stream_id, frame.status))
        if isinstance(frame, Settings):
            body = struct.pack(">I", len(frame.entries)) + b"".join(
                struct.pack(">I", (f << 24) | i) + struct.pack(">I", v) for f, i, v in frame.entries)
            return self._control(SETTINGS, frame.flags, body)
        if isinstance(frame, Ping):
            return self._control(PING, 0, struct.pack(">I", frame.id))
        if isinstance(frame, GoAway):
            return self._control(GOAWAY, 0, struct.pack(">II", frame.last_good_stream_id, frame.status))
        if isinstance(frame, WindowUpdate):
            return self._control(WINDOW_UPDATE, 0, struct.pack(">II", frame.stream_id, frame.delta))
        raise TypeError(f"not a SPDY frame: {frame!r}")

    # -- reading
    def _headers(self, compressed: bytes) -> Headers:
        try:
            return decode_header_block(self._inflate.decompress(compressed))
        except zlib.error as e:
            raise ProtocolError(f"header block does not inflate: {e}") from None

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        while len(self._buffer) >= 8:
            first, second = struct.unpack_from(">II", self._buffer, 0)
            length = second & 0xFFFFFF
            if len(self._buffer) < 8 + length:
                break
            payload = bytes(self._buffer[8:8 + length])
            del self._buffer[:8 + length]
            flags = second >> 24
            if not first & 0x80000000:
                frames.append(DataFrame(first & 0x7FFFFFFF, payload, flags))
                continue
            version, kind = (first >> 16) & 0x7FFF, first & 0xFFFF
            if version != VERSION:
                raise ProtocolError(f"unsupported SPDY version {version}")
            frame = self._control_frame(kind, flags, payload)
            if frame is not None:
                frames.append(frame)
        return frames

    def _control_frame(self, kind: int, flags: int, payload: bytes) -> Frame | None:
        try:
            if kind == SYN_STREAM:
                sid, assoc, prio, slot = struct.unpack_from(">IIBB", payload, 0)
                return SynStream(sid & 0x7FFFFFFF, self._headers(payload[10:]), flags, assoc & 0x7FFFFFFF, prio >> 5, slot)
            if kind in (SYN_REPLY, HEADERS):
                (sid,) = struct.unpack_from(">I", payload, 0)
                cls = SynReply if kind == SYN_REPLY else HeadersFrame
                return cls(sid & 0x7FFFFFFF, self._headers(payload[4:]), flags)
            if kind == RST_STREAM:
                sid, status = struct.unpack_from(">II", payload, 0)
                return RstStream(sid & 0x7FFFFFFF, status)
            if kind == SETTINGS:
                (count,) = struct.unpack_from(">I", payload, 0)
                entries = []
                for i in range(count):
                    fid, value = struct.unpack_from(">II", payload, 4 + 8 * i)
                    entries.append((fid >> 24, fid & 0xFFFFFF, value))
                return Settings(entries, flags)
            if kind == PING:
                return Ping(struct.unpack_from(">I", payload, 0)[0])
            if kind == GOAWAY:
                last, status = struct.unpack_from(">II", payload[:8].ljust(8, b"\0"), 0)
                return GoAway(last & 0x7FFFFFFF, status)
            if kind == WINDOW_UPDATE:
                sid, delta = struct.unpack_from(">II", payload, 0)
                return WindowUpdate(sid & 0x7FFFFFFF, delta & 0x7FFFFFFF)
        except struct.error:
            raise ProtocolError(f"control frame of type {kind} is too short") from None
        return None  # unknown control frame types are ignored, as the protocol asks
