"""Pods on the process backend: lifecycle, statuses, conditions, env, errors and Events as kubelet reports them."""

from __future__ import annotations

import json
import os
import tempfile
import time

from conftest import Server
from runtime_helpers import (
    busybox,
    condition,
    create,
    cstatus,
    events_for,
    get_pod,
    node_name,
    phase,
    wait_for,
    wait_pod,
)


def test_busybox_pod_runs_with_its_status_and_events(server: Server, namespace: str) -> None:
    # how fast it gets there is `kubefacade bench pods`'s to say (conformance/podbench.py)
    node = node_name(server)
    create(server, namespace, busybox("sleeper", node, "sleep 3600"))
    pod = wait_pod(server, namespace, "sleeper", lambda p: phase(p) == "Running", timeout=20)
    st = cstatus(pod)
    assert st["ready"] is True and st["started"] is True and st["restartCount"] == 0
    assert "running" in st["state"] and st["lastState"] == {}
    assert st["image"] == "docker.io/library/busybox:latest"
    assert st["containerID"].startswith("process://")
    status = pod["status"]
    assert status["podIP"] and status["podIPs"] == [{"ip": status["podIP"]}]
    assert status["hostIP"] and status["startTime"] and status["qosClass"] == "BestEffort"
    types = [c["type"] for c in status["conditions"]]
    assert types == ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
    assert all(c["status"] == "True" for c in status["conditions"])
    reasons = [(e["reason"], e["message"]) for e in events_for(server, namespace, "sleeper")]
    assert ("Pulling", 'Pulling image "busybox"') in reasons  # no tag: imagePullPolicy Always
    assert any(r == "Pulled" and m.startswith('Successfully pulled image "busybox" in ') for r, m in reasons)
    assert ("Created", "Created container: c") in reasons
    assert ("Started", "Started container c") in reasons
    ev = next(e for e in events_for(server, namespace, "sleeper") if e["reason"] == "Started")
    assert ev["involvedObject"]["fieldPath"] == "spec.containers{c}"
    assert ev["source"] == {"component": "kubelet", "host": node}
    out = server.kubectl("get", "pod", "sleeper", "-n", namespace).stdout
    assert "1/1" in out and "Running" in out


def test_a_hundred_pods_created_at_once_all_run(server: Server, namespace: str) -> None:
    # how fast is `kubefacade bench pods` (conformance/podbench.py); this checks that they all get there
    node = node_name(server)
    for i in range(100):
        create(server, namespace, busybox(f"p{i}", node, "sleep 3600"))

    def all_running() -> bool:
        code, _, body = server.request("GET", f"/api/v1/namespaces/{namespace}/pods?fieldSelector=status.phase%3DRunning")
        return len(json.loads(body)["items"]) == 100

    wait_for(all_running, timeout=60, what="100 running pods")
    code, _, body = server.request("GET", f"/api/v1/namespaces/{namespace}/events?fieldSelector=type%3DWarning")
    assert code == 200, body
    # e.g. no FailedCreatePodSandBox: a pipe descriptor closed twice once broke other pods' network setup
    assert [(e["reason"], e["message"]) for e in json.loads(body)["items"]] == []
    server.kubectl("delete", "pods", "--all", "-n", namespace, "--wait=false")


def test_init_containers_run_first_then_containers(server: Server, namespace: str) -> None:
    node = node_name(server)
    pod = busybox("inits", node, "echo main; sleep 3600")
    pod["spec"]["initContainers"] = [
        {"name": "first", "image": "busybox", "command": ["sh", "-c", "sleep 0.5; echo first"]},
        {"name": "second", "image": "busybox", "command": ["sh", "-c", "echo second"]},
    ]
    create(server, namespace, pod)
    p = wait_pod(server, namespace, "inits", lambda p: cstatus(p, "first", True).get("state", {}).get("running"))
    assert phase(p) == "Pending"
    assert cstatus(p, "c")["state"] == {"waiting": {"reason": "PodInitializing"}}
    assert condition(p, "Initialized")["reason"] == "ContainersNotInitialized"
    assert condition(p, "Initialized")["message"] == "containers with incomplete status: [first second]"
    assert "Init:0/2" in server.kubectl("get", "pod", "inits", "-n", namespace).stdout
    p = wait_pod(server, namespace, "inits", lambda p: phase(p) == "Running")
    for name in ("first", "second"):
        term = cstatus(p, name, True)["state"]["terminated"]
        assert (term["exitCode"], term["reason"]) == (0, "Completed")
    assert server.kubectl("logs", "inits", "-n", namespace, "-c", "second").stdout == "second\n"


