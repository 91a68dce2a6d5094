"""The StatefulSet controller: pods with stable names, identities and claims, as upstream's.

Follows pkg/controller/statefulset (stateful_set_control.go):
- pods ``<set>-<ordinal>`` with hostname = pod name and subdomain = ``serviceName``, labels
  ``statefulset.kubernetes.io/pod-name``, ``apps.kubernetes.io/pod-index`` and
  ``controller-revision-hash`` (the revision's name);
- a PersistentVolumeClaim ``<claim>-<set>-<ordinal>`` per volumeClaimTemplate, created before the
  pod; ``persistentVolumeClaimRetentionPolicy`` decides whether scale-down (whenScaled) or set
  deletion (whenDeleted, through an ownerReference for the garbage collector) removes them;
- ``OrderedReady``: one pod at a time, each Running and Ready before the next; scale down from the
  highest ordinal, one at a time. ``Parallel``: all at once;
- updates through ControllerRevisions: RollingUpdate from the highest ordinal down to
  ``partition``, one pod at a time; OnDelete only replaces pods the user deletes;
- status: replicas, readyReplicas, availableReplicas, currentReplicas, updatedReplicas,
  currentRevision, updateRevision, observedGeneration, collisionCount.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from controllers.base import Controller
from controllers.client import Client
from controllers.clock import Clock
from controllers.event_recorder import NORMAL, WARNING, EventRecorder
from controllers.informer import Informer
from controllers.revisions import ensure_update_revision, owned_revisions, template_of, truncate_history
from controllers.workload_util import (
    controller_of,
    controller_ref,
    is_available,
    is_ready,
    is_running_and_ready,
    is_terminating,
    pod_from_template,
)
from facade.errors import APIError

Obj = dict[str, Any]

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
REVISION_LABEL = "controller-revision-hash"


def ordinal_of(set_name: str, pod: Obj) -> int | None:
    m = re.fullmatch(re.escape(set_name) + r"-(\d+)", pod["metadata"]["name"])
    return int(m.group(1)) if m else None


def claim_name(claim: Obj, set_name: str, ordinal: int) -> str:
    return f"{claim['metadata']['name']}-{set_name}-{ordinal}"


class StatefulSetController(Controller):
    api_version = "apps/v1"
    plural = "statefulsets"
    name = "statefulset-controller"

    def __init__(self, client: Client, clock: Clock) -> None:
        super().__init__(client)
        self.clock = clock
        self.pods = Informer(client, "v1", "pods", "statefulset-controller-pods")
        self.pods.add_handler(self._on_pod)
        self.recorder = EventRecorder(client, "statefulset-controller", clock)

    def start(self, workers: int = 1) -> None:
        self.pods.start()
        super().start(workers)

    async def stop(self) -> None:
        await super().stop()
        await self.pods.stop()

    def _on_pod(self, _ev: str, pod: Obj, _old: Obj | None) -> None:
        ref = controller_of(pod)
        if ref and ref.get("kind") == "StatefulSet":
            self.queue.add(f"{pod['metadata'].get('namespace')}/{ref.get('name')}")

    async def reconcile(self, key: str) -> None:
        await self.pods.synced.wait()
        ns, _, name = key.partition("/")
        try:
            sts = await self.client.get(self.api_version, self.plural, name, ns)
        except APIError as e:
            if e.code == 404:
                return
            raise
        if sts["metadata"].get("deletionTimestamp"):
            return
        revisions = await owned_revisions(self.client, sts)
        update_rev, revisions = await ensure_update_revision(self.client, sts, revisions)
        status = sts.get("status") or {}
        current_rev = next((r for r in revisions if r["metadata"]["name"] == status.get("currentRevision")), update_rev)
        pods = [p for p in self.pods.owned_by(sts["metadata"]["uid"], ns) if ordinal_of(name, p) is not None]
        await self._sync_pods(sts, pods, current_rev, update_rev)
        pods = [p for p in self.pods.owned_by(sts["metadata"]["uid"], ns) if ordinal_of(name, p) is not None]
        in_use = {current_rev["metadata"]["name"], update_rev["metadata"]["name"]} | {
            (p["metadata"].get("labels") or {}).get(REVISION_LABEL, "") for p in pods}
        await truncate_history(self.client, sts, revisions, in_use)
        await self._write_status(sts, pods, current_rev, update_rev)

    # -- pods --------------------------------------------------------------------------------------

    async def _sync_pods(self, sts: Obj, pods: list[Obj], current_rev: Obj, update_rev: Obj) -> None:
        spec = sts.get("spec") or {}
        name = sts["metadata"]["name"]
        replicas = int(spec.get("replicas") if spec.get("replicas") is not None else 1)
        start = int((spec.get("ordinals") or {}).get("start") or 0)
        monotonic = spec.get("podManagementPolicy", "OrderedReady") != "Parallel"
        by_ord = {ordinal_of(name, p): p for p in pods}
        wanted = range(start, start + replicas)
        condemned = sorted([o for o in by_ord if o is not None and o not in wanted], reverse=True)
        for o in wanted:
            pod = by_ord.get(o)
            if pod is not None and (pod.get("status") or {}).get("phase") == "Failed" and not is_terminating(pod):
                await self._delete_pod(sts, pod)
                if monotonic:
                    return
                continue
            if pod is None:
                rev = self._revision_for(sts, o, current_rev, update_rev)
                await self._create_pod(sts, o, rev)
                if monotonic:
                    return
                continue
            if monotonic and (is_terminating(pod) or not is_running_and_ready(pod)):
                return
        for o in condemned:
            pod = by_ord[o]
            if is_terminating(pod):
                if monotonic:
                    return
                continue
            if monotonic and any(not is_running_and_ready(p) for q, p in by_ord.items() if q != o and q in wanted):
                return
            await self._delete_pod(sts, pod)
            await self._release_claims(sts, o)
            if monotonic:
                return
        us = spec.get("updateStrategy") or {}
        if us.get("type") == "OnDelete":
            return
        partition = int((us.get("rollingUpdate") or {}).get("partition") or 0)
        for o in sorted(wanted, reverse=True):
            if o < start + partition:
                break
            pod = by_ord.get(o)
            if pod is None:
                return
            if (pod["metadata"].get("labels") or {}).get(REVISION_LABEL) != update_rev["metadata"]["name"] \
                    and not is_terminating(pod):
                await self._delete_pod(sts, pod)
                return
            if not is_running_and_ready(pod):
                return

    @staticmethod
    def _revision_for(sts: Obj, ordinal: int, current_rev: Obj, update_rev: Obj) -> Obj:
        us = (sts.get("spec") or {}).get("updateStrategy") or {}
        start = int(((sts.get("spec") or {}).get("ordinals") or {}).get("start") or 0)
        if us.get("type", "RollingUpdate") == "RollingUpdate":
            partition = int((us.get("rollingUpdate") or {}).get("partition") or 0)
            if ordinal < start + partition:
                return current_rev
        return update_rev

    def _pod_for(self, sts: Obj, ordinal: int, rev: Obj) -> Obj:
        name = sts["metadata"]["name"]
        pod_name = f"{name}-{ordinal}"
        pod = pod_from_template(template_of(rev), sts)
        meta = pod["metadata"]
        meta["name"] = pod_name
        meta["labels"].update({REVISION_LABEL: rev["metadata"]["name"], POD_NAME_LABEL: pod_name,
                               POD_INDEX_LABEL: str(ordinal)})
        spec = pod["spec"]
        spec["hostname"] = pod_name
        if sts["spec"].get("serviceName"):
            spec["subdomain"] = sts["spec"]["serviceName"]
        claims = sts["spec"].get("volumeClaimTemplates") or []
        if claims:
            names = {c["metadata"]["name"] for c in claims}
            volumes = [v for v in spec.get("volumes") or [] if v.get("name") not in names]
            for c in claims:
                volumes.append({"name": c["metadata"]["name"], "persistentVolumeClaim": {
                    "claimName": claim_name(c, name, ordinal)}})
            spec["volumes"] = volumes
        return pod

    async def _create_pod(self, sts: Obj, ordinal: int, rev: Obj) -> None:
        ns, name = sts["metadata"]["namespace"], sts["metadata"]["name"]
        pod_name = f"{name}-{ordinal}"
        await self._ensure_claims(sts, ordinal)
        try:
            out = await self.client.create("v1", "pods", self._pod_for(sts, ordinal, rev), ns)
        except APIError as e:
            if e.code == 409:
                return
            await self.recorder.event(sts, WARNING, "FailedCreate",
                                      f"create Pod {pod_name} in StatefulSet {name} failed error: {e.message}")
            raise
        self.pods.remember(out)
        await self.recorder.event(sts, NORMAL, "SuccessfulCreate",
                                  f"create Pod {pod_name} in StatefulSet {name} successful")

    async def _delete_pod(self, sts: Obj, pod: Obj) -> None:
        ns, name = sts["metadata"]["namespace"], sts["metadata"]["name"]
        try:
            out = await self.client.delete("v1", "pods", pod["metadata"]["name"], ns)
        except APIError as e:
            if e.code != 404:
                raise
            self.pods.forget(pod)
            return
        if out is not None and (out.get("metadata") or {}).get("deletionTimestamp") and out["metadata"].get("finalizers"):
            self.pods.remember(out)
        elif out is not None and (out.get("metadata") or {}).get("deletionTimestamp"):
            self.pods.remember(out)
        else:
            self.pods.forget(pod)
        await self.recorder.event(sts, NORMAL, "SuccessfulDelete",
                                  f"delete Pod {pod['metadata']['name']} in StatefulSet {name} successful")

    # -- claims ------------------------------------------------------------------------------------

    async def _ensure_claims(self, sts: Obj, ordinal: int) -> None:
        ns, name = sts["metadata"]["namespace"], sts["metadata"]["name"]
        policy = sts["spec"].get("persistentVolumeClaimRetentionPolicy") or {}
        selector_labels = ((sts["spec"].get("selector") or {}).get("matchLabels")) or {}
        for c in sts["spec"].get("volumeClaimTemplates") or []:
            cname = claim_name(c, name, ordinal)
            try:
                await self.client.get("v1", "persistentvolumeclaims", cname, ns)
                continue
            except APIError as e:
                if e.code != 404:
                    raise
            claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                     "metadata": {"name": cname, "labels": {**(c["metadata"].get("labels") or {}), **selector_labels}},
                     "spec": copy.deepcopy(c.get("spec") or {})}
            if c["metadata"].get("annotations"):
                claim["metadata"]["annotations"] = dict(c["metadata"]["annotations"])
            if policy.get("whenDeleted") == "Delete":
                claim["metadata"]["ownerReferences"] = [controller_ref(sts)]
            try:
                await self.client.create("v1", "persistentvolumeclaims", claim, ns)
            except APIError as e:
                if e.code == 409:
                    continue
                await self.recorder.event(sts, WARNING, "FailedCreate",
                                          f"create Claim {cname} for Pod {name}-{ordinal} in StatefulSet {name} "
                                          f"failed error: {e.message}")
                raise
            await self.recorder.event(sts, NORMAL, "SuccessfulCreate",
                                      f"create Claim {cname} Pod {name}-{ordinal} in StatefulSet {name} success")

    async def _release_claims(self, sts: Obj, ordinal: int) -> None:
        """whenScaled: Delete removes the claims of a pod removed by scale-down."""
        policy = sts["spec"].get("persistentVolumeClaimRetentionPolicy") or {}
        if policy.get("whenScaled") != "Delete":
            return
        ns, name = sts["metadata"]["namespace"], sts["metadata"]["name"]
        for c in sts["spec"].get("volumeClaimTemplates") or []:
            try:
                await self.client.delete("v1", "persistentvolumeclaims", claim_name(c, name, ordinal), ns)
            except APIError as e:
                if e.code != 404:
                    raise

    # -- status ------------------------------------------------------------------------------------

    async def _write_status(self, sts: Obj, pods: list[Obj], current_rev: Obj, update_rev: Obj) -> None:
        spec = sts.get("spec") or {}
        min_ready = int(spec.get("minReadySeconds") or 0)
        now = self.clock.now()
        cur, upd = current_rev["metadata"]["name"], update_rev["metadata"]["name"]
        live = [p for p in pods if not is_terminating(p)]
        status: Obj = {
            "observedGeneration": sts["metadata"].get("generation", 1),
            "replicas": len(live),
            "readyReplicas": len([p for p in live if is_ready(p)]),
            "currentReplicas": len([p for p in live if (p["metadata"].get("labels") or {}).get(REVISION_LABEL) == cur]),
            "updatedReplicas": len([p for p in live if (p["metadata"].get("labels") or {}).get(REVISION_LABEL) == upd]),
            "availableReplicas": len([p for p in live if is_available(p, min_ready, now)]),
            "currentRevision": cur,
            "updateRevision": upd,
            "collisionCount": int((sts.get("status") or {}).get("collisionCount") or 0),
        }
        replicas = int(spec.get("replicas") if spec.get("replicas") is not None else 1)
        if status["updatedReplicas"] == replicas and status["replicas"] == replicas and \
                status["readyReplicas"] == replicas:
            status["currentRevision"] = upd
            status["currentReplicas"] = status["updatedReplicas"]
        for f in ("readyReplicas", "currentReplicas", "updatedReplicas"):
            if not status[f]:
                del status[f]
        old = sts.get("status") or {}
        if {k: v for k, v in old.items() if k != "conditions"} == status:
            return
        if old.get("conditions"):
            status["conditions"] = old["conditions"]
        body = copy.deepcopy(sts)
        body["status"] = status
        await self.client.update_status(self.api_version, self.plural, body, sts["metadata"]["namespace"])
        if min_ready and status["availableReplicas"] < status.get("readyReplicas", 0):
            self.clock.call_later(min_ready, lambda: self.queue.add(f"{sts['metadata']['namespace']}/"
                                                                    f"{sts['metadata']['name']}"))
