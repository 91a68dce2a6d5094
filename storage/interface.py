"""What every storage backend provides (DESIGN.md contract 5), and the values it hands out.

Objects go in as JSON dicts and come out as ``Stored`` records holding the serialized bytes of that
version (cached once, reused by GET, LIST and WATCH), plus what selectors need (labels and the
kind's selectable fields) so that filtering never re-parses JSON.

Keys are ``"<namespace>/<name>"`` for namespaced objects and ``"<name>"`` for cluster-scoped ones;
list order is key order, as in etcd.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

Predicate = Callable[["Stored"], bool]


#: ``Stored.decoded`` of a version superseded a while ago: readers must not keep a decoding on it
RETIRED: Any = object()


class Stored:
    """One stored version of an object. Immutable once written.

    ``decoded`` is a cache a reader may fill with its decoding of ``data`` (read-only, shared by
    whoever asks next). The store keeps it while this is the current version and for a bounded
    while after a newer version or a deletion superseded it (watchers that lag still share it), then
    sets it to ``RETIRED``, which drops the decoding: the history this version stays in never pins
    decoded objects.
    """

    __slots__ = ("key", "rv", "data", "labels", "fields", "uid", "decoded")

    def __init__(
        self, key: str, rv: int, data: bytes, labels: dict[str, str] | None, fields: dict[str, str] | None, uid: str
    ) -> None:
        self.key = key
        self.rv = rv
        self.data = data
        self.labels = labels
        self.fields = fields
        self.uid = uid
        self.decoded: Any = None

    def retire(self) -> None:
        self.decoded = RETIRED

    def __repr__(self) -> str:
        return f"Stored({self.key!r}, rv={self.rv})"


class Event:
    """One change in the history: ADDED, MODIFIED or DELETED, with the version before it."""

    __slots__ = ("type", "rv", "obj", "prev", "_line")

    def __init__(self, type: str, rv: int, obj: Stored, prev: Stored | None) -> None:
        self.type = type
        self.rv = rv
        self.obj = obj
        self.prev = prev
        self._line: bytes | None = None

    def line(self) -> bytes:
        """The watch-stream line for this event, built once and shared by every watcher."""
        if self._line is None:
            self._line = b'{"type":"' + self.type.encode() + b'","object":' + self.obj.data + b"}\n"
        return self._line


class StorageError(Exception):
    pass


class KeyExists(StorageError):
    pass


class KeyNotFound(StorageError):
    pass


class PreconditionFailed(StorageError):
    """The resourceVersion or uid precondition did not hold; ``current`` is what is stored."""

    def __init__(self, current: Stored, what: str) -> None:
        super().__init__(what)
        self.current = current
        self.what = what


class Expired(StorageError):
    """The requested resourceVersion is older than the history kept (HTTP 410)."""

    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")
        self.requested = requested
        self.oldest = oldest


class TooLarge(StorageError):
    """The requested resourceVersion is newer than the store has reached."""


class Watcher(Protocol):
    def __aiter__(self) -> AsyncIterator[Event]: ...

    def close(self) -> None: ...


class Store(Protocol):
    @property
    def rv(self) -> int: ...

    async def get(self, resource: str, key: str) -> Stored | None: ...

    async def list(
        self,
        resource: str,
        prefix: str = "",
        *,
        start: str = "",
        limit: int = 0,
        at_rv: int = 0,
        predicate: Predicate | None = None,
    ) -> tuple[list[Stored], str | None, int]: ...

    async def create(self, resource: str, key: str, obj: dict[str, Any], fields: dict[str, str] | None) -> Stored: ...

    async def update(
        self,
        resource: str,
        key: str,
        obj: dict[str, Any],
        fields: dict[str, str] | None,
        *,
        expected_rv: int = 0,
    ) -> Stored: ...

    async def delete(
        self, resource: str, key: str, *, expected_rv: int = 0, expected_uid: str = ""
    ) -> Stored: ...

    def watch(self, resource: str, prefix: str, from_rv: int, predicate: Predicate | None) -> Watcher: ...

    def count(self, resource: str) -> int: ...

    def count_after(self, resource: str, prefix: str, key: str) -> int: ...
