"""Time-based kubelet behaviour on a fake clock: CrashLoopBackOff doubling, grace periods, Lease renewal,
and the simulated (KWOK-like) nodes' stages."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from conftest import Server, start_server, stop_server
from runtime_helpers import advance, busybox, create, cstatus, get_pod, phase, wait_for, wait_pod

NODE = "fake-clock-node"


@pytest.fixture(scope="module")
def fk() -> Iterator[Server]:
    s = start_server("--fake-clock", "--node-name", NODE, "--sim-nodes", "2")
    yield s
    stop_server(s)


@pytest.fixture
def ns(fk: Server, request: pytest.FixtureRequest) -> str:
    name = "fk-" + request.node.name.lower().replace("_", "-")[:40].strip("-")
    code, _, body = fk.request("POST", "/api/v1/namespaces",
                               json.dumps({"metadata": {"name": name}}).encode())
    assert code == 201, body
    return name


def _waiting_reason(p: dict) -> str:
    return cstatus(p).get("state", {}).get("waiting", {}).get("reason", "")


def test_crash_loop_back_off_doubles_on_the_clock(fk: Server, ns: str) -> None:
    create(fk, ns, busybox("loop", NODE, "exit 1"))
    p = wait_pod(fk, ns, "loop", lambda p: _waiting_reason(p) == "CrashLoopBackOff" and cstatus(p)["restartCount"] == 1)
    assert cstatus(p)["state"]["waiting"]["message"].startswith("back-off 10s restarting failed container=c pod=loop_")
    time.sleep(0.3)  # real time passing does not end a back-off on the fake clock
    assert cstatus(get_pod(fk, ns, "loop"))["restartCount"] == 1
    advance(fk, 10)
    p = wait_pod(fk, ns, "loop", lambda p: _waiting_reason(p) == "CrashLoopBackOff" and cstatus(p)["restartCount"] == 2)
    assert cstatus(p)["state"]["waiting"]["message"].startswith("back-off 20s ")
    advance(fk, 20)
    p = wait_pod(fk, ns, "loop", lambda p: _waiting_reason(p) == "CrashLoopBackOff" and cstatus(p)["restartCount"] == 3)
    assert cstatus(p)["state"]["waiting"]["message"].startswith("back-off 40s ")
    out = fk.kubectl("get", "pod", "loop", "-n", ns).stdout
    assert "CrashLoopBackOff" in out and " 3 (" in out


def test_grace_period_ends_on_the_clock(fk: Server, ns: str) -> None:
    create(fk, ns, busybox("slow", NODE, "trap '' TERM; sleep 3600", terminationGracePeriodSeconds=30))
    wait_pod(fk, ns, "slow", lambda p: phase(p) == "Running")
    fk.kubectl("delete", "pod", "slow", "-n", ns, "--wait=false")
    time.sleep(0.5)
    p = get_pod(fk, ns, "slow")
    assert p is not None and p["metadata"]["deletionTimestamp"]
    assert "Terminating" in fk.kubectl("get", "pod", "slow", "-n", ns).stdout
    advance(fk, 30)
    wait_for(lambda: get_pod(fk, ns, "slow") is None, what="pod removal after SIGKILL")


def test_lease_is_renewed_every_ten_seconds(fk: Server) -> None:
    def renew_time() -> str:
        return json.loads(fk.kubectl("get", "lease", NODE, "-n", "kube-node-lease", "-o", "json").stdout)["spec"][
            "renewTime"]

    before = renew_time()
    advance(fk, 10)
    wait_for(lambda: renew_time() != before, what="lease renewal")


def test_simulated_nodes_run_pods_without_processes(fk: Server, ns: str) -> None:
    nodes = json.loads(fk.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    sims = sorted(n["metadata"]["name"] for n in nodes if n["metadata"]["annotations"].get("kubefacade.io/runtime") == "sim")
    assert sims == ["sim-node-0", "sim-node-1"]
    sim = next(n for n in nodes if n["metadata"]["name"] == "sim-node-0")
    assert sim["status"]["nodeInfo"]["containerRuntimeVersion"] == "sim://0.1.0"
    assert next(c for c in sim["status"]["conditions"] if c["type"] == "Ready")["status"] == "True"
    pod = {"metadata": {"name": "web"}, "spec": {"nodeName": "sim-node-0", "containers": [
        {"name": "c", "image": "nginx:1.27"}]}}
    create(fk, ns, pod)
    p = wait_pod(fk, ns, "web", lambda p: phase(p) == "Running")
    assert cstatus(p)["ready"] is True and p["status"]["podIP"].startswith("10.64.0.")
    assert cstatus(p)["containerID"].startswith("sim://")
    out = fk.kubectl("get", "pod", "web", "-n", ns).stdout
    assert "1/1" in out and "Running" in out


def test_simulated_pods_end_by_annotation(fk: Server, ns: str) -> None:
    ok = {"metadata": {"name": "ok", "annotations": {"kubefacade.io/sim-exit-after": "5"}},
          "spec": {"nodeName": "sim-node-1", "restartPolicy": "Never", "containers": [{"name": "c", "image": "app"}]}}
    bad = {"metadata": {"name": "bad", "annotations": {"kubefacade.io/sim-exit-after": "5",
                                                       "kubefacade.io/sim-exit-code": "2"}},
           "spec": {"nodeName": "sim-node-1", "restartPolicy": "Never", "containers": [{"name": "c", "image": "app"}]}}
    create(fk, ns, ok)
    create(fk, ns, bad)
    wait_pod(fk, ns, "ok", lambda p: phase(p) == "Running")
    wait_pod(fk, ns, "bad", lambda p: phase(p) == "Running")
    advance(fk, 5)
    p = wait_pod(fk, ns, "ok", lambda p: phase(p) == "Succeeded")
    assert cstatus(p)["state"]["terminated"]["reason"] == "Completed"
    p = wait_pod(fk, ns, "bad", lambda p: phase(p) == "Failed")
    assert cstatus(p)["state"]["terminated"]["exitCode"] == 2
    assert cstatus(p)["state"]["terminated"]["reason"] == "Error"


def test_simulated_job_pods_succeed_after_their_delay(fk: Server, ns: str) -> None:
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once"},
           "spec": {"template": {"spec": {"nodeName": "sim-node-1", "restartPolicy": "Never",
                                          "containers": [{"name": "c", "image": "app"}]}}}}
    code, _, body = fk.request("POST", f"/apis/batch/v1/namespaces/{ns}/jobs", json.dumps(job).encode())
    assert code == 201, body

    def job_pod() -> dict | None:
        code, _, body = fk.request("GET", f"/api/v1/namespaces/{ns}/pods?labelSelector=job-name%3Donce")
        items = json.loads(body)["items"]
        return items[0] if items and phase(items[0]) == "Running" else None

    pod = wait_for(job_pod, what="the Job's pod running")
    advance(fk, 1)
    wait_pod(fk, ns, pod["metadata"]["name"], lambda p: phase(p) == "Succeeded")
