"""The ReplicaSet and ReplicationController controllers: keep ``spec.replicas`` pods running.

As kube-controller-manager's replicaset controller (which also serves ReplicationControllers):
claim the active pods of the namespace (adopt orphans the selector matches, release owned pods
it no longer matches), create pods from the template with ``generateName: <name>-`` and a
controller ownerReference in slow-start batches (1, 2, 4, ...), delete surplus pods in upstream's
preference order (unscheduled, pending, not ready, doubled up on a node, newest), guard both with
expectations, and report replicas / fullyLabeledReplicas / readyReplicas / availableReplicas /
observedGeneration, the ReplicaFailure condition and SuccessfulCreate / SuccessfulDelete events.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from controllers.base import Controller, key_of
from controllers.client import Client
from controllers.clock import Clock, RealClock
from controllers.event_recorder import NORMAL, WARNING, EventRecorder
from controllers.expectations import Expectations
from controllers.informer import Informer
from controllers.owner_index import OwnerIndex
from controllers.pod_facts import (
    controller_of,
    is_active,
    is_available,
    is_ready,
    labels,
    meta,
    parse_time,
    ready_since,
    selector_of,
)
from facade.errors import APIError
from storage.selectors import selector_from_set

Obj = dict[str, Any]

BURST_REPLICAS = 500
DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"


def new_controller_ref(owner: Obj) -> Obj:
    m = meta(owner)
    return {"apiVersion": owner.get("apiVersion", ""), "kind": owner.get("kind", ""), "name": m.get("name", ""),
            "uid": m.get("uid", ""), "controller": True, "blockOwnerDeletion": True}


def pod_from_template(owner: Obj, template: Obj) -> Obj:
    """controller.GetPodFromTemplate: the template's labels, annotations, finalizers and spec."""
    tmeta = template.get("metadata") or {}
    m: Obj = {"generateName": f"{meta(owner)['name']}-", "ownerReferences": [new_controller_ref(owner)]}
    for f in ("labels", "annotations", "finalizers"):
        if tmeta.get(f):
            m[f] = copy.deepcopy(tmeta[f])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": m, "spec": copy.deepcopy(template.get("spec") or {})}


def _phase_rank(pod: Obj) -> int:
    return {"Pending": 0, "Unknown": 1, "Running": 2}.get((pod.get("status") or {}).get("phase") or "Pending", 0)


def _restarts(pod: Obj) -> int:
    return max((int(c.get("restartCount") or 0) for c in (pod.get("status") or {}).get("containerStatuses") or []),
               default=0)


def deletion_order(pods: list[Obj]) -> list[Obj]:
    """controller.ActivePodsWithRanks: the pods to delete first come first."""
    per_node: dict[str, int] = {}
    for p in pods:
        node = (p.get("spec") or {}).get("nodeName") or ""
        if node:
            per_node[node] = per_node.get(node, 0) + 1

    def key(p: Obj) -> tuple[Any, ...]:
        node = (p.get("spec") or {}).get("nodeName") or ""
        try:
            cost = int((meta(p).get("annotations") or {}).get(DELETION_COST, "0"))
        except ValueError:
            cost = 0
        since = ready_since(p) if is_ready(p) else None
        created = parse_time(meta(p).get("creationTimestamp")) or 0.0
        return (bool(node), _phase_rank(p), is_ready(p), cost, -per_node.get(node, 0) if node else 0,
                -(since or 0.0), -_restarts(p), -created)

    return sorted(pods, key=key)


#: seconds a pod change that only moves the owner's status counts (scheduled, Ready) waits, so that a
#: burst of them gives one reconcile and one status write (as the queue of a busy controller does)
STATUS_COALESCE = 0.1


def _status_only(pod: Obj, old: Obj) -> bool:
    """Whether a pod update can change no more than its ReplicaSet's status counts: still active,
    not newly deleted, same labels (what claiming and the replica count read)."""
    return (bool(meta(pod).get("deletionTimestamp")) == bool(meta(old).get("deletionTimestamp"))
            and is_active(pod) and is_active(old) and meta(pod).get("labels") == meta(old).get("labels"))


async def slow_start(count: int, fn: Any, initial: int = 1) -> int:
    """controller.slowStartBatch: run ``fn`` in batches of 1, 2, 4, ... stopping at the first error."""
    done = 0
    batch = min(count, initial)
    while done < count and batch > 0:
        results = await asyncio.gather(*(fn() for _ in range(batch)), return_exceptions=True)
        ok = sum(1 for r in results if not isinstance(r, BaseException))
        done += ok
        if ok < batch:
            return done
        batch = min(2 * batch, count - done)
    return done


