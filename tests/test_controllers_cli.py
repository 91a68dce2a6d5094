"""`kubefacade controllers`: the controllers in their own processes, against a server that runs none.

The server is `kubefacade serve --no-controllers --sim-nodes 2 --no-node`; everything that
reconciles comes from `kubefacade controllers --kubeconfig K --only ...` subprocesses, over HTTPS.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import Server, start_server, stop_server
from controller_helpers import api_get, wait_for

Obj = dict[str, Any]


def controllers_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "facade.cli", "controllers", *args]


def start_controllers(server: Server, only: str) -> subprocess.Popen:
    proc = subprocess.Popen(controllers_cmd("--kubeconfig", str(server.kubeconfig), "--only", only,
                                            "--data-dir", str(server.data_dir / "controllers")),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()  # printed once every controller has started
    assert "running against https://127.0.0.1" in line, line + (proc.stderr.read() if proc.poll() is not None
                                                                 and proc.stderr else "")
    return proc


def terminate(proc: subprocess.Popen) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=15)
    return proc.returncode, err


@pytest.fixture(scope="module")
def bare() -> Iterator[Server]:
    s = start_server("--no-controllers", "--sim-nodes", "2", "--no-node")
    yield s
    stop_server(s)


@pytest.fixture(scope="module")
def workloads(bare: Server) -> Iterator[subprocess.Popen]:
    proc = start_controllers(bare, "deployment,replicaset,scheduler")
    yield proc
    proc.kill()
    proc.wait()


@pytest.fixture(scope="module")
def lifecycle(bare: Server) -> Iterator[subprocess.Popen]:
    proc = start_controllers(bare, "namespace,garbagecollector,serviceaccount,root-ca-cert-publisher")
    yield proc
    proc.kill()
    proc.wait()


def new_namespace(server: Server, name: str) -> str:
    server.kubectl("create", "namespace", name)
    return name


def items(server: Server, path: str) -> list[Obj]:
    out = api_get(server, path)
    assert out is not None, path
    return out["items"]


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


def test_canonical_names_are_accepted_too(bare: Server) -> None:
    proc = start_controllers(bare, "deployment-controller,replicaset-controller")
    code, err = terminate(proc)
    assert code == 0, err


def test_missing_kubeconfig_is_an_error(tmp_path: Any) -> None:
    proc = subprocess.run(controllers_cmd("--kubeconfig", str(tmp_path / "nope"), "--only", "job"),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "not found" in proc.stderr


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


def test_no_watch_failures_logged(lifecycle: subprocess.Popen, workloads: subprocess.Popen) -> None:
    """Run after the tests above: neither process logged a failed watch or reconcile."""
    for proc in (lifecycle, workloads):
        code, err = terminate(proc)
        assert code == 0, err
        assert "watch failed" not in err and "Traceback" not in err, err


def test_sigterm_stops_cleanly_with_exit_code_0(bare: Server) -> None:
    proc = start_controllers(bare, "job,serviceaccount")  # pods need the namespace's default ServiceAccount
    ns = new_namespace(bare, "ctl-job")
    bare.kubectl("-n", ns, "create", "job", "runs", "--image=busybox", "--", "true")
    wait_for(lambda: items(bare, f"/api/v1/namespaces/{ns}/pods?labelSelector=job-name%3Druns"), timeout=30,
             what="the Job's pod, from the remote job controller")
    code, err = terminate(proc)
    assert code == 0, err
    assert "Traceback" not in err
