"""Lifecycle hooks, activeDeadlineSeconds and image pull Events, as kubelet shows them (process backend)."""

from __future__ import annotations

import http.server
import json
import tempfile
import threading
import time
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

FK_NODE = "lifecycle-clock-node"


@pytest.fixture(scope="module")
def fk() -> Iterator[Server]:
    s = start_server("--fake-clock", "--node-name", FK_NODE)
    yield s
    stop_server(s)


@pytest.fixture
def fk_ns(fk: Server, request: pytest.FixtureRequest) -> str:
    name = "lc-" + request.node.name.lower().replace("_", "-")[:40].strip("-")
    code, _, body = fk.request("POST", "/api/v1/namespaces", json.dumps({"metadata": {"name": name}}).encode())
    assert code == 201, body
    return name


def _events(server: Server, namespace: str, name: str) -> list[tuple[str, str, str]]:
    return [(e["type"], e["reason"], e["message"]) for e in events_for(server, namespace, name)]


def _waiting(p: dict) -> dict:
    return cstatus(p).get("state", {}).get("waiting") or {}


def test_post_start_holds_the_container_until_it_returns(server: Server, namespace: str) -> None:
    gate = Path(tempfile.mkdtemp()) / "gate"
    pod = busybox("hooked", node_name(server), "sleep 3600")
    pod["spec"]["containers"][0]["lifecycle"] = {
        "postStart": {"exec": {"command": ["sh", "-c", f"while [ ! -f {gate} ]; do sleep 0.05; done"]}}}
    create(server, namespace, pod)
    wait_for(lambda: ("Normal", "Started", "Started container c") in _events(server, namespace, "hooked"),
             what="Started event")
    time.sleep(0.3)
    p = get_pod(server, namespace, "hooked")
    assert p is not None and phase(p) == "Pending"
    assert _waiting(p).get("reason") == "ContainerCreating" and cstatus(p)["ready"] is False
    assert "ContainerCreating" in server.kubectl("get", "pod", "hooked", "-n", namespace).stdout
    gate.touch()
    p = wait_pod(server, namespace, "hooked", lambda p: phase(p) == "Running" and cstatus(p)["ready"])
    assert "running" in cstatus(p)["state"]


def test_failing_post_start_kills_the_container(server: Server, namespace: str, api) -> None:
    from kubernetes import client, watch

    pod = busybox("badhook", node_name(server), "sleep 3600")
    pod["spec"]["containers"][0]["lifecycle"] = {"postStart": {"exec": {"command": ["sh", "-c", "echo nope; exit 3"]}}}
    seen: list[dict] = []
    v1 = client.CoreV1Api(api)
    rv = v1.list_namespaced_pod(namespace).metadata.resource_version

    def collect() -> None:
        w = watch.Watch()
        for ev in w.stream(v1.list_namespaced_pod, namespace, resource_version=rv, timeout_seconds=15):
            statuses = ev["object"].status.container_statuses or []
            seen.extend(s.to_dict() for s in statuses)
            if any(s.state.waiting and s.state.waiting.reason == "CrashLoopBackOff" for s in statuses):
                w.stop()

    t = threading.Thread(target=collect, daemon=True)
    t.start()
    create(server, namespace, pod)
    t.join(20)
    waiting = [s["state"]["waiting"] for s in seen if (s.get("state") or {}).get("waiting")]
    hook_errors = [w for w in waiting if w["reason"] == "PostStartHookError"]
    assert hook_errors, waiting
    uid = get_pod(server, namespace, "badhook")["metadata"]["uid"]
    assert hook_errors[0]["message"] == (
        f'Exec lifecycle hook ([sh -c echo nope; exit 3]) for Container "c" in Pod "badhook_{namespace}({uid})" '
        "failed - error: command 'sh -c echo nope; exit 3' exited with 3: nope\n, message: \"nope\\n\"")
    events = _events(server, namespace, "badhook")
    assert ("Warning", "FailedPostStartHook", "PostStartHook failed") in events
    assert ("Normal", "Killing", "FailedPostStartHook") in events
    p = wait_pod(server, namespace, "badhook", lambda p: _waiting(p).get("reason") == "CrashLoopBackOff")
    assert cstatus(p)["lastState"]["terminated"]["exitCode"] != 0
    assert cstatus(p)["restartCount"] >= 1


