"""The Job controller as a user sees it: pods created, counted, conditions and events, back-off and
deadlines on the fake clock, Indexed completion, podFailurePolicy, suspend and TTL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import Server, start_server, stop_server
from controller_helpers import (
    advance_clock,
    api_get,
    api_patch,
    api_send,
    events,
    pods,
    set_pod_status,
    wait_default_sa,
    wait_for,
)


@pytest.fixture(scope="module")
def fc() -> Iterator[Server]:
    """A server whose controllers run on a fake clock; no node agent, the test plays the kubelet."""
    s = start_server("--fake-clock", "--no-node")
    yield s
    stop_server(s)


@pytest.fixture
def ns(fc: Server, request: pytest.FixtureRequest) -> str:
    name = "job-" + request.node.name.lower().replace("_", "-")[5:40].strip("-")
    api_send(fc, "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    wait_default_sa(fc, name)
    return name


def job(name: str, **spec: object) -> dict:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"template": {"spec": {"restartPolicy": "Never",
                                           "containers": [{"name": "main", "image": "busybox"}]}}, **spec}}


def get_job(s: Server, ns: str, name: str) -> dict:
    out = api_get(s, f"/apis/batch/v1/namespaces/{ns}/jobs/{name}")
    assert out is not None
    return out


def conds(j: dict) -> dict[str, tuple[str, str, str]]:
    return {c["type"]: (c["status"], c.get("reason", ""), c.get("message", "")) for c in j["status"].get("conditions") or []}


def live_pods(s: Server, ns: str, n: int) -> list[dict]:
    return wait_for(lambda: (lambda ps: ps if len(ps) == n else None)(
        [p for p in pods(s, ns) if not p["metadata"].get("deletionTimestamp")
         and p["status"].get("phase") in ("Pending", "Running")]), what=f"{n} live pods")


def test_job_runs_pods_to_completion_with_kubectl_visible_conditions_and_events(fc: Server, ns: str) -> None:
    api_send(fc, "POST", f"/apis/batch/v1/namespaces/{ns}/jobs", job("pi", completions=3, parallelism=2))
    first = live_pods(fc, ns, 2)
    p = first[0]
    assert p["metadata"]["generateName"] == "pi-"
    labels = p["metadata"]["labels"]
    uid = get_job(fc, ns, "pi")["metadata"]["uid"]
    assert labels["job-name"] == labels["batch.kubernetes.io/job-name"] == "pi"
    assert labels["controller-uid"] == labels["batch.kubernetes.io/controller-uid"] == uid
    assert p["metadata"]["finalizers"] == ["batch.kubernetes.io/job-tracking"]
    assert p["metadata"]["ownerReferences"][0] | {} == {"apiVersion": "batch/v1", "kind": "Job", "name": "pi",
                                                         "uid": uid, "controller": True, "blockOwnerDeletion": True}
    wait_for(lambda: get_job(fc, ns, "pi")["status"].get("active") == 2, what="active=2")
    set_pod_status(fc, ns, first[0]["metadata"]["name"], "Running", ready=True)
    wait_for(lambda: get_job(fc, ns, "pi")["status"].get("ready") == 1, what="ready=1")
    for q in first:
        set_pod_status(fc, ns, q["metadata"]["name"], "Succeeded")
    third = live_pods(fc, ns, 1)[0]
    set_pod_status(fc, ns, third["metadata"]["name"], "Succeeded")
    done = wait_for(lambda: (lambda j: j if "Complete" in conds(j) else None)(get_job(fc, ns, "pi")), what="Complete")
    st = done["status"]
    assert st["succeeded"] == 3 and "active" not in st and "failed" not in st
    assert st["uncountedTerminatedPods"] == {}
    assert st["completionTime"] and st["startTime"]
    assert conds(done)["SuccessCriteriaMet"] == ("True", "CompletionsReached", "Reached expected number of succeeded pods")
    assert conds(done)["Complete"] == ("True", "CompletionsReached", "Reached expected number of succeeded pods")
    # finalizers released: nothing keeps the finished pods
    assert all(not q["metadata"].get("finalizers") for q in pods(fc, ns))
    evs = wait_for(lambda: (lambda e: e if ("Normal", "Completed", "Job completed") in e else None)(events(fc, ns, "pi")),
                   what="Completed event")
    assert sum(1 for e in evs if e[1] == "SuccessfulCreate" and e[2].startswith("Created pod: pi-")) == 3
    out = fc.kubectl("get", "job", "pi", "-n", ns).stdout
    assert "Complete" in out and "3/3" in out
    described = fc.kubectl("describe", "job", "pi", "-n", ns).stdout
    assert "job-controller" in described and "Created pod: pi-" in described


def test_job_fails_after_backoff_limit_with_exponential_backoff_on_the_clock(fc: Server, ns: str) -> None:
    api_send(fc, "POST", f"/apis/batch/v1/namespaces/{ns}/jobs", job("flaky", backoffLimit=1))
    p1 = live_pods(fc, ns, 1)[0]
    set_pod_status(fc, ns, p1["metadata"]["name"], "Failed", exit_code=2)
    wait_for(lambda: get_job(fc, ns, "flaky")["status"].get("failed") == 1, what="failed=1")
    # the replacement waits 10 s of back-off on the controllers' clock
    assert not [p for p in pods(fc, ns) if p["status"]["phase"] == "Pending"]
    advance_clock(fc, 11)
    p2 = live_pods(fc, ns, 1)[0]
    set_pod_status(fc, ns, p2["metadata"]["name"], "Failed", exit_code=2)
    failed = wait_for(lambda: (lambda j: j if "Failed" in conds(j) else None)(get_job(fc, ns, "flaky")), what="Failed")
    assert conds(failed)["Failed"] == ("True", "BackoffLimitExceeded", "Job has reached the specified backoff limit")
    assert conds(failed)["FailureTarget"][1] == "BackoffLimitExceeded"
    assert failed["status"]["failed"] == 2 and "completionTime" not in failed["status"]
    wait_for(lambda: ("Warning", "BackoffLimitExceeded", "Job has reached the specified backoff limit")
             in events(fc, ns, "flaky"), what="BackoffLimitExceeded event")


def test_job_past_active_deadline_fails_with_deadline_exceeded(fc: Server, ns: str) -> None:
    api_send(fc, "POST", f"/apis/batch/v1/namespaces/{ns}/jobs", job("slow", activeDeadlineSeconds=30))
    live_pods(fc, ns, 1)
    advance_clock(fc, 31)
    failed = wait_for(lambda: (lambda j: j if "Failed" in conds(j) else None)(get_job(fc, ns, "slow")), what="Failed")
    assert conds(failed)["Failed"] == ("True", "DeadlineExceeded", "Job was active longer than specified deadline")
    wait_for(lambda: not pods(fc, ns), what="active pod removed")


def test_indexed_job_gives_each_pod_its_index_and_reports_completed_indexes(fc: Server, ns: str) -> None:
    api_send(fc, "POST", f"/apis/batch/v1/namespaces/{ns}/jobs",
             job("idx", completions=3, parallelism=3, completionMode="Indexed"))
    ps = live_pods(fc, ns, 3)
    by_index = {p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]: p for p in ps}
    assert sorted(by_index) == ["0", "1", "2"]
    p1 = by_index["1"]
    assert p1["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"] == "1"
    assert p1["metadata"]["generateName"] == "idx-1-"
    assert p1["spec"]["hostname"] == "idx-1"
    env = p1["spec"]["containers"][0]["env"]
    assert {"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
        "apiVersion": "v1", "fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}} in env
    set_pod_status(fc, ns, by_index["0"]["metadata"]["name"], "Succeeded")
    set_pod_status(fc, ns, by_index["2"]["metadata"]["name"], "Succeeded")
    wait_for(lambda: get_job(fc, ns, "idx")["status"].get("completedIndexes") == "0,2", what="completedIndexes 0,2")
    set_pod_status(fc, ns, p1["metadata"]["name"], "Succeeded")
    done = wait_for(lambda: (lambda j: j if "Complete" in conds(j) else None)(get_job(fc, ns, "idx")), what="Complete")
    assert done["status"]["completedIndexes"] == "0-2"


def test_pod_failure_policy_fail_job_rule_fails_the_job_at_once(fc: Server, ns: str) -> None:
    policy = {"rules": [{"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]}}]}
    api_send(fc, "POST", f"/apis/batch/v1/namespaces/{ns}/jobs", job("pfp", backoffLimit=6, podFailurePolicy=policy))
    p = live_pods(fc, ns, 1)[0]
    set_pod_status(fc, ns, p["metadata"]["name"], "Failed", exit_code=42)
    failed = wait_for(lambda: (lambda j: j if "Failed" in conds(j) else None)(get_job(fc, ns, "pfp")), what="Failed")
    assert conds(failed)["Failed"] == (
        "True", "PodFailurePolicy",
        f"Container main for pod {ns}/{p['metadata']['name']} failed with exit code 42 matching FailJob rule at index 0")


def test_suspended_job_deletes_its_pods_and_resuming_starts_them(fc: Server, ns: str) -> None:
    api_send(fc, "POST", f"/apis/batch/v1/namespaces/{ns}/jobs", job("sus", suspend=True))
    j = wait_for(lambda: (lambda j: j if "Suspended" in conds(j) else None)(get_job(fc, ns, "sus")), what="Suspended")
    assert conds(j)["Suspended"] == ("True", "JobSuspended", "Job suspended")
    assert not pods(fc, ns) and "startTime" not in j["status"]
    api_patch(fc, f"/apis/batch/v1/namespaces/{ns}/jobs/sus", {"spec": {"suspend": False}})
    live_pods(fc, ns, 1)
    j = wait_for(lambda: (lambda j: j if conds(j)["Suspended"][0] == "False" else None)(get_job(fc, ns, "sus")),
                 what="resumed")
    assert conds(j)["Suspended"] == ("False", "JobResumed", "Job resumed")
    assert j["status"]["startTime"]
    wait_for(lambda: ("Normal", "Resumed", "Job resumed") in events(fc, ns, "sus"), what="Resumed event")


def test_finished_job_with_ttl_is_deleted_when_the_clock_passes_it(fc: Server, ns: str) -> None:
    api_send(fc, "POST", f"/apis/batch/v1/namespaces/{ns}/jobs", job("ttl", ttlSecondsAfterFinished=100))
    p = live_pods(fc, ns, 1)[0]
    set_pod_status(fc, ns, p["metadata"]["name"], "Succeeded")
    wait_for(lambda: "Complete" in conds(get_job(fc, ns, "ttl")), what="Complete")
    advance_clock(fc, 50)
    assert not get_job(fc, ns, "ttl")["metadata"].get("deletionTimestamp")
    advance_clock(fc, 51)
    wait_for(lambda: (lambda j: j is None or j["metadata"].get("deletionTimestamp"))(
        api_get(fc, f"/apis/batch/v1/namespaces/{ns}/jobs/ttl")), what="job deleted")