def test_sidecar_keeps_running_beside_the_containers(server: Server, namespace: str) -> None:
    node = node_name(server)
    pod = busybox("sidecar", node, "sleep 3600")
    pod["spec"]["initContainers"] = [
        {"name": "side", "image": "busybox", "restartPolicy": "Always", "command": ["sh", "-c", "sleep 3600"]}]
    create(server, namespace, pod)
    p = wait_pod(server, namespace, "sidecar", lambda p: condition(p, "Ready").get("status") == "True")
    side = cstatus(p, "side", True)
    assert "running" in side["state"] and side["started"] is True and side["ready"] is True
    assert "2/2" in server.kubectl("get", "pod", "sidecar", "-n", namespace).stdout


def test_never_restarted_failure_fails_the_pod(server: Server, namespace: str) -> None:
    create(server, namespace, busybox("fails", node_name(server), "echo bad; exit 3", restartPolicy="Never"))
    p = wait_pod(server, namespace, "fails", lambda p: phase(p) == "Failed")
    term = cstatus(p)["state"]["terminated"]
    assert (term["exitCode"], term["reason"]) == (3, "Error")
    assert cstatus(p)["restartCount"] == 0
    assert (condition(p, "Ready")["status"], condition(p, "Ready")["reason"]) == ("False", "PodCompleted")
    assert server.kubectl("logs", "fails", "-n", namespace).stdout == "bad\n"


def test_on_failure_success_completes_the_pod(server: Server, namespace: str) -> None:
    create(server, namespace, busybox("done", node_name(server), "exit 0", restartPolicy="OnFailure"))
    p = wait_pod(server, namespace, "done", lambda p: phase(p) == "Succeeded")
    assert cstatus(p)["state"]["terminated"]["reason"] == "Completed"
    assert "Completed" in server.kubectl("get", "pod", "done", "-n", namespace).stdout


def test_crashing_container_restarts_then_backs_off(server: Server, namespace: str) -> None:
    create(server, namespace, busybox("crash", node_name(server), "echo boom; exit 1"))
    p = wait_pod(server, namespace, "crash", lambda p: cstatus(p).get("state", {}).get("waiting", {}).get("reason")
                 == "CrashLoopBackOff")
    st = cstatus(p)
    assert st["restartCount"] == 1
    assert st["state"]["waiting"]["message"] == (
        f"back-off 10s restarting failed container=c pod=crash_{namespace}({p['metadata']['uid']})")
    assert st["lastState"]["terminated"]["exitCode"] == 1
    assert st["lastState"]["terminated"]["reason"] == "Error"
    assert phase(p) == "Running"
    backoff = wait_for(lambda: [e for e in events_for(server, namespace, "crash") if e["reason"] == "BackOff"])
    assert backoff[0]["type"] == "Warning"
    assert backoff[0]["message"] == f"Back-off restarting failed container c in pod crash_{namespace}({p['metadata']['uid']})"
    assert "CrashLoopBackOff" in server.kubectl("get", "pod", "crash", "-n", namespace).stdout
    assert server.kubectl("logs", "crash", "-n", namespace, "--previous").stdout == "boom\n"


def test_env_from_values_refs_and_expansion(server: Server, namespace: str) -> None:
    create(server, namespace, {"metadata": {"name": "cfg"}, "data": {"color": "blue", "size": "L"}}, "configmaps")
    create(server, namespace, {"metadata": {"name": "sec"}, "stringData": {"token": "s3cret"}}, "secrets")
    pod = busybox("env", node_name(server), "echo $A $B $COLOR $TOKEN $NAME $NS $MEM $CFG_size; sleep 3600")
    pod["spec"]["containers"][0].update({
        "resources": {"limits": {"memory": "64Mi"}},
        "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"}],
        "env": [
            {"name": "A", "value": "a"},
            {"name": "B", "value": "$(A)-b-$$(A)-$(UNKNOWN)"},
            {"name": "COLOR", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "color"}}},
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "token"}}},
            {"name": "NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
        ],
    })
    create(server, namespace, pod)
    wait_pod(server, namespace, "env", lambda p: phase(p) == "Running")
    out = wait_for(lambda: server.kubectl("logs", "env", "-n", namespace).stdout)
    assert out == f"a a-b-$(A)-$(UNKNOWN) blue s3cret env {namespace} 64 L\n"


