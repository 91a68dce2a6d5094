"""The node agent — what kubelet does — as a client of the API and nothing more (DESIGN.md contract 4).

It registers its Node (capacity, allocatable, conditions, addresses, nodeInfo, daemonEndpoints),
renews its Lease in ``kube-node-lease`` every 10 s, posts node status when it changes (and every
5 minutes regardless, kubelet's nodeStatusReportFrequency), and runs the pods bound to it
(``spec.nodeName=<node>``), one ``PodWorker`` per pod, on whatever runtime backend it was given.
The same class runs inside ``kubefacade serve`` (InProcessClient) or as ``kubefacade node``
against any API server (RemoteClient).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from controllers.client import Client
from controllers.clock import Clock, RealClock
from facade import errors
from facade.errors import APIError
from facade.schemas import KUBERNETES_VERSION
from runtime import registry
from runtime.events import NORMAL, KubeletEvents
from runtime.interface import Runtime
from runtime.logs import LogOptions, stream_log
from runtime.node_info import host_pressure, host_resources, node_conditions, node_labels, node_system_info
from runtime.pod_worker import PodWorker

log = logging.getLogger("kubefacade.runtime")

Obj = dict[str, Any]
LEASE_NAMESPACE = "kube-node-lease"


@dataclass
class AgentOptions:
    name: str
    data_dir: Path
    host_ip: str = "127.0.0.1"
    capacity: Obj | None = None  # configured instead of read from the host
    allocatable: Obj | None = None
    simulated: bool = False
    heartbeat_seconds: float = 10.0
    lease_duration_seconds: int = 40
    report_seconds: float = 300.0
    annotations: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    daemon_port: int = 10250
    pod_cidr: str = ""  # spec.podCIDR; a runtime with a pod network of its own (runtime/pod_network.py) sets it


def micro_time(epoch: float) -> str:
    """metav1.MicroTime as it serializes: microseconds, UTC."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class NodeAgent:
    """One node: registration, heartbeat, and the pods bound to it."""

    def __init__(self, client: Client, runtime: Runtime, options: AgentOptions, clock: Clock | None = None) -> None:
        self.client = client
        self.runtime = runtime
        self.options = options
        self.name = options.name
        self.clock = clock or RealClock()
        self.host_ip = options.host_ip
        self.pods_dir = options.data_dir / "pods"
        self.events = KubeletEvents(client, self.name, self.clock)
        self.workers: dict[str, PodWorker] = {}
        self.by_key: dict[str, PodWorker] = {}
        if options.capacity is not None:
            self.capacity = dict(options.capacity)
            self.allocatable = dict(options.allocatable or options.capacity)
        else:
            options.data_dir.mkdir(parents=True, exist_ok=True)
            self.capacity, self.allocatable = host_resources(options.data_dir)
        self.node_uid = ""
        self._conditions: list[Obj] = []
        self._last_report = 0.0
        self._lease: Obj | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self.synced = asyncio.Event()

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self, watch_pods: bool = True, heartbeat: bool = True) -> None:
        """Register the Node, then heartbeat and run pods in the background."""
        await self.prepare_runtime()
        await self.register_node()
        registry.register(self)
        if heartbeat:
            self._tasks.append(asyncio.create_task(self._heartbeat_loop(), name=f"node-{self.name}-heartbeat"))
        if watch_pods:
            self._tasks.append(asyncio.create_task(self._pod_loop(), name=f"node-{self.name}-pods"))
        else:
            self.synced.set()

    async def stop(self) -> None:
        """Stop heartbeats and kill every container this agent started (the API is left as it is)."""
        registry.unregister(self)
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await asyncio.gather(*(w.shutdown() for w in list(self.workers.values())), return_exceptions=True)
        release = getattr(self.runtime, "release_node", None)
        if release is not None:
            await release()

    async def prepare_runtime(self) -> None:
        """A runtime with a pod network of its own sets it up before the Node registers, in the Node's
        spec.podCIDR when it has one already (kubelet's CNI gets the range the same way)."""
        prepare = getattr(self.runtime, "prepare_node", None)
        if prepare is None:
            return
        cidr = self.options.pod_cidr
        try:
            cidr = ((await self.client.get("v1", "nodes", self.name)).get("spec") or {}).get("podCIDR") or cidr
        except APIError as e:
            if e.code != 404:
                raise
        self.options.pod_cidr = await prepare(cidr)

    # -- node and lease ----------------------------------------------------------------------------

    def node_status(self) -> Obj:
        pressure = {} if self.options.simulated else host_pressure(self.options.data_dir)
        self._conditions = node_conditions(pressure, self.clock.rfc3339(), self._conditions)
        return {
            "capacity": self.capacity,
            "allocatable": self.allocatable,
            "conditions": self._conditions,
            "addresses": [{"type": "InternalIP", "address": self.host_ip}, {"type": "Hostname", "address": self.name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.options.daemon_port}},
            "nodeInfo": node_system_info(self.runtime.name, self.runtime.version, f"v{KUBERNETES_VERSION}",
                                         self.options.simulated),
        }

    def node_object(self) -> Obj:
        annotations = {"node.alpha.kubernetes.io/ttl": "0",
                       "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                       **self.options.annotations}
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": self.name, "labels": {**node_labels(self.name), **self.options.labels},
                         "annotations": annotations},
            "spec": {"podCIDR": self.options.pod_cidr, "podCIDRs": [self.options.pod_cidr]} if self.options.pod_cidr
            else {},
            "status": self.node_status(),
        }

    async def register_node(self) -> None:
        node = self.node_object()
        try:
            created = await self.client.create("v1", "nodes", node)
        except APIError as e:
            if e.code != 409:
                raise
            existing = await self.client.get("v1", "nodes", self.name)
            self._conditions = (existing.get("status") or {}).get("conditions") or []
            patch = {"metadata": {"labels": node["metadata"]["labels"], "annotations": node["metadata"]["annotations"]}}
            await self.client.patch("v1", "nodes", self.name, patch)
            created = await self.client.patch("v1", "nodes", self.name, {"status": self.node_status()},
                                              subresource="status")
        self.node_uid = created["metadata"]["uid"]
        self._last_report = self.clock.now()
        await self.renew_lease()
        if not self.options.simulated:
            await self.node_events()

    async def node_events(self) -> None:
        """What kubelet records on its Node when it starts (the reference's uid is the node name, as upstream)."""
        ref = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": self.name, "uid": self.name}}
        await self.events.emit(ref, NORMAL, "Starting", "Starting kubelet.")
        for reason in ("NodeHasSufficientMemory", "NodeHasNoDiskPressure", "NodeHasSufficientPID"):
            await self.events.emit(ref, NORMAL, reason, f"Node {self.name} status is now: {reason}")
        await self.events.emit(ref, NORMAL, "NodeAllocatableEnforced", "Updated Node Allocatable limit across pods")
        await self.events.emit(ref, NORMAL, "NodeReady", f"Node {self.name} status is now: NodeReady")

    async def renew_lease(self) -> None:
        now = micro_time(self.clock.now())
        for _ in range(3):
            try:
                if self._lease is None:
                    try:
                        self._lease = await self.client.get("coordination.k8s.io/v1", "leases", self.name,
                                                            LEASE_NAMESPACE)
                    except APIError as e:
                        if e.code != 404:
                            raise
                        lease = {
                            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                            "metadata": {"name": self.name, "namespace": LEASE_NAMESPACE, "ownerReferences": [
                                {"apiVersion": "v1", "kind": "Node", "name": self.name, "uid": self.node_uid}]},
                            "spec": {"holderIdentity": self.name,
                                     "leaseDurationSeconds": self.options.lease_duration_seconds, "renewTime": now},
                        }
                        self._lease = await self.client.create("coordination.k8s.io/v1", "leases", lease,
                                                               LEASE_NAMESPACE)
                        return
                self._lease["spec"]["renewTime"] = now
                self._lease = await self.client.update("coordination.k8s.io/v1", "leases", self._lease,
                                                       LEASE_NAMESPACE)
                return
            except APIError as e:
                if e.code not in (404, 409):
                    raise
                self._lease = None

    async def heartbeat(self) -> None:
        """Renew the Lease; post node status if a condition changed or the report interval passed."""
        await self.renew_lease()
        before = [(c["type"], c["status"]) for c in self._conditions]
        status = self.node_status()
        after = [(c["type"], c["status"]) for c in self._conditions]
        if before != after or self.clock.now() - self._last_report >= self.options.report_seconds:
            await self.client.patch("v1", "nodes", self.name, {"status": {"conditions": status["conditions"]}},
                                    subresource="status")
            self._last_report = self.clock.now()

    async def _heartbeat_loop(self) -> None:
        while True:
            await self.clock.sleep(self.options.heartbeat_seconds)
            try:
                await self.heartbeat()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a missed heartbeat is retried on the next tick
                log.exception("node %s: heartbeat failed", self.name)

    # -- pods --------------------------------------------------------------------------------------

    async def _pod_loop(self) -> None:
        selector = f"spec.nodeName={self.name}"
        while True:
            try:
                pods, rv = await self.client.list("v1", "pods", field_selector=selector)
                seen = {p["metadata"]["uid"] for p in pods}
                for uid, w in list(self.workers.items()):
                    if uid not in seen:
                        w.deleted()
                for p in pods:
                    self.on_pod_event("ADDED", p)
                self.synced.set()
                async for ev_type, pod in self.client.watch("v1", "pods", rv, field_selector=selector):
                    self.on_pod_event(ev_type, pod)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - relist after any watch failure, as informers do
                log.debug("node %s: pod watch ended; relisting", self.name, exc_info=True)
                await asyncio.sleep(0.5)

    def on_pod_event(self, ev_type: str, pod: Obj) -> None:
        if ev_type not in ("ADDED", "MODIFIED", "DELETED"):
            return
        meta = pod.get("metadata") or {}
        uid = meta.get("uid", "")
        worker = self.workers.get(uid)
        if ev_type == "DELETED":
            if worker is not None:
                worker.deleted()
            return
        if (pod.get("spec") or {}).get("nodeName") != self.name:
            return
        if worker is not None:
            worker.update(pod)
            return
        phase = (pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed"):
            return  # finished before this agent started: nothing to run
        key = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
        previous = self.by_key.get(key)
        if previous is not None and previous.uid != uid:
            previous.deleted()  # a new pod under the same name: the old one is gone
        worker = PodWorker(self, pod)
        if meta.get("deletionTimestamp"):
            worker.deleting = True
        self.workers[uid] = worker
        self.by_key[key] = worker
        worker.start()

    def worker_done(self, worker: PodWorker) -> None:
        if self.workers.get(worker.uid) is worker:
            del self.workers[worker.uid]
        if self.by_key.get(worker.key) is worker:
            del self.by_key[worker.key]

    async def get_object(self, plural: str, namespace: str, name: str) -> Obj | None:
        """A ConfigMap or Secret the pod refers to, or None when it does not exist."""
        try:
            return await self.client.get("v1", plural, name, namespace)
        except APIError as e:
            if e.code == 404:
                return None
            raise

    # -- logs --------------------------------------------------------------------------------------

    async def open_log(self, namespace: str, name: str, container: str, opts: LogOptions,
                       previous: bool = False) -> AsyncIterator[bytes]:
        """The log stream of one container, or a BadRequest as kubelet answers it."""
        worker = self.by_key.get(f"{namespace}/{name}")
        if worker is None:
            raise errors.bad_request(f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating')
        rec = worker.record(container)
        if rec is None:
            raise errors.bad_request(f"container {container} is not valid for pod {name}")
        if previous:
            if rec.attempt < 1:
                raise errors.bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
            return stream_log(worker.log_path(container, rec.attempt - 1), opts, lambda: False)
        if not rec.has_run:
            reason = (rec.state.get("waiting") or {}).get("reason", "ContainerCreating")
            raise errors.bad_request(f'container "{container}" in pod "{name}" is waiting to start: {reason}')
        attempt = rec.attempt

        def alive() -> bool:
            return rec.attempt == attempt and (rec.running or rec.starting) and not worker.task_done()

        return stream_log(worker.log_path(container, attempt), opts, alive)


async def run_forever(agent: NodeAgent) -> None:
    """Start an agent and keep it running until cancelled."""
    await agent.start()
    try:
        await asyncio.Event().wait()
    finally:
        with contextlib.suppress(Exception):
            await agent.stop()
