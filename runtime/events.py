"""Events as kubelet records them: ``source: {component: kubelet, host: <node>}``, container fieldPaths.

A container's Event points at ``spec.containers{name}`` (or ``spec.initContainers{name}``), which is
how ``kubectl describe pod`` attributes it. Repeats of one reason and message for the same object
and field bump ``count`` and ``lastTimestamp`` (client-go's correlator), so a crash loop writes one
``BackOff`` Event with a growing count rather than a stream of new ones.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from controllers.client import Client
from controllers.clock import Clock
from facade.errors import APIError

log = logging.getLogger("kubefacade.runtime")

Obj = dict[str, Any]
NORMAL = "Normal"
WARNING = "Warning"


def field_path(pod: Obj, container: str) -> str:
    """``spec.containers{c}`` / ``spec.initContainers{c}`` for a container of the pod, "" for the pod."""
    if not container:
        return ""
    spec = pod.get("spec") or {}
    for group in ("initContainers", "containers", "ephemeralContainers"):
        if any(c.get("name") == container for c in spec.get(group) or []):
            return f"spec.{group}{{{container}}}"
    return ""


class KubeletEvents:
    """Writes Events on behalf of one node's agent; best effort, as upstream (failures are logged)."""

    def __init__(self, client: Client, node: str, clock: Clock) -> None:
        self.client = client
        self.node = node
        self.clock = clock
        self._seen: dict[tuple[str, ...], tuple[str, int]] = {}
        self._last_ns = 0

    async def emit(self, obj: Obj, event_type: str, reason: str, message: str, container: str = "") -> None:
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        fpath = field_path(obj, container)
        now = self.clock.rfc3339()
        key = (namespace, meta.get("uid", ""), fpath, event_type, reason, message)
        try:
            seen = self._seen.get(key)
            if seen is not None:
                name, count = seen
                try:
                    await self.client.patch("v1", "events", name, {"count": count + 1, "lastTimestamp": now},
                                            namespace)
                    self._seen[key] = (name, count + 1)
                    return
                except APIError as e:
                    if e.code != 404:
                        raise
            self._last_ns = max(time.time_ns(), self._last_ns + 1)
            name = f"{meta.get('name', 'node')}.{self._last_ns:x}"
            involved = {
                "apiVersion": obj.get("apiVersion") or "v1",
                "kind": obj.get("kind") or "Pod",
                "name": meta.get("name", ""),
                "namespace": meta.get("namespace", ""),
                "uid": meta.get("uid", ""),
                "resourceVersion": meta.get("resourceVersion", ""),
                "fieldPath": fpath,
            }
            body = {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": name, "namespace": namespace},
                "involvedObject": {k: v for k, v in involved.items() if v},
                "reason": reason,
                "message": message,
                "source": {"component": "kubelet", "host": self.node},
                "firstTimestamp": now,
                "lastTimestamp": now,
                "count": 1,
                "type": event_type,
                "eventTime": None,
                "reportingComponent": "kubelet",
                "reportingInstance": self.node,
            }
            await self.client.create("v1", "events", body, namespace)
            self._seen[key] = (name, 1)
            if len(self._seen) > 20_000:
                self._seen.pop(next(iter(self._seen)))
        except APIError as e:
            log.debug("kubelet %s: event %s on %s not recorded: %s", self.node, reason, meta.get("name"), e.message)
        except Exception:  # noqa: BLE001 - an Event must never take a pod worker down
            log.exception("kubelet %s: event %s not recorded", self.node, reason)
