"""The CronJob controller on the fake clock: Jobs at scheduled minutes, concurrency policies,
history limits, time zones, suspend, starting deadlines, and `kubectl create job --from`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from conftest import Server, start_server, stop_server
from controller_helpers import (
    advance_clock,
    api_get,
    api_patch,
    api_send,
    clock_now,
    events,
    pods,
    set_pod_status,
    wait_default_sa,
    wait_for,
)


@pytest.fixture
def fc() -> Iterator[Server]:
    """A fresh fake-clock server per test: CronJobs are created at real time (creationTimestamp) and
    must not see a clock that earlier tests moved ahead, or they would catch up on "missed" runs."""
    s = start_server("--fake-clock", "--no-node")
    yield s
    stop_server(s)


@pytest.fixture
def ns(fc: Server, request: pytest.FixtureRequest) -> str:
    name = "cj-" + request.node.name.lower().replace("_", "-")[5:40].strip("-")
    api_send(fc, "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    wait_default_sa(fc, name)
    return name


def cronjob(name: str, schedule: str = "* * * * *", **spec: object) -> dict:
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name},
            "spec": {"schedule": schedule, **spec, "jobTemplate": {
                "metadata": {"labels": {"app": name}},
                "spec": {"template": {"spec": {"restartPolicy": "Never",
                                               "containers": [{"name": "main", "image": "busybox"}]}}}}}}


def jobs(s: Server, ns: str) -> list[dict]:
    out = api_get(s, f"/apis/batch/v1/namespaces/{ns}/jobs")
    assert out is not None
    return sorted(out["items"], key=lambda j: j["metadata"]["name"])


def get_cj(s: Server, ns: str, name: str) -> dict:
    out = api_get(s, f"/apis/batch/v1/namespaces/{ns}/cronjobs/{name}")
    assert out is not None
    return out


def next_minute_boundary(s: Server) -> float:
    """Seconds to advance so the fake clock stands 1 s past the next whole minute."""
    now = clock_now(s)
    return 60 - (now % 60) + 1


def finish_job(s: Server, ns: str, job_name: str) -> None:
    pod = wait_for(lambda: [p for p in pods(s, ns, f"job-name={job_name}")], what=f"pod of {job_name}")[0]
    set_pod_status(s, ns, pod["metadata"]["name"], "Succeeded")
    wait_for(lambda: any(c["type"] == "Complete" for c in (api_get(
        s, f"/apis/batch/v1/namespaces/{ns}/jobs/{job_name}") or {}).get("status", {}).get("conditions") or []),
        what=f"{job_name} complete")


def test_cronjob_creates_a_job_named_after_the_scheduled_minute(fc: Server, ns: str) -> None:
    api_send(fc, "POST", f"/apis/batch/v1/namespaces/{ns}/cronjobs", cronjob("tick"))
    advance_clock(fc, next_minute_boundary(fc))
    job = wait_for(lambda: jobs(fc, ns), what="a job")[0]
    minute = int(clock_now(fc) // 60)
    assert job["metadata"]["name"] == f"tick-{minute}"
    scheduled = datetime.fromtimestamp(minute * 60, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"] == scheduled
    assert job["metadata"]["labels"]["app"] == "tick"
    ref = job["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["name"], ref["controller"]) == ("CronJob", "tick", True)
    cj = wait_for(lambda: (lambda c: c if c.get("status", {}).get("active") else None)(get_cj(fc, ns, "tick")),
                  what="active")
    assert cj["status"]["lastScheduleTime"] == scheduled
    assert [a["name"] for a in cj["status"]["active"]] == [job["metadata"]["name"]]
    assert ("Normal", "SuccessfulCreate", f"Created job {job['metadata']['name']}") in events(fc, ns, "tick")
    finish_job(fc, ns, job["metadata"]["name"])
    cj = wait_for(lambda: (lambda c: c if c["status"].get("lastSuccessfulTime") else None)(get_cj(fc, ns, "tick")),
                  what="lastSuccessfulTime")
    assert "active" not in cj["status"]
    wait_for(lambda: ("Normal", "SawCompletedJob", f"Saw completed job: {job['metadata']['name']}, condition: Complete")
             in events(fc, ns, "tick"), what="SawCompletedJob")
    out = fc.kubectl("get", "cronjob", "tick", "-n", ns).stdout
    assert "* * * * *" in out and "False" in out


def test_forbid_skips_a_run_while_one_is_active_and_replace_swaps_it(fc: Server, ns: str) -> None:
    api_send(fc, "POST", f"/apis/batch/v1/namespaces/{ns}/cronjobs", cronjob("forbid", concurrencyPolicy="Forbid"))
    advance_clock(fc, next_minute_boundary(fc))
    first = wait_for(lambda: jobs(fc, ns), what="first job")[0]["metadata"]["name"]
    wait_for(lambda: get_cj(fc, ns, "forbid").get("status", {}).get("active"), what="active")
    advance_clock(fc, 60)
    wait_for(lambda: any(e[1] == "JobAlreadyActive" for e in events(fc, ns, "forbid")), what="JobAlreadyActive")
    assert [j["metadata"]["name"] for j in jobs(fc, ns)] == [first]
    api_patch(fc, f"/apis/batch/v1/namespaces/{ns}/cronjobs/forbid", {"spec": {"concurrencyPolicy": "Replace"}})
    advance_clock(fc, 60)
    newer = wait_for(lambda: [j for j in jobs(fc, ns) if j["metadata"]["name"] != first and
                              not j["metadata"].get("deletionTimestamp")], what="replacement")[0]
    wait_for(lambda: ("Normal", "SuccessfulDelete", f"Deleted job {first}") in events(fc, ns, "forbid"),
             what="SuccessfulDelete")
    cj = wait_for(lambda: (lambda c: c if [a["name"] for a in c["status"].get("active") or []] ==
                           [newer["metadata"]["name"]] else None)(get_cj(fc, ns, "forbid")), what="active swapped")
    assert cj["status"]["active"][0]["uid"] == newer["metadata"]["uid"]


def test_successful_jobs_history_limit_deletes_the_oldest(fc: Server, ns: str) -> None:
    api_send(fc, "POST", f"/apis/batch/v1/namespaces/{ns}/cronjobs", cronjob("hist", successfulJobsHistoryLimit=1))
    advance_clock(fc, next_minute_boundary(fc))
    first = wait_for(lambda: jobs(fc, ns), what="job 1")[0]["metadata"]["name"]
    finish_job(fc, ns, first)
    advance_clock(fc, 60)
    second = wait_for(lambda: [j for j in jobs(fc, ns) if j["metadata"]["name"] != first], what="job 2")[0]
    finish_job(fc, ns, second["metadata"]["name"])
    wait_for(lambda: [j["metadata"]["name"] for j in jobs(fc, ns)] == [second["metadata"]["name"]],
             what="first deleted")
    wait_for(lambda: ("Normal", "SuccessfulDelete", f"Deleted job {first}") in events(fc, ns, "hist"),
             what="SuccessfulDelete event")


def test_time_zone_sets_the_schedule_and_the_annotation_offset(fc: Server, ns: str) -> None:
    now = clock_now(fc)
    # the next whole hour in Asia/Kathmandu (UTC+05:45) is at minute 15 of a UTC hour
    schedule = "0 * * * *"
    api_send(fc, "POST", f"/apis/batch/v1/namespaces/{ns}/cronjobs",
             cronjob("tz", schedule, timeZone="Asia/Kathmandu"))
    until = 3600 - ((now + 5 * 3600 + 45 * 60) % 3600) + 1
    advance_clock(fc, until)
    job = wait_for(lambda: jobs(fc, ns), what="job")[0]
    stamp = job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
    assert stamp.endswith(":00:00+05:45"), stamp
    assert datetime.fromisoformat(stamp).timestamp() == int(job["metadata"]["name"].rsplit("-", 1)[1]) * 60


def test_suspended_cronjob_creates_nothing_and_starting_deadline_skips_missed_runs(fc: Server, ns: str) -> None:
    api_send(fc, "POST", f"/apis/batch/v1/namespaces/{ns}/cronjobs",
             cronjob("late", suspend=True, startingDeadlineSeconds=10))
    advance_clock(fc, next_minute_boundary(fc) + 30)
    assert not jobs(fc, ns)
    api_patch(fc, f"/apis/batch/v1/namespaces/{ns}/cronjobs/late", {"spec": {"suspend": False}})
    # the run 31 s ago is past its 10 s starting deadline: nothing starts until the next minute
    wait_for(lambda: get_cj(fc, ns, "late")["metadata"]["generation"] == 2, what="resumed")
    assert not jobs(fc, ns)
    advance_clock(fc, 30)
    wait_for(lambda: jobs(fc, ns), what="the next on-time run")


def test_kubectl_create_job_from_cronjob(fc: Server, ns: str) -> None:
    api_send(fc, "POST", f"/apis/batch/v1/namespaces/{ns}/cronjobs", cronjob("manual", suspend=True))
    out = fc.kubectl("create", "job", "by-hand", "--from=cronjob/manual", "-n", ns).stdout
    assert "job.batch/by-hand created" in out
    job = json.loads(fc.kubectl("get", "job", "by-hand", "-n", ns, "-o", "json").stdout)
    assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    wait_for(lambda: pods(fc, ns, "job-name=by-hand"), what="pod of the manual job")