def test_failing_post_start_with_restart_never_fails_the_pod(server: Server, namespace: str) -> None:
    pod = busybox("once", node_name(server), "sleep 3600", restartPolicy="Never")
    pod["spec"]["containers"][0]["lifecycle"] = {"postStart": {"exec": {"command": ["false"]}}}
    create(server, namespace, pod)
    p = wait_pod(server, namespace, "once", lambda p: phase(p) == "Failed")
    assert cstatus(p)["state"]["terminated"]["exitCode"] != 0
    assert cstatus(p)["restartCount"] == 0


def test_http_post_start_calls_the_handler(server: Server, namespace: str) -> None:
    calls: list[tuple[str, str]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            calls.append((self.path, self.headers.get("User-Agent", "")))
            self.send_response(500)  # kubelet does not look at the status code of a lifecycle GET
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        pod = busybox("webhook", node_name(server), "sleep 3600")
        pod["spec"]["containers"][0]["lifecycle"] = {"postStart": {"httpGet": {
            "host": "127.0.0.1", "port": httpd.server_address[1], "path": "/started"}}}
        create(server, namespace, pod)
        wait_pod(server, namespace, "webhook", lambda p: phase(p) == "Running")
        assert calls == [("/started", "kube-lifecycle/1.32")]
    finally:
        httpd.shutdown()


def test_pre_stop_runs_before_sigterm(server: Server, namespace: str) -> None:
    log = Path(tempfile.mkdtemp()) / "order"
    pod = busybox("stopper", node_name(server),
                  f"trap 'echo term >> {log}; exit 0' TERM; while true; do sleep 0.05; done",
                  terminationGracePeriodSeconds=10)
    pod["spec"]["containers"][0]["lifecycle"] = {"preStop": {"exec": {"command": ["sh", "-c", f"echo prestop >> {log}"]}}}
    create(server, namespace, pod)
    wait_pod(server, namespace, "stopper", lambda p: phase(p) == "Running")
    server.kubectl("delete", "pod", "stopper", "-n", namespace, "--wait=false")
    wait_for(lambda: get_pod(server, namespace, "stopper") is None, timeout=15, what="pod removal")
    assert log.read_text().split() == ["prestop", "term"]
    assert ("Normal", "Killing", "Stopping container c") in _events(server, namespace, "stopper")


def test_failing_pre_stop_is_an_event(server: Server, namespace: str) -> None:
    pod = busybox("badstop", node_name(server), "sleep 3600", terminationGracePeriodSeconds=5)
    pod["spec"]["containers"][0]["lifecycle"] = {"preStop": {"exec": {"command": ["sh", "-c", "exit 7"]}}}
    create(server, namespace, pod)
    wait_pod(server, namespace, "badstop", lambda p: phase(p) == "Running")
    server.kubectl("delete", "pod", "badstop", "-n", namespace, "--wait=false")
    wait_for(lambda: get_pod(server, namespace, "badstop") is None, timeout=15, what="pod removal")
    assert ("Warning", "FailedPreStopHook", "PreStopHook failed") in _events(server, namespace, "badstop")


def test_pre_stop_sleep_counts_within_the_grace_period(fk: Server, fk_ns: str) -> None:
    log = Path(tempfile.mkdtemp()) / "term"
    pod = busybox("napper", FK_NODE, f"trap 'echo term >> {log}; exit 0' TERM; while true; do sleep 0.05; done",
                  terminationGracePeriodSeconds=30)
    pod["spec"]["containers"][0]["lifecycle"] = {"preStop": {"sleep": {"seconds": 20}}}
    create(fk, fk_ns, pod)
    wait_pod(fk, fk_ns, "napper", lambda p: phase(p) == "Running")
    fk.kubectl("delete", "pod", "napper", "-n", fk_ns, "--wait=false")
    time.sleep(0.5)
    assert not log.exists()  # the preStop sleep runs on the agent's clock, which has not moved
    assert "Terminating" in fk.kubectl("get", "pod", "napper", "-n", fk_ns).stdout
    advance(fk, 20)
    wait_for(lambda: log.exists(), what="SIGTERM after the preStop sleep")
    wait_for(lambda: get_pod(fk, fk_ns, "napper") is None, what="pod removal")


def test_active_deadline_fails_the_pod(fk: Server, fk_ns: str) -> None:
    create(fk, fk_ns, busybox("deadline", FK_NODE, "sleep 3600", activeDeadlineSeconds=30))
    wait_pod(fk, fk_ns, "deadline", lambda p: phase(p) == "Running")
    time.sleep(0.3)
    assert phase(get_pod(fk, fk_ns, "deadline")) == "Running"
    advance(fk, 31)
    p = wait_pod(fk, fk_ns, "deadline", lambda p: phase(p) == "Failed")
    assert p["status"]["reason"] == "DeadlineExceeded"
    assert p["status"]["message"] == "Pod was active on the node longer than the specified deadline"
    assert "terminated" in cstatus(p)["state"]
    assert ("Normal", "DeadlineExceeded", "Pod was active on the node longer than the specified deadline") in \
        _events(fk, fk_ns, "deadline")
    assert fk.kubectl("get", "pod", "deadline", "-n", fk_ns, "-o", "jsonpath={.status.reason}").stdout == \
        "DeadlineExceeded"


def test_image_already_present_with_if_not_present(server: Server, namespace: str) -> None:
    pod = busybox("tagged", node_name(server), "sleep 3600")
    pod["spec"]["containers"][0]["image"] = "busybox:1.36"
    create(server, namespace, pod)
    p = wait_pod(server, namespace, "tagged", lambda p: phase(p) == "Running")
    assert p["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    events = _events(server, namespace, "tagged")
    assert ("Normal", "Pulled", 'Container image "busybox:1.36" already present on machine') in events
    assert not [e for e in events if e[1] == "Pulling"]


def test_image_pull_policy_always_pulls(server: Server, namespace: str) -> None:
    create(server, namespace, busybox("latest", node_name(server), "sleep 3600"))
    wait_pod(server, namespace, "latest", lambda p: phase(p) == "Running")
    events = _events(server, namespace, "latest")
    assert ("Normal", "Pulling", 'Pulling image "busybox"') in events
    pulled = [m for _, r, m in events if r == "Pulled"]
    assert len(pulled) == 1 and pulled[0].startswith('Successfully pulled image "busybox" in ')
    assert pulled[0].endswith(" bytes.") and "including waiting). Image size: " in pulled[0]


def test_missing_image_with_pull_policy_never(server: Server, namespace: str) -> None:
    pod = {"metadata": {"name": "never"}, "spec": {"nodeName": node_name(server), "containers": [
        {"name": "c", "image": "example.com/unknown/app:2.0", "imagePullPolicy": "Never"}]}}
    create(server, namespace, pod)
    message = 'Container image "example.com/unknown/app:2.0" is not present with pull policy of Never'
    p = wait_pod(server, namespace, "never", lambda p: _waiting(p).get("reason") == "ErrImageNeverPull")
    assert _waiting(p)["message"] == message
    events = _events(server, namespace, "never")
    assert ("Warning", "ErrImageNeverPull", message) in events
    assert ("Warning", "Failed", "Error: ErrImageNeverPull") in events
    assert "ErrImageNeverPull" in server.kubectl("get", "pod", "never", "-n", namespace).stdout


def test_projected_token_is_refreshed_before_it_expires(fk: Server, fk_ns: str) -> None:
    import jwt

    wait_for(lambda: fk.request("GET", f"/api/v1/namespaces/{fk_ns}/serviceaccounts/default")[0] == 200,
             what="default serviceaccount")
    pod = busybox("rotated", FK_NODE, "sleep 3600")
    pod["spec"]["volumes"] = [{"name": "tok", "projected": {"sources": [
        {"serviceAccountToken": {"path": "t", "expirationSeconds": 600, "audience": "vault"}}]}}]
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "tok", "mountPath": "/var/run/tok"}]
    create(fk, fk_ns, pod)
    wait_pod(fk, fk_ns, "rotated", lambda p: phase(p) == "Running")

    def token() -> str:
        # at the mountPath with pod isolation, under the pod's directory (the working directory) without it
        script = "cat /var/run/tok/t 2>/dev/null || cat volumes/tok/t"
        return fk.kubectl("exec", "rotated", "-n", fk_ns, "--", "sh", "-c", script).stdout

    first = token()
    claims = jwt.decode(first, options={"verify_signature": False})
    assert claims["aud"] == ["vault"] and claims["exp"] - claims["iat"] == 600
    assert claims["kubernetes.io"]["pod"]["name"] == "rotated"
    advance(fk, 470)
    time.sleep(0.3)
    assert token() == first  # 80 % of 600 s has not passed yet
    advance(fk, 20)
    wait_for(lambda: token() != first, what="a refreshed token")


