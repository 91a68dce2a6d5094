"""One pod on one node, run as kubelet's pod worker runs it: a level-triggered loop per pod.

Every wake-up (the pod changed, a container exited, a probe flipped, a back-off or retry timer
fired) re-runs ``sync``: make sure the sandbox exists, run init containers in order (sidecars —
init containers with ``restartPolicy: Always`` — stay running), then the containers under the
pod's restart policy with CrashLoopBackOff, and write the status if it changed. Deletion stops the
containers (SIGTERM, grace period, SIGKILL), writes the final status and removes the pod object.
All timing reads the agent's clock, so a FakeClock drives back-offs and probes in tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from facade.errors import APIError
from runtime.env import ConfigError, build_env, expand_command
from runtime.events import NORMAL, WARNING
from runtime.image_pull import ensure_image
from runtime.interface import ContainerConfig, ContainerStatus, RuntimeError_, Sandbox, SandboxConfig
from runtime.pod_lifecycle import (
    RUN_CONTAINER_ERROR,
    after_exit,
    apply_eviction,
    enforce_deadline,
    kill_container,
    run_post_start,
    sandbox_failed,
)
from runtime.pod_status import (
    ContainerRecord,
    api_container_status,
    kubelet_conditions,
    merge_conditions,
    pod_phase,
)
from runtime.probes import run_probe
from runtime.sa_token import fetch_token, refresh_tokens
from runtime.volumes import MountError, container_mounts, setup_volumes

if TYPE_CHECKING:
    from runtime.agent import NodeAgent

log = logging.getLogger("kubefacade.runtime")

Obj = dict[str, Any]

BACKOFF_INITIAL = 10.0
BACKOFF_MAX = 300.0
RETRY_SECONDS = 2.0  # config errors, failed mounts: kubelet retries them on its next sync
FORCED_GRACE = 1.0


def go_duration(seconds: float) -> str:
    """Go's time.Duration String for whole seconds: 10s, 1m20s, 5m0s."""
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m{s}s"
    h, m = divmod(m, 60)
    return f"{h}h{m}m{s}s"


