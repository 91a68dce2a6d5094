"""The Job controller: runs pods until enough succeed, or the Job fails, as kube-controller-manager's.

Follows pkg/controller/job/job_controller.go (Kubernetes 1.32):
- pods carry the ``batch.kubernetes.io/job-tracking`` finalizer; a finished pod is first recorded in
  ``status.uncountedTerminatedPods``, then its finalizer is removed, then it moves into the
  ``succeeded``/``failed`` counters, so no pod is ever counted twice or lost;
- ``completionMode: Indexed`` gives each pod an index (annotation, label, ``JOB_COMPLETION_INDEX``,
  hostname ``<job>-<index>``) and reports ``completedIndexes``;
- failures: ``backoffLimit`` with exponential back-off before new pods, ``activeDeadlineSeconds``,
  ``podFailurePolicy``; the Job first gets ``FailureTarget`` (or ``SuccessCriteriaMet``), its
  remaining pods are removed, then ``Failed`` (or ``Complete``) is added with the same reason;
- ``suspend`` deletes active pods (``Suspended`` condition) and resuming resets ``startTime``;
- ``ttlSecondsAfterFinished`` deletes the finished Job (the ttl-after-finished controller's job).
Every time-based decision reads the controllers' Clock.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from controllers.base import Controller
from controllers.client import Client
from controllers.clock import Clock
from controllers.event_recorder import NORMAL, WARNING, EventRecorder
from controllers.informer import Informer
from controllers.job_policy import (
    INDEX_ANNOTATION,
    INDEX_LABEL,
    TRACKING_FINALIZER,
    backoff_delay,
    format_indexes,
    match_pod_failure_policy,
    parse_indexes,
    pod_index,
)
from controllers.workload_util import (
    condition,
    controller_of,
    is_ready,
    is_terminal,
    is_terminating,
    parse_time,
    pod_from_template,
    set_condition,
)
from facade.errors import APIError

log = logging.getLogger("kubefacade.controllers")

Obj = dict[str, Any]

COMPLETIONS_REACHED = ("CompletionsReached", "Reached expected number of succeeded pods")
BACKOFF_LIMIT_EXCEEDED = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
DEADLINE_EXCEEDED = ("DeadlineExceeded", "Job was active longer than specified deadline")


def is_finished(job: Obj) -> str | None:
    """``Complete`` or ``Failed`` when the Job has that condition True."""
    for ctype in ("Complete", "Failed"):
        c = condition(job, ctype)
        if c and c.get("status") == "True":
            return ctype
    return None


class JobController(Controller):
    api_version = "batch/v1"
    plural = "jobs"
    name = "job-controller"

    def __init__(self, client: Client, clock: Clock) -> None:
        super().__init__(client)
        self.clock = clock
        self.pods = Informer(client, "v1", "pods", "job-controller-pods")
        self.pods.add_handler(self._on_pod)
        self.recorder = EventRecorder(client, "job-controller", clock)
        #: job uid -> (consecutive failures since the last success, clock time of the last one)
        self._backoff: dict[str, tuple[int, float]] = {}

    def start(self, workers: int = 1) -> None:
        self.pods.start()
        super().start(workers)

    async def stop(self) -> None:
        await super().stop()
        await self.pods.stop()

    def _on_pod(self, _ev: str, pod: Obj, _old: Obj | None) -> None:
        ref = controller_of(pod)
        if ref and ref.get("kind") == "Job" and ref.get("apiVersion", "").startswith("batch/"):
            self.queue.add(f"{pod['metadata'].get('namespace')}/{ref.get('name')}")

    def _later(self, key: str, seconds: float) -> None:
        self.clock.call_later(max(0.0, seconds), lambda: self.queue.add(key))

    # -- reconcile ---------------------------------------------------------------------------------

    async def reconcile(self, key: str) -> None:
        await self.pods.synced.wait()
        ns, _, name = key.partition("/")
        try:
            job = await self.client.get(self.api_version, self.plural, name, ns)
        except APIError as e:
            if e.code != 404:
                raise
            await self._release_orphans(ns, name)
            return
        uid = job["metadata"]["uid"]
        pods = self.pods.owned_by(uid, ns)
        finished = is_finished(job)
        if finished:
            await self._remove_finalizers([p for p in pods if TRACKING_FINALIZER in (p["metadata"].get("finalizers") or [])])
            await self._ttl(job, key)
            return
        job = await self._track_finished_pods(job, pods)
        pods = self.pods.owned_by(uid, ns)
        await self._sync(job, key, pods)

    async def _release_orphans(self, ns: str, name: str) -> None:
        """A deleted Job's pods keep no tracking finalizer (they would never go away)."""
        orphans = []
        for p in self.pods.in_namespace(ns):
            ref = controller_of(p)
            if ref and ref.get("kind") == "Job" and ref.get("name") == name and \
                    TRACKING_FINALIZER in (p["metadata"].get("finalizers") or []):
                orphans.append(p)
        await self._remove_finalizers(orphans)

    async def _remove_finalizers(self, pods: list[Obj]) -> None:
        for p in pods:
            fins = [f for f in p["metadata"].get("finalizers") or [] if f != TRACKING_FINALIZER]
            try:
                out = await self.client.patch("v1", "pods", p["metadata"]["name"],
                                              {"metadata": {"finalizers": fins or None}}, p["metadata"]["namespace"])
                self.pods.remember(out)
            except APIError as e:
                if e.code != 404:
                    raise
                self.pods.forget(p)

    def _pod_failed(self, job: Obj, pod: Obj) -> bool:
        phase = (pod.get("status") or {}).get("phase")
        if phase == "Failed":
            return True
        if (job.get("spec") or {}).get("podReplacementPolicy") == "Failed":
            return False
        return is_terminating(pod) and phase != "Succeeded"

    async def _track_finished_pods(self, job: Obj, pods: list[Obj]) -> Obj:
        """Record finished pods in uncountedTerminatedPods, drop their finalizers, then count them."""
        spec, status = job.get("spec") or {}, copy.deepcopy(job.get("status") or {})
        uncounted = status.get("uncountedTerminatedPods") or {}
        us, uf = list(uncounted.get("succeeded") or []), list(uncounted.get("failed") or [])
        seen = set(us) | set(uf)
        indexed = spec.get("completionMode") == "Indexed"
        completions = spec.get("completions")
        completed = parse_indexes(status.get("completedIndexes"), completions) if indexed else set()
        release: list[Obj] = []
        failure_target: tuple[str, str] | None = None
        new_failures = 0
        new_success = False
        for p in pods:
            m = p["metadata"]
            if TRACKING_FINALIZER not in (m.get("finalizers") or []):
                continue
            if m["uid"] in seen:
                release.append(p)
                continue
            phase = (p.get("status") or {}).get("phase")
            if phase == "Succeeded":
                idx = pod_index(p)
                if indexed and (idx is None or idx in completed or (completions is not None and idx >= completions)):
                    release.append(p)  # a duplicate or out-of-range index is not a completion
                    continue
                if indexed and idx is not None:
                    completed.add(idx)
                us.append(m["uid"])
                new_success = True
                release.append(p)
            elif self._pod_failed(job, p):
                matched = match_pod_failure_policy(spec.get("podFailurePolicy"), p) if phase == "Failed" else None
                if matched and matched[0] == "Ignore":
                    release.append(p)
                    continue
                if matched and matched[0] == "FailJob" and failure_target is None:
                    failure_target = ("PodFailurePolicy", matched[1])
                uf.append(m["uid"])
                new_failures += 1
                release.append(p)
        if not release and not us and not uf:
            return job
        changed = len(us) + len(uf) > len(seen) or failure_target is not None
        if changed:
            status["uncountedTerminatedPods"] = {k: v for k, v in (("succeeded", us), ("failed", uf)) if v}
            if indexed:
                status["completedIndexes"] = format_indexes(completed)
            if failure_target and not _has_true(job, "FailureTarget"):
                set_condition(status, self._condition("FailureTarget", *failure_target))
            job = await self._write_status(job, status)
        if new_failures:
            n, _ = self._backoff.get(job["metadata"]["uid"], (0, 0.0))
            self._backoff[job["metadata"]["uid"]] = (n + new_failures, self.clock.now())
        elif new_success:
            self._backoff.pop(job["metadata"]["uid"], None)
        await self._remove_finalizers(release)
        # every pod whose finalizer is gone (or the pod itself) now moves into the counters
        status = copy.deepcopy(job.get("status") or {})
        still = {p["metadata"]["uid"] for p in self.pods.owned_by(job["metadata"]["uid"], job["metadata"]["namespace"])
                 if TRACKING_FINALIZER in (p["metadata"].get("finalizers") or [])}
        done_s = [u for u in us if u not in still]
        done_f = [u for u in uf if u not in still]
        status["succeeded"] = int(status.get("succeeded") or 0) + len(done_s)
        status["failed"] = int(status.get("failed") or 0) + len(done_f)
        status["uncountedTerminatedPods"] = {k: v for k, v in (
            ("succeeded", [u for u in us if u in still]), ("failed", [u for u in uf if u in still])) if v}
        return await self._write_status(job, status)

    def _condition(self, ctype: str, reason: str, message: str, status: str = "True") -> Obj:
        now = self.clock.rfc3339()
        return {"type": ctype, "status": status, "lastProbeTime": now, "lastTransitionTime": now,
                "reason": reason, "message": message}

    async def _write_status(self, job: Obj, status: Obj) -> Obj:
        for f in ("succeeded", "failed", "active"):
            if not status.get(f):
                status.pop(f, None)
        if status == (job.get("status") or {}):
            return job
        job = copy.deepcopy(job)
        job["status"] = status
        out = await self.client.update_status(self.api_version, self.plural, job, job["metadata"]["namespace"])
        return out

    async def _sync(self, job: Obj, key: str, pods: list[Obj]) -> None:
        spec, status = job.get("spec") or {}, copy.deepcopy(job.get("status") or {})
        status.setdefault("uncountedTerminatedPods", {})
        now = self.clock.now()
        indexed = spec.get("completionMode") == "Indexed"
        completions = spec.get("completions")
        parallelism = int(spec.get("parallelism") or 0)
        active = [p for p in pods if not is_terminal(p) and not is_terminating(p)]
        terminating = [p for p in pods if is_terminating(p) and not is_terminal(p)]
        uncounted = status.get("uncountedTerminatedPods") or {}
        succeeded = int(status.get("succeeded") or 0) + len(uncounted.get("succeeded") or [])
        failed = int(status.get("failed") or 0) + len(uncounted.get("failed") or [])
        completed = parse_indexes(status.get("completedIndexes"), completions) if indexed else set()
        suspended = bool(spec.get("suspend"))
        events: list[tuple[str, str, str]] = []

        finishing = _true_condition(job, "FailureTarget") or _true_condition(job, "SuccessCriteriaMet")
        if finishing is None:
            target = self._failure(job, status, failed, active, now, key)
            if target:
                set_condition(status, self._condition("FailureTarget", *target))
                finishing = _cond_in(status, "FailureTarget")
            elif self._succeeded(spec, succeeded, completed, active):
                set_condition(status, self._condition("SuccessCriteriaMet", *COMPLETIONS_REACHED))
                finishing = _cond_in(status, "SuccessCriteriaMet")

        if finishing is not None:
            for p in active:
                await self._delete_pod(job, p)
            remaining = [p for p in self.pods.owned_by(job["metadata"]["uid"], job["metadata"]["namespace"])
                         if not is_terminal(p) or TRACKING_FINALIZER in (p["metadata"].get("finalizers") or [])]
            status["active"] = 0
            status["ready"] = 0
            status["terminating"] = len([p for p in remaining if is_terminating(p) and not is_terminal(p)])
            if not remaining and not status["uncountedTerminatedPods"]:
                if finishing["type"] == "FailureTarget":
                    set_condition(status, self._condition("Failed", finishing["reason"], finishing["message"]))
                    events.append((WARNING, finishing["reason"], finishing["message"]))
                else:
                    set_condition(status, self._condition("Complete", finishing["reason"], finishing["message"]))
                    status["completionTime"] = self.clock.rfc3339()
                    events.append((NORMAL, "Completed", "Job completed"))
            elif remaining:
                self.queue.add_after(key, 0.2)
            out = await self._write_status(job, status)
            for e in events:
                await self.recorder.event(out, *e)
            if is_finished(out):
                await self._ttl(out, key)
            return

        was_suspended = _true_condition(job, "Suspended") is not None
        if suspended:
            for p in active:
                await self._delete_pod(job, p)
            active = []
            if not was_suspended:
                set_condition(status, self._condition("Suspended", "JobSuspended", "Job suspended"))
                events.append((NORMAL, "Suspended", "Job suspended"))
        else:
            if was_suspended:
                set_condition(status, self._condition("Suspended", "JobResumed", "Job resumed", "False"))
                events.append((NORMAL, "Resumed", "Job resumed"))
                status["startTime"] = self.clock.rfc3339()
            elif not status.get("startTime"):
                status["startTime"] = self.clock.rfc3339()
            ads = spec.get("activeDeadlineSeconds")
            if ads is not None:
                start = parse_time(status.get("startTime")) or now
                self._later(key, start + ads - now)
            active = await self._scale(job, key, active, terminating, succeeded, completed, parallelism)

        status["active"] = len(active)
        status["ready"] = len([p for p in active if is_ready(p)])
        status["terminating"] = len(terminating)
        out = await self._write_status(job, status)
        for e in events:
            await self.recorder.event(out, *e)

    def _failure(self, job: Obj, status: Obj, failed: int, active: list[Obj], now: float, key: str) -> tuple[str, str] | None:
        spec = job.get("spec") or {}
        if not spec.get("suspend"):
            ads = spec.get("activeDeadlineSeconds")
            start = parse_time(status.get("startTime"))
            if ads is not None and start is not None and now - start >= ads:
                return DEADLINE_EXCEEDED
        restarts = 0
        if ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy") == "OnFailure":
            for p in active:
                for cs in (p.get("status") or {}).get("containerStatuses") or []:
                    restarts += int(cs.get("restartCount") or 0)
        limit = spec.get("backoffLimit")
        if limit is not None and failed + restarts > int(limit):
            return BACKOFF_LIMIT_EXCEEDED
        return None

    @staticmethod
    def _succeeded(spec: Obj, succeeded: int, completed: set[int], active: list[Obj]) -> bool:
        completions = spec.get("completions")
        if completions is None:
            return succeeded > 0 and not active
        if spec.get("completionMode") == "Indexed":
            return len(completed) >= completions
        return succeeded >= completions

    async def _scale(self, job: Obj, key: str, active: list[Obj], terminating: list[Obj], succeeded: int,
                     completed: set[int], parallelism: int) -> list[Obj]:
        spec = job.get("spec") or {}
        completions = spec.get("completions")
        wait_terminating = spec.get("podReplacementPolicy") == "Failed"
        busy = len(active) + (len(terminating) if wait_terminating else 0)
        if spec.get("completionMode") == "Indexed":
            by_index: dict[int, list[Obj]] = {}
            for p in active + (terminating if wait_terminating else []):
                idx = pod_index(p)
                if idx is not None:
                    by_index.setdefault(idx, []).append(p)
            for p in list(active):
                idx = pod_index(p)
                if idx is None or idx in completed or (completions is not None and idx >= completions) or \
                        (by_index.get(idx) and by_index[idx][0] is not p and p in by_index[idx][1:]):
                    await self._delete_pod(job, p)
                    active.remove(p)
            wanted = [i for i in range(completions or 0) if i not in completed and i not in by_index]
            room = max(0, parallelism - len(active) - (len(terminating) if wait_terminating else 0))
            to_create: list[int | None] = list(wanted[:room])
        else:
            if completions is None:
                want = 0 if succeeded > 0 else parallelism
            else:
                want = max(0, min(parallelism, completions - succeeded))
            if len(active) > want:
                extra = sorted(active, key=lambda p: (is_ready(p), p["metadata"].get("creationTimestamp", "")))
                for p in extra[: len(active) - want]:
                    await self._delete_pod(job, p)
                    active.remove(p)
            to_create = [None] * max(0, want - busy)
        if not to_create:
            return active
        failures, last = self._backoff.get(job["metadata"]["uid"], (0, 0.0))
        delay = backoff_delay(failures)
        remaining = last + delay - self.clock.now()
        if failures and remaining > 0:
            self._later(key, remaining)
            return active
        for idx in to_create:
            active.append(await self._create_pod(job, idx))
        return active

    def _pod_for(self, job: Obj, index: int | None) -> Obj:
        name = job["metadata"]["name"]
        pod = pod_from_template((job.get("spec") or {}).get("template") or {}, job)
        meta = pod["metadata"]
        meta["generateName"] = f"{name}-" if index is None else f"{name}-{index}-"
        meta["finalizers"] = [*(meta.get("finalizers") or []), TRACKING_FINALIZER]
        if index is not None:
            meta.setdefault("annotations", {})[INDEX_ANNOTATION] = str(index)
            meta.setdefault("labels", {})[INDEX_LABEL] = str(index)
            spec = pod["spec"]
            spec["hostname"] = f"{name}-{index}"
            env = {"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
                "apiVersion": "v1", "fieldPath": f"metadata.annotations['{INDEX_ANNOTATION}']"}}}
            for field in ("initContainers", "containers"):
                for c in spec.get(field) or []:
                    if not any(e.get("name") == "JOB_COMPLETION_INDEX" for e in c.get("env") or []):
                        c["env"] = [*(c.get("env") or []), env]
        return pod

    async def _create_pod(self, job: Obj, index: int | None) -> Obj:
        ns = job["metadata"]["namespace"]
        try:
            out = await self.client.create("v1", "pods", self._pod_for(job, index), ns)
        except APIError as e:
            await self.recorder.event(job, WARNING, "FailedCreate", f"Error creating: {e.message}")
            raise
        self.pods.remember(out)
        await self.recorder.event(job, NORMAL, "SuccessfulCreate", f"Created pod: {out['metadata']['name']}")
        return out

    async def _delete_pod(self, job: Obj, pod: Obj) -> None:
        m = pod["metadata"]
        try:
            out = await self.client.delete("v1", "pods", m["name"], m["namespace"])
        except APIError as e:
            if e.code != 404:
                raise
            self.pods.forget(pod)
            return
        if out is not None and (out.get("metadata") or {}).get("deletionTimestamp") and \
                (out.get("metadata") or {}).get("finalizers"):
            self.pods.remember(out)
        await self.recorder.event(job, NORMAL, "SuccessfulDelete", f"Deleted pod: {m['name']}")

    async def _ttl(self, job: Obj, key: str) -> None:
        """ttl-after-finished: delete a finished Job once ttlSecondsAfterFinished has passed."""
        ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
        if ttl is None or job["metadata"].get("deletionTimestamp"):
            return
        finished = is_finished(job)
        c = condition(job, finished) if finished else None
        at = parse_time((c or {}).get("lastTransitionTime")) or parse_time((job.get("status") or {}).get("completionTime"))
        if at is None:
            return
        left = at + int(ttl) - self.clock.now()
        if left > 0:
            self._later(key, left)
            return
        try:
            await self.client.delete(self.api_version, self.plural, job["metadata"]["name"], job["metadata"]["namespace"],
                                     propagation_policy="Foreground")
        except APIError as e:
            if e.code != 404:
                raise


def _true_condition(job: Obj, ctype: str) -> Obj | None:
    c = condition(job, ctype)
    return c if c and c.get("status") == "True" else None


def _has_true(job: Obj, ctype: str) -> bool:
    return _true_condition(job, ctype) is not None


def _cond_in(status: Obj, ctype: str) -> Obj | None:
    for c in status.get("conditions") or []:
        if c.get("type") == ctype:
            return c
    return None
