"""`kubefacade controllers`: names, flags, errors, start-up and shutdown, and what runs.

The server is `kubefacade serve --no-controllers --sim-nodes 2 --no-node`; everything that
reconciles comes from `kubefacade controllers --kubeconfig K --only ...` subprocesses, over HTTPS.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import Server, start_server, stop_server
from controller_helpers import api_get, wait_for
from controllers_cli_helpers import (
    WORKLOADS,
    Obj,
    bare_server,
    controllers_cmd,
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


# -- names ---------------------------------------------------------------------------------------

def test_list_prints_kube_controller_manager_names() -> None:
    proc = subprocess.run(controllers_cmd("--list"), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    rows = {line.split()[0]: line for line in proc.stdout.splitlines()}
    for name in ("deployment", "replicaset", "replicationcontroller", "statefulset", "daemonset", "job", "cronjob",
                 "garbagecollector", "namespace", "serviceaccount", "root-ca-cert-publisher", "endpoint",
                 "endpointslice", "endpointslicemirroring", "nodelifecycle", "horizontalpodautoscaling",
                 "resourcequota", "scheduler", "service-lb", "local-path-provisioner"):
        assert name in rows, name
    assert "deployment-controller" in rows["deployment"].split()
    assert "garbage-collector-controller" in rows["garbagecollector"].split()
    assert "[in-process only]" in rows["crd"]
    assert "[in-process only]" not in rows["deployment"]


@pytest.mark.parametrize("flags, message", [
    (("--only", "deployment,nosuch"), '"nosuch" is not in the list of known controllers'),
    (("--exclude", "bogus"), '"bogus" is not in the list of known controllers'),
    (("--only", "crd"), '"crd" cannot run here'),
    (("--only", "ttl-after-finished"), 'runs inside the "job" controller here'),
])
def test_bad_names_are_an_error_with_exit_code_2(flags: tuple[str, ...], message: str) -> None:
    proc = subprocess.run(controllers_cmd(*flags), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_canonical_names_and_kubeconfig_from_the_environment(bare: Server) -> None:
    env = dict(os.environ, KUBECONFIG=str(bare.kubeconfig))
    proc = subprocess.Popen(controllers_cmd("--only", "deployment-controller,replicaset-controller"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
    finally:
        code, err = terminate(proc)
    assert line == f"kubefacade controllers (replicaset, deployment) running against {bare.url}\n"
    assert code == 0, err


def test_missing_kubeconfig_is_an_error(tmp_path: Any) -> None:
    proc = subprocess.run(controllers_cmd("--kubeconfig", str(tmp_path / "nope"), "--only", "job"),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "not found" in proc.stderr


def test_unreachable_server_is_an_error_with_exit_code_1(tmp_path: Any) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "x",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1", "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}]}))
    proc = subprocess.run(controllers_cmd("--kubeconfig", str(kubeconfig), "--only", "namespace"),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "Cannot connect to host 127.0.0.1:1" in proc.stderr
    assert "Traceback" not in proc.stderr and "Unclosed" not in proc.stderr


def test_controllers_flag_takes_kube_controller_manager_form() -> None:
    from controllers.cli import pick

    everything = pick("", "")
    assert pick("", "", "*,-job,-crd") == [n for n in everything if n not in ("job", "crd")]
    assert pick("", "", "deployment,replicaset") == ["replicaset", "deployment"]  # the table's order
    assert pick("", "", "job,-job,*") == everything  # the first entry naming a controller decides
    assert pick("", "", "-job,job,*") == [n for n in everything if n != "job"]
    assert pick("deployment-controller", "") == ["deployment"]
    proc = subprocess.run(controllers_cmd("--controllers", "*", "--only", "job"), capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2 and "--controllers replaces --only and --exclude" in proc.stderr


# -- what runs, and what does not ----------------------------------------------------------------

def test_deployment_gets_replicaset_and_scheduled_ready_pods_but_job_is_left_alone(
        bare: Server, workloads: subprocess.Popen) -> None:
    ns = new_namespace(bare, "ctl-workloads")
    bare.kubectl("-n", ns, "create", "job", "left", "--image=busybox", "--", "true")
    bare.kubectl("-n", ns, "create", "deployment", "web", "--image=nginx", "--replicas=3")
    out = bare.kubectl("-n", ns, "rollout", "status", "deployment/web", "--timeout=60s", timeout=90).stdout
    assert 'deployment "web" successfully rolled out' in out
    rs = items(bare, f"/apis/apps/v1/namespaces/{ns}/replicasets")
    assert len(rs) == 1 and rs[0]["metadata"]["ownerReferences"][0]["name"] == "web"
    assert rs[0]["status"]["readyReplicas"] == 3
    pods = items(bare, f"/api/v1/namespaces/{ns}/pods?labelSelector=app%3Dweb")
    assert len(pods) == 3
    assert {p["spec"]["nodeName"] for p in pods} <= {"sim-node-0", "sim-node-1"}
    assert all(p["status"]["phase"] == "Running" for p in pods)
    # The Job was created first; no job controller runs, so it has no pods and no status.
    assert items(bare, f"/api/v1/namespaces/{ns}/pods?labelSelector=job-name%3Dleft") == []
    job = api_get(bare, f"/apis/batch/v1/namespaces/{ns}/jobs/left")
    assert job is not None and not (job.get("status") or {}).get("startTime")
    # Scaling goes through the remote deployment and replicaset controllers too.
    bare.kubectl("-n", ns, "scale", "deployment/web", "--replicas=1")
    wait_for(lambda: len(items(bare, f"/api/v1/namespaces/{ns}/pods?labelSelector=app%3Dweb")) == 1,
             timeout=30, what="scale down to 1")


def test_sigterm_stops_cleanly_with_exit_code_0(bare: Server) -> None:
    proc = start_controllers(bare, "job,serviceaccount")  # pods need the namespace's default ServiceAccount
    try:
        ns = new_namespace(bare, "ctl-job")
        bare.kubectl("-n", ns, "create", "job", "runs", "--image=busybox", "--", "true")
        wait_for(lambda: items(bare, f"/api/v1/namespaces/{ns}/pods?labelSelector=job-name%3Druns"), timeout=30,
                 what="the Job's pod, from the remote job controller")
    finally:
        code, err = terminate(proc)
    assert code == 0, err
    assert "Traceback" not in err


def test_every_controller_runs_remotely_by_default() -> None:
    """Without --only, every controller that can leave the server runs: a few kinds end to end."""
    server = start_server("--no-controllers", "--sim-nodes", "2", "--no-node")
    proc = subprocess.Popen(controllers_cmd("--kubeconfig", str(server.kubeconfig),
                                            "--data-dir", str(server.data_dir / "controllers")),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "running against" in line and "garbagecollector" in line and "crd" not in line
        ns = new_namespace(server, "everything")
        wait_for(lambda: api_get(server, f"/api/v1/namespaces/{ns}/serviceaccounts/default"), timeout=30,
                 what="default ServiceAccount")
        server.kubectl("-n", ns, "create", "quota", "q", "--hard=pods=10")
        ds = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
              "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": {
                  "metadata": {"labels": {"app": "agent"}},
                  "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]}}}}
        sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
               "spec": {"serviceName": "db", "replicas": 2, "selector": {"matchLabels": {"app": "db"}},
                        "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [
                            {"name": "c", "image": "busybox", "command": ["sleep", "3600"],
                             "ports": [{"containerPort": 5432}]}]}}}}
        svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db"},
               "spec": {"type": "LoadBalancer", "selector": {"app": "db"}, "ports": [{"port": 5432}]}}
        for obj in (ds, sts, svc):
            server.kubectl("-n", ns, "create", "-f", "-", input=json.dumps(obj))
        server.kubectl("-n", ns, "rollout", "status", "daemonset/agent", "--timeout=60s", timeout=90)
        server.kubectl("-n", ns, "rollout", "status", "statefulset/db", "--timeout=60s", timeout=90)
        nodes = {p["spec"]["nodeName"] for p in items(server, f"/api/v1/namespaces/{ns}/pods?labelSelector=app%3Dagent")}
        assert nodes == {"sim-node-0", "sim-node-1"}

        def endpoints() -> list[Obj]:
            ep = api_get(server, f"/api/v1/namespaces/{ns}/endpoints/db") or {}
            return [a for sub in ep.get("subsets") or [] for a in sub.get("addresses") or []]

        assert {a["targetRef"]["name"] for a in wait_for(lambda: len(endpoints()) == 2 and endpoints(), timeout=30,
                                                         what="Endpoints of db")} == {"db-0", "db-1"}
        slices = items(server, f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices")
        assert [s["metadata"]["labels"]["kubernetes.io/service-name"] for s in slices] == ["db"]
        lb = wait_for(lambda: ((api_get(server, f"/api/v1/namespaces/{ns}/services/db") or {}).get("status") or {})
                      .get("loadBalancer", {}).get("ingress"), timeout=30, what="LoadBalancer address")
        assert lb[0]["ip"].startswith("127.0.1.")
        used = wait_for(lambda: ((api_get(server, f"/api/v1/namespaces/{ns}/resourcequotas/q") or {}).get("status")
                                 or {}).get("used", {}).get("pods") == "4", timeout=30, what="quota usage")
        assert used
        code, err = terminate(proc)
        assert code == 0, err
        assert "Traceback" not in err, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        stop_server(server)