class ReplicaSetController(Controller):
    """Reconciles apps/v1 ReplicaSets (or, with ``for_rc``, v1 ReplicationControllers)."""

    def __init__(self, client: Client, clock: Clock | None = None, for_rc: bool = False) -> None:
        super().__init__(client)
        self.clock = clock or RealClock()
        if for_rc:
            self.api_version, self.plural, self.kind = "v1", "replicationcontrollers", "ReplicationController"
            self.name = "replicationcontroller-controller"
        else:
            self.api_version, self.plural, self.kind = "apps/v1", "replicasets", "ReplicaSet"
            self.name = "replicaset-controller"
        self.pods = Informer(client, "v1", "pods", f"{self.name}-pods")
        self.pods.add_handler(self._on_pod)
        self.index = OwnerIndex(self.pods)
        self.expectations = Expectations()
        self.recorder = EventRecorder(client, self.name, self.clock)

    # -- pod events -> owner keys --------------------------------------------------------------

    def _owner_key(self, pod: Obj, ref: Obj | None) -> str | None:
        if ref is None or ref.get("kind") != self.kind or ref.get("apiVersion", "").split("/")[0] != self.api_version.split("/")[0]:
            return None
        key = f"{meta(pod).get('namespace', '')}/{ref.get('name', '')}"
        owner = self.cache.get(key)
        if owner is None or meta(owner).get("uid") != ref.get("uid"):
            return None
        return key

    def _matching_owners(self, pod: Obj) -> list[str]:
        ns = meta(pod).get("namespace")
        out = []
        for key, rs in self.cache.items():
            if meta(rs).get("namespace") == ns and selector_of((rs.get("spec") or {}).get("selector")).matches(labels(pod)):
                out.append(key)
        return out

    def _on_pod(self, ev_type: str, pod: Obj, old: Obj | None) -> None:
        pod_key = key_of(pod)
        self.index.reindex(pod_key)
        ref = controller_of(pod)
        owner = self._owner_key(pod, ref)
        if ev_type == "DELETED":
            if owner:
                self.expectations.deletion_observed(owner, pod_key)
                self.queue.add(owner)
            return
        if ev_type == "ADDED" and old is None and owner:
            if meta(pod).get("deletionTimestamp"):
                self.expectations.deletion_observed(owner, pod_key)
            else:
                self.expectations.creation_observed(owner)
        elif owner and meta(pod).get("deletionTimestamp") and not (old and meta(old).get("deletionTimestamp")):
            self.expectations.deletion_observed(owner, pod_key)
        old_owner = None
        if old is not None:
            old_owner = self._owner_key(old, controller_of(old))
            if old_owner and old_owner != owner:
                self.queue.add(old_owner)
        if owner:
            if old is not None and old_owner == owner and _status_only(pod, old):
                self.queue.add_soon(owner, STATUS_COALESCE)
            else:
                self.queue.add(owner)
        elif ref is None:
            for k in self._matching_owners(pod):
                self.queue.add(k)

    # -- reconcile -----------------------------------------------------------------------------

    async def reconcile(self, key: str) -> None:
        rs = self.cache.get(key)
        if rs is None:
            self.expectations.forget(key)
            return
        await self.pods.synced.wait()
        needs_sync = self.expectations.satisfied(key)
        spec = rs.get("spec") or {}
        selector = selector_of(spec.get("selector"))
        ns = meta(rs).get("namespace", "")
        candidates = [p for p in self.index.candidates(ns, meta(rs).get("uid", "")) if is_active(p)]
        owned = await self._claim(rs, selector, candidates)
        error: APIError | None = None
        if needs_sync and not meta(rs).get("deletionTimestamp"):
            try:
                await self._manage(key, rs, owned)
            except APIError as e:
                error = e
        await self._update_status(key, rs, owned, error)
        if error is not None:
            raise error

    async def _claim(self, rs: Obj, selector: Any, pods: list[Obj]) -> list[Obj]:
        uid = meta(rs).get("uid")
        deleting = bool(meta(rs).get("deletionTimestamp"))
        owned = []
        for pod in pods:
            ref = controller_of(pod)
            matches = selector.matches(labels(pod))
            if ref is not None and ref.get("uid") == uid:
                if matches or deleting:
                    owned.append(pod)
                else:
                    await self._set_refs(pod, [r for r in meta(pod).get("ownerReferences") or [] if r.get("uid") != uid])
                continue
            if ref is not None or not matches or deleting or meta(pod).get("deletionTimestamp"):
                continue
            try:
                fresh = await self.client.get(self.api_version, self.plural, meta(rs)["name"], meta(rs).get("namespace", ""))
            except APIError:
                return owned
            if meta(fresh).get("uid") != uid or meta(fresh).get("deletionTimestamp"):
                return owned
            refs = [*(meta(pod).get("ownerReferences") or []), new_controller_ref(rs)]
            adopted = await self._set_refs(pod, refs)
            if adopted is not None:
                owned.append(adopted)
        return owned

    async def _set_refs(self, pod: Obj, refs: list[Obj]) -> Obj | None:
        body = {"metadata": {"ownerReferences": refs or None, "resourceVersion": meta(pod).get("resourceVersion")}}
        try:
            out = await self.client.patch("v1", "pods", meta(pod)["name"], body, meta(pod).get("namespace", ""))
        except APIError as e:
            if e.code in (404, 409):
                return None
            raise
        self.pods.remember(out)
        self.index.reindex(key_of(out))
        return out

    async def _manage(self, key: str, rs: Obj, owned: list[Obj]) -> None:
        spec = rs.get("spec") or {}
        want = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
        diff = len(owned) - want
        ns = meta(rs).get("namespace", "")
        if diff < 0:
            n = min(-diff, BURST_REPLICAS)
            self.expectations.expect_creations(key, n)
            failure: list[APIError] = []

            async def create_one() -> None:
                try:
                    pod = await self.client.create("v1", "pods", pod_from_template(rs, spec.get("template") or {}), ns)
                except APIError as e:
                    self.expectations.creation_observed(key)
                    failure.append(e)
                    if not (e.code == 403 and "being terminated" in e.message):
                        await self.recorder.event(rs, WARNING, "FailedCreate", f"Error creating: {e.message}")
                    raise
                await self.recorder.event(rs, NORMAL, "SuccessfulCreate", f"Created pod: {meta(pod)['name']}")

            done = await slow_start(n, create_one)
            for _ in range(n - done - len(failure)):
                self.expectations.creation_observed(key)  # skipped batches will never be observed
            if failure:
                raise failure[0]
        elif diff > 0:
            n = min(diff, BURST_REPLICAS)
            victims = deletion_order(owned)[:n]
            self.expectations.expect_deletions(key, [key_of(p) for p in victims])
            errors: list[APIError] = []

            async def delete_one(pod: Obj) -> None:
                try:
                    await self.client.delete("v1", "pods", meta(pod)["name"], ns, uid=meta(pod).get("uid", ""))
                except APIError as e:
                    self.expectations.deletion_observed(key, key_of(pod))
                    if e.code != 404:
                        errors.append(e)
                        await self.recorder.event(rs, WARNING, "FailedDelete", f"Error deleting: {e.message}")
                    return
                await self.recorder.event(rs, NORMAL, "SuccessfulDelete", f"Deleted pod: {meta(pod)['name']}")

            await asyncio.gather(*(delete_one(p) for p in victims))
            if errors:
                raise errors[0]

    async def _update_status(self, key: str, rs: Obj, owned: list[Obj], error: APIError | None) -> None:
        spec = rs.get("spec") or {}
        min_ready = int(spec.get("minReadySeconds") or 0)
        now = self.clock.now()
        template_sel = selector_from_set(((spec.get("template") or {}).get("metadata") or {}).get("labels") or {})
        fully = sum(1 for p in owned if template_sel.matches(labels(p)))
        ready = [p for p in owned if is_ready(p)]
        # without minReadySeconds a Ready pod is available (podutil.IsPodAvailable): skip re-reading it
        available = [p for p in ready if is_available(p, min_ready, now)] if min_ready else ready
        old = rs.get("status") or {}
        status: Obj = {"replicas": len(owned)}
        if fully:
            status["fullyLabeledReplicas"] = fully
        if ready:
            status["readyReplicas"] = len(ready)
        if available:
            status["availableReplicas"] = len(available)
        if meta(rs).get("generation"):
            status["observedGeneration"] = meta(rs)["generation"]
        conditions = [c for c in old.get("conditions") or [] if c.get("type") != "ReplicaFailure"]
        failure = next((c for c in old.get("conditions") or [] if c.get("type") == "ReplicaFailure"), None)
        if error is not None:
            want = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
            reason = "FailedCreate" if len(owned) < want else "FailedDelete"
            conditions.append(failure or {"type": "ReplicaFailure", "status": "True",
                                          "lastTransitionTime": self.clock.rfc3339(), "reason": reason,
                                          "message": error.message})
        if conditions:
            status["conditions"] = conditions
        if status != old:
            updated = {**rs, "status": status}
            try:
                out = await self.client.update_status(self.api_version, self.plural, updated, meta(rs).get("namespace", ""))
            except APIError as e:
                if e.code == 404:
                    return
                raise
            cached = self.cache.get(key)
            if cached is None or int(meta(out).get("resourceVersion") or 0) >= int(meta(cached).get("resourceVersion") or 0):
                self.cache[key] = out
        if not min_ready:
            return
        available_ids = {id(p) for p in available}  # by identity: comparing pods as dicts is quadratic
        pending = [p for p in ready if id(p) not in available_ids]
        if pending:
            soonest = min((ready_since(p) or now) + min_ready for p in pending)
            self.clock.call_later(max(0.0, soonest - now) + 0.001, lambda: self.queue.add(key))

    def start(self, workers: int = 1) -> None:
        self.pods.start()
        super().start(workers)

    async def stop(self) -> None:
        await super().stop()
        await self.pods.stop()
