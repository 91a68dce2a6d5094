"""The namespace controller over HTTP: the same lifecycle as ``NamespaceController``, against any server.

In-process the controller reads the server's resource table and store; here it finds the
namespaced resources through discovery (``RemoteResources``), lists and deletes each with the
Client, writes the conditions with ``PUT .../status`` and removes the ``kubernetes`` finalizer with
``PUT /api/v1/namespaces/{name}/finalize``, as kube-controller-manager's namespaced-resources
deleter does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from controllers.discovery import RemoteResources
from controllers.namespace import FINALIZER, NamespaceController
from facade.errors import APIError

Obj = dict[str, Any]
CONFLICT_RETRIES = 5


def _qualified(api_version: str, plural: str) -> str:
    group = api_version.rpartition("/")[0]
    return f"{plural}.{group}" if group else plural


class RemoteNamespaceController(NamespaceController):
    """``client`` must be a ``RemoteClient`` (its ``request`` reaches the ``finalize`` subresource)."""

    def __init__(self, client: Any, resources: RemoteResources) -> None:
        super().__init__(client, None)  # type: ignore[arg-type] - no RestStore remotely
        self.resources = resources

    async def _delete_content(self, key: str) -> tuple[dict[str, int], dict[str, int]]:
        remaining: dict[str, int] = {}
        finalizers: dict[str, int] = {}
        seen: set[str] = set()  # events and events.k8s.io events are the same objects
        for r in self.resources.namespaced_deletable():
            try:
                items, _ = await self.client.list(r.api_version, r.plural, key)
            except APIError as e:
                if e.code in (404, 405):
                    continue
                raise
            for obj in items:
                meta = obj["metadata"]
                if not meta.get("deletionTimestamp"):
                    try:
                        await self.client.delete(r.api_version, r.plural, meta["name"], key,
                                                 propagation_policy="Background")
                    except APIError as e:
                        if e.code != 404:
                            raise
                    try:
                        meta = (await self.client.get(r.api_version, r.plural, meta["name"], key))["metadata"]
                    except APIError as e:
                        if e.code != 404:
                            raise
                        continue
                if meta.get("uid") in seen:
                    continue
                seen.add(meta.get("uid", ""))
                q = _qualified(r.api_version, r.plural)
                remaining[q] = remaining.get(q, 0) + 1
                for f in meta.get("finalizers") or []:
                    finalizers[f] = finalizers.get(f, 0) + 1
        return remaining, finalizers

    async def _update_status(self, key: str, mutate: Callable[[Obj], Obj]) -> None:
        for _ in range(CONFLICT_RETRIES):
            current = await self.client.get("v1", "namespaces", key)
            rv = current["metadata"].get("resourceVersion")
            updated = mutate(current)
            updated["metadata"]["resourceVersion"] = rv  # a precondition: retry on Conflict
            try:
                await self.client.update_status("v1", "namespaces", updated)
                return
            except APIError as e:
                if e.code != 409:
                    raise
        raise APIError(409, "Conflict", f"namespace {key}: status kept changing")

    async def _finalize(self, key: str) -> None:
        current = await self.client.get("v1", "namespaces", key)
        spec = current.setdefault("spec", {})
        spec["finalizers"] = [f for f in spec.get("finalizers") or [] if f != FINALIZER]
        await self.client.request("PUT", f"/api/v1/namespaces/{key}/finalize", current)
