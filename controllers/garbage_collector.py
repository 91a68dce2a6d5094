"""The garbage collector: deletes objects whose owners are gone, and runs the foreground and
orphan deletions that ``propagationPolicy`` asks for (pkg/controller/garbagecollector).

It watches every resource that can be listed, watched and deleted (custom resources too, found as
they appear) and keeps the ownerReferences graph: uid -> object, owner uid -> dependents. Work items
are uids:
- an object with owners is checked: owners that do not exist (or exist with another uid) are
  dangling; if no owner remains solid the object is deleted (Background, or the policy its own
  finalizers ask for); dangling references beside solid ones are removed instead;
- an owner being deleted with the ``foregroundDeletion`` finalizer gets its dependents deleted;
  once none with ``blockOwnerDeletion`` remains, the finalizer is removed and the owner goes;
- an owner being deleted with the ``orphan`` finalizer has its ownerReference removed from every
  dependent, then the finalizer.
Cluster-scoped owners of namespaced dependents are looked up without a namespace; a namespaced
owner named by a cluster-scoped dependent can never exist, so that reference is dangling.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from controllers.base import Controller
from controllers.client import Client
from controllers.informer import Informer
from facade.errors import APIError

log = logging.getLogger("kubefacade.controllers")

Obj = dict[str, Any]

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
RESCAN = 5.0


@dataclass(frozen=True)
class Resource:
    api_version: str
    plural: str
    kind: str
    namespaced: bool

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]


@dataclass
class Node:
    resource: Resource
    namespace: str
    name: str
    uid: str
    owners: list[Obj] = field(default_factory=list)
    deleting: bool = False
    finalizers: tuple[str, ...] = ()

    @property
    def deleting_dependents(self) -> bool:
        return self.deleting and FOREGROUND in self.finalizers


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0]


class GarbageCollector(Controller):
    name = "garbage-collector"

    def __init__(self, client: Client, resources: Callable[[], list[Resource]]) -> None:
        super().__init__(client)
        self.resources = resources
        self.informers: dict[Resource, Informer] = {}
        self.nodes: dict[str, Node] = {}
        self.dependents: dict[str, set[str]] = {}
        self.by_kind: dict[tuple[str, str], Resource] = {}

    # -- the graph -------------------------------------------------------------------------------

    def _handler(self, resource: Resource) -> Callable[[str, Obj, Obj | None], None]:
        def handle(ev_type: str, obj: Obj, old: Obj | None) -> None:
            m = obj.get("metadata") or {}
            uid = m.get("uid")
            if not uid:
                return
            if ev_type == "DELETED":
                self._remove(uid)
                return
            owners = [r for r in m.get("ownerReferences") or [] if isinstance(r, dict) and r.get("uid")]
            prev = self.nodes.get(uid)
            node = Node(resource, m.get("namespace") or "", m.get("name", ""), uid, owners,
                        bool(m.get("deletionTimestamp")), tuple(m.get("finalizers") or []))
            self.nodes[uid] = node
            prev_owner_uids = {r["uid"] for r in prev.owners} if prev else set()
            for o in prev_owner_uids - {r["uid"] for r in owners}:
                self.dependents.get(o, set()).discard(uid)
            for r in owners:
                self.dependents.setdefault(r["uid"], set()).add(uid)
            if owners and (prev is None or prev.owners != owners):
                self.queue.add(uid)
            if node.deleting and (FOREGROUND in node.finalizers or ORPHAN in node.finalizers):
                self.queue.add(uid)
                if FOREGROUND in node.finalizers and not (prev and prev.deleting_dependents):
                    for dep in self.dependents.get(uid, ()):
                        self.queue.add(dep)

        return handle

    def _remove(self, uid: str) -> None:
        node = self.nodes.pop(uid, None)
        for dep in self.dependents.get(uid, ()):
            self.queue.add(dep)  # their owner is gone: dangling now
        if node is not None:
            for r in node.owners:
                deps = self.dependents.get(r["uid"])
                if deps is not None:
                    deps.discard(uid)
                owner = self.nodes.get(r["uid"])
                if owner is not None and owner.deleting_dependents:
                    self.queue.add(owner.uid)
        if not self.dependents.get(uid):
            self.dependents.pop(uid, None)

    async def _sync_informers(self) -> None:
        """Start an informer for every deletable resource, and again as custom resources appear."""
        while True:
            try:
                wanted = {r: r for r in self.resources()}
                self.by_kind = {(r.group, r.kind): r for r in wanted}
                for r in wanted:
                    if r not in self.informers:
                        inf = Informer(self.client, r.api_version, r.plural, f"gc-{r.plural}.{r.group}",
                                       metadata_only=True)
                        inf.add_handler(self._handler(r))
                        inf.start()
                        self.informers[r] = inf
                for r in [r for r in self.informers if r not in wanted]:
                    await self.informers.pop(r).stop()
                self.synced.set()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - try again on the next rescan
                log.exception("garbage collector: resource scan failed")
            await asyncio.sleep(RESCAN)

    # -- work ------------------------------------------------------------------------------------

    async def reconcile(self, key: str) -> None:
        node = self.nodes.get(key)
        if node is None:
            return
        if node.deleting_dependents:
            await self._delete_dependents(node)
            return
        if node.deleting and ORPHAN in node.finalizers:
            await self._orphan_dependents(node)
            return
        if node.owners and not node.deleting:
            await self._attempt_to_delete(node)

    async def _live(self, resource: Resource, namespace: str, name: str) -> Obj | None:
        try:
            return await self.client.get(resource.api_version, resource.plural, name, namespace)
        except APIError as e:
            if e.code == 404:
                return None
            raise

    async def _owner_state(self, dependent: Node, ref: Obj) -> str:
        """'solid', 'dangling', 'waiting' (owner deleting its dependents first) or 'unknown'."""
        resource = self.by_kind.get((_group(ref.get("apiVersion", "")), ref.get("kind", "")))
        if resource is None:
            return "unknown"
        if resource.namespaced and not dependent.resource.namespaced:
            return "dangling"
        cached = self.nodes.get(ref["uid"])
        if cached is not None and cached.name == ref.get("name"):
            owner_deleting, fins = cached.deleting, cached.finalizers
        else:
            live = await self._live(resource, dependent.namespace if resource.namespaced else "", ref.get("name", ""))
            if live is None or (live.get("metadata") or {}).get("uid") != ref["uid"]:
                return "dangling"
            m = live.get("metadata") or {}
            owner_deleting, fins = bool(m.get("deletionTimestamp")), tuple(m.get("finalizers") or [])
        return "waiting" if owner_deleting and FOREGROUND in fins else "solid"

    def _all_owners_solid(self, node: Node) -> bool:
        """Fast path: every owner is in the graph, with the right name, and not deleting its dependents."""
        for r in node.owners:
            owner = self.nodes.get(r["uid"])
            if owner is None or owner.name != r.get("name") or owner.deleting_dependents:
                return False
            if owner.resource.namespaced and not node.resource.namespaced:
                return False
        return True

    async def _attempt_to_delete(self, node: Node) -> None:
        if self._all_owners_solid(node):
            return
        latest = await self._live(node.resource, node.namespace, node.name)
        if latest is None or latest["metadata"].get("uid") != node.uid:
            return
        refs = [r for r in latest["metadata"].get("ownerReferences") or [] if isinstance(r, dict) and r.get("uid")]
        if not refs:
            return
        states = {r["uid"]: await self._owner_state(node, r) for r in refs}
        solid = [u for u, s in states.items() if s in ("solid", "unknown")]
        gone = [u for u, s in states.items() if s in ("dangling", "waiting")]
        if solid:
            if gone:
                await self._patch_refs(node, latest, [r for r in refs if r["uid"] not in gone])
            return
        fins = latest["metadata"].get("finalizers") or []
        if "waiting" in states.values() and self.dependents.get(node.uid):
            policy = "Foreground"
        elif ORPHAN in fins:
            policy = "Orphan"
        elif FOREGROUND in fins:
            policy = "Foreground"
        else:
            policy = "Background"
        try:
            await self.client.delete(node.resource.api_version, node.resource.plural, node.name, node.namespace,
                                     propagation_policy=policy, uid=node.uid)
        except APIError as e:
            if e.code not in (404, 409):
                raise

    async def _patch_refs(self, node: Node, latest: Obj, refs: list[Obj]) -> None:
        body = {"metadata": {"ownerReferences": refs or None,
                             "resourceVersion": latest["metadata"].get("resourceVersion")}}
        try:
            await self.client.patch(node.resource.api_version, node.resource.plural, node.name, body, node.namespace)
        except APIError as e:
            if e.code != 404:
                raise

    async def _delete_dependents(self, owner: Node) -> None:
        blocking = []
        for dep_uid in list(self.dependents.get(owner.uid, ())):
            dep = self.nodes.get(dep_uid)
            if dep is None:
                continue
            if any(r["uid"] == owner.uid and r.get("blockOwnerDeletion") for r in dep.owners):
                blocking.append(dep)
        if not blocking:
            await self._remove_finalizer(owner, FOREGROUND)
            return
        for dep in blocking:
            if not dep.deleting:
                self.queue.add(dep.uid)

    async def _orphan_dependents(self, owner: Node) -> None:
        for dep_uid in list(self.dependents.get(owner.uid, ())):
            dep = self.nodes.get(dep_uid)
            if dep is None:
                continue
            latest = await self._live(dep.resource, dep.namespace, dep.name)
            if latest is None or latest["metadata"].get("uid") != dep.uid:
                continue
            refs = latest["metadata"].get("ownerReferences") or []
            if any(r.get("uid") == owner.uid for r in refs):
                await self._patch_refs(dep, latest, [r for r in refs if r.get("uid") != owner.uid])
        await self._remove_finalizer(owner, ORPHAN)

    async def _remove_finalizer(self, node: Node, finalizer: str) -> None:
        latest = await self._live(node.resource, node.namespace, node.name)
        if latest is None or latest["metadata"].get("uid") != node.uid:
            return
        fins = latest["metadata"].get("finalizers") or []
        if finalizer not in fins:
            return
        latest["metadata"]["finalizers"] = [f for f in fins if f != finalizer]
        try:
            await self.client.update(node.resource.api_version, node.resource.plural, latest, node.namespace)
        except APIError as e:
            if e.code != 404:
                raise

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self, workers: int = 2) -> None:
        self._tasks.append(asyncio.create_task(self._sync_informers(), name="gc-informers"))
        for i in range(workers):
            self._tasks.append(asyncio.create_task(self._worker(), name=f"{self.name}-worker-{i}"))

    async def stop(self) -> None:
        await super().stop()
        for inf in self.informers.values():
            await inf.stop()
        self.informers.clear()


def table_resources(table: Any) -> Callable[[], list[Resource]]:
    """The deletable resources of the server's resource table, one (preferred) version each;
    Events are left out (nothing owns them, and there are many)."""

    def resources() -> list[Resource]:
        preferred = table.group_versions()
        out: dict[tuple[str, str], Resource] = {}
        for info in table:
            if not {"list", "watch", "delete"} <= set(info.verbs):
                continue
            if info.plural == "events":
                continue
            versions = preferred.get(info.group, [])
            if versions and info.version != versions[0] and (info.group, info.plural) in out:
                continue
            if versions and info.version != versions[0] and any(
                    i.group == info.group and i.plural == info.plural and i.version == versions[0] for i in table):
                continue
            out[(info.group, info.plural)] = Resource(info.group_version, info.plural, info.kind, info.namespaced)
        return list(out.values())

    return resources
