"""PodMetrics/NodeMetrics rendered from the samples the node agents report."""

from fractions import Fraction

from runtime.metrics_store import SIM_CPU, SIM_MEMORY, MetricsStore, Usage


def _pod(ns: str, name: str, annotations: dict[str, str], containers: list[str]) -> dict:
    return {"metadata": {"namespace": ns, "name": name, "labels": {"app": "web"}, "annotations": annotations},
            "spec": {"containers": [{"name": c} for c in containers]}}


def test_sim_pod_usage_comes_from_annotations() -> None:
    store = MetricsStore()
    store.record_sim_pod(_pod("ns", "web-1", {SIM_CPU: "250m", SIM_MEMORY: "64Mi"}, ["app"]), 1_700_000_000)
    got = store.pod_metrics("ns", "web-1")
    assert got is not None
    assert got["kind"] == "PodMetrics" and got["apiVersion"] == "metrics.k8s.io/v1beta1"
    assert got["containers"] == [{"name": "app", "usage": {"cpu": "250000000n", "memory": "64Mi"}}]
    assert got["timestamp"] == "2023-11-14T22:13:20Z" and got["window"] == "10s"
    assert got["metadata"]["labels"] == {"app": "web"}


def test_sim_usage_is_split_over_containers_and_defaults_when_unset() -> None:
    store = MetricsStore()
    store.record_sim_pod(_pod("ns", "two", {SIM_CPU: "1"}, ["a", "b"]), 0)
    store.record_sim_pod(_pod("ns", "plain", {}, ["c"]), 0)
    cpus = [c["usage"]["cpu"] for c in store.pod_metrics("ns", "two")["containers"]]
    assert cpus == ["500000000n", "500000000n"]
    assert store.pod_metrics("ns", "plain")["containers"][0]["usage"] == {"cpu": "1000000n", "memory": "4Mi"}


def test_list_is_scoped_by_namespace_and_forget_removes() -> None:
    store = MetricsStore()
    store.record_sim_pod(_pod("a", "p1", {}, ["c"]), 0)
    store.record_sim_pod(_pod("b", "p2", {}, ["c"]), 0)
    assert [p["metadata"]["name"] for p in store.list_pod_metrics("a")] == ["p1"]
    assert len(store.list_pod_metrics()) == 2
    store.forget_pod("a", "p1")
    assert store.pod_metrics("a", "p1") is None


def test_node_metrics() -> None:
    store = MetricsStore()
    store.record_node("node-1", Usage(Fraction(3, 2), 2 * 1024 ** 3), 0)
    got = store.node_metrics("node-1")
    assert got["kind"] == "NodeMetrics" and "namespace" not in got["metadata"]
    assert got["usage"] == {"cpu": "1500000000n", "memory": "2Gi"}
    assert store.node_metrics("missing") is None


def test_sim_node_usage_sums_running_pods_and_drops_deleted() -> None:
    store = MetricsStore()
    a = _pod("ns", "a", {SIM_CPU: "100m", SIM_MEMORY: "1Mi"}, ["c"])
    b = _pod("ns", "b", {SIM_CPU: "300m", SIM_MEMORY: "3Mi"}, ["c"])
    for p in (a, b):
        p["spec"]["nodeName"] = "n1"
        p["status"] = {"phase": "Running"}
    store.record_sim_event("MODIFIED", a, 0)
    store.record_sim_event("MODIFIED", b, 0)
    store.record_sim_event("MODIFIED", b, 1)
    assert store.node_metrics("n1")["usage"] == {"cpu": "400000000n", "memory": "4Mi"}
    store.record_sim_event("DELETED", b, 2)
    assert store.node_metrics("n1")["usage"] == {"cpu": "100000000n", "memory": "1Mi"}
    assert store.pod_metrics("ns", "b") is None