def ts(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class PodWorker:
    """Runs one pod (by uid) on its node until it is deleted."""

    def __init__(self, agent: NodeAgent, pod: Obj) -> None:
        self.agent = agent
        self.pod = pod
        meta = pod["metadata"]
        self.uid: str = meta["uid"]
        self.name: str = meta["name"]
        self.namespace: str = meta.get("namespace", "")
        spec = pod.get("spec") or {}
        self.restart_policy: str = spec.get("restartPolicy") or "Always"
        rt = agent.runtime.name
        self.inits = [ContainerRecord(c, "sidecar" if c.get("restartPolicy") == "Always" else "init", rt)
                      for c in spec.get("initContainers") or []]
        self.mains = [ContainerRecord(c, "main", rt) for c in spec.get("containers") or []]
        for rec in self.mains:
            if self.inits:
                rec.state = {"waiting": {"reason": "PodInitializing"}}
        self.sandbox: Sandbox | None = None
        self.volume_paths: dict[str, Path] = {}
        self.start_time: str | None = None
        self.terminal = False
        self.gone = False
        self.deleting = False
        self.last_status: Obj | None = None
        self.terminating = asyncio.Event()  # set once deletion begins: a running postStart is abandoned
        self.evicted: tuple[str, str] | None = None  # (reason, message): activeDeadlineSeconds passed
        self.start_clock: float | None = None
        self.deadline_wake_at = 0.0
        self.pull_backoff: dict[str, tuple[float, float]] = {}  # image -> (back-off, last failure)
        self.refreshing_tokens = False
        self.sandbox_retry_at = 0.0
        self._wake = asyncio.Event()
        self._wake.set()
        self.task: asyncio.Task[Any] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- plumbing ---------------------------------------------------------------------------------

    @property
    def pod_dir(self) -> Path:
        return self.agent.pods_dir / f"{self.namespace}_{self.name}_{self.uid}"

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def records(self) -> list[ContainerRecord]:
        return self.inits + self.mains

    def record(self, name: str) -> ContainerRecord | None:
        return next((r for r in self.records() if r.name == name), None)

    def wake(self) -> None:
        self._wake.set()

    def wake_after(self, seconds: float) -> None:
        self.agent.clock.call_later(max(0.0, seconds), self.wake)

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def update(self, pod: Obj) -> None:
        self.pod = pod
        if pod["metadata"].get("deletionTimestamp"):
            self.deleting = True
            self.terminating.set()
        self.wake()

    def deleted(self) -> None:
        self.gone = True
        self.deleting = True
        self.terminating.set()
        self.wake()

    def start(self) -> None:
        self.task = asyncio.create_task(self.run(), name=f"pod-{self.key}")

    def task_done(self) -> bool:
        return self.task is None or self.task.done()

    async def run(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                try:
                    if self.deleting:
                        await self.terminate()
                        return
                    await self.sync()
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001 - a failed sync is retried, as kubelet does
                    log.exception("pod %s: sync failed", self.key)
                    self.wake_after(RETRY_SECONDS)
        finally:
            self.agent.worker_done(self)

    async def shutdown(self) -> None:
        """The agent stops: kill this pod's containers without touching the API."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        for t in list(self._tasks):
            t.cancel()
        for rec in self.records():
            if rec.id:
                with contextlib.suppress(Exception):
                    await self.agent.runtime.stop_container(rec.id, 0)

    async def emit(self, event_type: str, reason: str, message: str, container: str = "") -> None:
        await self.agent.events.emit(self.pod, event_type, reason, message, container)

    # -- sync -------------------------------------------------------------------------------------

    async def sync(self) -> None:
        if self.start_time is None:
            self.start_time = self.agent.clock.rfc3339()
            self.start_clock = self.agent.clock.now()
        if self.sandbox is None and not await self.create_sandbox():
            await self.write_status()
            return
        if not self.terminal and await enforce_deadline(self):
            self.terminal = True
        if not self.terminal:
            await self.step_containers()
            phase = self.phase()
            if phase in ("Succeeded", "Failed"):
                self.terminal = True
                await self.stop_sidecars()
        await self.write_status()

    async def create_sandbox(self) -> bool:
        agent = self.agent
        if agent.clock.now() < self.sandbox_retry_at:  # a failed sandbox waits out its back-off
            return False
        try:
            if getattr(agent.runtime, "wants_volumes", True):
                self.volume_paths = await setup_volumes(self.pod, self.pod_dir, agent.get_object, agent.allocatable,
                                                        lambda source: fetch_token(agent.client, self.pod, source))
                if not self.refreshing_tokens:  # once, however often the sandbox is retried
                    self.refreshing_tokens = True
                    self.spawn(refresh_tokens(agent.client, self.pod, self.pod_dir / "volumes", agent.clock))
        except MountError as e:
            await self.emit(WARNING, "FailedMount", f'MountVolume.SetUp failed for volume "{e.volume}" : {e}')
            self.wake_after(RETRY_SECONDS)
            return False
        config = SandboxConfig(self.uid, self.name, self.namespace, self.pod_dir, self.pod,
                               bool((self.pod.get("spec") or {}).get("hostNetwork")))
        try:
            self.sandbox = await agent.runtime.create_sandbox(config)
        except (RuntimeError_, OSError) as e:  # no free IP, netns setup failed: retried after a back-off
            await sandbox_failed(self, e)
            return False
        return True

    async def step_containers(self) -> None:
        initialized = True
        for rec in self.inits:
            if rec.kind == "sidecar":
                await self.ensure(rec, "Always")
                if not rec.started:
                    initialized = False
                    break
                continue
            if rec.succeeded_once:
                continue
            initialized = False
            if rec.running or rec.starting:
                break
            if rec.exit_code is not None and self.restart_policy == "Never":
                break
            await self.ensure(rec, "OnFailure")
            break
        if initialized:
            for rec in self.mains:
                await self.ensure(rec, self.restart_policy)

    async def ensure(self, rec: ContainerRecord, policy: str) -> None:
        """Start the container if it should run now; CrashLoopBackOff when it failed too recently."""
        if rec.running or rec.starting:
            return
        now = self.agent.clock.now()
        if rec.retry_at > now:
            if rec.retry_at != float("inf"):
                self.wake_after(rec.retry_at - now)
            return
        if rec.exit_code is not None:
            if not (policy == "Always" or (policy == "OnFailure" and rec.exit_code != 0)):
                return
            if rec.backoff > 0 and now - rec.finished_clock < rec.backoff:
                if "terminated" in rec.state:
                    rec.last_state = rec.state
                rec.state = {"waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": f"back-off {go_duration(rec.backoff)} restarting failed container={rec.name} "
                               f"pod={self.name}_{self.namespace}({self.uid})",
                }}
                rec.ready = False
                if rec.backoff_event_at != rec.finished_clock:
                    rec.backoff_event_at = rec.finished_clock
                    await self.emit(WARNING, "BackOff", f"Back-off restarting failed container {rec.name} in pod "
                                                        f"{self.name}_{self.namespace}({self.uid})", rec.name)
                self.wake_after(rec.finished_clock + rec.backoff - now)
                return
            if rec.backoff == 0 or rec.finished_clock - rec.backoff_updated > 2 * BACKOFF_MAX:
                rec.backoff = BACKOFF_INITIAL
            else:
                rec.backoff = min(rec.backoff * 2, BACKOFF_MAX)
            rec.backoff_updated = now
        await self.start_container(rec)

    async def start_container(self, rec: ContainerRecord) -> None:
        agent, spec = self.agent, rec.spec
        assert self.sandbox is not None
        rec.starting = True
        try:
            try:
                env = await build_env(self.pod_with_ips(), spec, agent.get_object, agent.allocatable)
            except ConfigError as e:
                await self.config_failed(rec, "CreateContainerConfigError", str(e))
                return
            command, args = expand_command(spec, env)
            attempt = rec.attempt + 1
            config = ContainerConfig(
                name=rec.name, image=str(spec.get("image", "")), command=command, args=args, env=env,
                working_dir=str(spec.get("workingDir") or ""), mounts=container_mounts(spec, self.volume_paths),
                log_path=self.log_path(rec.name, attempt), attempt=attempt, tty=bool(spec.get("tty")),
                stdin=bool(spec.get("stdin")), termination_message_path=str(spec.get("terminationMessagePath") or ""),
                init=rec.kind == "init",
            )
            if not await ensure_image(self, rec, config):
                return
            try:
                cid = await agent.runtime.create_container(self.sandbox, config)
            except RuntimeError_ as e:
                await self.config_failed(rec, e.reason, e.message)
                return
            await self.emit(NORMAL, "Created", f"Created container: {rec.name}", rec.name)
            if rec.has_run:
                rec.restart_count += 1
                if "terminated" in rec.state:
                    rec.last_state = rec.state
            rec.attempt, rec.id, rec.exit_code = attempt, cid, None
            try:
                await agent.runtime.start_container(cid)
            except RuntimeError_ as e:
                await self.emit(WARNING, "Failed", f"Error: {e.message}", rec.name)
                rec.start_error = (RUN_CONTAINER_ERROR, e.message)  # waiting with it when it will be restarted
                self.on_exit(rec, cid, await agent.runtime.container_status(cid))
                return
            await self.emit(NORMAL, "Started", f"Started container {rec.name}", rec.name)
            if not await run_post_start(self, rec, cid):
                self.on_exit(rec, cid, await agent.runtime.container_status(cid))
                return
            status = await agent.runtime.container_status(cid)
            rec.running = True
            rec.image_ref = status.image_ref
            rec.state = {"running": {"startedAt": ts(status.started_at or agent.clock.now())}}
            rec.started = "startupProbe" not in spec
            rec.ready = rec.started and "readinessProbe" not in spec
            self.spawn(self.watch_exit(rec, cid))
            if "startupProbe" in spec:
                rec.probe_tasks.append(self.spawn(self.probe_loop(rec, cid, "startup")))
            else:
                self.start_probes(rec, cid)
        finally:
            rec.starting = False

    async def config_failed(self, rec: ContainerRecord, reason: str, message: str) -> None:
        rec.state = {"waiting": {"reason": reason, "message": message}}
        await self.emit(WARNING, "Failed", f"Error: {message}", rec.name)
        rec.retry_at = self.agent.clock.now() + RETRY_SECONDS
        self.wake_after(RETRY_SECONDS)

    def pod_with_ips(self) -> Obj:
        """The pod as the downward API sees it once the sandbox has an IP."""
        pod = dict(self.pod)
        status = dict(pod.get("status") or {})
        status.update(self.ip_fields())
        pod["status"] = status
        return pod

    def log_path(self, container: str, attempt: int) -> Path:
        return self.pod_dir / "logs" / container / f"{attempt}.log"

    async def watch_exit(self, rec: ContainerRecord, cid: str) -> None:
        status = await self.agent.runtime.wait_container(cid)
        self.on_exit(rec, cid, status)

    def on_exit(self, rec: ContainerRecord, cid: str, status: ContainerStatus) -> None:
        if rec.id != cid:
            return
        rec.running = rec.ready = rec.started = False
        for t in rec.probe_tasks:
            t.cancel()
        rec.probe_tasks.clear()
        code = status.exit_code
        term: Obj = {
            "exitCode": code,
            "reason": status.reason or ("Completed" if code == 0 else "Error"),
            "startedAt": ts(status.started_at),
            "finishedAt": ts(status.finished_at or self.agent.clock.now()),
            "containerID": f"{self.agent.runtime.name}://{cid}",
        }
        message = status.message or self.termination_message(rec, code)
        if message:
            term["message"] = message
        rec.state = {"terminated": term}
        rec.exit_code = code
        rec.finished_clock = self.agent.clock.now()
        if rec.kind == "init" and code == 0:
            rec.succeeded_once = True
        after_exit(self, rec, self.policy_for(rec))
        self.wake()

    def policy_for(self, rec: ContainerRecord) -> str:
        """The restart policy a container lives under: sidecars Always, init containers at most OnFailure."""
        if rec.kind == "sidecar":
            return "Always"
        if rec.kind == "init":
            return "Never" if self.restart_policy == "Never" else "OnFailure"
        return self.restart_policy

    def grace_seconds(self) -> float:
        """The pod's terminationGracePeriodSeconds (30 by default)."""
        return float((self.pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30))

    def termination_message(self, rec: ContainerRecord, code: int) -> str:
        """``FallbackToLogsOnError``: the log's tail (80 lines, 2048 bytes) stands in for the message."""
        if code == 0 or rec.spec.get("terminationMessagePolicy") != "FallbackToLogsOnError":
            return ""
        from runtime.logs import LogOptions, read_lines

        lines, _ = read_lines(self.log_path(rec.name, rec.attempt), LogOptions(tail_lines=80))
        return b"".join(lines)[-2048:].decode("utf-8", "replace")

    # -- probes -----------------------------------------------------------------------------------

    def start_probes(self, rec: ContainerRecord, cid: str) -> None:
        for kind in ("liveness", "readiness"):
            if f"{kind}Probe" in rec.spec:
                rec.probe_tasks.append(self.spawn(self.probe_loop(rec, cid, kind)))

    async def probe_loop(self, rec: ContainerRecord, cid: str, kind: str) -> None:
        probe = rec.spec.get(f"{kind}Probe") or {}
        clock = self.agent.clock
        period = float(probe.get("periodSeconds") or 10)
        success_threshold = int(probe.get("successThreshold") or 1)
        failure_threshold = int(probe.get("failureThreshold") or 3)
        title = kind.capitalize()
        await clock.sleep(float(probe.get("initialDelaySeconds") or 0))
        successes = failures = 0
        while rec.id == cid and rec.running:
            ip = self.sandbox.ip if self.sandbox else self.agent.host_ip
            ok, output = await run_probe(probe, rec.spec, cid, ip, self.agent.runtime)
            if rec.id != cid or not rec.running:
                return
            if ok:
                successes, failures = successes + 1, 0
            else:
                successes, failures = 0, failures + 1
                await self.emit(WARNING, "Unhealthy", f"{title} probe failed: {output}", rec.name)
            if kind == "readiness":
                if ok and successes >= success_threshold and not rec.ready:
                    rec.ready = True
                    self.wake()
                elif not ok and failures >= failure_threshold and rec.ready:
                    rec.ready = False
                    self.wake()
            elif kind == "startup" and ok:
                rec.started = True
                rec.ready = "readinessProbe" not in rec.spec
                self.start_probes(rec, cid)
                self.wake()
                return
            elif failures >= failure_threshold:  # liveness or startup
                grace = probe.get("terminationGracePeriodSeconds")
                if grace is None:
                    grace = self.grace_seconds()
                await kill_container(self, rec, cid, float(grace),
                                     f"Container {rec.name} failed {kind} probe, will be restarted")
                return
            await clock.sleep(period)

    # -- status -----------------------------------------------------------------------------------

    def phase(self) -> str:
        if self.evicted:
            return "Failed"
        if self.sandbox is None:
            return "Pending"
        return pod_phase(self.restart_policy, self.inits, self.mains, terminal=self.deleting)

    def ip_fields(self) -> Obj:
        host = self.agent.host_ip
        out: Obj = {"hostIP": host, "hostIPs": [{"ip": host}]}
        if self.sandbox is not None:
            out["podIP"] = self.sandbox.ip
            out["podIPs"] = [{"ip": self.sandbox.ip}]
        return out

    def build_status(self) -> Obj:
        current = self.pod.get("status") or {}
        phase = self.phase()
        gates = [g.get("conditionType", "") for g in (self.pod.get("spec") or {}).get("readinessGates") or []]
        existing = current.get("conditions") or []
        conds = kubelet_conditions(phase, self.sandbox is not None, self.inits, self.mains, gates, existing)
        status: Obj = {"phase": phase, "conditions": merge_conditions(conds, existing, self.agent.clock.rfc3339())}
        status.update(self.ip_fields())
        status["startTime"] = self.start_time
        apply_eviction(self, status)
        if current.get("qosClass"):
            status["qosClass"] = current["qosClass"]
        if self.inits:
            status["initContainerStatuses"] = [api_container_status(r) for r in self.inits]
        status["containerStatuses"] = [api_container_status(r) for r in self.mains]
        return status

    async def write_status(self) -> None:
        status = self.build_status()
        if status == self.last_status:
            return
        try:
            out = await self.agent.client.patch("v1", "pods", self.name, {"status": status}, self.namespace,
                                                subresource="status", shared=True)  # self.pod is read only
        except APIError as e:
            if e.code == 404:
                self.deleted()
                return
            raise
        self.last_status = status
        if out.get("metadata", {}).get("uid") == self.uid:
            self.pod = out

    # -- termination ------------------------------------------------------------------------------

    async def stop_containers(self, records: list[ContainerRecord], grace: float) -> None:
        async def stop(rec: ContainerRecord) -> None:
            for t in rec.probe_tasks:
                t.cancel()
            if rec.running and rec.id:
                await kill_container(self, rec, rec.id, grace, "")
                status = await self.agent.runtime.container_status(rec.id)
                self.on_exit(rec, rec.id, status)

        await asyncio.gather(*(stop(r) for r in records))

    async def stop_sidecars(self) -> None:
        grace = float((self.pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30))
        for rec in reversed([r for r in self.inits if r.kind == "sidecar"]):
            await self.stop_containers([rec], grace)

    async def terminate(self) -> None:
        meta = self.pod["metadata"]
        spec = self.pod.get("spec") or {}
        grace = meta.get("deletionGracePeriodSeconds")
        if grace is None:
            grace = spec.get("terminationGracePeriodSeconds", 30)
        grace = float(grace) if not self.gone else min(float(grace), FORCED_GRACE)
        for rec in self.records():
            rec.retry_at = float("inf")
        await self.stop_containers(self.mains + [r for r in self.inits if r.kind == "init"], grace)
        for rec in reversed([r for r in self.inits if r.kind == "sidecar"]):
            await self.stop_containers([rec], grace)
        if not self.gone:
            with contextlib.suppress(APIError):
                await self.write_status()
            with contextlib.suppress(APIError):
                await self.agent.client.delete("v1", "pods", self.name, self.namespace, grace_period_seconds=0,
                                               uid=self.uid)
        for rec in self.records():
            if rec.id:
                with contextlib.suppress(Exception):
                    await self.agent.runtime.remove_container(rec.id)
        for t in list(self._tasks):
            t.cancel()
        if self.sandbox is not None:
            with contextlib.suppress(Exception):
                await self.agent.runtime.remove_sandbox(self.sandbox.id)
