"""The DaemonSet controller: one pod on every eligible node, as kube-controller-manager's.

Follows pkg/controller/daemon: a pod per node where ``should_run`` holds (nodeSelector, required
node affinity, taints against the template's tolerations plus the daemon tolerations), pinned to
its node by the required node affinity ``metadata.name In [node]`` so the scheduler binds it
there; pods on nodes where they may not continue are deleted, failed ones replaced. Templates
are tracked in ControllerRevisions (pods labelled ``controller-revision-hash`` and
``pod-template-generation``); RollingUpdate replaces old pods while no more than
``maxUnavailable`` nodes lack an available daemon pod; OnDelete waits for the user. Status:
desired/current/updated NumberScheduled, numberReady, numberAvailable, numberUnavailable,
numberMisscheduled, observedGeneration.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from controllers.base import Controller
from controllers.client import Client
from controllers.clock import Clock
from controllers.daemonset_predicates import add_daemon_tolerations, pin_to_node, should_run, target_node
from controllers.event_recorder import NORMAL, WARNING, EventRecorder
from controllers.informer import Informer
from controllers.revisions import REVISION_LABEL, ensure_update_revision, owned_revisions, truncate_history
from controllers.workload_util import controller_of, is_available, is_ready, is_terminating, pod_from_template
from facade.errors import APIError

Obj = dict[str, Any]

TEMPLATE_GENERATION_LABEL = "pod-template-generation"
TEMPLATE_GENERATION_ANNOTATION = "deprecated.daemonset.template.generation"


def max_unavailable(ds: Obj, desired: int) -> int:
    ru = (((ds.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate")) or {}
    value = ru.get("maxUnavailable", 1)
    if isinstance(value, str) and value.endswith("%"):
        n = math.ceil(desired * int(value[:-1]) / 100)
    else:
        n = int(value)
    return max(n, 1) if not ru.get("maxSurge") else n


class DaemonSetController(Controller):
    api_version = "apps/v1"
    plural = "daemonsets"
    name = "daemonset-controller"

    def __init__(self, client: Client, clock: Clock) -> None:
        super().__init__(client)
        self.clock = clock
        self.pods = Informer(client, "v1", "pods", "daemonset-controller-pods")
        self.nodes = Informer(client, "v1", "nodes", "daemonset-controller-nodes")
        self.pods.add_handler(self._on_pod)
        self.nodes.add_handler(self._on_node)
        self.recorder = EventRecorder(client, "daemonset-controller", clock)

    def start(self, workers: int = 1) -> None:
        self.pods.start()
        self.nodes.start()
        super().start(workers)

    async def stop(self) -> None:
        await super().stop()
        await self.pods.stop()
        await self.nodes.stop()

    def _on_pod(self, _ev: str, pod: Obj, _old: Obj | None) -> None:
        ref = controller_of(pod)
        if ref and ref.get("kind") == "DaemonSet":
            self.queue.add(f"{pod['metadata'].get('namespace')}/{ref.get('name')}")

    def _on_node(self, _ev: str, _node: Obj, _old: Obj | None) -> None:
        for key in list(self.cache):
            self.queue.add(key)

    async def reconcile(self, key: str) -> None:
        await self.pods.synced.wait()
        await self.nodes.synced.wait()
        ns, _, name = key.partition("/")
        try:
            ds = await self.client.get(self.api_version, self.plural, name, ns)
        except APIError as e:
            if e.code == 404:
                return
            raise
        if ds["metadata"].get("deletionTimestamp"):
            return
        revisions = await owned_revisions(self.client, ds)
        update_rev, revisions = await ensure_update_revision(self.client, ds, revisions)
        hash_ = update_rev["metadata"]["name"].rsplit("-", 1)[1]
        await self._manage(ds, hash_)
        pods = self.pods.owned_by(ds["metadata"]["uid"], ns)
        if ((ds.get("spec") or {}).get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate":
            await self._rolling_update(ds, pods, hash_)
            pods = self.pods.owned_by(ds["metadata"]["uid"], ns)
        in_use = {update_rev["metadata"]["name"]} | {
            f"{name}-{(p['metadata'].get('labels') or {}).get(REVISION_LABEL, '')}" for p in pods}
        await truncate_history(self.client, ds, revisions, in_use)
        await self._write_status(ds, pods, hash_)

    def _by_node(self, ds: Obj) -> dict[str, list[Obj]]:
        out: dict[str, list[Obj]] = {}
        for p in self.pods.owned_by(ds["metadata"]["uid"], ds["metadata"]["namespace"]):
            if is_terminating(p):
                continue
            out.setdefault(target_node(p), []).append(p)
        return out

    async def _manage(self, ds: Obj, hash_: str) -> None:
        template_spec = (((ds.get("spec") or {}).get("template")) or {}).get("spec") or {}
        by_node = self._by_node(ds)
        for node in list(self.nodes.cache.values()):
            node_name = node["metadata"]["name"]
            run, keep = should_run(template_spec, node)
            here = sorted(by_node.pop(node_name, []), key=lambda p: p["metadata"].get("creationTimestamp", ""))
            failed = [p for p in here if (p.get("status") or {}).get("phase") == "Failed"]
            for p in failed:
                await self.recorder.event(ds, WARNING, "FailedDaemonPod",
                                          f"Found failed daemon pod {p['metadata']['namespace']}/"
                                          f"{p['metadata']['name']} on node {node_name}, will try to kill it")
                await self._delete_pod(ds, p)
            here = [p for p in here if p not in failed]
            if run and not here:
                await self._create_pod(ds, node_name, hash_)
            elif keep and len(here) > 1:
                for p in here[1:]:
                    await self._delete_pod(ds, p)
            elif not keep:
                for p in here:
                    await self._delete_pod(ds, p)
        for pods in by_node.values():  # pods pinned to nodes that no longer exist
            for p in pods:
                await self._delete_pod(ds, p)

    async def _rolling_update(self, ds: Obj, pods: list[Obj], hash_: str) -> None:
        template_spec = (((ds.get("spec") or {}).get("template")) or {}).get("spec") or {}
        min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
        now = self.clock.now()
        by_node = self._by_node(ds)
        desired = [n["metadata"]["name"] for n in self.nodes.cache.values() if should_run(template_spec, n)[0]]
        budget = max_unavailable(ds, len(desired))
        unavailable = 0
        old_available: list[Obj] = []
        for node_name in desired:
            here = by_node.get(node_name) or []
            if not here or not any(is_available(p, min_ready, now) for p in here):
                unavailable += 1
            for p in here:
                if (p["metadata"].get("labels") or {}).get(REVISION_LABEL) == hash_:
                    continue
                if is_available(p, min_ready, now):
                    old_available.append(p)
                else:
                    await self._delete_pod(ds, p)  # old and unavailable: replacing it costs nothing
        for p in old_available[: max(0, budget - unavailable)]:
            await self._delete_pod(ds, p)

    def _pod_for(self, ds: Obj, node_name: str, hash_: str) -> Obj:
        template = ((ds.get("spec") or {}).get("template")) or {}
        pod = pod_from_template(template, ds)
        meta = pod["metadata"]
        meta["generateName"] = f"{ds['metadata']['name']}-"
        generation = (ds["metadata"].get("annotations") or {}).get(TEMPLATE_GENERATION_ANNOTATION) or \
            str(ds["metadata"].get("generation", 1))
        meta["labels"].update({REVISION_LABEL: hash_, TEMPLATE_GENERATION_LABEL: generation})
        add_daemon_tolerations(pod["spec"])
        pin_to_node(pod["spec"], node_name)
        return pod

    async def _create_pod(self, ds: Obj, node_name: str, hash_: str) -> None:
        ns = ds["metadata"]["namespace"]
        try:
            out = await self.client.create("v1", "pods", self._pod_for(ds, node_name, hash_), ns)
        except APIError as e:
            await self.recorder.event(ds, WARNING, "FailedCreate", f"Error creating: {e.message}")
            raise
        self.pods.remember(out)
        await self.recorder.event(ds, NORMAL, "SuccessfulCreate", f"Created pod: {out['metadata']['name']}")

    async def _delete_pod(self, ds: Obj, pod: Obj) -> None:
        m = pod["metadata"]
        try:
            out = await self.client.delete("v1", "pods", m["name"], m["namespace"])
        except APIError as e:
            if e.code != 404:
                raise
            self.pods.forget(pod)
            return
        if out is not None and (out.get("metadata") or {}).get("deletionTimestamp"):
            self.pods.remember(out)
        else:
            self.pods.forget(pod)
        await self.recorder.event(ds, NORMAL, "SuccessfulDelete", f"Deleted pod: {m['name']}")

    async def _write_status(self, ds: Obj, pods: list[Obj], hash_: str) -> None:
        template_spec = (((ds.get("spec") or {}).get("template")) or {}).get("spec") or {}
        min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
        now = self.clock.now()
        by_node: dict[str, list[Obj]] = {}
        for p in pods:
            if not is_terminating(p):
                by_node.setdefault(target_node(p), []).append(p)
        desired = current = misscheduled = ready = updated = available = 0
        for node in self.nodes.cache.values():
            run, _ = should_run(template_spec, node)
            here = by_node.get(node["metadata"]["name"]) or []
            if run:
                desired += 1
                if here:
                    current += 1
                    p = here[0]
                    if is_ready(p):
                        ready += 1
                    if is_available(p, min_ready, now):
                        available += 1
                    if (p["metadata"].get("labels") or {}).get(REVISION_LABEL) == hash_:
                        updated += 1
            elif here:
                misscheduled += 1
        status: Obj = {
            "currentNumberScheduled": current, "numberMisscheduled": misscheduled,
            "desiredNumberScheduled": desired, "numberReady": ready,
            "observedGeneration": ds["metadata"].get("generation", 1),
            "updatedNumberScheduled": updated, "numberAvailable": available,
            "numberUnavailable": desired - available,
        }
        for f in ("updatedNumberScheduled", "numberAvailable", "numberUnavailable"):
            if not status[f]:
                del status[f]
        old = ds.get("status") or {}
        if {k: v for k, v in old.items() if k not in ("conditions", "collisionCount")} == status:
            return
        for f in ("conditions", "collisionCount"):
            if f in old:
                status[f] = old[f]
        body = copy.deepcopy(ds)
        body["status"] = status
        await self.client.update_status(self.api_version, self.plural, body, ds["metadata"]["namespace"])
        if min_ready and available < ready:
            self.clock.call_later(min_ready, lambda: self.queue.add(f"{ds['metadata']['namespace']}/"
                                                                    f"{ds['metadata']['name']}"))
