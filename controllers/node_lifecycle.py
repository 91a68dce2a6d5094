"""The node lifecycle controller and its taint-based eviction (pkg/controller/nodelifecycle).

Every monitor period it looks at each node's heartbeats (the Lease renewTime and the Ready
condition's lastHeartbeatTime). A node whose heartbeats have not changed for the grace period,
measured on the controllers' clock from when the change was observed (as upstream, so clock skew
between node and controller does not matter), gets every condition Unknown with reason
NodeStatusUnknown. Unknown and False Ready conditions turn into the unreachable/not-ready taints;
pods on a NoExecute-tainted node are deleted once their toleration runs out, so their controllers
replace them on other nodes.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from controllers.base import Controller
from controllers.client import Client
from controllers.clock import Clock
from controllers.event_recorder import EventRecorder
from facade.errors import APIError

log = logging.getLogger("kubefacade.controllers")

Obj = dict[str, Any]

UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
DEFAULT_GRACE_SECONDS = 40.0
MONITOR_PERIOD_SECONDS = 5.0


def _parse(ts: Any) -> float | None:
    if not isinstance(ts, str) or not ts:
        return None
    try:
        return datetime.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def _condition(node: Obj, kind: str) -> Obj | None:
    for c in (node.get("status") or {}).get("conditions") or []:
        if c.get("type") == kind:
            return c
    return None


def _tolerated_for(pod: Obj, taint: Obj) -> tuple[bool, float | None]:
    """(tolerated, seconds): whether a toleration matches the NoExecute taint, and for how long."""
    best: tuple[bool, float | None] = (False, None)
    for t in (pod.get("spec") or {}).get("tolerations") or []:
        if t.get("effect") not in (None, "", "NoExecute"):
            continue
        op = t.get("operator") or "Equal"
        if t.get("key"):
            if t["key"] != taint["key"] or (op == "Equal" and (t.get("value") or "") != (taint.get("value") or "")):
                continue
        elif op != "Exists":
            continue
        seconds = t.get("tolerationSeconds")
        if seconds is None:
            return True, None
        seconds = max(float(seconds), 0.0)
        if not best[0] or (best[1] is not None and seconds < best[1]):
            best = (True, seconds)
    return best


class NodeLifecycleController(Controller):
    """Marks silent nodes Unknown, taints unready nodes, and evicts pods from NoExecute-tainted ones."""

    plural = "nodes"
    name = "node-lifecycle-controller"

    def __init__(self, client: Client, clock: Clock, grace_seconds: float = DEFAULT_GRACE_SECONDS) -> None:
        super().__init__(client)
        self.clock = clock
        self.grace = grace_seconds
        self.events = EventRecorder(client, "node-controller", clock)
        self._probes: dict[str, tuple[tuple[Any, ...], float]] = {}
        self._last_round: float | None = None

    def start(self, workers: int = 1) -> None:
        super().start(workers)
        self._tasks.append(asyncio.create_task(self._monitor(), name=f"{self.name}-monitor"))

    async def _monitor(self) -> None:
        while True:
            try:
                await self.monitor_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the next period tries again
                log.exception("%s: monitor round failed", self.name)
            await self.clock.sleep(MONITOR_PERIOD_SECONDS)

    async def reconcile(self, key: str) -> None:
        """Node changes are acted on in the monitor round; keep the probe table free of deleted nodes."""
        if key not in self.cache:
            self._probes.pop(key, None)

    async def monitor_once(self) -> None:
        """One monitor period: heartbeats, conditions, taints, evictions."""
        now = self.clock.now()
        if self._last_round is not None and now - self._last_round > self.grace:
            # the (fake) clock jumped past the whole grace period between two rounds: nobody could
            # have heartbeated in between, so every node starts a fresh grace period
            self._probes = {name: (beat, now) for name, (beat, _) in self._probes.items()}
        self._last_round = now
        leases, _ = await self.client.list("coordination.k8s.io/v1", "leases", "kube-node-lease")
        renew = {lease["metadata"]["name"]: (lease.get("spec") or {}).get("renewTime") for lease in leases}
        for name, node in list(self.cache.items()):
            ready = _condition(node, "Ready")
            beat = (renew.get(name), (ready or {}).get("lastHeartbeatTime"))
            seen = self._probes.get(name)
            if seen is None or seen[0] != beat:
                self._probes[name] = (beat, now)
                seen = self._probes[name]
            try:
                if ready is not None and ready.get("status") != "Unknown" and now - seen[1] > self.grace:
                    node = await self._mark_unknown(node, now)
                await self._sync_taints(node, now)
            except APIError as e:
                log.debug("%s: node %s: %s", self.name, name, e.message)

    async def _mark_unknown(self, node: Obj, now: float) -> Obj:
        stamp = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        conditions = []
        for c in (node.get("status") or {}).get("conditions") or []:
            c = dict(c)
            if c.get("type") in ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure") and c.get("status") != "Unknown":
                c.update(status="Unknown", reason="NodeStatusUnknown", message="Kubelet stopped posting node status.",
                         lastTransitionTime=stamp)
            conditions.append(c)
        return await self.client.patch("v1", "nodes", node["metadata"]["name"], {"status": {"conditions": conditions}},
                                       subresource="status")

    async def _sync_taints(self, node: Obj, now: float) -> None:
        status = (_condition(node, "Ready") or {}).get("status")
        want_key = UNREACHABLE if status == "Unknown" else NOT_READY if status == "False" else None
        taints = list((node.get("spec") or {}).get("taints") or [])
        kept = [t for t in taints if t.get("key") not in (UNREACHABLE, NOT_READY) or t.get("key") == want_key]
        stamp = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if want_key:
            for effect in ("NoSchedule", "NoExecute"):
                if not any(t.get("key") == want_key and t.get("effect") == effect for t in kept):
                    taint: Obj = {"key": want_key, "effect": effect}
                    if effect == "NoExecute":
                        taint["timeAdded"] = stamp
                    kept.append(taint)
        if kept != taints:
            node.setdefault("spec", {})["taints"] = kept
            node = await self.client.update("v1", "nodes", node)
        for taint in kept:
            if taint.get("effect") == "NoExecute" and taint.get("key") in (UNREACHABLE, NOT_READY):
                await self._evict(node, taint, now)

    async def _evict(self, node: Obj, taint: Obj, now: float) -> None:
        """The taint manager: delete the pods whose toleration of the taint has run out."""
        added = _parse(taint.get("timeAdded")) or now
        pods, _ = await self.client.list("v1", "pods", field_selector=f"spec.nodeName={node['metadata']['name']}")
        for pod in pods:
            meta = pod["metadata"]
            if meta.get("deletionTimestamp"):
                continue
            tolerated, seconds = _tolerated_for(pod, taint)
            if tolerated and (seconds is None or now < added + seconds):
                continue
            await self.events.event(pod, "Normal", "TaintManagerEviction",
                                    f"Marking for deletion Pod {meta['namespace']}/{meta['name']}")
            try:
                await self.client.delete("v1", "pods", meta["name"], meta["namespace"], uid=meta.get("uid", ""))
            except APIError as e:
                if e.code not in (404, 409):
                    raise
