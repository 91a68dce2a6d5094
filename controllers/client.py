"""The one async Client protocol controllers and node agents use (DESIGN.md contract 4).

``InProcessClient`` calls the generic REST store directly: the same defaults, admission and
validation path as an HTTP request, without sockets. A remote implementation over HTTP shares the
protocol, so every controller can run inside the server or against any cluster.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

import orjson

from facade import errors
from facade.resource_table import ResourceInfo
from facade.rest import DeleteOptions, RestStore, WriteOptions
from facade.selection import build_predicate
from storage.interface import RETIRED, Stored

Obj = dict[str, Any]


class Client(Protocol):
    async def get(self, api_version: str, plural: str, name: str, namespace: str = "") -> Obj: ...

    async def list(self, api_version: str, plural: str, namespace: str = "", label_selector: str = "",
                   field_selector: str = "") -> tuple[list[Obj], str]: ...

    def watch(self, api_version: str, plural: str, resource_version: str, namespace: str = "",
              label_selector: str = "", field_selector: str = "") -> AsyncIterator[tuple[str, Obj]]: ...

    async def create(self, api_version: str, plural: str, obj: Obj, namespace: str = "") -> Obj: ...

    async def update(self, api_version: str, plural: str, obj: Obj, namespace: str = "") -> Obj: ...

    async def update_status(self, api_version: str, plural: str, obj: Obj, namespace: str = "") -> Obj: ...

    async def patch(self, api_version: str, plural: str, name: str, patch: Obj, namespace: str = "",
                    patch_type: str = "application/merge-patch+json", subresource: str = "",
                    shared: bool = False) -> Obj:
        """``subresource="status"`` patches the status (how kubelet reports pod and node status).

        ``shared``: the caller only reads the result, so an in-process client may answer with the
        dict its watchers get for this version (SHARED_KINDS: without managedFields)."""
        ...

    async def delete(self, api_version: str, plural: str, name: str, namespace: str = "",
                     propagation_policy: str = "", uid: str = "",
                     grace_period_seconds: int | None = None) -> Obj | None:
        """Delete; ``uid`` is a precondition (409 Conflict when the object was replaced)."""
        ...

    async def bind(self, pod: str, node: str, namespace: str) -> None:
        """POST pods/{pod}/binding: assign a pending pod to a node (what the scheduler does)."""
        ...


#: kinds whose watch events are parsed once per stored version, without managedFields, and the same
#: dict handed to every in-process watcher (about ten informers watch pods): their consumers only
#: read events, never change them in place, so one parse and one copy in memory serve all
#: (client-go's shared informers). ConfigMaps: the garbage collector, the quota controller and the
#: root-CA watch all see every write of one, and read it only.
SHARED_KINDS = {("", "pods"), ("", "configmaps")}


def _parse(stored: Stored) -> Obj:
    return orjson.loads(stored.data)


def _shared_parse(stored: Stored) -> Obj:
    """The one parsed dict of this stored version, kept on it (``Stored.decoded``) while it is current
    and for a while after it is superseded, so every watcher gets the same dict."""
    obj = stored.decoded
    if obj is not None and obj is not RETIRED:
        return obj
    obj = orjson.loads(stored.data)
    # as kube-controller-manager's informers do (a transform that trims them): no in-process
    # watcher reads managedFields, and they are half of a pod's memory
    (obj.get("metadata") or {}).pop("managedFields", None)
    if stored.decoded is None:
        stored.decoded = obj
    return obj


def _split(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


class InProcessClient:
    """A Client over the server's own RestStore; ``manager`` names it in managedFields."""

    def __init__(self, rest: RestStore, manager: str) -> None:
        self.rest = rest
        self.manager = manager

    def _info(self, api_version: str, plural: str) -> ResourceInfo:
        group, version = _split(api_version)
        info = self.rest.table.get(group, version, plural)
        if info is None:
            raise errors.not_found_error(plural, group, "")
        return info

    @staticmethod
    def _obj(out: Stored | Obj) -> Obj:
        return orjson.loads(out.data) if isinstance(out, Stored) else out

    async def get(self, api_version: str, plural: str, name: str, namespace: str = "") -> Obj:
        return await self.rest.get_obj(self._info(api_version, plural), namespace, name)

    async def list(self, api_version: str, plural: str, namespace: str = "", label_selector: str = "",
                   field_selector: str = "") -> tuple[list[Obj], str]:
        info = self._info(api_version, plural)
        pred = build_predicate(info, label_selector, field_selector, namespace)
        items, _, rv = await self.rest.store.list(info.store_key, f"{namespace}/" if namespace else "", predicate=pred)
        return [orjson.loads(s.data) for s in items], str(rv)

    async def watch(self, api_version: str, plural: str, resource_version: str, namespace: str = "",
                    label_selector: str = "", field_selector: str = "") -> AsyncIterator[tuple[str, Obj]]:
        """Events as dicts; for SHARED_KINDS every watcher receives the same dict (read-only!)."""
        info = self._info(api_version, plural)
        pred = build_predicate(info, label_selector, field_selector, namespace)
        watcher = self.rest.store.watch(info.store_key, f"{namespace}/" if namespace else "",
                                        int(resource_version), pred)
        parse = _shared_parse if (info.group, info.plural) in SHARED_KINDS else _parse
        try:
            async for ev in watcher:
                yield ev.type, parse(ev.obj)
        finally:
            watcher.close()

    async def create(self, api_version: str, plural: str, obj: Obj, namespace: str = "") -> Obj:
        out = await self.rest.create(self._info(api_version, plural), namespace, obj,
                                     WriteOptions(field_manager=self.manager))
        return self._obj(out)

    async def update(self, api_version: str, plural: str, obj: Obj, namespace: str = "") -> Obj:
        out = await self.rest.update(self._info(api_version, plural), namespace, obj["metadata"]["name"], obj,
                                     WriteOptions(field_manager=self.manager))
        return self._obj(out)

    async def update_status(self, api_version: str, plural: str, obj: Obj, namespace: str = "") -> Obj:
        out = await self.rest.update(self._info(api_version, plural), namespace, obj["metadata"]["name"], obj,
                                     WriteOptions(field_manager=self.manager, subresource="status"))
        return self._obj(out)

    async def patch(self, api_version: str, plural: str, name: str, patch: Obj, namespace: str = "",
                    patch_type: str = "application/merge-patch+json", subresource: str = "",
                    shared: bool = False) -> Obj:
        from facade.patch import apply_patch

        info = self._info(api_version, plural)
        body = orjson.dumps(patch)
        schema = self.rest.schema_for(info)
        out = await self.rest.guaranteed_update(
            # the body is orjson's dump of a dict: no duplicate keys to look for, no warnings to return
            info, namespace, name,
            lambda o: apply_patch(patch_type, o, body, schema, field_validation="Ignore", in_place=True),
            WriteOptions(field_manager=self.manager, subresource=subresource))
        if shared and isinstance(out, Stored) and (info.group, info.plural) in SHARED_KINDS:
            return _shared_parse(out)
        return self._obj(out)

    async def delete(self, api_version: str, plural: str, name: str, namespace: str = "",
                     propagation_policy: str = "", uid: str = "",
                     grace_period_seconds: int | None = None) -> Obj | None:
        obj, _ = await self.rest.delete(self._info(api_version, plural), namespace, name,
                                        DeleteOptions(propagation_policy=propagation_policy, precondition_uid=uid,
                                                      grace_period_seconds=grace_period_seconds))
        return obj

    async def bind(self, pod: str, node: str, namespace: str) -> None:
        from facade.pod_binding import bind_pod

        binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": pod, "namespace": namespace},
                   "target": {"apiVersion": "v1", "kind": "Node", "name": node}}
        await bind_pod(self.rest, namespace, pod, binding)
