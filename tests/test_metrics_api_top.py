"""metrics.k8s.io served from simulated nodes' usage: discovery, GET/LIST, kubectl top."""

import json
import time
from collections.abc import Iterator

import pytest

from tests.conftest import Server, start_server, stop_server

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {
    "name": "busy", "namespace": "default", "labels": {"app": "busy"},
    "annotations": {"kubefacade.io/sim-cpu": "250m", "kubefacade.io/sim-memory": "64Mi"}},
    "spec": {"containers": [{"name": "app", "image": "busybox"}]}}


@pytest.fixture(scope="module")
def sim() -> Iterator[Server]:
    s = start_server("--no-node", "--sim-nodes", "1")
    yield s
    stop_server(s)


def _running_pod(sim: Server) -> None:
    status, _, body = sim.request("POST", "/api/v1/namespaces/default/pods", json.dumps(POD).encode())
    assert status == 201, body
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        status, _, body = sim.request("GET", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/busy")
        if status == 200:
            return
        time.sleep(0.1)
    raise AssertionError(f"no pod metrics: {status} {body!r}")


def test_pod_and_node_metrics_and_kubectl_top(sim: Server) -> None:
    _running_pod(sim)
    status, _, body = sim.request("GET", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/busy")
    got = json.loads(body)
    assert got["kind"] == "PodMetrics"
    assert got["containers"] == [{"name": "app", "usage": {"cpu": "250000000n", "memory": "64Mi"}}]
    listed = json.loads(sim.request("GET", "/apis/metrics.k8s.io/v1beta1/pods?labelSelector=app%3Dbusy")[2])
    assert listed["kind"] == "PodMetricsList" and [i["metadata"]["name"] for i in listed["items"]] == ["busy"]
    nodes = json.loads(sim.request("GET", "/apis/metrics.k8s.io/v1beta1/nodes")[2])
    assert nodes["kind"] == "NodeMetricsList" and nodes["items"][0]["usage"]["cpu"] == "250000000n"

    out = sim.kubectl("top", "pod", "-n", "default")
    lines = out.stdout.splitlines() if hasattr(out, "stdout") else str(out).splitlines()
    assert lines[0].split() == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
    assert lines[1].split() == ["busy", "250m", "64Mi"]
    out = sim.kubectl("top", "node")
    text = out.stdout if hasattr(out, "stdout") else str(out)
    assert "250m" in text and "CPU(cores)" in text


def test_missing_pod_metrics_is_not_found(sim: Server) -> None:
    status, _, body = sim.request("GET", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/nope")
    assert status == 404
    assert json.loads(body)["message"] == 'pods.metrics.k8s.io "nope" not found'


def test_discovery_lists_metrics_group(sim: Server) -> None:
    status, _, body = sim.request("GET", "/apis/metrics.k8s.io/v1beta1")
    assert status == 200
    names = {r["name"]: r["verbs"] for r in json.loads(body)["resources"]}
    assert names == {"pods": ["get", "list"], "nodes": ["get", "list"]}
