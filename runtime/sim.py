"""The simulated backend (KWOK-like): pods go through their phases with no process behind them.

Stages are configurable: a container reads Running (and Ready) ``running_delay`` seconds after it
is started; containers of a Job's pods (ownerReference kind Job) exit 0 after ``job_delay``; any
pod can script its end with the annotations ``kubefacade.io/sim-exit-after`` (seconds) and
``kubefacade.io/sim-exit-code`` (a non-zero code injects a failure). Regular init containers
complete at once. Every delay is on the agent's clock.

``SimNodePool`` runs many simulated nodes in one process cheaply: one pod watch shared by all of
them (dispatched by ``spec.nodeName``) and one heartbeat loop that renews their Leases in turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controllers.client import Client
from controllers.clock import Clock, RealClock
from runtime import metrics_store
from runtime.agent import AgentOptions, NodeAgent
from runtime.interface import (
    ContainerConfig,
    ContainerStatus,
    ExecResult,
    RuntimeError_,
    Sandbox,
    SandboxConfig,
)

log = logging.getLogger("kubefacade.runtime")

Obj = dict[str, Any]
EXIT_AFTER = "kubefacade.io/sim-exit-after"
EXIT_CODE = "kubefacade.io/sim-exit-code"
SIM_CAPACITY = {"cpu": "32", "ephemeral-storage": "100Gi", "hugepages-1Gi": "0", "hugepages-2Mi": "0",
                "memory": "256Gi", "pods": "110"}


@dataclass
class SimStages:
    running_delay: float = 0.0
    job_delay: float = 1.0


@dataclass
class _SimContainer:
    id: str
    pod: Obj
    config: ContainerConfig
    status: ContainerStatus
    exited: asyncio.Event = field(default_factory=asyncio.Event)


class SimRuntime:
    """Containers that exist only as state; see the module docstring for their stages."""

    name = "sim"
    version = "0.1.0"
    wants_volumes = False

    def __init__(self, clock: Clock | None = None, stages: SimStages | None = None,
                 pod_cidr: str = "10.244.0.0/16") -> None:
        self.clock = clock or RealClock()
        self.stages = stages or SimStages()
        self._hosts = ipaddress.ip_network(pod_cidr).hosts()
        self._pods: dict[str, Obj] = {}
        self._containers: dict[str, _SimContainer] = {}
        self._ids = itertools.count(1)

    async def create_sandbox(self, config: SandboxConfig) -> Sandbox:
        self._pods[config.uid] = config.pod
        return Sandbox(config.uid, str(next(self._hosts)))

    async def remove_sandbox(self, sandbox_id: str) -> None:
        self._pods.pop(sandbox_id, None)
        for cid in [c.id for c in self._containers.values() if c.pod.get("metadata", {}).get("uid") == sandbox_id]:
            await self.remove_container(cid)

    async def create_container(self, sandbox: Sandbox, config: ContainerConfig) -> str:
        cid = f"{next(self._ids):064x}"
        pod = self._pods.get(sandbox.id, {})
        self._containers[cid] = _SimContainer(cid, pod, config, ContainerStatus(cid, "created"))
        return cid

    def _exit_plan(self, c: _SimContainer) -> tuple[float, int] | None:
        if c.config.init:
            return 0.0, 0
        meta = c.pod.get("metadata") or {}
        annotations = meta.get("annotations") or {}
        code = 0
        with contextlib.suppress(ValueError):
            code = int(annotations.get(EXIT_CODE, "0"))
        if EXIT_AFTER in annotations:
            try:
                return float(annotations[EXIT_AFTER]), code
            except ValueError:
                return None
        if any(r.get("kind") == "Job" for r in meta.get("ownerReferences") or []):
            return self.stages.job_delay, code
        if EXIT_CODE in annotations:
            return 0.0, code
        return None

    async def start_container(self, container_id: str) -> None:
        c = self._containers.get(container_id)
        if c is None:
            raise RuntimeError_("StartError", f"container {container_id} not found")
        if self.stages.running_delay > 0:
            await self.clock.sleep(self.stages.running_delay)
        c.status = ContainerStatus(container_id, "running", started_at=time.time(),
                                   image_ref=f"sim://{c.config.image}")
        plan = self._exit_plan(c)
        if plan is not None:
            delay, code = plan
            if delay <= 0:
                self._finish(c, code)
            else:
                self.clock.call_later(delay, lambda: self._finish(c, code))

    def _finish(self, c: _SimContainer, code: int) -> None:
        if c.exited.is_set():
            return
        c.status = ContainerStatus(c.id, "exited", exit_code=code, reason="Completed" if code == 0 else "Error",
                                   started_at=c.status.started_at, finished_at=time.time(),
                                   image_ref=c.status.image_ref)
        c.exited.set()

    async def wait_container(self, container_id: str) -> ContainerStatus:
        c = self._containers[container_id]
        await c.exited.wait()
        return c.status

    async def stop_container(self, container_id: str, grace_seconds: float) -> None:
        c = self._containers.get(container_id)
        if c is not None:
            self._finish(c, 143 if grace_seconds > 0 else 137)

    async def remove_container(self, container_id: str) -> None:
        c = self._containers.pop(container_id, None)
        if c is not None:
            self._finish(c, 137)

    async def container_status(self, container_id: str) -> ContainerStatus:
        return self._containers[container_id].status

    async def exec_sync(self, container_id: str, command: list[str], timeout: float) -> ExecResult:
        return ExecResult(0, b"")

    def exec_stream(self, container_id: str, command: list[str], tty: bool) -> AsyncIterator[bytes]:
        raise NotImplementedError("simulated containers run nothing to exec into")

    async def port_forward(self, sandbox_id: str, port: int) -> Any:
        raise NotImplementedError("simulated pods listen on nothing")


def sim_agent(client: Client, name: str, data_dir: Path, clock: Clock, stages: SimStages,
              index: int = 0) -> NodeAgent:
    """One simulated node: configured capacity, its own pod CIDR, no host reads."""
    runtime = SimRuntime(clock, stages, pod_cidr=f"10.{64 + index // 256}.{index % 256}.0/24")
    options = AgentOptions(
        name=name, data_dir=data_dir, host_ip=f"172.18.{index // 250}.{index % 250 + 2}", capacity=dict(SIM_CAPACITY),
        simulated=True, annotations={"kubefacade.io/runtime": "sim"},
        labels={"type": "kwok", "kubefacade.io/simulated": "true"},
    )
    return NodeAgent(client, runtime, options, clock)


class SimNodePool:
    """N simulated nodes sharing one pod watch and one heartbeat loop."""

    def __init__(self, client: Client, count: int, data_dir: Path, clock: Clock | None = None,
                 stages: SimStages | None = None, prefix: str = "sim-node-") -> None:
        self.client = client
        self.clock = clock or RealClock()
        self.agents = {f"{prefix}{i}": sim_agent(client, f"{prefix}{i}", data_dir, self.clock,
                                                 stages or SimStages(), i) for i in range(count)}
        self._tasks: list[asyncio.Task[Any]] = []

    async def start(self) -> None:
        sem = asyncio.Semaphore(32)

        async def start_one(agent: NodeAgent) -> None:
            async with sem:
                await agent.start(watch_pods=False, heartbeat=False)

        # heartbeats begin with the first registered node: registering a thousand nodes can take
        # longer than the node monitor grace period, and the first ones must not expire meanwhile
        self._tasks = [asyncio.create_task(self._heartbeats(), name="sim-heartbeats")]
        await asyncio.gather(*(start_one(a) for a in self.agents.values()))
        self._tasks.append(asyncio.create_task(self._pods(), name="sim-pods"))
        self._tasks.append(asyncio.create_task(self._nodes(), name="sim-nodes"))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(a.stop() for a in self.agents.values()), return_exceptions=True)

    async def _pods(self) -> None:
        while True:
            try:
                pods, rv = await self.client.list("v1", "pods")
                for p in pods:
                    self._dispatch("ADDED", p)
                async for ev_type, pod in self.client.watch("v1", "pods", rv):
                    self._dispatch(ev_type, pod)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - relist after any watch failure
                log.debug("sim pool: pod watch ended; relisting", exc_info=True)
                await asyncio.sleep(0.5)

    async def _nodes(self) -> None:
        """Watch the Nodes: one whose Ready condition on the server is not what its agent reports
        (the node lifecycle controller marked it Unknown) gets its status posted on its next beat,
        as kubelet posts a status that differs from the Node it reads back."""
        while True:
            try:
                nodes, rv = await self.client.list("v1", "nodes")
                for n in nodes:
                    self._check_node(n)
                async for ev_type, node in self.client.watch("v1", "nodes", rv):
                    if ev_type in ("ADDED", "MODIFIED"):
                        self._check_node(node)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - relist after any watch failure
                log.debug("sim pool: node watch ended; relisting", exc_info=True)
                await asyncio.sleep(0.5)

    def _check_node(self, node: Obj) -> None:
        agent = self.agents.get((node.get("metadata") or {}).get("name") or "")
        if agent is None or not agent.node_uid:
            return

        def ready(conditions: list[Obj]) -> str | None:
            return next((c.get("status") for c in conditions if c.get("type") == "Ready"), None)

        if ready((node.get("status") or {}).get("conditions") or []) != ready(agent._conditions):  # noqa: SLF001
            agent._last_report = float("-inf")  # noqa: SLF001 - report on the next heartbeat

    def _dispatch(self, ev_type: str, pod: Obj) -> None:
        agent = self.agents.get((pod.get("spec") or {}).get("nodeName") or "")
        if agent is not None:
            agent.on_pod_event(ev_type, pod)
            metrics_store.store.record_sim_event(ev_type, pod, self.clock.now())

    async def _heartbeats(self) -> None:
        """Each node heartbeats once a period, spread evenly; the schedule is kept by deadlines, so
        a busy event loop delays the beats but does not stretch the period (which would let Leases
        expire and the node lifecycle controller mark healthy nodes Unknown): beats that are due
        go out together, yielding to the loop every few dozen."""
        agents = list(self.agents.values())
        period = agents[0].options.heartbeat_seconds if agents else 10.0
        step = period / max(1, len(agents))
        due = self.clock.now()
        while True:
            for i, agent in enumerate(agents):
                due += step
                now = self.clock.now()
                if due > now:
                    await self.clock.sleep(due - now)
                elif now - due > period:
                    due = now  # too far behind: start a fresh round rather than burst through it
                elif i % 50 == 0:
                    await asyncio.sleep(0)
                if not agent.node_uid:
                    continue  # not registered yet
                try:
                    await agent.heartbeat()
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001 - retried on the next round
                    log.debug("sim node %s: heartbeat failed", agent.name, exc_info=True)
