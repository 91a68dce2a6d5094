"""Namespace lifecycle: a namespace marked for deletion is emptied, then its finalizer removed.

As kube-controller-manager's namespace controller: delete every namespaced object in it (custom
resources included), report progress in the NamespaceDeletion*/NamespaceContentRemaining
conditions, and once nothing is left remove the ``kubernetes`` finalizer through the ``finalize``
subresource, which lets the namespace go. No namespace is left stuck in Terminating.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from controllers.base import Controller
from facade.errors import APIError
from facade.rest import DeleteOptions, RestStore, WriteOptions, now_rfc3339

FINALIZER = "kubernetes"
RECHECK = 1.0


class NamespaceController(Controller):
    plural = "namespaces"
    name = "namespace-controller"

    def __init__(self, client: Any, rest: RestStore) -> None:
        super().__init__(client)
        self.rest = rest

    async def reconcile(self, key: str) -> None:
        ns = self.cache.get(key)
        if ns is None or not ns["metadata"].get("deletionTimestamp"):
            return
        if FINALIZER not in ((ns.get("spec") or {}).get("finalizers") or []):
            return
        remaining, finalizers = await self._delete_content(key)
        await self._set_conditions(key, remaining, finalizers)
        if remaining:
            self.queue.add_after(key, RECHECK)
            return
        await self._finalize(key)

    async def _delete_content(self, key: str) -> tuple[dict[str, int], dict[str, int]]:
        """Delete every object in the namespace; count by resource what is still there, and its finalizers."""
        remaining: dict[str, int] = {}
        finalizers: dict[str, int] = {}
        for info in self.rest.table:
            if not info.namespaced or "delete" not in info.verbs or "list" not in info.verbs:
                continue
            if info.store_key != info.qualified and info.version != _preferred(self.rest, info):
                continue
            items, _, _ = await self.rest.store.list(info.store_key, f"{key}/")
            for s in items:
                obj = orjson.loads(s.data)
                name = obj["metadata"]["name"]
                if not obj["metadata"].get("deletionTimestamp"):
                    try:
                        await self.rest.delete(info, key, name, DeleteOptions(propagation_policy="Background"))
                    except APIError as e:
                        if e.code != 404:
                            raise
                still = await self.rest.store.get(info.store_key, s.key)
                if still is not None:
                    remaining[info.qualified] = remaining.get(info.qualified, 0) + 1
                    for f in orjson.loads(still.data)["metadata"].get("finalizers") or []:
                        finalizers[f] = finalizers.get(f, 0) + 1
        return remaining, finalizers

    async def _finalize(self, key: str) -> None:
        """Remove the ``kubernetes`` finalizer through the ``finalize`` subresource."""
        ns_info = self.rest.table.get("", "v1", "namespaces")
        assert ns_info is not None
        current = await self.rest.get_obj(ns_info, "", key)
        current.setdefault("spec", {})["finalizers"] = [
            f for f in (current.get("spec") or {}).get("finalizers") or [] if f != FINALIZER
        ]
        await self.rest.update(ns_info, "", key, current, WriteOptions(field_manager=self.name,
                                                                          subresource="finalize"))

    async def _update_status(self, key: str, mutate: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        ns_info = self.rest.table.get("", "v1", "namespaces")
        assert ns_info is not None
        await self.rest.guaranteed_update(ns_info, "", key, mutate,
                                          WriteOptions(field_manager=self.name, subresource="status"))

    async def _set_conditions(self, key: str, remaining: dict[str, int], finalizers: dict[str, int]) -> None:
        now = now_rfc3339()

        def cond(ctype: str, status: str, reason: str, message: str) -> dict[str, Any]:
            return {"type": ctype, "status": status, "lastTransitionTime": now, "reason": reason, "message": message}

        content = ", ".join(f"{r} has {n} resource instances" for r, n in sorted(remaining.items()))
        fins = ", ".join(f"{f} in {n} resource instances" for f, n in sorted(finalizers.items()))
        wanted = [
            cond("NamespaceDeletionDiscoveryFailure", "False", "ResourcesDiscovered", "All resources successfully discovered"),
            cond("NamespaceDeletionGroupVersionParsingFailure", "False", "ParsedGroupVersions",
                 "All legacy kube types successfully parsed"),
            cond("NamespaceDeletionContentFailure", "False", "ContentDeleted", "All content successfully deleted, may be waiting on finalization"),
            cond("NamespaceContentRemaining", "True" if remaining else "False",
                 "SomeResourcesRemain" if remaining else "ContentRemoved",
                 f"Some resources are remaining: {content}" if remaining else "All content successfully removed"),
            cond("NamespaceFinalizersRemaining", "True" if finalizers else "False",
                 "SomeFinalizersRemain" if finalizers else "ContentHasNoFinalizers",
                 f"Some content in the namespace has finalizers remaining: {fins}" if finalizers
                 else "All content-preserving finalizers finished"),
        ]

        def mutate(ns: dict[str, Any]) -> dict[str, Any]:
            status = ns.setdefault("status", {})
            old = {c["type"]: c for c in status.get("conditions") or []}
            out = []
            for c in wanted:
                prev = old.get(c["type"])
                if prev and prev.get("status") == c["status"]:
                    c["lastTransitionTime"] = prev.get("lastTransitionTime", now)
                out.append(c)
            status["conditions"] = out
            ns["metadata"].pop("resourceVersion", None)
            return ns

        await self._update_status(key, mutate)


def _preferred(rest: RestStore, info: Any) -> str:
    versions = rest.table.group_versions().get(info.group, [])
    return versions[0] if versions else info.version
