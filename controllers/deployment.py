"""The Deployment controller: one ReplicaSet per pod template, rolled between as upstream does.

The sync loop of pkg/controller/deployment: claim the ReplicaSets the selector matches; a paused
Deployment or a change of ``replicas`` only scales (proportionally across the active ReplicaSets
during a rollout); otherwise RollingUpdate (grow the new ReplicaSet up to replicas + maxSurge,
shrink old ones while replicas - maxUnavailable stay available) or Recreate (scale old to zero,
wait for their pods to go, then scale up the new one). The new ReplicaSet is named
``<deployment>-<pod-template-hash>`` and carries the revision annotations; status counts,
conditions (Available, Progressing with upstream's reasons and messages, the progress deadline on
the controllers' clock) and ScalingReplicaSet events are written so ``kubectl rollout status``,
``rollout history`` and ``rollout undo`` behave as against a real cluster.
"""

from __future__ import annotations

import copy
from typing import Any

from controllers.base import Controller, key_of
from controllers.client import Client
from controllers.clock import Clock, RealClock
from controllers.deployment_util import (
    FAILED_RS_CREATE,
    FOUND_NEW_RS,
    NEW_RS_AVAILABLE,
    NEW_RS_CREATED,
    PAUSED,
    RESUMED,
    REVISION,
    RS_UPDATED,
    TIMED_OUT,
    active,
    by_creation,
    calculate_status,
    deployment_complete,
    deployment_progressing,
    deployment_timed_out,
    desired_annotation,
    equal_ignore_hash,
    get_condition,
    has_progress_deadline,
    is_rolling,
    is_saturated,
    max_surge,
    max_unavailable,
    new_condition,
    new_rs_new_replicas,
    proportion,
    remove_condition,
    replicas_annotations_need_update,
    replicas_of,
    revision,
    selector_with_hash,
    set_condition,
    set_new_rs_annotations,
    set_replicas_annotations,
    status_int,
    sum_replicas,
    sum_status,
    template_with_hash,
)
from controllers.event_recorder import NORMAL, WARNING, EventRecorder
from controllers.informer import Informer
from controllers.owner_index import OwnerIndex
from controllers.pod_facts import controller_of, is_terminal, labels, meta, parse_time, selector_of
from controllers.replicaset import STATUS_COALESCE, new_controller_ref
from controllers.template_hash import compute_hash
from facade.errors import APIError

Obj = dict[str, Any]


