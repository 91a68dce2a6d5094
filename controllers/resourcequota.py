"""The ResourceQuota status controller (pkg/controller/resourcequota): status.hard and status.used.

`kubectl describe quota` reads these. Usage is recounted for a namespace's quotas whenever one of
them changes or an object quota tracks (pods, configmaps, services, secrets, claims) changes there.
"""

from __future__ import annotations

import asyncio
import logging
from fractions import Fraction
from typing import Any

from controllers.base import Controller
from controllers.client import Client
from facade.admission_quota import COUNTED_PLURALS, usage
from facade.kinds.core_quantity import DECIMAL, QuantityError, canonical, parse

log = logging.getLogger("kubefacade.controllers")

Obj = dict[str, Any]


class ResourceQuotaController(Controller):
    """Keeps each quota's status.hard equal to spec.hard and status.used to the namespace's usage."""

    plural = "resourcequotas"
    name = "resourcequota-controller"

    def __init__(self, client: Client) -> None:
        super().__init__(client)

    def start(self, workers: int = 1) -> None:
        super().start(workers)
        for plural in COUNTED_PLURALS:
            self._tasks.append(asyncio.create_task(self._watch_tracked(plural), name=f"{self.name}-{plural}"))

    async def _watch_tracked(self, plural: str) -> None:
        """Requeue a namespace's quotas when an object they count changes."""
        while True:
            try:
                _, rv = await self.client.list("v1", plural)
                async for _, obj in self.client.watch("v1", plural, rv):
                    ns = (obj.get("metadata") or {}).get("namespace", "")
                    for key in [k for k in self.cache if k.startswith(f"{ns}/")]:
                        self.queue.add(key)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - relist after any watch failure
                log.exception("%s: watch %s failed; relisting", self.name, plural)
                await asyncio.sleep(1)

    async def reconcile(self, key: str) -> None:
        quota = self.cache.get(key)
        if quota is None:
            return
        namespace = quota["metadata"]["namespace"]
        hard = dict((quota.get("spec") or {}).get("hard") or {})
        used: dict[str, Fraction] = {name: Fraction(0) for name in hard}
        for plural in COUNTED_PLURALS:
            items, _ = await self.client.list("v1", plural, namespace)
            for obj in items:
                if (obj.get("metadata") or {}).get("deletionTimestamp"):
                    continue
                for name, value in usage(plural, obj).items():
                    if name in used:
                        used[name] += value
        status = {"hard": hard, "used": {name: canonical(used[name], _format(hard[name])) for name in hard}}
        if quota.get("status") == status:
            return
        latest = await self.client.get("v1", "resourcequotas", quota["metadata"]["name"], namespace)
        latest["status"] = status
        await self.client.update_status("v1", "resourcequotas", latest, namespace)


def _format(raw: Any) -> str:
    try:
        return parse(raw).format
    except QuantityError:
        return DECIMAL
