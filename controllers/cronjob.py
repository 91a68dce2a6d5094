"""The CronJob controller: creates a Job at each scheduled time, as kube-controller-manager's
cronjob-controller (pkg/controller/cronjob/cronjob_controllerv2.go) does.

- Job names are ``<cronjob>-<scheduled time in minutes since the epoch>`` and carry the
  ``batch.kubernetes.io/cronjob-scheduled-timestamp`` annotation (RFC 3339, in the CronJob's zone);
- ``concurrencyPolicy`` Allow / Forbid (``JobAlreadyActive``) / Replace (active Jobs deleted);
- ``startingDeadlineSeconds`` (``MissSchedule`` when too late), ``suspend``, history limits;
- ``status.active`` / ``lastScheduleTime`` / ``lastSuccessfulTime``; Events SuccessfulCreate,
  SawCompletedJob, SuccessfulDelete.
All time comes from the controllers' Clock, and the next run is a timer on that clock, so tests
advance it rather than wait.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from controllers.base import Controller
from controllers.client import Client
from controllers.clock import Clock
from controllers.cron_schedule import CronSchedule, most_recent_unmet, parse_schedule
from controllers.event_recorder import NORMAL, WARNING, EventRecorder
from controllers.informer import Informer
from controllers.job import is_finished
from controllers.workload_util import controller_of, controller_ref, parse_time
from facade.errors import APIError
from facade.kinds.batch import CronError

Obj = dict[str, Any]

SCHEDULED_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"


def _rfc3339(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rfc1123z(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")


def _zoned_rfc3339(t: datetime, sched: CronSchedule) -> str:
    local = t.astimezone(sched.location)
    text = local.strftime("%Y-%m-%dT%H:%M:%S%z")
    if text.endswith("+0000") and local.utcoffset() == timedelta(0):
        return text[:-5] + "Z"
    return text[:-2] + ":" + text[-2:]


def _job_ref(job: Obj) -> Obj:
    m = job["metadata"]
    return {"kind": "Job", "namespace": m["namespace"], "name": m["name"], "uid": m["uid"],
            "apiVersion": "batch/v1", "resourceVersion": m.get("resourceVersion", "")}


class CronJobController(Controller):
    api_version = "batch/v1"
    plural = "cronjobs"
    name = "cronjob-controller"

    def __init__(self, client: Client, clock: Clock) -> None:
        super().__init__(client)
        self.clock = clock
        self.jobs = Informer(client, "batch/v1", "jobs", "cronjob-controller-jobs")
        self.jobs.add_handler(self._on_job)
        self.recorder = EventRecorder(client, "cronjob-controller", clock)

    def start(self, workers: int = 1) -> None:
        self.jobs.start()
        super().start(workers)

    async def stop(self) -> None:
        await super().stop()
        await self.jobs.stop()

    def _on_job(self, _ev: str, job: Obj, _old: Obj | None) -> None:
        ref = controller_of(job)
        if ref and ref.get("kind") == "CronJob":
            self.queue.add(f"{job['metadata'].get('namespace')}/{ref.get('name')}")

    def _later(self, key: str, seconds: float) -> None:
        self.clock.call_later(max(0.0, seconds), lambda: self.queue.add(key))

    async def reconcile(self, key: str) -> None:
        await self.jobs.synced.wait()
        ns, _, name = key.partition("/")
        try:
            cj = await self.client.get(self.api_version, self.plural, name, ns)
        except APIError as e:
            if e.code == 404:
                return
            raise
        status = copy.deepcopy(cj.get("status") or {})
        children = self.jobs.owned_by(cj["metadata"]["uid"], ns)
        await self._track_children(cj, status, children)
        if not cj["metadata"].get("deletionTimestamp"):
            await self._schedule(cj, key, status)
            await self._cleanup_history(cj, status, children)
        await self._write_status(cj, status)

    async def _track_children(self, cj: Obj, status: Obj, children: list[Obj]) -> None:
        active = {a.get("uid"): a for a in status.get("active") or []}
        by_uid = {j["metadata"]["uid"]: j for j in children}
        for j in children:
            uid = j["metadata"]["uid"]
            finished = is_finished(j)
            if not finished and uid not in active:
                active[uid] = _job_ref(j)
            elif finished and uid in active:
                del active[uid]
                await self.recorder.event(cj, NORMAL, "SawCompletedJob",
                                          f"Saw completed job: {j['metadata']['name']}, condition: {finished}")
            if finished == "Complete":
                done = (j.get("status") or {}).get("completionTime")
                last = status.get("lastSuccessfulTime")
                if done and (not last or (parse_time(done) or 0) > (parse_time(last) or 0)):
                    status["lastSuccessfulTime"] = done
        for uid, ref in list(active.items()):
            if uid not in by_uid and self.jobs.cache.get(f"{ref.get('namespace')}/{ref.get('name')}") is None:
                del active[uid]
                await self.recorder.event(cj, NORMAL, "MissingJob", f"Active job went missing: {ref.get('name')}")
        status["active"] = sorted(active.values(), key=lambda r: r.get("name", ""))

    async def _schedule(self, cj: Obj, key: str, status: Obj) -> None:
        spec = cj.get("spec") or {}
        if spec.get("suspend"):
            return
        try:
            sched = parse_schedule(spec.get("schedule", ""), spec.get("timeZone"))
        except CronError as e:
            await self.recorder.event(cj, WARNING, "UnparseableSchedule",
                                      f"unparseable schedule: {spec.get('schedule')!r} : {e}")
            return
        except Exception:  # noqa: BLE001 - an unknown zone on this host
            await self.recorder.event(cj, WARNING, "UnknownTimeZone", f"invalid timeZone: {spec.get('timeZone')!r}")
            return
        now = self.clock.utcnow()
        earliest_ts = parse_time(status.get("lastScheduleTime")) or parse_time(cj["metadata"].get("creationTimestamp"))
        earliest = datetime.fromtimestamp(earliest_ts or now.timestamp(), UTC)
        sds = spec.get("startingDeadlineSeconds")
        if sds is not None:
            earliest = max(earliest, now - timedelta(seconds=int(sds)))
        scheduled, missed = most_recent_unmet(sched, earliest, now)
        if missed > 100:
            await self.recorder.event(cj, WARNING, "TooManyMissedTimes",
                                      f"too many missed start times: {missed}. Set or decrease "
                                      ".spec.startingDeadlineSeconds or check clock skew")
        self._requeue_next(key, sched, now)
        if scheduled is None:
            return
        if sds is not None and scheduled + timedelta(seconds=int(sds)) < now:
            await self.recorder.event(cj, WARNING, "MissSchedule",
                                      f"Missed scheduled time to start a job: {_rfc1123z(scheduled)}")
            return
        job_name = f"{cj['metadata']['name']}-{int(scheduled.timestamp() // 60)}"
        if any(a.get("name") == job_name for a in status.get("active") or []):
            return
        policy = spec.get("concurrencyPolicy") or "Allow"
        if policy == "Forbid" and status.get("active"):
            await self.recorder.event(cj, NORMAL, "JobAlreadyActive",
                                      "Not starting job because prior execution is running and concurrency "
                                      "policy is Forbid")
            return
        if policy == "Replace":
            for ref in list(status.get("active") or []):
                await self._delete_job(cj, ref.get("name", ""))
            status["active"] = []
        job = self._job_for(cj, job_name, scheduled, sched)
        try:
            out = await self.client.create("batch/v1", "jobs", job, cj["metadata"]["namespace"])
        except APIError as e:
            if e.code == 409:
                existing = self.jobs.cache.get(f"{cj['metadata']['namespace']}/{job_name}")
                if existing is not None and (controller_of(existing) or {}).get("uid") == cj["metadata"]["uid"]:
                    status["lastScheduleTime"] = _rfc3339(scheduled)
                return
            await self.recorder.event(cj, WARNING, "FailedCreate", f"Error creating job: {e.message}")
            raise
        self.jobs.remember(out)
        await self.recorder.event(cj, NORMAL, "SuccessfulCreate", f"Created job {job_name}")
        status["active"] = [*(status.get("active") or []), _job_ref(out)]
        status["lastScheduleTime"] = _rfc3339(scheduled)

    def _requeue_next(self, key: str, sched: CronSchedule, now: datetime) -> None:
        nxt = sched.next_after(now)
        if nxt is not None:
            self._later(key, (nxt - now).total_seconds() + 0.1)

    def _job_for(self, cj: Obj, name: str, scheduled: datetime, sched: CronSchedule) -> Obj:
        jt = copy.deepcopy((cj.get("spec") or {}).get("jobTemplate") or {})
        tmeta = jt.get("metadata") or {}
        annotations = dict(tmeta.get("annotations") or {})
        annotations[SCHEDULED_ANNOTATION] = _zoned_rfc3339(scheduled, sched)
        meta: Obj = {"name": name, "annotations": annotations, "ownerReferences": [controller_ref(cj)]}
        if tmeta.get("labels"):
            meta["labels"] = dict(tmeta["labels"])
        return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": jt.get("spec") or {}}

    async def _delete_job(self, cj: Obj, name: str) -> None:
        try:
            await self.client.delete("batch/v1", "jobs", name, cj["metadata"]["namespace"], propagation_policy="Background")
        except APIError as e:
            if e.code != 404:
                raise
            return
        await self.recorder.event(cj, NORMAL, "SuccessfulDelete", f"Deleted job {name}")

    async def _cleanup_history(self, cj: Obj, status: Obj, children: list[Obj]) -> None:
        spec = cj.get("spec") or {}
        for kind, limit in (("Complete", spec.get("successfulJobsHistoryLimit")),
                            ("Failed", spec.get("failedJobsHistoryLimit"))):
            if limit is None:
                continue
            done = [j for j in children if is_finished(j) == kind and not j["metadata"].get("deletionTimestamp")]
            done.sort(key=lambda j: ((j.get("status") or {}).get("startTime") or "", j["metadata"]["name"]))
            for j in done[: max(0, len(done) - int(limit))]:
                await self._delete_job(cj, j["metadata"]["name"])
                self.jobs.forget(j)

    async def _write_status(self, cj: Obj, status: Obj) -> None:
        if not status.get("active"):
            status.pop("active", None)
        if status == (cj.get("status") or {}):
            return
        cj = copy.deepcopy(cj)
        cj["status"] = status
        try:
            await self.client.update_status(self.api_version, self.plural, cj, cj["metadata"]["namespace"])
        except APIError as e:
            if e.code != 404:
                raise