class DeploymentController(Controller):
    api_version = "apps/v1"
    plural = "deployments"
    name = "deployment-controller"

    def __init__(self, client: Client, clock: Clock | None = None) -> None:
        super().__init__(client)
        self.clock = clock or RealClock()
        self.rss = Informer(client, "apps/v1", "replicasets", "deployment-controller-replicasets")
        self.pods = Informer(client, "v1", "pods", "deployment-controller-pods")
        self.rs_index = OwnerIndex(self.rss)  # a Deployment's ReplicaSets and the orphans, by uid
        self.rss.add_handler(self._on_rs)
        self.pods.add_handler(self._on_pod)
        self.recorder = EventRecorder(client, self.name, self.clock)

    # -- events -> deployment keys --------------------------------------------------------------

    def _owner(self, obj: Obj) -> str | None:
        ref = controller_of(obj)
        if ref is None or ref.get("kind") != "Deployment":
            return None
        key = f"{meta(obj).get('namespace', '')}/{ref.get('name', '')}"
        d = self.cache.get(key)
        return key if d is not None and meta(d).get("uid") == ref.get("uid") else None

    def _on_rs(self, ev_type: str, rs: Obj, old: Obj | None) -> None:
        self.rs_index.reindex(key_of(rs))
        owner = self._owner(rs)
        old_owner = None
        if old is not None:
            old_owner = self._owner(old)
            if old_owner and old_owner != owner:
                self.queue.add(old_owner)
        if owner:
            if (ev_type == "MODIFIED" and old is not None and old_owner == owner and rs.get("spec") == old.get("spec")
                    and meta(rs).get("annotations") == meta(old).get("annotations")
                    and bool(meta(rs).get("deletionTimestamp")) == bool(meta(old).get("deletionTimestamp"))):
                # only the ReplicaSet's status moved (pods created, Ready): a burst gives one sync
                self.queue.add_soon(owner, STATUS_COALESCE)
            else:
                self.queue.add(owner)
        elif controller_of(rs) is None and ev_type != "DELETED":
            ns = meta(rs).get("namespace")
            for key, d in self.cache.items():
                if meta(d).get("namespace") == ns and selector_of((d.get("spec") or {}).get("selector")).matches(labels(rs)):
                    self.queue.add(key)

    def _on_pod(self, ev_type: str, pod: Obj, old: Obj | None) -> None:
        """Recreate waits for old pods to be gone: a deleted pod may unblock its Deployment."""
        if ev_type != "DELETED":
            return
        ref = controller_of(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        rs = self.rss.cache.get(f"{meta(pod).get('namespace', '')}/{ref.get('name', '')}")
        if rs is not None:
            owner = self._owner(rs)
            if owner and not is_rolling(self.cache[owner]):
                self.queue.add(owner)

    # -- the sync loop ---------------------------------------------------------------------------

    async def reconcile(self, key: str) -> None:
        cached = self.cache.get(key)
        if cached is None:
            return
        await self.rss.synced.wait()
        await self.pods.synced.wait()
        d = copy.deepcopy(cached)
        spec = d.get("spec") or {}
        if spec.get("selector") == {}:
            await self.recorder.event(d, WARNING, "SelectingAll",
                                      "This deployment is selecting all pods. A non-empty selector is required.")
            if int(d.get("status", {}).get("observedGeneration") or 0) < int(meta(d).get("generation") or 0):
                d.setdefault("status", {})["observedGeneration"] = meta(d).get("generation")
                await self._write_status(d)
            return
        rs_list = await self._claim(d)
        if meta(d).get("deletionTimestamp"):
            new_rs, old_rss = await self._new_and_old(d, rs_list, False)
            await self._sync_status(d, [*old_rss, new_rs], new_rs)
            return
        d = await self._check_paused(d)
        if spec.get("paused"):
            await self._sync(d, rs_list)
            return
        if await self._is_scaling_event(d, rs_list):
            await self._sync(d, rs_list)
            return
        if is_rolling(d):
            await self._rollout_rolling(d, rs_list)
        else:
            await self._rollout_recreate(d, rs_list)

    async def _claim(self, d: Obj) -> list[Obj]:
        """Adopt orphan ReplicaSets the selector matches, release owned ones it no longer matches."""
        ns, uid = meta(d).get("namespace", ""), meta(d).get("uid")
        selector = selector_of((d.get("spec") or {}).get("selector"))
        deleting = bool(meta(d).get("deletionTimestamp"))
        owned = []
        for rs in self.rs_index.candidates(ns, uid or ""):
            ref = controller_of(rs)
            if ref is not None and ref.get("uid") != uid:
                continue  # another controller's: neither kept nor adopted (no selector match needed)
            matches = selector.matches(labels(rs))
            if ref is not None:
                if matches or deleting:
                    owned.append(rs)
                else:
                    await self._set_refs(rs, [r for r in meta(rs).get("ownerReferences") or [] if r.get("uid") != uid])
            elif ref is None and matches and not deleting and not meta(rs).get("deletionTimestamp"):
                adopted = await self._set_refs(rs, [*(meta(rs).get("ownerReferences") or []), new_controller_ref(d)])
                if adopted is not None:
                    owned.append(adopted)
        return owned

    def _remember_rs(self, rs: Obj) -> None:
        self.rss.remember(rs)
        self.rs_index.reindex(key_of(rs))

    async def _set_refs(self, rs: Obj, refs: list[Obj]) -> Obj | None:
        body = {"metadata": {"ownerReferences": refs or None, "resourceVersion": meta(rs).get("resourceVersion")}}
        try:
            out = await self.client.patch("apps/v1", "replicasets", meta(rs)["name"], body, meta(rs).get("namespace", ""))
        except APIError as e:
            if e.code in (404, 409):
                return None
            raise
        self._remember_rs(out)
        return out

    # -- writes ----------------------------------------------------------------------------------

    async def _write_status(self, d: Obj) -> Obj:
        out = await self.client.update_status("apps/v1", "deployments", d, meta(d).get("namespace", ""))
        d["metadata"] = out["metadata"]
        self._remember(out)
        return d

    def _remember(self, out: Obj) -> None:
        key = f"{meta(out).get('namespace', '')}/{meta(out)['name']}"
        cached = self.cache.get(key)
        if cached is None or int(meta(out).get("resourceVersion") or 0) > int(meta(cached).get("resourceVersion") or 0):
            self.cache[key] = out

    @staticmethod
    def _set_revision(d: Obj, rev: str) -> bool:
        """SetDeploymentRevision: the annotation rides on the next status write, as upstream's does."""
        ann = d.setdefault("metadata", {}).setdefault("annotations", {})
        if ann.get(REVISION) == rev:
            return False
        ann[REVISION] = rev
        return True

    async def _update_rs(self, rs: Obj) -> Obj:
        out = await self.client.update("apps/v1", "replicasets", rs, meta(rs).get("namespace", ""))
        self._remember_rs(out)
        return out

    async def _scale_rs(self, d: Obj, rs: Obj, new_scale: int, operation: str = "") -> tuple[bool, Obj]:
        """scaleReplicaSet: set replicas and the desired/max annotations; a size change is an event."""
        size_changes = replicas_of(rs) != new_scale
        n = replicas_of(d)
        if not size_changes and not replicas_annotations_need_update(rs, n, n + max_surge(d)):
            return False, rs
        old_scale = replicas_of(rs)
        copy_rs = copy.deepcopy(rs)
        copy_rs["spec"]["replicas"] = new_scale
        set_replicas_annotations(copy_rs, n, n + max_surge(d))
        out = await self._update_rs(copy_rs)
        if size_changes:
            op = operation or ("up" if old_scale < new_scale else "down")
            await self.recorder.event(d, NORMAL, "ScalingReplicaSet",
                                      f"Scaled {op} replica set {meta(out)['name']} from {old_scale} to {new_scale}")
        return size_changes, out

    # -- ReplicaSets -----------------------------------------------------------------------------

    async def _new_and_old(self, d: Obj, rs_list: list[Obj], create: bool) -> tuple[Obj | None, list[Obj]]:
        template = (d.get("spec") or {}).get("template") or {}
        ordered = by_creation(rs_list)
        existing = next((rs for rs in ordered if equal_ignore_hash((rs.get("spec") or {}).get("template") or {}, template)), None)
        old_rss = [rs for rs in rs_list if rs is not existing]
        new_revision = max((revision(rs) for rs in old_rss), default=0) + 1
        if existing is not None:
            rs_copy = copy.deepcopy(existing)
            annotations_changed = set_new_rs_annotations(d, rs_copy, new_revision, True)
            min_ready = int((d.get("spec") or {}).get("minReadySeconds") or 0)
            if annotations_changed or int(rs_copy["spec"].get("minReadySeconds") or 0) != min_ready:
                rs_copy["spec"]["minReadySeconds"] = min_ready
                return await self._update_rs(rs_copy), old_rss
            needs_update = self._set_revision(d, (meta(rs_copy).get("annotations") or {}).get(REVISION, ""))
            status = d.setdefault("status", {})
            if has_progress_deadline(d) and get_condition(status, "Progressing") is None:
                set_condition(status, new_condition("Progressing", "True", FOUND_NEW_RS,
                                                    f'Found new replica set "{meta(rs_copy)["name"]}"', self.clock.rfc3339()))
                needs_update = True
            if needs_update:
                await self._write_status(d)
            return rs_copy, old_rss
        if not create:
            return None, old_rss
        collision = (d.get("status") or {}).get("collisionCount")
        pod_hash = compute_hash(template, collision)
        name = f"{meta(d)['name']}-{pod_hash}"
        new_template = template_with_hash(d, pod_hash)
        new_rs: Obj = {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": meta(d).get("namespace", ""),
                         "ownerReferences": [new_controller_ref(d)],
                         "labels": dict(new_template["metadata"]["labels"])},
            "spec": {"replicas": 0, "minReadySeconds": int((d.get("spec") or {}).get("minReadySeconds") or 0),
                     "selector": selector_with_hash(d, pod_hash), "template": new_template},
        }
        count = new_rs_new_replicas(d, [*old_rss, new_rs], new_rs)
        new_rs["spec"]["replicas"] = count
        set_new_rs_annotations(d, new_rs, new_revision, False)
        already = False
        try:
            created = await self.client.create("apps/v1", "replicasets", new_rs, meta(d).get("namespace", ""))
            self._remember_rs(created)
        except APIError as e:
            if e.code == 409 and e.reason == "AlreadyExists":
                already = True
                try:
                    created = await self.client.get("apps/v1", "replicasets", name, meta(d).get("namespace", ""))
                except APIError:
                    raise e from None
                ref = controller_of(created)
                if not (ref and ref.get("uid") == meta(d).get("uid")
                        and equal_ignore_hash((created.get("spec") or {}).get("template") or {}, template)):
                    status = d.setdefault("status", {})
                    status["collisionCount"] = int(status.get("collisionCount") or 0) + 1
                    await self._write_status(d)
                    raise
            elif e.code == 403 and "being terminated" in e.message:
                raise
            else:
                msg = f'Failed to create new replica set "{name}": {e.message}'
                if has_progress_deadline(d):
                    set_condition(d.setdefault("status", {}),
                                  new_condition("Progressing", "False", FAILED_RS_CREATE, msg, self.clock.rfc3339()))
                    try:
                        await self._write_status(d)
                    except APIError:
                        pass
                await self.recorder.event(d, WARNING, FAILED_RS_CREATE, msg)
                raise
        if not already and count > 0:
            await self.recorder.event(d, NORMAL, "ScalingReplicaSet",
                                      f"Scaled up replica set {meta(created)['name']} from 0 to {count}")
        needs_update = self._set_revision(d, str(new_revision))
        if not already and has_progress_deadline(d):
            set_condition(d.setdefault("status", {}), new_condition(
                "Progressing", "True", NEW_RS_CREATED, f'Created new replica set "{meta(created)["name"]}"',
                self.clock.rfc3339()))
            needs_update = True
        if needs_update:
            await self._write_status(d)
        return created, old_rss

    # -- paused, scaling, status -----------------------------------------------------------------

    async def _check_paused(self, d: Obj) -> Obj:
        if not has_progress_deadline(d):
            return d
        status = d.setdefault("status", {})
        cond = get_condition(status, "Progressing")
        if cond is not None and cond.get("reason") == TIMED_OUT:
            return d
        paused_cond = cond is not None and cond.get("reason") == PAUSED
        now = self.clock.rfc3339()
        if (d.get("spec") or {}).get("paused") and not paused_cond:
            set_condition(status, new_condition("Progressing", "Unknown", PAUSED, "Deployment is paused", now))
        elif not (d.get("spec") or {}).get("paused") and paused_cond:
            set_condition(status, new_condition("Progressing", "Unknown", RESUMED, "Deployment is resumed", now))
        else:
            return d
        return await self._write_status(d)

    async def _is_scaling_event(self, d: Obj, rs_list: list[Obj]) -> bool:
        new_rs, old_rss = await self._new_and_old(d, rs_list, False)
        for rs in active([*old_rss, new_rs]):  # type: ignore[list-item]
            desired = desired_annotation(rs)
            if desired is not None and desired != replicas_of(d):
                return True
        return False

    async def _sync(self, d: Obj, rs_list: list[Obj]) -> None:
        """Scaling events and paused Deployments: scale, clean up history, report status."""
        new_rs, old_rss = await self._new_and_old(d, rs_list, False)
        await self._scale(d, new_rs, old_rss)
        if (d.get("spec") or {}).get("paused"):
            await self._cleanup(d, old_rss)
        await self._sync_status(d, [*old_rss, new_rs], new_rs)

    async def _scale(self, d: Obj, new_rs: Obj | None, old_rss: list[Obj]) -> None:
        actives = active([*old_rss, new_rs])  # type: ignore[list-item]
        target: Obj | None = None
        if len(actives) == 1:
            target = actives[0]
        elif not actives:
            target = new_rs if new_rs is not None else (by_creation(old_rss)[-1] if old_rss else None)
        if target is not None or (new_rs is None and not old_rss):
            if target is not None and replicas_of(target) != replicas_of(d):
                await self._scale_rs(d, target, replicas_of(d))
            return
        if is_saturated(d, new_rs):
            for old in active(old_rss):
                await self._scale_rs(d, old, 0)
            return
        if not is_rolling(d):
            return
        all_rss = actives
        allowed = replicas_of(d) + max_surge(d) if replicas_of(d) > 0 else 0
        to_add = allowed - sum_replicas(all_rss)
        created = {id(rs): parse_time(meta(rs).get("creationTimestamp")) or 0 for rs in all_rss}
        if to_add > 0:  # larger first, newer first among equals
            all_rss.sort(key=lambda rs: (-replicas_of(rs), -created[id(rs)]))
            operation = "up"
        elif to_add < 0:  # larger first, older first among equals
            all_rss.sort(key=lambda rs: (-replicas_of(rs), created[id(rs)]))
            operation = "down"
        else:
            operation = ""
        added = 0
        sizes: dict[int, int] = {}
        for rs in all_rss:
            if to_add:
                p = proportion(d, rs, to_add, added)
                sizes[id(rs)] = replicas_of(rs) + p
                added += p
            else:
                sizes[id(rs)] = replicas_of(rs)
        for i, rs in enumerate(all_rss):
            if i == 0 and to_add:
                sizes[id(rs)] = max(0, sizes[id(rs)] + to_add - added)
            await self._scale_rs(d, rs, sizes[id(rs)], operation)

    async def _sync_status(self, d: Obj, all_rss: list[Obj | None], new_rs: Obj | None) -> None:
        rss = [rs for rs in all_rss if rs is not None]
        status = calculate_status(rss, new_rs, d, self.clock.rfc3339())
        if status != (d.get("status") or {}):
            d["status"] = status
            await self._write_status(d)

    async def _sync_rollout_status(self, d: Obj, all_rss: list[Obj | None], new_rs: Obj | None) -> None:
        """syncRolloutStatus: counts, Available, and the Progressing condition with the deadline."""
        rss = [rs for rs in all_rss if rs is not None]
        now = self.clock.rfc3339()
        status = calculate_status(rss, new_rs, d, now)
        if not has_progress_deadline(d):
            remove_condition(status, "Progressing")
        current = get_condition(d.get("status") or {}, "Progressing")
        complete = (int(status.get("replicas") or 0) == int(status.get("updatedReplicas") or 0)
                    and current is not None and current.get("reason") == NEW_RS_AVAILABLE)
        rs_name = meta(new_rs)["name"] if new_rs else None
        if has_progress_deadline(d) and not complete:
            if deployment_complete(d, status):
                msg = (f'ReplicaSet "{rs_name}" has successfully progressed.' if rs_name
                       else f'Deployment "{meta(d)["name"]}" has successfully progressed.')
                set_condition(status, new_condition("Progressing", "True", NEW_RS_AVAILABLE, msg, now))
            elif deployment_progressing(d, status):
                msg = (f'ReplicaSet "{rs_name}" is progressing.' if rs_name
                       else f'Deployment "{meta(d)["name"]}" is progressing.')
                cond = new_condition("Progressing", "True", RS_UPDATED, msg, now)
                if current is not None:
                    if current.get("status") == "True":
                        cond["lastTransitionTime"] = current.get("lastTransitionTime")
                    remove_condition(status, "Progressing")
                set_condition(status, cond)
            elif deployment_timed_out(d, status, self.clock.now()):
                msg = (f'ReplicaSet "{rs_name}" has timed out progressing.' if rs_name
                       else f'Deployment "{meta(d)["name"]}" has timed out progressing.')
                set_condition(status, new_condition("Progressing", "False", TIMED_OUT, msg, now))
        failure = next((c for rs in rss for c in (rs.get("status") or {}).get("conditions") or []
                        if c.get("type") == "ReplicaFailure" and c.get("status") == "True"), None)
        if failure:
            set_condition(status, {"type": "ReplicaFailure", "status": "True",
                                   "lastUpdateTime": failure.get("lastTransitionTime"),
                                   "lastTransitionTime": failure.get("lastTransitionTime"),
                                   "reason": failure.get("reason"), "message": failure.get("message")})
        else:
            remove_condition(status, "ReplicaFailure")
        if status == (d.get("status") or {}):
            self._requeue_stuck(d, status)
            return
        d["status"] = status
        await self._write_status(d)

    def _requeue_stuck(self, d: Obj, status: Obj) -> None:
        """requeueStuckDeployment: check the deadline again when it falls due."""
        cond = get_condition(status, "Progressing")
        if (not has_progress_deadline(d) or cond is None or cond.get("reason") in (NEW_RS_AVAILABLE, TIMED_OUT)
                or deployment_complete(d, status)):
            return
        since = parse_time(cond.get("lastUpdateTime"))
        if since is None:
            return
        after = since + int(d["spec"]["progressDeadlineSeconds"]) - self.clock.now()
        key = f"{meta(d).get('namespace', '')}/{meta(d)['name']}"
        self.clock.call_later(max(0.0, after) + 1.0, lambda: self.queue.add(key))

    async def _cleanup(self, d: Obj, old_rss: list[Obj]) -> None:
        """cleanupDeployment: keep revisionHistoryLimit old ReplicaSets that are scaled to zero."""
        limit = (d.get("spec") or {}).get("revisionHistoryLimit")
        if limit is None:
            return
        alive = [rs for rs in old_rss if not meta(rs).get("deletionTimestamp")]
        diff = len(alive) - int(limit)
        if diff <= 0:
            return
        for rs in sorted(alive, key=lambda r: (revision(r), parse_time(meta(r).get("creationTimestamp")) or 0))[:diff]:
            if (status_int(rs, "replicas") != 0 or replicas_of(rs) != 0
                    or int(meta(rs).get("generation") or 0) > status_int(rs, "observedGeneration")):
                continue
            try:
                await self.client.delete("apps/v1", "replicasets", meta(rs)["name"], meta(rs).get("namespace", ""),
                                         uid=meta(rs).get("uid", ""))
            except APIError as e:
                if e.code != 404:
                    raise

    # -- strategies ------------------------------------------------------------------------------

    async def _rollout_rolling(self, d: Obj, rs_list: list[Obj]) -> None:
        new_rs, old_rss = await self._new_and_old(d, rs_list, True)
        assert new_rs is not None
        all_rss: list[Obj] = [*old_rss, new_rs]
        if await self._reconcile_new_rs(d, all_rss, new_rs):
            await self._sync_rollout_status(d, self._fresh(all_rss), self._fresh([new_rs])[0])
            return
        if await self._reconcile_old_rss(d, all_rss, active(old_rss), new_rs):
            await self._sync_rollout_status(d, self._fresh(all_rss), new_rs)
            return
        if deployment_complete(d, d.get("status") or {}):
            await self._cleanup(d, old_rss)
        await self._sync_rollout_status(d, all_rss, new_rs)

    def _fresh(self, rss: list[Obj]) -> list[Obj]:
        """The informer's latest copy of each ReplicaSet (after our own writes were remembered)."""
        out = []
        for rs in rss:
            latest = self.rss.cache.get(f"{meta(rs).get('namespace', '')}/{meta(rs)['name']}")
            out.append(latest if latest is not None and meta(latest).get("uid") == meta(rs).get("uid") else rs)
        return out

    async def _reconcile_new_rs(self, d: Obj, all_rss: list[Obj], new_rs: Obj) -> bool:
        if replicas_of(new_rs) == replicas_of(d):
            return False
        if replicas_of(new_rs) > replicas_of(d):
            scaled, _ = await self._scale_rs(d, new_rs, replicas_of(d))
            return scaled
        scaled, _ = await self._scale_rs(d, new_rs, new_rs_new_replicas(d, all_rss, new_rs))
        return scaled

    async def _reconcile_old_rss(self, d: Obj, all_rss: list[Obj], old_rss: list[Obj], new_rs: Obj) -> bool:
        if sum_replicas(old_rss) == 0:
            return False
        all_pods = sum_replicas(all_rss)
        min_available = replicas_of(d) - max_unavailable(d)
        new_unavailable = replicas_of(new_rs) - status_int(new_rs, "availableReplicas")
        max_scaled_down = all_pods - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        old_rss, cleaned = await self._cleanup_unhealthy(d, old_rss, max_scaled_down)
        scaled = await self._scale_down_old(d, [*old_rss, new_rs], old_rss)
        return cleaned + scaled > 0

    async def _cleanup_unhealthy(self, d: Obj, old_rss: list[Obj], max_cleanup: int) -> tuple[list[Obj], int]:
        old_rss = by_creation(old_rss)
        total = 0
        for i, rs in enumerate(old_rss):
            if total >= max_cleanup:
                break
            if replicas_of(rs) == 0 or replicas_of(rs) == status_int(rs, "availableReplicas"):
                continue
            count = min(max_cleanup - total, replicas_of(rs) - status_int(rs, "availableReplicas"))
            _, old_rss[i] = await self._scale_rs(d, rs, replicas_of(rs) - count)
            total += count
        return old_rss, total

    async def _scale_down_old(self, d: Obj, all_rss: list[Obj], old_rss: list[Obj]) -> int:
        min_available = replicas_of(d) - max_unavailable(d)
        available = sum_status(all_rss, "availableReplicas")
        if available <= min_available:
            return 0
        total, target = 0, available - min_available
        for rs in by_creation(old_rss):
            if total >= target:
                break
            if replicas_of(rs) == 0:
                continue
            count = min(replicas_of(rs), target - total)
            await self._scale_rs(d, rs, replicas_of(rs) - count)
            total += count
        return total

    async def _rollout_recreate(self, d: Obj, rs_list: list[Obj]) -> None:
        new_rs, old_rss = await self._new_and_old(d, rs_list, False)
        scaled_down = False
        for rs in active(old_rss):
            changed, _ = await self._scale_rs(d, rs, 0)
            scaled_down = scaled_down or changed
        if scaled_down:
            await self._sync_rollout_status(d, self._fresh([*old_rss, *([new_rs] if new_rs else [])]), new_rs)
            return
        if self._old_pods_running(new_rs, old_rss):
            await self._sync_rollout_status(d, [*old_rss, new_rs], new_rs)
            return
        if new_rs is None:
            new_rs, old_rss = await self._new_and_old(d, rs_list, True)
            assert new_rs is not None
        if replicas_of(new_rs) != replicas_of(d):
            _, new_rs = await self._scale_rs(d, new_rs, replicas_of(d))
        if deployment_complete(d, d.get("status") or {}):
            await self._cleanup(d, old_rss)
        await self._sync_rollout_status(d, [*old_rss, new_rs], new_rs)

    def _old_pods_running(self, new_rs: Obj | None, old_rss: list[Obj]) -> bool:
        if sum_status(old_rss, "replicas") > 0:
            return True
        old_uids = {meta(rs).get("uid") for rs in old_rss}
        for pod in self.pods.cache.values():
            ref = controller_of(pod)
            if ref is None or ref.get("uid") not in old_uids:
                continue
            if new_rs is not None and ref.get("uid") == meta(new_rs).get("uid"):
                continue
            if not is_terminal(pod):
                return True
        return False

    def start(self, workers: int = 1) -> None:
        self.rss.start()
        self.pods.start()
        super().start(workers)

    async def stop(self) -> None:
        await super().stop()
        await self.rss.stop()
        await self.pods.stop()
