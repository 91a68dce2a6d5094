"""Blocking calls that may last as long as a container does, each in a thread of its own.

``asyncio.to_thread`` shares the loop's default pool (``min(32, cpus + 4)`` threads): a call that
blocks for a container's whole life (the engine's ``wait``, an exec hook) would hold one of them,
and with a handful of running containers every other engine call would queue behind them. Such
calls get a short-lived daemon thread instead; the result comes back to the loop as a future.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def _settle(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if future.done():  # the awaiting task was cancelled meanwhile
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


async def in_own_thread(fn: Callable[..., T], *args: Any, name: str = "kubefacade-blocking") -> T:
    """``fn(*args)`` in a daemon thread of its own; cancelling the await abandons (does not stop) the call."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def work() -> None:
        try:
            value = fn(*args)
        except BaseException as e:  # noqa: BLE001 - handed to the awaiting task as is
            loop.call_soon_threadsafe(_settle, future, None, e)
            return
        loop.call_soon_threadsafe(_settle, future, value, None)

    threading.Thread(target=work, name=name, daemon=True).start()
    return await future