def test_failed_pull_backs_off_as_kubelet_does() -> None:
    """A backend whose pulls fail (docker without a registry): ErrImagePull, then ImagePullBackOff, doubling."""
    import asyncio
    from types import SimpleNamespace

    from controllers.clock import FakeClock
    from runtime.image_pull import ensure_image
    from runtime.interface import ContainerConfig, RuntimeError_
    from runtime.pod_status import ContainerRecord

    class Registryless:
        async def image_size(self, config: ContainerConfig) -> int | None:
            return None

        async def pull_image(self, config: ContainerConfig) -> int:
            raise RuntimeError_("ErrImagePull", "manifest unknown")

    clock = FakeClock(1_000_000.0)
    events: list[tuple[str, str, str]] = []

    async def emit(kind: str, reason: str, message: str, container: str = "") -> None:
        events.append((kind, reason, message))

    worker = SimpleNamespace(agent=SimpleNamespace(runtime=Registryless(), clock=clock), pull_backoff={},
                             emit=emit, wake_after=lambda seconds: None)
    rec = ContainerRecord({"name": "c", "image": "example.invalid/app:1.0", "imagePullPolicy": "IfNotPresent"}, "main")
    config = ContainerConfig("c", "example.invalid/app:1.0", ["sh"], [], {}, "", [], Path("/dev/null"))

    async def attempt() -> bool:
        events.clear()
        return await ensure_image(worker, rec, config)  # type: ignore[arg-type]

    assert asyncio.run(attempt()) is False
    assert rec.state == {"waiting": {"reason": "ErrImagePull", "message": "manifest unknown"}}
    assert events == [("Normal", "Pulling", 'Pulling image "example.invalid/app:1.0"'),
                      ("Warning", "Failed", 'Failed to pull image "example.invalid/app:1.0": manifest unknown'),
                      ("Warning", "Failed", "Error: ErrImagePull")]
    clock.advance(2)
    assert asyncio.run(attempt()) is False
    assert rec.state == {"waiting": {"reason": "ImagePullBackOff",
                                     "message": 'Back-off pulling image "example.invalid/app:1.0"'}}
    assert events == [("Normal", "BackOff", 'Back-off pulling image "example.invalid/app:1.0"'),
                      ("Warning", "Failed", "Error: ImagePullBackOff")]
    clock.advance(8)  # the 10 s back-off has passed: pulled again, and the next back-off is 20 s
    asyncio.run(attempt())
    assert events[0][1] == "Pulling" and rec.state["waiting"]["reason"] == "ErrImagePull"
    clock.advance(19)
    asyncio.run(attempt())
    assert rec.state["waiting"]["reason"] == "ImagePullBackOff"
    clock.advance(1)
    asyncio.run(attempt())
    assert events[0][1] == "Pulling"
