"""The resources a remote API server serves, found through its discovery documents.

In-process, the garbage collector and the namespace controller read the server's resource table;
against another server they need the same list from ``/api``, ``/apis`` and each preferred group
version, as kube-controller-manager's discovery client finds it (re-read every 30 s, so custom
resources are picked up as they appear). One document per group version: legacy discovery, which
every API server serves.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from controllers.garbage_collector import Resource
from facade.errors import APIError

log = logging.getLogger("kubefacade.controllers")

REFRESH_SECONDS = 30.0


def _resources_of(api_version: str, doc: dict[str, Any]) -> list[tuple[Resource, frozenset[str]]]:
    out = []
    for r in doc.get("resources") or []:
        if "/" in r.get("name", ""):  # subresources (status, scale, ...)
            continue
        out.append((Resource(api_version, r["name"], r.get("kind", ""), bool(r.get("namespaced"))),
                    frozenset(r.get("verbs") or ())))
    return out


class RemoteResources:
    """The preferred version of every served resource with its verbs, refreshed in the background.

    Called as the garbage collector's ``resources()`` it returns the deletable, watchable ones
    (Events left out, as in-process); ``namespaced_deletable()`` is what the namespace controller
    empties a namespace of.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self.found: list[tuple[Resource, frozenset[str]]] = []
        self._task: asyncio.Task[None] | None = None

    async def refresh(self) -> None:
        found: list[tuple[Resource, frozenset[str]]] = []
        core = await self.client.request("GET", "/api")
        for version in (core.get("versions") or ["v1"])[:1]:
            found += _resources_of(version, await self.client.request("GET", f"/api/{version}"))
        groups = await self.client.request("GET", "/apis")
        for group in groups.get("groups") or []:
            gv = (group.get("preferredVersion") or {}).get("groupVersion") or \
                ((group.get("versions") or [{}])[0]).get("groupVersion")
            if not gv:
                continue
            try:
                found += _resources_of(gv, await self.client.request("GET", f"/apis/{gv}"))
            except APIError as e:  # an aggregated API that is down; upstream skips it too
                log.warning("discovery of %s failed: %s", gv, e.message)
        self.found = found

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_SECONDS)
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep the last list, try again later
                log.exception("discovery refresh failed")

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="discovery-refresh")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def __call__(self) -> list[Resource]:
        return [r for r, verbs in self.found
                if {"list", "watch", "delete"} <= verbs and r.plural != "events"]

    def namespaced_deletable(self) -> list[Resource]:
        return [r for r, verbs in self.found if r.namespaced and {"list", "delete"} <= verbs]
