"""A Python (asyncio) load generator, used only where wrk cannot be: client-certificate logins.

wrk has no option for a TLS client certificate, and kind or kubeadm kubeconfigs authenticate
that way.  This generator sends the same requests as the Lua scripts over C keep-alive
connections and returns the same WrkResult, but it is itself CPU-bound Python: the report marks
its figures with ``generator: python`` because they are a lower bound on the server's speed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from conformance.kubeconfig import ClusterAccess
from conformance.stats import percentile
from conformance.wrk_runner import WrkResult

RequestFactory = Callable[[int, int], bytes]  # (connection index, request number) -> raw HTTP request


def raw_request(access: ClusterAccess, method: str, path: str, body: bytes | None = None) -> bytes:
    """One HTTP/1.1 request with the kubeconfig's credentials, ready to write to a socket."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {access.host}:{access.port}", "Accept: application/json"]
    lines += [f"{name}: {value}" for name, value in access.auth_headers().items()]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response to its last byte; (status, server wants the connection closed)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    return status, headers.get("connection", "").lower() == "close"


async def _run(access: ClusterAccess, make: RequestFactory, connections: int, duration_s: float,
               total: int) -> WrkResult:
    statuses: dict[int, int] = {}
    socket_errors = {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    latencies: list[float] = []
    reserved = 0
    deadline = time.monotonic() + duration_s
    ssl_ctx = access.ssl_context() if access.is_tls else None
    server_name = (access.tls_server_name or access.host) if access.is_tls else None

    async def connection(index: int) -> None:
        nonlocal reserved
        sent = 0
        reader = writer = None
        while time.monotonic() < deadline and (not total or reserved < total):
            if writer is None:
                try:
                    reader, writer = await asyncio.open_connection(access.host, access.port, ssl=ssl_ctx,
                                                                   server_hostname=server_name)
                except OSError:
                    socket_errors["connect"] += 1
                    await asyncio.sleep(0.05)
                    continue
            reserved += 1
            request = make(index, sent)
            sent += 1
            start = time.perf_counter()
            try:
                writer.write(request)
                await writer.drain()
                status, close = await _read_response(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                socket_errors["read"] += 1
                writer.close()
                reader = writer = None
                continue
            latencies.append(time.perf_counter() - start)
            statuses[status] = statuses.get(status, 0) + 1
            if close:
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection(i) for i in range(connections)))
    elapsed = time.perf_counter() - started
    us = [s * 1e6 for s in latencies]
    latency_ms = {
        "min": min(us, default=0) / 1000, "mean": (sum(us) / len(us) / 1000) if us else 0.0,
        "max": max(us, default=0) / 1000,
        **{key: (percentile(us, pct) or 0) / 1000 for key, pct in
           (("p50", 50), ("p90", 90), ("p99", 99), ("p999", 99.9))},
    }
    return WrkResult(requests=len(latencies), elapsed_s=elapsed, statuses=statuses, socket_errors=socket_errors,
                     latency_ms={k: round(v, 3) for k, v in latency_ms.items()})


def run_python(access: ClusterAccess, make: RequestFactory, *, connections: int, duration_s: float,
               total: int = 0) -> WrkResult:
    """Send requests from ``make`` over ``connections`` connections for ``duration_s`` seconds,
    or until ``total`` requests have been sent when ``total`` is not 0."""
    return asyncio.run(_run(access, make, connections, duration_s, total))
