"""The HorizontalPodAutoscaler controller on the fake clock, driven by simulated pods' usage.

Pods on a simulated node report the usage their ``kubefacade.io/sim-cpu`` / ``sim-memory``
annotations name (runtime/metrics_store.py); ``kubectl annotate pods`` changes it. Each HPA is
synced every 15 s of the controllers' clock, so one ``advance_clock(15)`` is one sync.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from conftest import Server, start_server, stop_server
from controller_helpers import advance_clock, api_get, api_send, events, pods, wait_default_sa, wait_for

SYNC = 15


@pytest.fixture(scope="module")
def sim() -> Iterator[Server]:
    s = start_server("--fake-clock", "--no-node", "--sim-nodes", "1")
    yield s
    stop_server(s)


@pytest.fixture
def ns(sim: Server, request: pytest.FixtureRequest) -> str:
    name = "hpa-" + request.node.name.lower().replace("_", "-")[5:40].strip("-")
    api_send(sim, "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    wait_default_sa(sim, name)
    return name


def deployment(name: str, replicas: int = 1, cpu: str | None = "100m", sim_cpu: str = "100m",
               sim_memory: str = "4Mi") -> dict:
    resources = {"requests": {"cpu": cpu}} if cpu else {}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": {
        "replicas": replicas, "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}, "annotations": {
            "kubefacade.io/sim-cpu": sim_cpu, "kubefacade.io/sim-memory": sim_memory}},
            "spec": {"containers": [{"name": "app", "image": "busybox", "resources": resources}]}}}}


def create_deployment(s: Server, ns: str, dep: dict) -> None:
    api_send(s, "POST", f"/apis/apps/v1/namespaces/{ns}/deployments", dep)
    wait_ready(s, ns, dep["metadata"]["name"], dep["spec"]["replicas"])


def ready_pods(s: Server, ns: str, app: str) -> list[dict]:
    return [p for p in pods(s, ns, f"app={app}") if not p["metadata"].get("deletionTimestamp")
            and any(c["type"] == "Ready" and c["status"] == "True" for c in p.get("status", {}).get("conditions", []))]


def wait_ready(s: Server, ns: str, app: str, n: int) -> None:
    wait_for(lambda: len(ready_pods(s, ns, app)) == n and len(pods(s, ns, f"app={app}")) == n,
             timeout=20, what=f"{n} ready pods of {app}")


def hpa(s: Server, ns: str, name: str) -> dict:
    out = api_get(s, f"/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers/{name}")
    assert out is not None
    return out


def conditions(obj: dict) -> dict[str, tuple[str, str, str]]:
    return {c["type"]: (c["status"], c["reason"], c["message"]) for c in obj.get("status", {}).get("conditions") or []}


def target_replicas(s: Server, ns: str, name: str) -> int:
    out = api_get(s, f"/apis/apps/v1/namespaces/{ns}/deployments/{name}")
    assert out is not None
    return int(out["spec"]["replicas"])


def sync_until(s: Server, what: str, check: object, seconds: float = SYNC) -> object:
    """Advance the clock by one period and wait for the sync's effect."""
    advance_clock(s, seconds)
    return wait_for(check, what=what)  # type: ignore[arg-type]


