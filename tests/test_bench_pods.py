"""`kubefacade bench pods`: the report a user gets (single-pod runs, the batch, the bar), run tiny
against a server the bench starts itself. No figure is asserted: speed is what the bench measures,
not what a unit test can pin down.
"""

from __future__ import annotations

import json
import subprocess
import sys

from conformance.podbench import format_pods, pod_manifest, running_and_ready


def run_bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "facade.cli", "bench", "pods", *args],
                          capture_output=True, text=True, timeout=300)


def test_pod_bench_reports_single_pod_runs_and_the_batch() -> None:
    proc = run_bench("--pods", "3", "--runs", "2", "--json")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    report = json.loads(proc.stdout)
    assert report["image"] == "busybox" and report["pod_isolation"] in ("netns", "none")
    single = report["single"]
    assert single["runs"] == 2 and len(single["runs_s"]) == 2 and all(t > 0 for t in single["runs_s"])
    assert single["max_s"] == max(single["runs_s"]) and min(single["runs_s"]) <= single["median_s"] <= single["max_s"]
    batch = report["batch"]
    assert batch["pods"] == 3 and batch["connections"] == 3
    assert 0 < batch["first_running_s"] <= batch["median_running_s"] <= batch["all_running_s"]
    assert batch["all_created_s"] > 0 and batch["server_cpu_s"] >= 0 and batch["server_children_cpu_s"] >= 0
    assert report["server_pids"] and report["namespace"].startswith("kubefacade-bench-")
    assert report["bar"]["batch_met"] is None  # 3 pods say nothing about the 100-pod bar
    assert set(report["bar"]) == {"single_s", "batch_pods", "batch_s", "single_met", "batch_met"}
    text = format_pods(report)
    assert "one pod to Running and ready: median" in text and "3 pods at once (3 connections)" in text
    assert "not measured (needs --pods 100)" in text


def test_pod_bench_without_pod_isolation_says_so() -> None:
    proc = run_bench("--pods", "1", "--runs", "1", "--no-pod-isolation", "--json")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert json.loads(proc.stdout)["pod_isolation"] == "none"


def test_pod_bench_without_a_reachable_cluster_says_why() -> None:
    proc = run_bench("--kubeconfig", "/nonexistent/kubeconfig")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and "/nonexistent/kubeconfig" in proc.stderr
    bad = run_bench("--pods", "0")
    assert bad.returncode == 2 and "--pods and --runs must be at least 1" in bad.stderr


def test_a_pod_counts_as_started_once_running_with_every_container_ready() -> None:
    pod = pod_manifest("p", "busybox")
    assert pod["spec"]["containers"][0]["command"] == ["sleep", "3600"]
    pod["status"] = {"phase": "Pending", "containerStatuses": [{"ready": False}]}
    assert not running_and_ready(pod)
    pod["status"] = {"phase": "Running", "containerStatuses": [{"ready": False}]}
    assert not running_and_ready(pod)
    pod["status"] = {"phase": "Running"}
    assert not running_and_ready(pod)  # no container reported yet
    pod["status"] = {"phase": "Running", "containerStatuses": [{"ready": True}]}
    assert running_and_ready(pod)
