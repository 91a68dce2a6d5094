"""A shared informer: a list+watch cache of one resource that tells controllers what changed.

The base ``Controller`` watches the one resource it reconciles. The workload controllers also need
the objects they own (a Job's pods, a CronJob's Jobs, a Service's pods) and must hear when those
change, so each keeps an ``Informer`` of them and maps every event to the owner's key, as client-go
controllers register event handlers on shared pod/job informers.

Controllers write their own creates and updates back into the cache (``remember``), guarded by
resourceVersion, so a reconcile that runs before the watch event arrives does not act twice on a
stale view (what client-go's "expectations" achieve with counters).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from controllers.base import key_of
from controllers.client import Client

log = logging.getLogger("kubefacade.controllers")

Obj = dict[str, Any]
#: handler(event_type, new_or_last_object, previous_object_or_None)
Handler = Callable[[str, Obj, Obj | None], None]


def _rv(obj: Obj) -> int:
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


class Informer:
    """The latest version of every object of one resource, and callbacks on each change."""

    def __init__(self, client: Client, api_version: str, plural: str, name: str = "",
                 metadata_only: bool = False) -> None:
        self.client = client
        self.metadata_only = metadata_only
        self.api_version = api_version
        self.plural = plural
        self.name = name or f"{plural}-informer"
        self.cache: dict[str, Obj] = {}
        self.handlers: list[Handler] = []
        self.synced = asyncio.Event()
        self._task: asyncio.Task[Any] | None = None

    def add_handler(self, handler: Handler) -> None:
        self.handlers.append(handler)

    def _notify(self, ev_type: str, obj: Obj, old: Obj | None) -> None:
        for h in self.handlers:
            try:
                h(ev_type, obj, old)
            except Exception:  # noqa: BLE001 - one handler must not break the informer
                log.exception("%s: handler failed", self.name)

    def remember(self, obj: Obj) -> None:
        """Put an object this process just wrote into the cache, unless a newer one is there."""
        k = key_of(obj)
        old = self.cache.get(k)
        if old is None or _rv(obj) >= _rv(old):
            self.cache[k] = obj

    def forget(self, obj: Obj) -> None:
        """Drop an object this process just deleted for good."""
        self.cache.pop(key_of(obj), None)

    def in_namespace(self, namespace: str) -> list[Obj]:
        return [o for o in self.cache.values() if (o.get("metadata") or {}).get("namespace") == namespace]

    def owned_by(self, uid: str, namespace: str = "") -> list[Obj]:
        """Objects whose controller ownerReference points at ``uid``."""
        out = []
        for o in self.cache.values():
            meta = o.get("metadata") or {}
            if namespace and meta.get("namespace") != namespace:
                continue
            for ref in meta.get("ownerReferences") or []:
                if ref.get("controller") and ref.get("uid") == uid:
                    out.append(o)
                    break
        return out

    @staticmethod
    def _slim(obj: Obj) -> Obj:
        """What a metadata-only informer keeps (upstream's PartialObjectMetadata)."""
        meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
        return {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "metadata": meta}

    async def _run(self) -> None:
        slim = self._slim if self.metadata_only else None
        while True:
            try:
                items, rv = await self.client.list(self.api_version, self.plural)
                if slim is not None:
                    items = [slim(o) for o in items]
                fresh = {key_of(o): o for o in items}
                for k, old in list(self.cache.items()):
                    if k not in fresh:
                        self.cache.pop(k, None)
                        self._notify("DELETED", old, old)
                for k, o in fresh.items():
                    old = self.cache.get(k)
                    self.cache[k] = o
                    self._notify("ADDED" if old is None else "MODIFIED", o, old)
                self.synced.set()
                async for ev_type, obj in self.client.watch(self.api_version, self.plural, rv):
                    if ev_type == "BOOKMARK":
                        continue
                    if slim is not None:
                        obj = slim(obj)
                    k = key_of(obj)
                    old = self.cache.get(k)
                    if ev_type == "DELETED":
                        self.cache.pop(k, None)
                    elif old is None or _rv(obj) >= _rv(old):
                        self.cache[k] = obj
                    self._notify(ev_type, obj, old)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - relist after any watch failure, as informers do
                log.exception("%s: watch failed; relisting", self.name)
                await asyncio.sleep(1)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
