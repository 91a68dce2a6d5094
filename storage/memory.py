"""The in-memory versioned store: one global resourceVersion, sorted keys, a watchable history.

Modelled on etcd's mvcc: every write takes the next revision; each resource keeps its objects in a
``SortedDict`` (key order = list order, O(log n) insert/delete, ordered range scans) and a bounded
history of events. The history is what watches resume from and what lets a paged list continue
over a consistent snapshot: the state at revision R is the current state with every later event
undone (each event remembers the version it replaced).

Everything runs on one asyncio loop, so each method is atomic without locks; the methods are
``async`` only so that durable backends can share the interface.
"""

from __future__ import annotations

import asyncio
import bisect
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import orjson
from sortedcontainers import SortedDict

from storage.interface import (
    Event,
    Expired,
    KeyExists,
    KeyNotFound,
    PreconditionFailed,
    Predicate,
    Stored,
    TooLarge,
)

DEFAULT_HISTORY = 20_000
"""Events kept per resource; a watch or continue token older than these gets 410 Expired."""

RECENTLY_SUPERSEDED = 4_096
"""Superseded versions whose ``Stored.decoded`` is kept for watchers still to see them."""

WATCHER_BUFFER = 50_000
"""Events a slow watcher may fall behind by before it is closed (as kube-apiserver's cacher does)."""


def _dump(obj: dict[str, Any]) -> bytes:
    """Serialize for keeping: an exact-size copy, since orjson's result keeps its ~16 KiB write buffer."""
    return memoryview(orjson.dumps(obj)).tobytes()


class _Resource:
    __slots__ = ("objects", "history", "history_start", "watchers")

    def __init__(self) -> None:
        self.objects: SortedDict = SortedDict()
        self.history: list[Event] = []
        # every event with rv > history_start is in history (nothing before it is known)
        self.history_start = 0
        self.watchers: set[MemoryWatcher] = set()


