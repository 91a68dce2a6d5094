"""The pod worker's lifecycle steps kubelet takes around a container: postStart, kill (preStop first),
and the pod's ``activeDeadlineSeconds``.

- postStart (kuberuntime_container.go startContainer, step 4): runs right after the runtime started
  the container; until it returns the container is not reported running. On failure: a Warning
  ``FailedPostStartHook`` Event (``PostStartHook failed``), the container killed (``Killing`` with
  message ``FailedPostStartHook``), and — when it will be restarted — its state reads
  ``waiting: {reason: PostStartHookError, message: <the handler's message>}``.
- kill (killContainer): the ``Killing`` Event, the preStop hook within the grace period (Warning
  ``FailedPreStopHook``, ``PreStopHook failed``), then SIGTERM with what is left of the grace period
  (never less than 2 s), SIGKILL after it.
- a sandbox that cannot be created (kuberuntime_manager.go SyncPod): a Warning ``FailedCreatePodSandBox``
  Event (``Failed to create pod sandbox: <why>``); the pod stays Pending with its containers waiting
  ``ContainerCreating`` and the pod worker retries after kubelet's back-off period (pod_workers.go).
- a container the runtime could not start (startContainer): its state ``waiting: RunContainerError``
  with the runtime's message when it will be restarted (``terminated: StartError`` otherwise).
- activeDeadlineSeconds (pkg/kubelet/active_deadline.go): once the pod has been active on the node
  that long since its startTime, a Normal ``DeadlineExceeded`` Event, every container killed, and
  the pod's status phase Failed, reason ``DeadlineExceeded``, message ``Pod was active on the node
  longer than the specified deadline``. Measured on the agent's clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from datetime import datetime
from typing import TYPE_CHECKING, Any

from facade.errors import APIError
from runtime.events import NORMAL, WARNING
from runtime.hooks import MINIMUM_GRACE_SECONDS, run_handler, within
from runtime.interface import RuntimeError_
from runtime.pod_status import ContainerRecord

if TYPE_CHECKING:
    from runtime.pod_worker import PodWorker

Obj = dict[str, Any]

DEADLINE_REASON = "DeadlineExceeded"
DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"
POST_START_ERROR = "PostStartHookError"
RUN_CONTAINER_ERROR = "RunContainerError"  # kubecontainer.ErrRunContainer: the runtime could not start it
SANDBOX_BACKOFF = 10.0  # kubelet's backOffPeriod: a pod whose sync failed is retried after 10-15 s
SANDBOX_JITTER = 0.5  # workerBackOffPeriodJitterFactor


def _hook(rec: ContainerRecord, name: str) -> Obj | None:
    lifecycle = rec.spec.get("lifecycle") or {}
    handler = lifecycle.get(name)
    return handler if isinstance(handler, dict) and handler else None


def _pod_ip(worker: PodWorker) -> str:
    return worker.sandbox.ip if worker.sandbox else worker.agent.host_ip


async def run_post_start(worker: PodWorker, rec: ContainerRecord, cid: str) -> bool:
    """Run the container's postStart hook (if any); False when it failed and the container was killed."""
    handler = _hook(rec, "postStart")
    if handler is None:
        return True
    agent = worker.agent
    with contextlib.suppress(APIError):  # kubelet reports the pod (still ContainerCreating) while it waits
        await worker.write_status()
    task = asyncio.ensure_future(run_handler(handler, rec.spec, worker.pod, cid, _pod_ip(worker),
                                             agent.runtime, agent.clock))
    stop = asyncio.ensure_future(worker.terminating.wait())
    try:
        await asyncio.wait([task, stop], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
    if not task.done():  # the pod is being deleted: its termination kills the container
        task.cancel()
        return True
    message = task.result()
    if not message:
        return True
    await worker.emit(WARNING, "FailedPostStartHook", "PostStartHook failed", rec.name)
    rec.start_error = (POST_START_ERROR, message)
    await kill_container(worker, rec, cid, worker.grace_seconds(), "FailedPostStartHook")
    return False


async def kill_container(worker: PodWorker, rec: ContainerRecord, cid: str, grace: float, message: str) -> None:
    """killContainer: the Killing Event, preStop within the grace period, then SIGTERM/SIGKILL."""
    agent = worker.agent
    await worker.emit(NORMAL, "Killing", message or f"Stopping container {rec.name}", rec.name)
    handler = _hook(rec, "preStop")
    if handler is not None and grace > 0:
        started = agent.clock.now()
        finished, failure = await within(
            run_handler(handler, rec.spec, worker.pod, cid, _pod_ip(worker), agent.runtime, agent.clock, grace),
            grace, agent.clock)
        if finished and failure:
            await worker.emit(WARNING, "FailedPreStopHook", "PreStopHook failed", rec.name)
        grace = max(grace - int(agent.clock.now() - started), MINIMUM_GRACE_SECONDS)
    await agent.runtime.stop_container(cid, grace)


def after_exit(worker: PodWorker, rec: ContainerRecord, policy: str) -> None:
    """A container killed for a failed postStart: waiting with kubelet's reason when it will be restarted."""
    error = rec.start_error
    if not error:
        return
    rec.start_error = None
    restarts = policy == "Always" or (policy == "OnFailure" and rec.exit_code not in (None, 0))
    if not restarts or "terminated" not in rec.state:
        return
    rec.last_state = rec.state
    rec.state = {"waiting": {"reason": error[0], "message": error[1]}}


def _parse_rfc3339(value: str) -> float | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except (TypeError, ValueError):
        return None


def deadline_left(worker: PodWorker) -> float | None:
    """Seconds until the pod's activeDeadlineSeconds passes (<= 0: passed), None without a deadline."""
    deadline = (worker.pod.get("spec") or {}).get("activeDeadlineSeconds")
    if not isinstance(deadline, int) or isinstance(deadline, bool) or worker.start_time is None:
        return None
    started = worker.start_clock if worker.start_clock is not None else _parse_rfc3339(worker.start_time)
    if started is None:
        return None
    return started + deadline - worker.agent.clock.now()


async def enforce_deadline(worker: PodWorker) -> bool:
    """True when the deadline has passed (the pod is then killed and marked Failed); else schedule a check."""
    left = deadline_left(worker)
    if left is None:
        return False
    if left > 0:
        due = round(worker.agent.clock.now() + left, 3)
        if worker.deadline_wake_at != due:  # one timer per deadline, not one per sync
            worker.deadline_wake_at = due

            def fire() -> None:  # the loop may fire a timer a little early: the next sync then re-arms it
                worker.deadline_wake_at = 0.0
                worker.wake()

            worker.agent.clock.call_later(max(0.0, left), fire)
        return False
    worker.evicted = (DEADLINE_REASON, DEADLINE_MESSAGE)
    await worker.emit(NORMAL, DEADLINE_REASON, DEADLINE_MESSAGE)
    for rec in worker.records():
        rec.retry_at = float("inf")
    grace = worker.grace_seconds()
    await worker.stop_containers(worker.mains + [r for r in worker.inits if r.kind == "init"], grace)
    for rec in reversed([r for r in worker.inits if r.kind == "sidecar"]):
        await worker.stop_containers([rec], grace)
    return True


def apply_eviction(worker: PodWorker, status: Obj) -> None:
    """The pod status of an evicted pod: phase Failed with the eviction's reason and message."""
    evicted = worker.evicted
    if not evicted:
        return
    status["phase"] = "Failed"
    status["reason"], status["message"] = evicted


async def sandbox_failed(worker: PodWorker, error: Exception) -> None:
    """The runtime could not create the pod's sandbox (no free IP, network namespace setup failed):
    kubelet's Warning ``FailedCreatePodSandBox`` Event, and the pod worker retries after its back-off
    period (10 s, jittered up to 15 s); meanwhile the pod stays Pending, its containers ContainerCreating."""
    message = error.message if isinstance(error, RuntimeError_) else str(error)
    await worker.emit(WARNING, "FailedCreatePodSandBox", f"Failed to create pod sandbox: {message}")
    delay = SANDBOX_BACKOFF * (1 + SANDBOX_JITTER * random.random())
    worker.sandbox_retry_at = worker.agent.clock.now() + delay
    worker.wake_after(delay)
