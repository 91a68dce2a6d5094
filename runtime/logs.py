"""Container log files in the CRI format, written by backends and read back for ``pods/log``.

Each line on disk is ``<RFC3339Nano time> <stdout|stderr> <F|P> <text>`` — the format containerd
writes under ``/var/log/pods`` and kubelet parses. Keeping the time of every line is what makes
``--timestamps``, ``--since`` and ``--since-time`` answerable later.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


def rfc3339nano(t: float) -> str:
    """Go's RFC3339Nano for a UTC time (trailing zeros of the fraction dropped, as Go does)."""
    whole = int(t)
    nanos = int(round((t - whole) * 1e9))
    if nanos >= 1_000_000_000:
        whole, nanos = whole + 1, nanos - 1_000_000_000
    base = datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    frac = f"{nanos:09d}".rstrip("0")
    return f"{base}.{frac}Z" if frac else f"{base}Z"


def parse_rfc3339(s: str) -> float:
    """Seconds since the epoch for an RFC 3339 time with or without a fraction of any length."""
    s = s.strip()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    frac = 0.0
    if "." in s:
        head, rest = s.split(".", 1)
        digits = ""
        for ch in rest:
            if ch.isdigit():
                digits += ch
            else:
                break
        tz = rest[len(digits):]
        frac = float("0." + digits) if digits else 0.0
        s = head + tz
    return datetime.fromisoformat(s).timestamp() + frac


class LogWriter:
    """Appends a container's output to its log file, one timestamped CRI line per output line."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._f = open(path, "ab", buffering=0)  # noqa: SIM115 - kept open for the container's life
        self._partial: dict[str, bytes] = {}

    def write(self, stream: str, data: bytes) -> None:
        buf = self._partial.get(stream, b"") + data
        *lines, rest = buf.split(b"\n")
        self._partial[stream] = rest
        if lines:
            prefix = f"{rfc3339nano(time.time())} {stream} F ".encode()
            self._f.write(b"".join(prefix + line + b"\n" for line in lines))

    def close(self) -> None:
        for stream, rest in self._partial.items():
            if rest:
                self._f.write(f"{rfc3339nano(time.time())} {stream} F ".encode() + rest + b"\n")
        self._partial.clear()
        self._f.close()


@dataclass
class LogOptions:
    """``PodLogOptions`` as the agent applies them (validated by the API server first)."""

    follow: bool = False
    tail_lines: int | None = None
    since: float | None = None  # epoch seconds, from sinceSeconds or sinceTime
    timestamps: bool = False
    limit_bytes: int | None = None


def _parse_line(raw: bytes) -> tuple[float, bytes, bytes] | None:
    """(time, timestamp text, content with its newline) of one CRI line; None when malformed."""
    parts = raw.split(b" ", 3)
    if len(parts) < 4:
        return None
    ts, _stream, tag, content = parts
    try:
        t = parse_rfc3339(ts.decode())
    except ValueError:
        return None
    if tag == b"F" and not content.endswith(b"\n"):
        content += b"\n"
    return t, ts, content


def _render(parsed: tuple[float, bytes, bytes], opts: LogOptions) -> bytes:
    t, ts, content = parsed
    return ts + b" " + content if opts.timestamps else content


def read_lines(path: Path, opts: LogOptions) -> tuple[list[bytes], int]:
    """The rendered lines already in the file (since/tail applied) and the offset read up to."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], 0
    end = data.rfind(b"\n") + 1
    out: list[bytes] = []
    for raw in data[:end].splitlines(keepends=True):
        parsed = _parse_line(raw)
        if parsed is None or (opts.since is not None and parsed[0] < opts.since):
            continue
        out.append(_render(parsed, opts))
    if opts.tail_lines is not None:
        out = out[-opts.tail_lines:] if opts.tail_lines > 0 else []
    return out, end


async def stream_log(path: Path, opts: LogOptions, alive: Callable[[], bool],
                     poll: float = 0.05) -> AsyncIterator[bytes]:
    """The log as chunks; with ``follow``, keeps reading while ``alive()`` says the container runs."""
    budget = opts.limit_bytes

    def cut(chunk: bytes) -> bytes:
        nonlocal budget
        if budget is None:
            return chunk
        chunk = chunk[:budget]
        budget -= len(chunk)
        return chunk

    lines, offset = read_lines(path, opts)
    if lines:
        chunk = cut(b"".join(lines))
        if chunk:
            yield chunk
    if not opts.follow:
        return
    pending = b""
    while budget is None or budget > 0:
        running = alive()
        try:
            with open(path, "rb") as f:
                f.seek(offset)
                new = f.read()
        except FileNotFoundError:
            new = b""
        if new:
            offset += len(new)
            pending += new
            end = pending.rfind(b"\n") + 1
            complete, pending = pending[:end], pending[end:]
            out = []
            for raw in complete.splitlines(keepends=True):
                parsed = _parse_line(raw)
                if parsed is not None and (opts.since is None or parsed[0] >= opts.since):
                    out.append(_render(parsed, opts))
            if out:
                chunk = cut(b"".join(out))
                if chunk:
                    yield chunk
            continue
        if not running:
            return
        await asyncio.sleep(poll)
