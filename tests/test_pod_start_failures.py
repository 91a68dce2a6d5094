"""Pods that cannot start on an isolated process node, seen as kubelet shows them:

- a sandbox that cannot be created (here: no free address left in the node's pod CIDR) gives a
  Warning ``FailedCreatePodSandBox`` Event, the pod stays Pending with its container waiting
  ``ContainerCreating``, and the sandbox is retried after kubelet's back-off (10-15 s, on the clock);
- a bind mount that fails inside the container's setup is the container failing to start:
  ``StartError`` (exit code 128) with the mount error as its message, ``RunContainerError`` while it
  waits to be restarted, and a Warning ``Failed`` Event — never a container that ran and exited 32.

Needs root on Linux with iproute2 and util-linux; without them these tests skip on a user's machine
and fail in CI (CI=true), as tests/test_runtime_isolation.py does.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Server, start_server, stop_server
from runtime_helpers import (
    advance,
    busybox,
    create,
    cstatus,
    events_for,
    get_pod,
    node_name,
    phase,
    wait_for,
    wait_pod,
)

from runtime.interface import Mount
from runtime.pod_mounts import STARTED, container_binds, mount_script, setup_error

Obj = dict

NODE = "sandbox-failure-node"


def require_isolation(server: Server, node: str) -> None:
    code, _, body = server.request("GET", f"/api/v1/nodes/{node}")
    assert code == 200, body
    annotations = json.loads(body)["metadata"].get("annotations") or {}
    if annotations.get("kubefacade.io/pod-isolation") != "netns":
        why = annotations.get("kubefacade.io/isolation", "the node does not isolate pods")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must run the pod isolation tests: {why}")
        pytest.skip(why)


@pytest.fixture(scope="module")
def tiny() -> Iterator[tuple[Server, str]]:
    """A server on a fake clock whose node has a /30 pod CIDR: room for exactly one pod."""
    cidr = f"10.253.{random.randint(0, 255)}.0/30"
    s = start_server("--fake-clock", "--node-name", NODE, "--pod-cidr", cidr, "--ingress-http-port", "0",
                     "--ingress-https-port", "0")
    try:
        require_isolation(s, NODE)
        yield s, cidr
    finally:
        stop_server(s)


def _ns(server: Server, prefix: str) -> str:
    name = f"{prefix}-{os.urandom(3).hex()}"
    code, _, body = server.request("POST", "/api/v1/namespaces", json.dumps({"metadata": {"name": name}}).encode())
    assert code == 201, body
    return name


def _running(p: Obj) -> bool:
    return phase(p) == "Running" and cstatus(p).get("ready") is True


def test_no_free_pod_ip_is_a_failed_pod_sandbox_retried_after_the_back_off(tiny: tuple[Server, str]) -> None:
    server, cidr = tiny
    ns = _ns(server, "sandbox")
    create(server, ns, busybox("first", NODE, "sleep 3600"))
    first = wait_pod(server, ns, "first", _running, timeout=30)
    assert first["status"]["podIP"] == cidr.rsplit(".", 1)[0] + ".2"  # .1 is the bridge, .3 the broadcast
    second = create(server, ns, busybox("second", NODE, "sleep 3600"))
    uid = second["metadata"]["uid"]
    failed = wait_for(lambda: [e for e in events_for(server, ns, "second") if e["reason"] == "FailedCreatePodSandBox"],
                      what="a FailedCreatePodSandBox event")
    assert failed[0]["type"] == "Warning" and failed[0]["source"]["component"] == "kubelet"
    assert failed[0]["message"] == (f'Failed to create pod sandbox: failed to setup network for sandbox "{uid}": '
                                    f"no free address left in the pod CIDR {cidr}")
    p = wait_pod(server, ns, "second", lambda p: bool(cstatus(p)))
    assert phase(p) == "Pending" and "podIP" not in p["status"]
    assert cstatus(p)["state"] == {"waiting": {"reason": "ContainerCreating"}}
    ready_to_start = next(c for c in p["status"]["conditions"] if c["type"] == "PodReadyToStartContainers")
    assert ready_to_start["status"] == "False"
    assert "ContainerCreating" in server.kubectl("get", "pod", "second", "-n", ns).stdout
    described = server.kubectl("describe", "pod", "second", "-n", ns).stdout
    assert "FailedCreatePodSandBox" in described and "no free address left in the pod CIDR" in described

    server.kubectl("delete", "pod", "first", "-n", ns, "--grace-period=0", "--force")
    first_uid = first["metadata"]["uid"]
    wait_for(lambda: not [n for n in os.listdir("/run/netns") if n.endswith(f"_{first_uid}")],
             what="the first pod's network namespace gone, its address free")
    advance(server, 5)  # still within the back-off: no new attempt yet
    p = get_pod(server, ns, "second") or {}
    assert phase(p) == "Pending" and cstatus(p)["state"] == {"waiting": {"reason": "ContainerCreating"}}
    assert [e["count"] for e in events_for(server, ns, "second") if e["reason"] == "FailedCreatePodSandBox"] == [1]
    advance(server, 11)  # past 15 s, the longest jittered back-off
    p = wait_pod(server, ns, "second", _running, timeout=30)
    assert p["status"]["podIP"] == first["status"]["podIP"]  # the one address, free again


@pytest.fixture
def host_file() -> Iterator[Path]:
    """A regular file on the host, which a directory volume cannot be bind-mounted onto."""
    with tempfile.NamedTemporaryFile(prefix="kubefacade-mount-target-", delete=False) as f:
        path = Path(f.name)
    yield path
    path.unlink(missing_ok=True)


def _mounting_onto(name: str, node: str, target: Path, restart_policy: str) -> Obj:
    pod = busybox(name, node, "echo ran; sleep 3600", restartPolicy=restart_policy,
                  volumes=[{"name": "scratch", "emptyDir": {}}])
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "scratch", "mountPath": str(target)}]
    return pod


@pytest.fixture
def isolated_node(server: Server) -> str:
    """The shared server's process node, which must isolate its pods."""
    node = node_name(server)
    require_isolation(server, node)
    return node


