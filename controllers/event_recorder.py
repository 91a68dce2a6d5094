"""Events as kube-controller-manager's EventRecorder writes them (core/v1, ``source.component``).

``kubectl describe`` and ``kubectl events`` show these: reason, message, type, the "From" column
(``source.component`` / ``reportingComponent``) and ``count``. A repeat of the same reason and
message for the same object bumps ``count`` and ``lastTimestamp`` of the one Event, as client-go's
event correlator does, instead of writing a new Event each time.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from controllers.client import Client
from controllers.clock import Clock
from facade.errors import APIError

log = logging.getLogger("kubefacade.controllers")

Obj = dict[str, Any]

NORMAL = "Normal"
WARNING = "Warning"


class EventRecorder:
    """Writes Events about objects on behalf of one component (e.g. ``job-controller``)."""

    def __init__(self, client: Client, component: str, clock: Clock) -> None:
        self.client = client
        self.component = component
        self.clock = clock
        self._seen: dict[tuple[str, str, str, str, str], str] = {}
        self._last_ns = 0

    async def event(self, obj: Obj, event_type: str, reason: str, message: str) -> None:
        """Record an Event; failures are logged, never raised (events are best effort upstream too)."""
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        now = self.clock.rfc3339()
        key = (namespace, meta.get("uid", ""), event_type, reason, message)
        try:
            existing = self._seen.get(key)
            if existing:
                try:
                    ev = await self.client.get("v1", "events", existing, namespace)
                    ev["count"] = int(ev.get("count") or 1) + 1
                    ev["lastTimestamp"] = now
                    await self.client.update("v1", "events", ev, namespace)
                    return
                except APIError as e:
                    if e.code != 404:
                        raise
            # named as upstream (object name, hex nanoseconds); wall time keeps names unique even
            # while a fake clock stands still
            self._last_ns = max(time.time_ns(), self._last_ns + 1)
            name = f"{meta.get('name', 'object')}.{self._last_ns:x}"
            involved = {
                "apiVersion": obj.get("apiVersion", ""),
                "kind": obj.get("kind", ""),
                "name": meta.get("name", ""),
                "namespace": meta.get("namespace", ""),
                "uid": meta.get("uid", ""),
                "resourceVersion": meta.get("resourceVersion", ""),
            }
            body = {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": name, "namespace": namespace},
                "involvedObject": {k: v for k, v in involved.items() if v},
                "reason": reason,
                "message": message,
                "source": {"component": self.component},
                "firstTimestamp": now,
                "lastTimestamp": now,
                "count": 1,
                "type": event_type,
                "eventTime": None,
                "reportingComponent": self.component,
                "reportingInstance": "",
            }
            await self.client.create("v1", "events", body, namespace)
            self._seen[key] = name
            if len(self._seen) > 10_000:
                self._seen.pop(next(iter(self._seen)))
        except APIError as e:
            log.debug("%s: event %s on %s not recorded: %s", self.component, reason, meta.get("name"), e.message)
