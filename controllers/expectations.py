"""ControllerExpectations: what a controller has asked for and not yet seen in its informer.

After a ReplicaSet creates 3 pods, the pod watch may not have reported them when the next sync
runs; counting pods then would create 3 more. Upstream's answer, kept here: record how many
creations (and which deletions) are expected, lower the counts as the watch reports them, and do
not manage replicas until they reach zero (or a 5-minute timeout passes, in case an event was lost).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

TIMEOUT = 300.0


@dataclass
class _Expected:
    adds: int = 0
    deletes: set[str] = field(default_factory=set)
    at: float = field(default_factory=time.monotonic)


class Expectations:
    def __init__(self) -> None:
        self._by_key: dict[str, _Expected] = {}

    def satisfied(self, key: str) -> bool:
        e = self._by_key.get(key)
        if e is None:
            return True
        if e.adds <= 0 and not e.deletes:
            return True
        return time.monotonic() - e.at > TIMEOUT

    def expect_creations(self, key: str, n: int) -> None:
        self._by_key[key] = _Expected(adds=n)

    def expect_deletions(self, key: str, pod_keys: list[str]) -> None:
        self._by_key[key] = _Expected(deletes=set(pod_keys))

    def creation_observed(self, key: str) -> None:
        e = self._by_key.get(key)
        if e is not None:
            e.adds -= 1

    def deletion_observed(self, key: str, pod_key: str) -> None:
        e = self._by_key.get(key)
        if e is not None:
            e.deletes.discard(pod_key)

    def forget(self, key: str) -> None:
        self._by_key.pop(key, None)