def test_failed_bind_mount_is_a_start_error_with_the_mount_error(server: Server, namespace: str, isolated_node: str,
                                                                  host_file: Path) -> None:
    ns = namespace
    create(server, ns, _mounting_onto("never", isolated_node, host_file, "Never"))
    p = wait_pod(server, ns, "never", lambda p: phase(p) == "Failed", timeout=30)
    term = cstatus(p)["state"]["terminated"]
    assert (term["reason"], term["exitCode"]) == ("StartError", 128)
    assert term["message"].startswith('error mounting "') and f'to rootfs at "{host_file}": ' in term["message"]
    assert "mount" in term["message"].split(": ", 1)[1]  # mount's own complaint follows
    failed = wait_for(lambda: [e for e in events_for(server, ns, "never") if e["reason"] == "Failed"],
                      what="a Failed event")
    assert failed[0]["type"] == "Warning" and failed[0]["message"] == f"Error: {term['message']}"
    assert failed[0]["involvedObject"]["fieldPath"] == "spec.containers{c}"
    assert not [e for e in events_for(server, ns, "never") if e["reason"] == "Started"]
    assert server.kubectl("logs", "never", "-n", ns).stdout == ""  # its program never ran
    assert host_file.is_file() and host_file.read_text() == ""  # the host's file is left as it was


def test_failed_bind_mount_waits_as_run_container_error_then_backs_off(server: Server, namespace: str,
                                                                         isolated_node: str, host_file: Path) -> None:
    ns = namespace
    create(server, ns, _mounting_onto("always", isolated_node, host_file, "Always"))
    p = wait_pod(server, ns, "always", lambda p: cstatus(p).get("lastState", {}).get("terminated") is not None,
                 timeout=30)
    state = cstatus(p)["state"]["waiting"]
    assert state["reason"] in ("RunContainerError", "CrashLoopBackOff")
    if state["reason"] == "RunContainerError":
        assert state["message"].startswith("error mounting ")
    last = cstatus(p)["lastState"]["terminated"]
    assert (last["reason"], last["exitCode"]) == ("StartError", 128) and last["message"].startswith("error mounting ")
    assert cstatus(p)["ready"] is False and cstatus(p)["started"] is False
    wait_pod(server, ns, "always", lambda p: cstatus(p)["state"].get("waiting", {}).get("reason") == "CrashLoopBackOff")
    out = server.kubectl("get", "pod", "always", "-n", ns).stdout
    assert "CrashLoopBackOff" in out or "RunContainerError" in out
    assert "exit code 32" not in json.dumps(get_pod(server, ns, "always"))


def test_setup_reports_the_failed_mount_with_the_tools_complaint(tmp_path: Path) -> None:
    report = 'mount: /x: mount point is not a directory.\nerror mounting "/src" to rootfs at "/x"\n'
    assert setup_error(report) == 'error mounting "/src" to rootfs at "/x": mount: /x: mount point is not a directory.'
    assert setup_error("mkdir: cannot create directory '/proc/x': No such file or directory\n") == (
        "mkdir: cannot create directory '/proc/x': No such file or directory")
    (tmp_path / "vol").mkdir()
    binds = container_binds([Mount("v", tmp_path / "vol", "/data", read_only=True)], {})
    script = mount_script(binds, "", tmp_path / "fifo").splitlines()
    assert script[0] == f"exec 9>&2 2>{tmp_path / 'fifo'}"  # setup errors go to the runtime, not the log
    assert script[-3:] == [f"echo {STARTED} >&2", "exec 2>&9 9>&-", 'exec "$@"']
    assert any(line.startswith("mount -o remount,bind,ro /data || ") for line in script)