def test_missing_config_map_is_a_create_container_config_error(server: Server, namespace: str) -> None:
    pod = busybox("noconf", node_name(server), "echo $X; sleep 3600")
    pod["spec"]["containers"][0]["env"] = [
        {"name": "X", "valueFrom": {"configMapKeyRef": {"name": "later", "key": "x"}}}]
    create(server, namespace, pod)
    p = wait_pod(server, namespace, "noconf", lambda p: cstatus(p).get("state", {}).get("waiting", {}).get("reason")
                 == "CreateContainerConfigError")
    assert cstatus(p)["state"]["waiting"]["message"] == 'configmap "later" not found'
    assert phase(p) == "Pending"
    failed = wait_for(lambda: [e for e in events_for(server, namespace, "noconf") if e["reason"] == "Failed"])
    assert failed[0]["message"] == 'Error: configmap "later" not found' and failed[0]["type"] == "Warning"
    assert "CreateContainerConfigError" in server.kubectl("get", "pod", "noconf", "-n", namespace).stdout
    create(server, namespace, {"metadata": {"name": "later"}, "data": {"y": "1"}}, "configmaps")
    p = wait_pod(server, namespace, "noconf", lambda p: "couldn't find key" in json.dumps(cstatus(p)))
    assert cstatus(p)["state"]["waiting"]["message"] == f"couldn't find key x in ConfigMap {namespace}/later"
    server.request("PATCH", f"/api/v1/namespaces/{namespace}/configmaps/later", b'{"data":{"x":"ok"}}',
                   {"Content-Type": "application/merge-patch+json"})
    wait_pod(server, namespace, "noconf", lambda p: phase(p) == "Running", timeout=10)


def test_image_without_known_entrypoint_never_runs(server: Server, namespace: str) -> None:
    pod = {"metadata": {"name": "mystery"}, "spec": {"nodeName": node_name(server), "containers": [
        {"name": "c", "image": "example.com/some/app:1.0"}]}}
    create(server, namespace, pod)
    p = wait_pod(server, namespace, "mystery", lambda p: cstatus(p).get("state", {}).get("waiting", {}).get("reason")
                 == "CreateContainerError")
    assert "give the container a command" in cstatus(p)["state"]["waiting"]["message"]
    assert phase(p) == "Pending" and cstatus(p)["ready"] is False
    events = events_for(server, namespace, "mystery")
    assert any(e["reason"] == "Failed" and e["type"] == "Warning" for e in events)


def test_missing_executable_is_a_start_error(server: Server, namespace: str) -> None:
    pod = {"metadata": {"name": "noexe"}, "spec": {"nodeName": node_name(server), "restartPolicy": "Never",
                                                   "containers": [{"name": "c", "image": "busybox",
                                                                   "command": ["no-such-binary-xyz"]}]}}
    create(server, namespace, pod)
    p = wait_pod(server, namespace, "noexe", lambda p: phase(p) == "Failed")
    term = cstatus(p)["state"]["terminated"]
    assert (term["reason"], term["exitCode"]) == ("StartError", 128)
    assert 'exec: "no-such-binary-xyz": executable file not found in $PATH' in term["message"]


