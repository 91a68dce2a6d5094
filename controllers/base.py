"""Level-triggered controllers in the style of client-go's sample-controller (DESIGN.md contract 7).

A controller lists and watches one resource through the Client protocol, keeps the latest object of
each key in a cache, and feeds keys into a work queue that deduplicates them and retries failures
with per-key exponential back-off. ``reconcile(key)`` must be idempotent: it is called with a key
whenever anything about it may have changed, and again after an error.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from controllers.client import Client
from facade.errors import APIError

log = logging.getLogger("kubefacade.controllers")

Obj = dict[str, Any]


def key_of(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace") or ""
    return f"{ns}/{meta['name']}" if ns else meta["name"]


class WorkQueue:
    """Keys to reconcile: each key at most once in the queue; failures retried after a back-off."""

    def __init__(self, base_delay: float = 0.005, max_delay: float = 60.0) -> None:
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._pending: set[str] = set()
        self._failures: dict[str, int] = {}
        self._waiting: set[str] = set()
        self.base_delay = base_delay
        self.max_delay = max_delay

    def add(self, key: str) -> None:
        if key not in self._pending:
            self._pending.add(key)
            self._queue.put_nowait(key)

    def add_after(self, key: str, delay: float) -> None:
        asyncio.get_running_loop().call_later(delay, self.add, key)

    def add_soon(self, key: str, delay: float) -> None:
        """Add ``key`` after ``delay`` unless it is queued or already waiting: a burst of changes
        within the window gives one reconcile (client-go's delaying queue keeps one waiting entry
        per key). For changes whose only effect is a status to report, e.g. pods turning Ready."""
        if key in self._pending or key in self._waiting:
            return
        self._waiting.add(key)
        asyncio.get_running_loop().call_later(delay, self._due, key)

    def _due(self, key: str) -> None:
        self._waiting.discard(key)
        self.add(key)

    def retry(self, key: str) -> None:
        n = self._failures.get(key, 0)
        self._failures[key] = n + 1
        self.add_after(key, min(self.max_delay, self.base_delay * (2**n)))

    def forget(self, key: str) -> None:
        self._failures.pop(key, None)

    async def get(self) -> str:
        key = await self._queue.get()
        self._pending.discard(key)
        return key


class Controller:
    """Watch one resource (``api_version``/``plural``), reconcile its keys."""

    api_version = "v1"
    plural = ""
    name = "controller"
    #: narrows what the informer caches (e.g. ``metadata.name=kube-root-ca.crt``)
    field_selector = ""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.cache: dict[str, Obj] = {}
        self.queue = WorkQueue()
        self._tasks: list[asyncio.Task[Any]] = []
        self.synced = asyncio.Event()

    async def reconcile(self, key: str) -> None:
        raise NotImplementedError

    async def _informer(self) -> None:
        while True:
            try:
                items, rv = await self.client.list(self.api_version, self.plural,
                                                   field_selector=self.field_selector)
                self.cache = {key_of(o): o for o in items}
                for k in self.cache:
                    self.queue.add(k)
                self.synced.set()
                async for ev_type, obj in self.client.watch(self.api_version, self.plural, rv,
                                                             field_selector=self.field_selector):
                    k = key_of(obj)
                    if ev_type == "DELETED":
                        self.cache.pop(k, None)
                    else:
                        self.cache[k] = obj
                    self.queue.add(k)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - relist after any watch failure, as informers do
                log.exception("%s: watch failed; relisting", self.name)
                await asyncio.sleep(1)

    async def _worker(self) -> None:
        while True:
            key = await self.queue.get()
            try:
                await self.reconcile(key)
                self.queue.forget(key)
                # In-process reconciles may finish without ever suspending; give the loop a turn so
                # a long queue does not starve heartbeats, watches and requests.
                await asyncio.sleep(0)
            except asyncio.CancelledError:
                raise
            except APIError as e:
                log.debug("%s: reconcile %s: %s", self.name, key, e.message)
                self.queue.retry(key)
            except Exception:  # noqa: BLE001 - one bad key must not stop the controller
                log.exception("%s: reconcile %s failed", self.name, key)
                self.queue.retry(key)

    def start(self, workers: int = 1) -> None:
        self._tasks.append(asyncio.create_task(self._informer(), name=f"{self.name}-informer"))
        for i in range(workers):
            self._tasks.append(asyncio.create_task(self._worker(), name=f"{self.name}-worker-{i}"))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
