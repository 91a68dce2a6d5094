"""Time for controllers: every time-based decision reads this clock, never the wall clock directly.

``RealClock`` is the default. ``FakeClock`` starts at the real time and moves only when advanced, so
tests check CronJob schedules, back-offs, grace periods and deadlines without sleeping:
``kubefacade serve --fake-clock`` serves ``POST /debug/clock?advance=SECONDS`` to move it.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from datetime import UTC, datetime

_last_rfc3339: list[int | str] = [-1, ""]


class Clock:
    def now(self) -> float:
        """Seconds since the epoch."""
        raise NotImplementedError

    def utcnow(self) -> datetime:
        return datetime.fromtimestamp(self.now(), UTC)

    def rfc3339(self) -> str:
        """The time in whole seconds, as metav1.Time serializes (formatted once per second)."""
        second = int(self.now())
        if _last_rfc3339[0] != second:
            text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            _last_rfc3339[:] = [second, text]
        return str(_last_rfc3339[1])

    async def sleep(self, seconds: float) -> None:
        raise NotImplementedError

    def call_later(self, seconds: float, fn: Callable[[], None]) -> None:
        """Run ``fn`` (on the event loop) once ``seconds`` have passed on this clock."""
        raise NotImplementedError


class RealClock(Clock):
    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def call_later(self, seconds: float, fn: Callable[[], None]) -> None:
        asyncio.get_running_loop().call_later(max(0.0, seconds), fn)


class FakeClock(Clock):
    """A clock that moves only when ``advance`` is called; sleepers and timers wake as it passes them."""

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not fut.done():
                fut.set_result(None)

        self.call_later(seconds, wake)
        await fut

    def call_later(self, seconds: float, fn: Callable[[], None]) -> None:
        heapq.heappush(self._timers, (self._now + max(0.0, seconds), next(self._seq), fn))

    def advance(self, seconds: float) -> None:
        """Move time forward, firing every timer that falls due, in order."""
        target = self._now + seconds
        while self._timers and self._timers[0][0] <= target:
            when, _, fn = heapq.heappop(self._timers)
            self._now = max(self._now, when)
            fn()
        self._now = target