def describe_rows(text: str, section: str) -> list[list[str]]:
    """Rows of a `kubectl describe` table section (Conditions:, Events:), split on runs of 2+ spaces."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(section))
    rows = []
    for line in lines[start + 3:]:
        if not line.startswith("  "):
            break
        rows.append(re.split(r"\s{2,}", line.strip()))
    return rows


CPU_UP = "cpu resource utilization (percentage of request) above target"


def test_cpu_autoscale_scales_up_then_stops_at_max_replicas(sim: Server, ns: str) -> None:
    create_deployment(sim, ns, deployment("web"))  # each pod uses 100m of a 100m request: 100 %
    sim.kubectl("autoscale", "deployment", "web", "--cpu-percent=50", "--min=1", "--max=5", "-n", ns)

    sync_until(sim, "first rescale", lambda: target_replicas(sim, ns, "web") == 2)
    got = wait_for(lambda: (h := hpa(sim, ns, "web"))["status"].get("desiredReplicas") == 2 and h, what="status")
    st = got["status"]
    assert st["currentReplicas"] == 1 and st["lastScaleTime"]
    assert st["currentMetrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "current": {"averageUtilization": 100, "averageValue": "100m"}}}]
    assert conditions(got) == {
        "AbleToScale": ("True", "SucceededRescale", "the HPA controller was able to update the target scale to 2"),
        "ScalingActive": ("True", "ValidMetricFound",
                          f"the HPA was able to successfully calculate a replica count from {CPU_UP[:-13]}"),
        "ScalingLimited": ("False", "DesiredWithinRange", "the desired count is within the acceptable range"),
    }
    assert ("Normal", "SuccessfulRescale", f"New size: 2; reason: {CPU_UP}") in events(sim, ns, "web")

    wait_ready(sim, ns, "web", 2)
    sync_until(sim, "second rescale", lambda: target_replicas(sim, ns, "web") == 4)
    wait_ready(sim, ns, "web", 4)
    # 4 pods at 100 % want 8; without a behavior the limit is max(2 x 4, 4) = 8, so maxReplicas decides
    sync_until(sim, "rescale to max", lambda: target_replicas(sim, ns, "web") == 5)
    got = wait_for(lambda: conditions(h := hpa(sim, ns, "web"))["ScalingLimited"][0] == "True" and h,
                   what="ScalingLimited")
    assert conditions(got)["ScalingLimited"] == (
        "True", "TooManyReplicas", "the desired replica count is more than the maximum replica count")
    assert got["status"]["desiredReplicas"] == 5 and got["status"]["currentReplicas"] == 4

    table = sim.kubectl("get", "hpa", "web", "-n", ns).stdout.splitlines()
    assert table[0].split() == ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"]
    assert re.split(r"\s{2,}", table[1])[:6] == ["web", "Deployment/web", "cpu: 100%/50%", "1", "5", "4"]

    described = sim.kubectl("describe", "hpa", "web", "-n", ns).stdout
    assert "resource cpu on pods  (as a percentage of request):  100% (100m) / 50%" in described
    assert "Deployment pods:" in described and "4 current / 5 desired" in described
    assert ["ScalingLimited", "True", "TooManyReplicas",
            "the desired replica count is more than the maximum replica count"] in describe_rows(described, "Conditions:")
    rescales = [r for r in describe_rows(described, "Events:") if r[1] == "SuccessfulRescale"]
    assert {(r[0], r[3], r[4]) for r in rescales} == {
        ("Normal", "horizontal-pod-autoscaler", f"New size: {n}; reason: {CPU_UP}") for n in (2, 4, 5)}


def test_scale_down_waits_for_the_stabilization_window(sim: Server, ns: str) -> None:
    create_deployment(sim, ns, deployment("api", replicas=3, sim_cpu="10m"))  # 10 % of request
    sim.kubectl("autoscale", "deployment", "api", "--cpu-percent=50", "--min=1", "--max=5", "-n", ns)

    got = sync_until(sim, "a stabilized recommendation",
                     lambda: (h := hpa(sim, ns, "api"))["status"].get("conditions") and h)
    assert conditions(got)["AbleToScale"] == (
        "True", "ScaleDownStabilized",
        "recent recommendations were higher than current one, applying the highest recent recommendation")
    assert got["status"]["desiredReplicas"] == 3 and target_replicas(sim, ns, "api") == 3

    # half the window later, at 12 %: still held at 3 (the status shows the new utilization)
    sim.kubectl("annotate", "pods", "-l", "app=api", "kubefacade.io/sim-cpu=12m", "--overwrite", "-n", ns)
    sync_until(sim, "the next sync", lambda: hpa(sim, ns, "api")["status"]["currentMetrics"][0]["resource"][
        "current"]["averageUtilization"] == 12, seconds=150)
    assert target_replicas(sim, ns, "api") == 3
    assert conditions(hpa(sim, ns, "api"))["AbleToScale"][1] == "ScaleDownStabilized"

    # once the 5 minutes have passed since the high recommendation, it scales down to the minimum
    sync_until(sim, "scale down", lambda: target_replicas(sim, ns, "api") == 1, seconds=165)
    assert ("Normal", "SuccessfulRescale", "New size: 1; reason: All metrics below target") in events(sim, ns, "api")
    got = wait_for(lambda: (h := hpa(sim, ns, "api"))["status"]["desiredReplicas"] == 1 and h, what="status")
    assert conditions(got)["AbleToScale"][1] == "SucceededRescale"


MEMORY_HPA = """
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: mem
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: mem}
  minReplicas: 1
  maxReplicas: 3
  metrics:
  - type: Resource
    resource: {name: memory, target: {type: AverageValue, averageValue: 100Mi}}
  behavior:
    scaleUp:
      policies: [{type: Pods, value: 1, periodSeconds: 60}]
