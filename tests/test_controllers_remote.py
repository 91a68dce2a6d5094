"""`kubefacade controllers` against a server that runs none: namespace lifecycle, service accounts and
the root CA, garbage collection, and the HPA, each from its own process over HTTPS."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest
from conftest import Server
from controller_helpers import api_get, wait_for
from controllers_cli_helpers import (
    LIFECYCLE,
    WORKLOADS,
    Obj,
    bare_server,
    controllers_process,
    items,
    new_namespace,
    start_controllers,
    terminate,
)


@pytest.fixture(scope="module")
def bare() -> Iterator[Server]:
    yield from bare_server()


@pytest.fixture(scope="module")
def workloads(bare: Server) -> Iterator[subprocess.Popen]:
    yield from controllers_process(bare, WORKLOADS)


@pytest.fixture(scope="module")
def lifecycle(bare: Server) -> Iterator[subprocess.Popen]:
    yield from controllers_process(bare, LIFECYCLE)


def test_namespace_deletion_empties_and_removes_it(bare: Server, workloads: subprocess.Popen,
                                                   lifecycle: subprocess.Popen) -> None:
    ns = new_namespace(bare, "ctl-doomed")
    wait_for(lambda: api_get(bare, f"/api/v1/namespaces/{ns}/serviceaccounts/default"), timeout=30,
             what="default ServiceAccount from the remote serviceaccount controller")
    bare.kubectl("-n", ns, "create", "configmap", "c", "--from-literal=a=b")
    bare.kubectl("-n", ns, "create", "deployment", "d", "--image=nginx", "--replicas=2")
    bare.kubectl("-n", ns, "rollout", "status", "deployment/d", "--timeout=60s", timeout=90)
    bare.kubectl("delete", "namespace", ns, "--timeout=60s", timeout=90)
    gone = bare.kubectl("get", "namespace", ns, check=False)
    assert gone.returncode != 0 and f'namespaces "{ns}" not found' in gone.stderr


def held_namespace_conditions_then_release(server: Server, ns: str) -> None:
    """Delete a namespace whose ConfigMap has a finalizer: the conditions say what is left; once the
    finalizer goes, so does the namespace."""
    held = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "held", "finalizers": ["example.com/hold"]}}
    server.kubectl("-n", ns, "create", "-f", "-", input=json.dumps(held))
    server.kubectl("delete", "namespace", ns, "--wait=false")

    def conditions() -> dict[str, Obj] | None:
        got = api_get(server, f"/api/v1/namespaces/{ns}")
        conds = {c["type"]: c for c in ((got or {}).get("status") or {}).get("conditions") or []}
        return conds if conds.get("NamespaceFinalizersRemaining", {}).get("status") == "True" else None

    conds = wait_for(conditions, timeout=30, what="NamespaceFinalizersRemaining")
    assert conds["NamespaceFinalizersRemaining"]["message"] == \
        "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"
    assert conds["NamespaceContentRemaining"]["message"] == \
        "Some resources are remaining: configmaps has 1 resource instances"
    assert server.kubectl("get", "namespace", ns, "--no-headers").stdout.split()[1] == "Terminating"
    server.kubectl("-n", ns, "patch", "configmap", "held", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    wait_for(lambda: api_get(server, f"/api/v1/namespaces/{ns}") is None, timeout=30, what="namespace gone")


def test_namespace_conditions_and_finalize_remotely(bare: Server, lifecycle: subprocess.Popen) -> None:
    held_namespace_conditions_then_release(bare, new_namespace(bare, "ctl-held"))


def test_namespace_conditions_and_finalize_in_process(server: Server) -> None:
    """The same behaviour from the controller `kubefacade serve` runs in-process."""
    held_namespace_conditions_then_release(server, new_namespace(server, "ctl-held-in-process"))


def test_service_account_and_root_ca_published_remotely(bare: Server, lifecycle: subprocess.Popen) -> None:
    ns = new_namespace(bare, "ctl-sa")
    cm = wait_for(lambda: api_get(bare, f"/api/v1/namespaces/{ns}/configmaps/kube-root-ca.crt"), timeout=30,
                  what="kube-root-ca.crt")
    assert cm["data"]["ca.crt"] == bare.ca.read_text()
    assert wait_for(lambda: api_get(bare, f"/api/v1/namespaces/{ns}/serviceaccounts/default"), timeout=30,
                    what="default ServiceAccount")
    bare.kubectl("-n", ns, "delete", "configmap", "kube-root-ca.crt")
    wait_for(lambda: api_get(bare, f"/api/v1/namespaces/{ns}/configmaps/kube-root-ca.crt"), timeout=30,
             what="kube-root-ca.crt recreated")


def test_garbage_collector_deletes_dependents_remotely(bare: Server, workloads: subprocess.Popen,
                                                       lifecycle: subprocess.Popen) -> None:
    ns = new_namespace(bare, "ctl-gc")
    bare.kubectl("-n", ns, "create", "deployment", "web", "--image=nginx", "--replicas=2")
    bare.kubectl("-n", ns, "rollout", "status", "deployment/web", "--timeout=60s", timeout=90)
    bare.kubectl("-n", ns, "delete", "deployment", "web")  # background propagation: the collector's job
    wait_for(lambda: items(bare, f"/apis/apps/v1/namespaces/{ns}/replicasets") == [], timeout=30,
             what="ReplicaSet collected")
    wait_for(lambda: items(bare, f"/api/v1/namespaces/{ns}/pods") == [], timeout=30, what="pods collected")
    # A dependent larger than a watch line reader's usual limit still reaches the collector.
    owner = json.loads(bare.kubectl("-n", ns, "create", "configmap", "owner", "-o", "json").stdout)
    big = {"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "big", "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner",
                                                           "uid": owner["metadata"]["uid"]}]},
           "data": {"blob": "x" * 900_000}}
    bare.kubectl("-n", ns, "create", "-f", "-", input=json.dumps(big))
    bare.kubectl("-n", ns, "delete", "configmap", "owner")
    wait_for(lambda: api_get(bare, f"/api/v1/namespaces/{ns}/configmaps/big") is None, timeout=30,
             what="big dependent collected")


def test_foreground_deletion_waits_for_dependents(bare: Server, workloads: subprocess.Popen,
                                                  lifecycle: subprocess.Popen) -> None:
    ns = new_namespace(bare, "ctl-fg")
    bare.kubectl("-n", ns, "create", "deployment", "web", "--image=nginx", "--replicas=2")
    bare.kubectl("-n", ns, "rollout", "status", "deployment/web", "--timeout=60s", timeout=90)
    bare.kubectl("-n", ns, "delete", "deployment", "web", "--cascade=foreground", "--timeout=60s", timeout=90)
    assert items(bare, f"/apis/apps/v1/namespaces/{ns}/replicasets") == []
    assert items(bare, f"/api/v1/namespaces/{ns}/pods") == []


def test_horizontal_pod_autoscaler_scales_through_the_metrics_api(bare: Server, workloads: subprocess.Popen,
                                                                  lifecycle: subprocess.Popen) -> None:
    """The remote HPA reads metrics.k8s.io and the scale subresource over HTTP (every 15 s of real time)."""
    hpa_proc = start_controllers(bare, "horizontalpodautoscaling")
    try:
        ns = new_namespace(bare, "ctl-hpa")
        wait_for(lambda: api_get(bare, f"/api/v1/namespaces/{ns}/serviceaccounts/default"), timeout=30,
                 what="default ServiceAccount")
        web = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
               "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}}, "template": {
                   "metadata": {"labels": {"app": "web"}, "annotations": {"kubefacade.io/sim-cpu": "400m"}},
                   "spec": {"containers": [{"name": "c", "image": "nginx",
                                            "resources": {"requests": {"cpu": "100m"}}}]}}}}
        bare.kubectl("-n", ns, "create", "-f", "-", input=json.dumps(web))
        bare.kubectl("-n", ns, "autoscale", "deployment", "web", "--cpu-percent=50", "--min=1", "--max=3")
        wait_for(lambda: (api_get(bare, f"/apis/apps/v1/namespaces/{ns}/deployments/web") or {})
                 .get("spec", {}).get("replicas") == 3, timeout=60, what="scaled to maxReplicas")
        hpa = api_get(bare, f"/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers/web")
        assert hpa is not None
        conds = {c["type"]: c for c in hpa["status"]["conditions"]}
        assert conds["ScalingLimited"]["reason"] == "TooManyReplicas"
        assert hpa["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"] == 400
    finally:
        code, err = terminate(hpa_proc)
    assert code == 0, err
    assert "Traceback" not in err, err


def test_endpointslice_alone_writes_slices_but_no_endpoints(bare: Server, workloads: subprocess.Popen,
                                                             lifecycle: subprocess.Popen) -> None:
    """kube-controller-manager's endpoint and endpointslice controllers are one controller here, built
    with only the part whose name was picked."""
    slices_proc = start_controllers(bare, "endpointslice")
    try:
        ns = new_namespace(bare, "ctl-slices")
        wait_for(lambda: api_get(bare, f"/api/v1/namespaces/{ns}/serviceaccounts/default"), timeout=30,
                 what="default ServiceAccount")
        bare.kubectl("-n", ns, "create", "deployment", "web", "--image=nginx", "--replicas=2", "--port=80")
        bare.kubectl("-n", ns, "expose", "deployment", "web", "--port=80")
        bare.kubectl("-n", ns, "rollout", "status", "deployment/web", "--timeout=60s", timeout=90)

        def ready_endpoints() -> list[Obj]:
            slices = items(bare, f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices")
            eps = [e for s in slices for e in s.get("endpoints") or [] if (e.get("conditions") or {}).get("ready")]
            return eps if len(eps) == 2 else []

        assert {e["targetRef"]["kind"] for e in wait_for(ready_endpoints, timeout=30, what="2 ready slice endpoints")} \
            == {"Pod"}
        assert api_get(bare, f"/api/v1/namespaces/{ns}/endpoints/web") is None
    finally:
        code, err = terminate(slices_proc)
    assert code == 0, err


def test_no_watch_failures_logged(lifecycle: subprocess.Popen, workloads: subprocess.Popen) -> None:
    """Run after the tests above: neither process logged a failed watch or reconcile."""
    for proc in (lifecycle, workloads):
        code, err = terminate(proc)
        assert code == 0, err
        assert "watch failed" not in err and "Traceback" not in err, err