class MemoryWatcher:
    """A watch on one resource: replays history, then receives live events until closed."""

    def __init__(self, res: _Resource, prefix: str, predicate: Predicate | None) -> None:
        self._res = res
        self.prefix = prefix
        self.predicate = predicate
        self._queue: deque[Event] = deque()
        self._wakeup = asyncio.Event()
        self.closed = False
        self.overflowed = False

    def _translate(self, ev: Event) -> Event | None:
        """The event this watcher sees: selector transitions become ADDED/DELETED, others are dropped."""
        if self.prefix and not ev.obj.key.startswith(self.prefix):
            return None
        pred = self.predicate
        if pred is None:
            return ev
        if ev.type == "ADDED":
            return ev if pred(ev.obj) else None
        if ev.type == "DELETED":
            return ev if pred(ev.obj) else None
        now = pred(ev.obj)
        before = ev.prev is not None and pred(ev.prev)
        if now and before:
            return ev
        if now:
            return Event("ADDED", ev.rv, ev.obj, ev.prev)
        if before:
            assert ev.prev is not None
            return Event("DELETED", ev.rv, _with_rv(ev.prev, ev.rv), None)
        return None

    def push(self, ev: Event) -> None:
        seen = self._translate(ev)
        if seen is None or self.closed:
            return
        if len(self._queue) >= WATCHER_BUFFER:
            self.overflowed = True
            self.close()
            return
        self._queue.append(seen)
        self._wakeup.set()

    def pending(self) -> int:
        return len(self._queue)

    def drain(self) -> list[Event]:
        """Everything queued now, without waiting."""
        out = list(self._queue)
        self._queue.clear()
        self._wakeup.clear()
        return out

    async def wait(self, timeout: float | None = None) -> bool:
        """Wait until an event is queued or the watcher closes; False on timeout."""
        if self._queue or self.closed:
            return True
        try:
            await asyncio.wait_for(self._wakeup.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def __aiter__(self) -> AsyncIterator[Event]:
        while True:
            await self.wait()
            if not self._queue and self.closed:
                return
            for ev in self.drain():
                yield ev

    def close(self) -> None:
        self.closed = True
        self._res.watchers.discard(self)
        self._wakeup.set()


def _with_rv(stored: Stored, rv: int) -> Stored:
    """A copy of a stored version carrying another resourceVersion (for DELETED events)."""
    obj = orjson.loads(stored.data)
    obj.setdefault("metadata", {})["resourceVersion"] = str(rv)
    return Stored(stored.key, rv, _dump(obj), stored.labels, stored.fields, stored.uid)


class MemoryStore:
    """The default backend. See the module docstring for the model."""

    def __init__(self, history: int = DEFAULT_HISTORY) -> None:
        self._rv = 1
        self._resources: dict[str, _Resource] = {}
        self._history_cap = history
        self._recent: deque[Stored] = deque()  # superseded versions still allowed a decoding

    @property
    def rv(self) -> int:
        return self._rv

    def _res(self, resource: str) -> _Resource:
        res = self._resources.get(resource)
        if res is None:
            res = self._resources[resource] = _Resource()
        return res

    def _record(self, res: _Resource, ev: Event) -> None:
        hist = res.history
        hist.append(ev)
        if len(hist) > self._history_cap + self._history_cap // 4:  # trim in steps of a quarter
            cut = len(hist) - self._history_cap
            res.history_start = hist[cut - 1].rv
            del hist[:cut]
        for w in list(res.watchers):
            w.push(ev)

    def _superseded(self, stored: Stored) -> None:
        """Keep ``stored``'s decoding for a while (lagging watchers share it), then drop it."""
        recent = self._recent
        recent.append(stored)
        if len(recent) > RECENTLY_SUPERSEDED:
            recent.popleft().retire()

    def _stamp(self, obj: dict[str, Any], key: str, fields: dict[str, str] | None) -> Stored:
        self._rv += 1
        meta = obj.setdefault("metadata", {})
        meta["resourceVersion"] = str(self._rv)
        labels = meta.get("labels") or None
        return Stored(key, self._rv, _dump(obj), labels, fields, meta.get("uid", ""))

    async def get(self, resource: str, key: str) -> Stored | None:
        res = self._resources.get(resource)
        return res.objects.get(key) if res else None

    def count(self, resource: str) -> int:
        res = self._resources.get(resource)
        return len(res.objects) if res else 0

    def count_after(self, resource: str, prefix: str, key: str) -> int:
        """How many keys under ``prefix`` sort after ``key`` now (O(log n)): a list's remainingItemCount."""
        res = self._resources.get(resource)
        if res is None:
            return 0
        objects = res.objects
        start = objects.bisect_right(key)
        end = objects.bisect_left(prefix[:-1] + chr(ord(prefix[-1]) + 1)) if prefix else len(objects)
        return max(0, end - start)

    async def create(self, resource: str, key: str, obj: dict[str, Any], fields: dict[str, str] | None) -> Stored:
        res = self._res(resource)
        if key in res.objects:
            raise KeyExists(key)
        stored = self._stamp(obj, key, fields)
        res.objects[key] = stored
        self._record(res, Event("ADDED", stored.rv, stored, None))
        return stored

    async def update(
        self,
        resource: str,
        key: str,
        obj: dict[str, Any],
        fields: dict[str, str] | None,
        *,
        expected_rv: int = 0,
    ) -> Stored:
        res = self._res(resource)
        prev = res.objects.get(key)
        if prev is None:
            raise KeyNotFound(key)
        if expected_rv and prev.rv != expected_rv:
            raise PreconditionFailed(prev, "resourceVersion")
        stored = self._stamp(obj, key, fields)
        res.objects[key] = stored
        self._superseded(prev)
        self._record(res, Event("MODIFIED", stored.rv, stored, prev))
        return stored

    async def delete(self, resource: str, key: str, *, expected_rv: int = 0, expected_uid: str = "") -> Stored:
        res = self._res(resource)
        prev = res.objects.get(key)
        if prev is None:
            raise KeyNotFound(key)
        if expected_uid and prev.uid != expected_uid:
            raise PreconditionFailed(prev, "uid")
        if expected_rv and prev.rv != expected_rv:
            raise PreconditionFailed(prev, "resourceVersion")
        self._rv += 1
        gone = _with_rv(prev, self._rv)
        self._superseded(prev)
        self._superseded(gone)
        del res.objects[key]
        self._record(res, Event("DELETED", self._rv, gone, prev))
        return gone

    # -- reads over a snapshot ------------------------------------------------------------------

    def _overrides_since(self, res: _Resource, rv: int) -> dict[str, Stored | None]:
        """Key -> its version at revision ``rv`` (None: absent), for keys changed after ``rv``."""
        if rv < res.history_start:
            raise Expired(rv, res.history_start)
        hist = res.history
        i = bisect.bisect_right(hist, rv, key=lambda e: e.rv)
        out: dict[str, Stored | None] = {}
        for ev in hist[i:]:
            k = ev.obj.key
            if k not in out:
                out[k] = ev.prev
        return out

    async def list(
        self,
        resource: str,
        prefix: str = "",
        *,
        start: str = "",
        limit: int = 0,
        at_rv: int = 0,
        predicate: Predicate | None = None,
    ) -> tuple[list[Stored], str | None, int]:
        """Objects under ``prefix`` from key ``start`` on, as of revision ``at_rv`` (0 = now).

        Returns (items, the key to continue from or None, the revision listed at). ``limit`` counts
        items that pass ``predicate``, as kube-apiserver counts them.
        """
        if at_rv > self._rv:
            raise TooLarge(str(at_rv))
        list_rv = at_rv or self._rv
        res = self._resources.get(resource)
        if res is None:
            if at_rv and at_rv < 1:
                raise Expired(at_rv, 1)
            return [], None, list_rv
        lo = max(prefix, start) if start else prefix
        hi = prefix[:-1] + chr(ord(prefix[-1]) + 1) if prefix else None
        overrides = self._overrides_since(res, at_rv) if at_rv and at_rv < self._rv else {}
        objects = res.objects
        if overrides:
            keys = set(objects.irange(lo or None, hi, inclusive=(True, False)))
            for k in overrides:
                if k >= lo and (hi is None or k < hi):
                    keys.add(k)
            ordered: Any = sorted(keys)

            def version(k: str) -> Stored | None:
                return overrides[k] if k in overrides else objects.get(k)
        else:
            ordered = objects.irange(lo or None, hi, inclusive=(True, False))
            version = objects.__getitem__
        items: list[Stored] = []
        for k in ordered:
            s = version(k)
            if s is None or (predicate is not None and not predicate(s)):
                continue
            if limit and len(items) == limit:
                return items, items[-1].key + "\x00", list_rv
            items.append(s)
        return items, None, list_rv

    def watch(self, resource: str, prefix: str, from_rv: int, predicate: Predicate | None) -> MemoryWatcher:
        """Start a watch delivering every event after ``from_rv``; raises Expired if that is too old."""
        res = self._res(resource)
        if from_rv < res.history_start:
            raise Expired(from_rv, res.history_start + 1)
        w = MemoryWatcher(res, prefix, predicate)
        hist = res.history
        i = bisect.bisect_right(hist, from_rv, key=lambda e: e.rv)
        for ev in hist[i:]:
            w.push(ev)
        res.watchers.add(w)
        return w

    def watcher_count(self) -> int:
        return sum(len(r.watchers) for r in self._resources.values())
