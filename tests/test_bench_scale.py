"""`kubefacade bench scale`: each scenario runs at a tiny size and reports what it promises.

No timing is asserted (speed is what the command measures, not what tests check): the tests pin
down that each scenario reaches its condition on a server of its own or on a given kubeconfig,
that the report carries the server's figures, that the namespace is removed afterwards and that a
condition never reached is an error.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from conftest import start_server, stop_server

from conformance import bench
from conformance.procstat import peak_rss_bytes
from conformance.scalebench import rollout_complete


def run_scale(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert bench.main(["scale", *args, "--json", "--poll", "0.1"]) == 0
    return json.loads(capsys.readouterr().out)


def test_deployments_scenario_reaches_available_and_reports_server_figures(capsys):
    report = run_scale(capsys, "deployments", "--count", "3", "--replicas", "4", "--sim-nodes", "3")
    assert report["scenario"] == "deployments"
    assert (report["count"], report["replicas"], report["sim_nodes"], report["nodes_ready"]) == (3, 4, 3, 3)
    assert report["command"][-4:] == ["serve", "--sim-nodes", "3", "--no-node"]
    assert report["elapsed_s"] > 0
    assert report["server_cpu_s"] > 0
    assert report["server_peak_rss_mib"] > 10


def test_rollout_scenario_times_the_image_change_after_the_first_rollout(capsys):
    report = run_scale(capsys, "rollout", "--replicas", "20", "--sim-nodes", "3")
    assert report["replicas"] == 20
    assert report["setup"]["elapsed_s"] > 0
    assert report["elapsed_s"] > 0
    assert report["polls"] >= 1


def test_sim_scenario_counts_every_pod_running(capsys):
    report = run_scale(capsys, "sim", "--nodes", "5", "--pods", "50", "--replicas", "20")
    assert (report["nodes"], report["pods"], report["nodes_ready"]) == (5, 50, 5)
    assert (report["deployments"], report["replicas"]) == (3, 20)  # 20 + 20 + 10 pods
    assert report["elapsed_s"] > 0


@pytest.fixture
def sim_server():
    server = start_server("--no-node", "--sim-nodes", "2")
    yield server
    stop_server(server)


def test_against_a_kubeconfig_the_scenario_runs_there_and_cleans_up(sim_server, capsys):
    report = run_scale(capsys, "deployments", "--count", "2", "--replicas", "3",
                       "--kubeconfig", str(sim_server.kubeconfig))
    assert "command" not in report  # no server of its own
    assert report["server_pids"] == [sim_server.process.pid]
    assert report["server_cpu_s"] >= 0
    code, _, body = sim_server.request("GET", f"/api/v1/namespaces/{report['namespace']}")
    assert code == 404 or json.loads(body)["status"]["phase"] == "Terminating"


def test_a_condition_never_reached_is_an_error(capsys):
    server = start_server("--no-node", "--no-controllers")
    try:
        code = bench.main(["scale", "deployments", "--count", "1", "--replicas", "1", "--timeout", "1",
                           "--poll", "0.1", "--kubeconfig", str(server.kubeconfig)])
    finally:
        stop_server(server)
    assert code == 2
    assert "condition not reached within 1 s" in capsys.readouterr().err


def test_rollout_complete_is_what_kubectl_rollout_status_waits_for():
    done = {"metadata": {"generation": 2}, "spec": {"replicas": 3},
            "status": {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3}}
    assert rollout_complete(done)
    for field, value in (("observedGeneration", 1), ("updatedReplicas", 2), ("replicas", 4),
                         ("availableReplicas", 2)):
        assert not rollout_complete({**done, "status": {**done["status"], field: value}}), field


def test_peak_rss_is_read_from_proc():
    child = subprocess.Popen([sys.executable, "-c", "x = bytearray(64 * 1024 * 1024); input()"],
                             stdin=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while (peak_rss_bytes(child.pid) or 0) < 64 * 1024 * 1024 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert peak_rss_bytes(child.pid) >= 64 * 1024 * 1024
    finally:
        child.kill()
        child.wait()
    assert peak_rss_bytes(child.pid) is None
