"""The HPA's replica calculator: which pods count, and how unready and missing pods are charged."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from controllers.hpa_calculator import CalcError, raw_resource_replicas, resource_replicas
from controllers.hpa_metrics import MetricError, compute_metric

NOW = 1_800_000_000.0


def ts(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(name: str, phase: str = "Running", ready: bool = True, started: float = NOW - 3600,
        containers: dict[str, str] | None = None) -> dict:
    status: dict = {"phase": phase}
    if phase != "Pending":
        status["startTime"] = ts(started)
        status["conditions"] = [{"type": "Ready", "status": "True" if ready else "False",
                                 "lastTransitionTime": ts(started)}]
    return {"metadata": {"name": name}, "status": status, "spec": {"containers": [
        {"name": c, "resources": {"requests": {"cpu": req}}} for c, req in (containers or {"app": "100m"}).items()]}}


def metric(name: str, at: float = NOW, **usage: str) -> dict:
    return {"metadata": {"name": name}, "timestamp": ts(at), "window": "10s",
            "containers": [{"name": c, "usage": {"cpu": u, "memory": "1Mi"}} for c, u in (usage or {"app": "0"}).items()]}


def test_ready_pods_above_target_scale_by_the_ratio() -> None:
    pods = [pod("a"), pod("b")]
    items = [metric("a", app="100m"), metric("b", app="100m")]
    assert resource_replicas(2, 50, "cpu", "", pods, items, NOW) == (4, 100, 100)


def test_a_pending_pod_counts_as_idle_when_scaling_up() -> None:
    # a alone is at 100 % (2x the target); with b pending counted as 0 % the average is on target
    pods = [pod("a"), pod("b", phase="Pending")]
    assert resource_replicas(2, 50, "cpu", "", pods, [metric("a", app="100m")], NOW) == (2, 100, 100)


def test_a_pod_without_metrics_counts_as_fully_used_when_scaling_down() -> None:
    pods = [pod("a"), pod("b")]
    # a alone (10 %) would ask for 1 pod; b missing is taken as 100 %, so (10 + 100) / 2 = 55 %: within tolerance
    assert resource_replicas(2, 50, "cpu", "", pods, [metric("a", app="10m")], NOW)[0] == 2


def test_a_cpu_sample_from_before_readiness_settled_is_ignored() -> None:
    pods = [pod("a", started=NOW - 20)]  # ready 20 s ago, sample taken 5 s after that
    with pytest.raises(CalcError, match=r"^did not receive metrics for targeted pods \(pods might be unready\)$"):
        resource_replicas(1, 50, "cpu", "", pods, [metric("a", at=NOW - 15, app="100m")], NOW)
    assert resource_replicas(1, 50, "cpu", "", pods, [metric("a", at=NOW, app="100m")], NOW)[0] == 2


def test_memory_average_value_ignores_readiness_timing() -> None:
    pods = [pod("a", started=NOW - 1)]
    items = [{**metric("a"), "containers": [{"name": "app", "usage": {"cpu": "0", "memory": "300Mi"}}]}]
    replicas, usage = raw_resource_replicas(1, 100 * 1024 * 1024 * 1000, "memory", "", pods, items, NOW)
    assert (replicas, usage) == (3, 300 * 1024 * 1024 * 1000)


def test_missing_request_names_the_container_and_pod() -> None:
    bare = {"metadata": {"name": "a"}, "status": pod("a")["status"], "spec": {"containers": [{"name": "app"}]}}
    with pytest.raises(CalcError, match="^missing request for cpu in container app of Pod a$"):
        resource_replicas(1, 50, "cpu", "", [bare], [metric("a", app="100m")], NOW)


def test_container_resource_metric_reads_one_container() -> None:
    pods = [pod("a", containers={"app": "100m", "sidecar": "100m"})]
    spec = {"type": "ContainerResource", "containerResource": {
        "name": "cpu", "container": "app", "target": {"type": "Utilization", "averageUtilization": 50}}}
    replicas, name, status = compute_metric(spec, 1, pods, [metric("a", app="100m", sidecar="0")], NOW)
    assert (replicas, name) == (2, "cpu container resource utilization (percentage of request)")
    assert status == {"type": "ContainerResource", "containerResource": {
        "name": "cpu", "container": "app", "current": {"averageUtilization": 100, "averageValue": "100m"}}}


def test_no_samples_is_the_metrics_api_error() -> None:
    spec = {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}
    with pytest.raises(MetricError) as e:
        compute_metric(spec, 1, [pod("a")], [], NOW)
    assert e.value.reason == "FailedGetResourceMetric"
    assert e.value.detail == ("failed to get cpu utilization: unable to get metrics for resource cpu: "
                              "no metrics returned from resource metrics API")
    assert str(e.value) == f"failed to get cpu resource metric value: {e.value.detail}"