"""


def test_memory_average_value_with_a_scale_up_policy(sim: Server, ns: str) -> None:
    create_deployment(sim, ns, deployment("mem", cpu=None, sim_memory="200Mi"))
    sim.kubectl("apply", "-n", ns, "-f", "-", input=MEMORY_HPA)

    sync_until(sim, "rescale", lambda: target_replicas(sim, ns, "mem") == 2)
    got = wait_for(lambda: (h := hpa(sim, ns, "mem"))["status"].get("desiredReplicas") == 2 and h, what="status")
    assert got["status"]["currentMetrics"] == [{"type": "Resource", "resource": {
        "name": "memory", "current": {"averageValue": "209715200"}}}]
    assert ("Normal", "SuccessfulRescale", "New size: 2; reason: memory resource above target") in events(sim, ns, "mem")
    row = re.split(r"\s{2,}", sim.kubectl("get", "hpa", "mem", "-n", ns).stdout.splitlines()[1])
    assert row[2] == "memory: 209715200/100Mi"

    # 2 pods at 200Mi want 4, but one pod per minute is the most the policy allows
    wait_ready(sim, ns, "mem", 2)
    got = sync_until(sim, "the rate limit", lambda: conditions(h := hpa(sim, ns, "mem"))["ScalingLimited"][0] == "True"
                     and h)
    assert conditions(got)["ScalingLimited"] == (
        "True", "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate")
    assert target_replicas(sim, ns, "mem") == 2


def test_missing_target_is_failed_get_scale(sim: Server, ns: str) -> None:
    sim.kubectl("create", "-n", ns, "-f", "-", input=MEMORY_HPA.replace("name: mem}", "name: missing}"))
    got = sync_until(sim, "FailedGetScale", lambda: (h := hpa(sim, ns, "mem"))["status"].get("conditions") and h)
    assert conditions(got) == {"AbleToScale": (
        "False", "FailedGetScale",
        'the HPA controller was unable to get the target\'s current scale: deployments.apps "missing" not found')}
    assert ("Warning", "FailedGetScale", 'deployments.apps "missing" not found') in events(sim, ns, "mem")
    described = sim.kubectl("describe", "hpa", "mem", "-n", ns).stdout
    assert ["AbleToScale", "False", "FailedGetScale",
            'the HPA controller was unable to get the target\'s current scale: deployments.apps "missing" not found'
            ] in describe_rows(described, "Conditions:")


def test_pods_without_cpu_requests_fail_the_metric(sim: Server, ns: str) -> None:
    create_deployment(sim, ns, deployment("noreq", cpu=None))
    pod = pods(sim, ns, "app=noreq")[0]["metadata"]["name"]
    sim.kubectl("autoscale", "deployment", "noreq", "--cpu-percent=50", "--max=3", "-n", ns)
    got = sync_until(sim, "ScalingActive", lambda: "ScalingActive" in conditions(h := hpa(sim, ns, "noreq")) and h)
    detail = f"failed to get cpu utilization: missing request for cpu in container app of Pod {pod}"
    assert conditions(got)["ScalingActive"] == (
        "False", "FailedGetResourceMetric", f"the HPA was unable to compute the replica count: {detail}")
    assert got["status"]["currentMetrics"] == [{"type": ""}]
    evs = wait_for(lambda: len(e := events(sim, ns, "noreq")) >= 2 and e, what="events")
    assert ("Warning", "FailedGetResourceMetric", detail) in evs
    assert ("Warning", "FailedComputeMetricsReplicas",
            f"invalid metrics (1 invalid out of 1), first error is: failed to get cpu resource metric value: {detail}"
            ) in evs
    row = re.split(r"\s{2,}", sim.kubectl("get", "hpa", "noreq", "-n", ns).stdout.splitlines()[1])
    assert row[2] == "cpu: <unknown>/50%"
    assert target_replicas(sim, ns, "noreq") == 1


def test_target_at_zero_replicas_disables_scaling(sim: Server, ns: str) -> None:
    create_deployment(sim, ns, deployment("idle", replicas=0))
    sim.kubectl("autoscale", "deployment", "idle", "--cpu-percent=50", "--max=3", "-n", ns)
    got = sync_until(sim, "ScalingActive", lambda: "ScalingActive" in conditions(h := hpa(sim, ns, "idle")) and h)
    assert conditions(got)["ScalingActive"] == (
        "False", "ScalingDisabled", "scaling is disabled since the replica count of the target is zero")
    assert got["status"]["desiredReplicas"] == 0 and target_replicas(sim, ns, "idle") == 0


WORKER_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "workers.hpa.example.com"},
    "spec": {"group": "hpa.example.com", "scope": "Namespaced",
             "names": {"plural": "workers", "singular": "worker", "kind": "Worker"},
             "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                 "type": "object", "properties": {
                     "spec": {"type": "object", "properties": {"replicas": {"type": "integer"}}},
                     "status": {"type": "object", "properties": {"replicas": {"type": "integer"},
                                                                 "selector": {"type": "string"}}}}}},
                 "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                                                          "statusReplicasPath": ".status.replicas",
                                                          "labelSelectorPath": ".status.selector"}}}]}}


def test_a_custom_resource_scales_through_its_scale_subresource(sim: Server, ns: str) -> None:
    api_send(sim, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", WORKER_CRD)
    base = f"/apis/hpa.example.com/v1/namespaces/{ns}/workers"
    wait_for(lambda: sim.request("GET", base)[0] == 200, what="the workers resource")
    api_send(sim, "POST", base, {"apiVersion": "hpa.example.com/v1", "kind": "Worker", "metadata": {"name": "w"},
                                 "spec": {"replicas": 1}})
    worker = api_get(sim, f"{base}/w")
    assert worker is not None
    worker["status"] = {"replicas": 1, "selector": "app=w"}
    api_send(sim, "PUT", f"{base}/w/status", worker)
    pod = deployment("w", cpu=None, sim_memory="200Mi")["spec"]["template"]
    api_send(sim, "POST", f"/api/v1/namespaces/{ns}/pods", {"apiVersion": "v1", "kind": "Pod", **pod,
                                                             "metadata": {**pod["metadata"], "name": "w-0"}})
    wait_ready(sim, ns, "w", 1)
    sim.kubectl("apply", "-n", ns, "-f", "-", input=MEMORY_HPA.replace(
        "{apiVersion: apps/v1, kind: Deployment, name: mem}", "{apiVersion: hpa.example.com/v1, kind: Worker, name: w}"))

    sync_until(sim, "the worker scaled", lambda: (api_get(sim, f"{base}/w") or {})["spec"]["replicas"] == 2)
    assert ("Normal", "SuccessfulRescale", "New size: 2; reason: memory resource above target") in events(sim, ns, "mem")


def test_the_controller_runs_against_a_cluster_over_http() -> None:
    """The same controller as a client of any API server: scale and metrics.k8s.io over HTTPS."""
    import asyncio

    from controllers.clock import FakeClock
    from controllers.hpa import HorizontalController
    from controllers.remote_client import RemoteClient

    s = start_server("--fake-clock", "--no-node", "--sim-nodes", "1")  # its own clock stays put
    try:
        api_send(s, "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "r"}})
        wait_default_sa(s, "r")
        create_deployment(s, "r", deployment("mem", cpu=None, sim_memory="200Mi"))
        s.kubectl("apply", "-n", "r", "-f", "-", input=MEMORY_HPA)

        async def run() -> int:
            client = RemoteClient.from_kubeconfig(s.kubeconfig, field_manager="kube-controller-manager")
            clock = FakeClock()
            controller = HorizontalController(client, clock)
            controller.start()
            try:
                await asyncio.wait_for(controller.synced.wait(), 10)
                clock.advance(SYNC)
                for _ in range(200):
                    replicas = (await client.get("apps/v1", "deployments", "mem", "r"))["spec"]["replicas"]
                    if replicas != 1:
                        return replicas
                    await asyncio.sleep(0.05)
                return replicas
            finally:
                await controller.stop()
                await client.close()

        assert asyncio.run(run()) == 2
        assert ("Normal", "SuccessfulRescale", "New size: 2; reason: memory resource above target") in events(s, "r", "mem")
    finally:
        stop_server(s)
