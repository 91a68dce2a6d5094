"""default-scheduler: binds each pending pod to a node through the ``pods/binding`` subresource.

One pod at a time, as kube-scheduler's scheduling cycle: filter the nodes (scheduler_filters.py),
score the ones that fit (scheduler_scoring.py), bind to the best and record ``Scheduled``. When no
node fits, the pod gets ``PodScheduled=False`` (reason Unschedulable) and a ``FailedScheduling``
event whose message is upstream's FitError text, and waits among the unschedulable pods until a
node or a bound pod changes, which moves them all back to the queue (upstream's
MoveAllToActiveOrBackoffQueue on cluster events), or until the periodic flush.

The scheduler's own view of where pods run is updated as soon as it binds one ("assume"), so a
burst of pods is spread by what was just decided, not by what the watch has reported so far.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from controllers.base import Controller, key_of
from controllers.client import Client
from controllers.clock import Clock, RealClock
from controllers.event_recorder import NORMAL, WARNING, EventRecorder
from controllers.informer import Informer
from controllers.pod_facts import is_terminal, meta
from controllers.scheduler_filters import (
    Cluster,
    NodeInfo,
    Rejection,
    find_feasible,
    fit_error,
    pod_facts,
)
from controllers.scheduler_scoring import best_node
from facade.errors import APIError

Obj = dict[str, Any]

SCHEDULER_NAME = "default-scheduler"
NO_NODES = "no nodes available to schedule pods"
#: how often unschedulable pods are retried even if nothing seems to have changed (seconds)
FLUSH_INTERVAL = 30.0


MIN_FEASIBLE_NODES = 100
#: from this many nodes on, pods with only node-level needs are placed through the numpy node table
VECTOR_MIN_NODES = 100
MIN_FEASIBLE_PERCENT = 5


def feasible_nodes_to_find(total: int) -> int:
    """numFeasibleNodesToFind with the default (adaptive) percentageOfNodesToScore."""
    if total < MIN_FEASIBLE_NODES:
        return total
    percent = max(MIN_FEASIBLE_PERCENT, 50 - total // 125)
    return max(MIN_FEASIBLE_NODES, total * percent // 100)


class Scheduler(Controller):
    plural = "pods"
    name = SCHEDULER_NAME

    def __init__(self, client: Client, clock: Clock | None = None) -> None:
        super().__init__(client)
        self.clock = clock or RealClock()
        self.pods = Informer(client, "v1", "pods", "scheduler-pods")
        self.nodes = Informer(client, "v1", "nodes", "scheduler-nodes")
        self.namespaces = Informer(client, "v1", "namespaces", "scheduler-namespaces")
        self.recorder = EventRecorder(client, SCHEDULER_NAME, self.clock)
        self.node_infos: dict[str, NodeInfo] = {}
        self.pod_node: dict[str, str] = {}
        self.anti_affinity: dict[str, tuple[Obj, str]] = {}
        self.unschedulable: set[str] = set()
        self._last_failure: dict[str, str] = {}
        self._flush_pending = False
        self._sorted_nodes: tuple[int, list[NodeInfo]] | None = None
        self._table: Any = None  # scheduler_table.NodeTable over _sorted_nodes, from VECTOR_MIN_NODES
        self._nodes_version = 0  # bumped when the set of nodes changes
        self._next_start = 0
        self.pods.add_handler(self._on_pod)
        self.nodes.add_handler(self._on_node)

    # -- cache ----------------------------------------------------------------------------------

    def _place(self, key: str, pod: Obj, node: str) -> None:
        self._unplace(key)
        ni = self.node_infos.get(node)
        if ni is None:  # a pod bound to a node the scheduler has not seen (yet)
            ni = self.node_infos[node] = NodeInfo({"metadata": {"name": node}})
            self._nodes_version += 1
        ni.add(key, pod)
        self.pod_node[key] = node
        aff = (pod.get("spec") or {}).get("affinity") or {}
        if (aff.get("podAntiAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution"):
            self.anti_affinity[key] = (pod, node)

    def _unplace(self, key: str) -> None:
        node = self.pod_node.pop(key, None)
        if node is not None and node in self.node_infos:
            self.node_infos[node].remove(key)
        self.anti_affinity.pop(key, None)

    def _on_pod(self, ev_type: str, pod: Obj, old: Obj | None) -> None:
        key = key_of(pod)
        node = (pod.get("spec") or {}).get("nodeName")
        if ev_type == "DELETED" or is_terminal(pod):
            was_bound = key in self.pod_node
            self._unplace(key)
            self.unschedulable.discard(key)
            self._last_failure.pop(key, None)
            if was_bound:
                self._cluster_changed()
            return
        if node:
            self.unschedulable.discard(key)
            self._place(key, pod, node)
            if old is None or (old.get("spec") or {}).get("nodeName") != node or meta(old).get("labels") != meta(pod).get("labels"):
                self._cluster_changed()
            return
        if not self._wants(pod):
            return
        changed = old is not None and (old.get("spec") != pod.get("spec")
                                       or meta(old).get("labels") != meta(pod).get("labels"))
        if key not in self.unschedulable or changed:
            self.unschedulable.discard(key)
            self.queue.add(key)

    def _on_node(self, ev_type: str, node: Obj, old: Obj | None) -> None:
        name = meta(node).get("name", "")
        if ev_type != "MODIFIED":
            self._nodes_version += 1
        if ev_type == "DELETED":
            self.node_infos.pop(name, None)
        else:
            ni = self.node_infos.get(name)
            if ni is None:
                self.node_infos[name] = NodeInfo(node)
            else:
                ni.set_node(node)
        self._cluster_changed()

    def _cluster_changed(self) -> None:
        """Move every unschedulable pod back to the queue, once per burst of changes."""
        if self._flush_pending or not self.unschedulable:
            return
        self._flush_pending = True
        asyncio.get_running_loop().call_later(0.02, self._flush)

    def _flush(self) -> None:
        self._flush_pending = False
        keys, self.unschedulable = self.unschedulable, set()
        for k in keys:
            self.queue.add(k)

    async def _periodic_flush(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            self._flush()

    @staticmethod
    def _wants(pod: Obj) -> bool:
        spec = pod.get("spec") or {}
        return (not spec.get("nodeName") and (spec.get("schedulerName") or SCHEDULER_NAME) == SCHEDULER_NAME
                and not meta(pod).get("deletionTimestamp") and not spec.get("schedulingGates")
                and not is_terminal(pod))

    # -- scheduling ----------------------------------------------------------------------------

    def _cluster(self) -> Cluster:
        if self._sorted_nodes is None or self._sorted_nodes[0] != self._nodes_version:
            nodes = [ni for name, ni in sorted(self.node_infos.items()) if name in self.nodes.cache]
            self._sorted_nodes = (self._nodes_version, nodes)
            if self._table is not None:
                self._table.detach()
                self._table = None
            if len(nodes) >= VECTOR_MIN_NODES:
                from controllers.scheduler_table import NodeTable

                self._table = NodeTable(nodes)
        ns_labels = {k: (meta(v).get("labels") or {}) for k, v in self.namespaces.cache.items()}
        return Cluster(self._sorted_nodes[1], ns_labels, list(self.anti_affinity.values()))

    def _filter(self, pod: Obj, nodes: list[NodeInfo], cluster: Cluster) -> tuple[list[NodeInfo], list[Rejection]]:
        """The feasible nodes and the rejections, stopping once enough nodes fit (upstream's
        percentageOfNodesToScore, adaptive: every node below 100, 42 % of 1,000), each cycle
        starting where the last one stopped so that all nodes get their turn."""
        total = len(nodes)
        start = self._next_start % total
        feasible, rejections = find_feasible(pod, nodes, cluster, start, feasible_nodes_to_find(total))
        self._next_start = (start + len(feasible) + len(rejections)) % total
        return feasible, rejections

    async def reconcile(self, key: str) -> None:
        await self.nodes.synced.wait()
        await self.namespaces.synced.wait()
        pod = self.pods.cache.get(key)
        if pod is None or not self._wants(pod) or key in self.pod_node:
            self.unschedulable.discard(key)
            return
        cluster = self._cluster()
        if not cluster.nodes:
            await self._failed(key, pod, NO_NODES)
            return
        best = self._place_by_table(pod, cluster)
        if best is None:
            feasible, rejections = self._filter(pod, cluster.nodes, cluster)
            if not feasible:
                policy = (pod.get("spec") or {}).get("preemptionPolicy") or ""
                await self._failed(key, pod, fit_error(len(cluster.nodes), rejections, policy))
                return
            best = best_node(pod, feasible)
        await self._bind(key, pod, best.name)

    def _place_by_table(self, pod: Obj, cluster: Cluster) -> NodeInfo | None:
        """The node for a pod with only node-level needs, through the node table (the same answer
        as filtering and scoring node by node); None for any other pod, or when nothing fits."""
        table = self._table
        if table is None or table.nodes is not cluster.nodes:
            return None
        facts = pod_facts(pod)
        if facts.host_ports or facts.spread or facts.affinity or cluster.anti_affinity_pods:
            return None
        start = self._next_start % table.size
        found = table.feasible_rows(pod, facts, start, feasible_nodes_to_find(table.size))
        if found is None:
            return None
        rows, examined = found
        self._next_start = (start + examined) % table.size
        spec = pod.get("spec") or {}
        preferred = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
            "preferredDuringSchedulingIgnoredDuringExecution")
        best = None if preferred else table.best(facts, rows)
        return best or best_node(pod, [table.nodes[i] for i in rows.tolist()])

    async def _bind(self, key: str, pod: Obj, node: str) -> None:
        ns, name = meta(pod).get("namespace", ""), meta(pod).get("name", "")
        assumed = {**pod, "spec": {**(pod.get("spec") or {}), "nodeName": node}}  # read only, as the cache
        self._place(key, assumed, node)
        try:
            await self.client.bind(name, node, ns)
        except APIError as e:
            self._unplace(key)
            if e.code in (404, 409):  # gone, being deleted, or bound by someone else: nothing to do
                return
            raise
        self.unschedulable.discard(key)
        self._last_failure.pop(key, None)
        await self.recorder.event(pod, NORMAL, "Scheduled", f"Successfully assigned {ns}/{name} to {node}")

    async def _failed(self, key: str, pod: Obj, message: str) -> None:
        self.unschedulable.add(key)
        if self._last_failure.get(key) == message:
            return  # the event correlator would fold this repeat; the condition already says it
        cond = {"type": "PodScheduled", "status": "False", "lastProbeTime": None,
                "lastTransitionTime": self.clock.rfc3339(), "reason": "Unschedulable", "message": message}
        status = pod.get("status") or {}  # the cached pod is shared with other informers: read only
        conds = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
        old = next((c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"), None)
        if old and old.get("status") == "False":
            cond["lastTransitionTime"] = old.get("lastTransitionTime") or cond["lastTransitionTime"]
        if old != cond:
            updated = copy.deepcopy(pod)
            updated.setdefault("status", {})["conditions"] = [*conds, cond]
            updated["status"].setdefault("phase", "Pending")
            try:
                out = await self.client.update_status("v1", "pods", updated, meta(pod).get("namespace", ""))
                self.pods.remember(out)
            except APIError as e:
                if e.code == 404:
                    self.unschedulable.discard(key)
                    return
                if e.code != 409:
                    raise
                self.unschedulable.discard(key)
                self.queue.add_after(key, 0.05)
                return
        self._last_failure[key] = message
        await self.recorder.event(pod, WARNING, "FailedScheduling", message)

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self, workers: int = 1) -> None:
        self.pods.start()
        self.nodes.start()
        self.namespaces.start()
        self._tasks.append(asyncio.create_task(self._periodic_flush(), name="scheduler-flush"))
        for i in range(workers):
            self._tasks.append(asyncio.create_task(self._worker(), name=f"{self.name}-worker-{i}"))

    async def stop(self) -> None:
        await super().stop()
        for inf in (self.pods, self.nodes, self.namespaces):
            await inf.stop()
