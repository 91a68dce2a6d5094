"""Connections from the Ingress proxy to endpoints, and the pool that keeps them alive between requests."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import h11

log = logging.getLogger("kubefacade.ingress")
CONNECT_TIMEOUT = 5.0
MAX_EVENT = 64 * 1024  # largest header block h11 accepts


@dataclass(eq=False)
class Upstream:
    """One connection to an endpoint; ``idle`` while it waits in the pool for the next request."""

    endpoint: tuple[str, int]
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    conn: h11.Connection
    reused: bool = False
    idle: bool = False
    since: float = 0.0

    def close(self) -> None:
        if not self.idle:
            self.writer.close()


class UpstreamPool:
    """Kept-alive upstream connections per endpoint (ingress-nginx's upstream keepalive).

    Only requests without a body use them: such a request can be sent again on a fresh connection
    when the server had closed the kept one, which is the one failure a pool cannot rule out.
    """

    def __init__(self, per_endpoint: int = 64, idle_seconds: float = 50.0) -> None:
        self.per_endpoint = per_endpoint
        self.idle_seconds = idle_seconds
        self.idle: dict[tuple[str, int], list[Upstream]] = {}
        self._swept = time.monotonic()

    def take(self, endpoint: tuple[str, int]) -> Upstream | None:
        stack = self.idle.get(endpoint)
        now = time.monotonic()
        while stack:
            u = stack.pop()
            if u.reader.at_eof() or u.writer.is_closing() or now - u.since > self.idle_seconds:
                u.writer.close()
                continue
            u.idle, u.reused = False, True
            return u
        return None

    def sweep(self, now: float) -> None:
        """Close what expired or was closed by its server, also for endpoints no longer picked."""
        self._swept = now
        for endpoint, stack in list(self.idle.items()):
            keep = []
            for u in stack:
                if u.reader.at_eof() or u.writer.is_closing() or now - u.since > self.idle_seconds:
                    u.writer.close()
                else:
                    keep.append(u)
            if keep:
                self.idle[endpoint] = keep
            else:
                del self.idle[endpoint]

    def give(self, u: Upstream) -> None:
        """Keep a connection whose exchange ended cleanly (both sides DONE), else close it."""
        now = time.monotonic()
        if now - self._swept > 10:
            self.sweep(now)
        stack = self.idle.setdefault(u.endpoint, [])
        if len(stack) >= self.per_endpoint:
            u.writer.close()
            return
        u.conn.start_next_cycle()
        u.idle, u.since = True, now
        stack.append(u)


async def connect(endpoints: list[tuple[str, int]]) -> Upstream | None:
    """A connection to the first endpoint that accepts one (ingress-nginx's proxy_next_upstream on error)."""
    for host, port in endpoints[:3]:
        try:
            r, w = await asyncio.wait_for(asyncio.open_connection(host, port), CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as e:
            log.debug("ingress: cannot connect to %s:%s: %s", host, port, e)
            continue
        return Upstream((host, port), r, w, h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_EVENT))
    return None