def test_readiness_and_liveness_probes(server: Server, namespace: str) -> None:
    marker = os.path.join(tempfile.mkdtemp(), "ready")
    pod = busybox("probed", node_name(server), "sleep 3600")
    pod["spec"]["containers"][0]["readinessProbe"] = {"exec": {"command": ["test", "-f", marker]},
                                                       "periodSeconds": 1}
    create(server, namespace, pod)
    p = wait_pod(server, namespace, "probed", lambda p: phase(p) == "Running")
    assert cstatus(p)["ready"] is False
    assert condition(p, "Ready")["message"] == "containers with unready status: [c]"
    open(marker, "w").close()
    wait_pod(server, namespace, "probed", lambda p: condition(p, "Ready").get("status") == "True", timeout=5)
    wait_for(lambda: [e for e in events_for(server, namespace, "probed") if e["reason"] == "Unhealthy"
                      and e["message"].startswith("Readiness probe failed")])

    live = busybox("live", node_name(server), "sleep 3600")
    live["spec"]["containers"][0]["livenessProbe"] = {"exec": {"command": ["false"]}, "periodSeconds": 1,
                                                      "failureThreshold": 1}
    create(server, namespace, live)
    wait_pod(server, namespace, "live", lambda p: cstatus(p).get("restartCount", 0) >= 1, timeout=8)
    killing = [e["message"] for e in events_for(server, namespace, "live") if e["reason"] == "Killing"]
    assert "Container c failed liveness probe, will be restarted" in killing


def test_http_and_tcp_probes(server: Server, namespace: str) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        port = s.getsockname()[1]
    pod = {"metadata": {"name": "web"}, "spec": {"nodeName": node_name(server), "terminationGracePeriodSeconds": 1,
                                                 "containers": [{
        "name": "c", "image": "python", "command": ["python3", "-m", "http.server", str(port)],
        "ports": [{"name": "http", "containerPort": port}],
        "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 1},
        "livenessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 1, "initialDelaySeconds": 1},
    }]}}
    create(server, namespace, pod)
    p = wait_pod(server, namespace, "web", lambda p: condition(p, "Ready").get("status") == "True", timeout=10)
    assert cstatus(p)["restartCount"] == 0


def test_deleted_pod_stays_until_its_containers_stop(server: Server, namespace: str) -> None:
    pod = busybox("stubborn", node_name(server), "trap '' TERM; sleep 3600", terminationGracePeriodSeconds=2)
    create(server, namespace, pod)
    wait_pod(server, namespace, "stubborn", lambda p: phase(p) == "Running")
    t0 = time.monotonic()
    server.kubectl("delete", "pod", "stubborn", "-n", namespace, "--wait=false")
    p = get_pod(server, namespace, "stubborn")
    assert p is not None and p["metadata"]["deletionTimestamp"]
    wait_for(lambda: get_pod(server, namespace, "stubborn") is None, timeout=8, what="pod removal")
    assert time.monotonic() - t0 >= 1.5  # SIGTERM ignored: removed only after the SIGKILL at the grace period
    killing = [e["message"] for e in events_for(server, namespace, "stubborn") if e["reason"] == "Killing"]
    assert killing == ["Stopping container c"]


def test_volumes_are_materialized_for_the_containers(server: Server, namespace: str) -> None:
    create(server, namespace, {"metadata": {"name": "files"}, "data": {"greeting": "hi"}}, "configmaps")
    pod = busybox("vols", node_name(server), "cat volumes/cfg/greeting; echo; cat volumes/info/name; echo; sleep 3600")
    pod["spec"]["volumes"] = [
        {"name": "cfg", "configMap": {"name": "files"}},
        {"name": "info", "downwardAPI": {"items": [{"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]}},
        {"name": "scratch", "emptyDir": {}},
    ]
    create(server, namespace, pod)
    wait_pod(server, namespace, "vols", lambda p: phase(p) == "Running")

    def logs() -> str:
        out = server.kubectl("logs", "vols", "-n", namespace).stdout
        return out if out.count("\n") >= 2 else ""

    assert wait_for(logs) == "hi\nvols\n"


def test_missing_volume_source_waits_in_container_creating(server: Server, namespace: str) -> None:
    pod = busybox("nomount", node_name(server), "sleep 3600")
    pod["spec"]["volumes"] = [{"name": "cfg", "configMap": {"name": "absent"}}]
    create(server, namespace, pod)
    ev = wait_for(lambda: [e for e in events_for(server, namespace, "nomount") if e["reason"] == "FailedMount"])
    assert ev[0]["message"] == 'MountVolume.SetUp failed for volume "cfg" : configmap "absent" not found'
    p = get_pod(server, namespace, "nomount")
    assert phase(p) == "Pending"
    assert "ContainerCreating" in server.kubectl("get", "pod", "nomount", "-n", namespace).stdout
