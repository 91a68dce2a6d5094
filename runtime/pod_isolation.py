"""Pod isolation for the process runtime when it runs as root on Linux: what ties the pod network
(``pod_network.py``), the pod's /etc files (``pod_files.py``) and the per-container mount namespaces
(``pod_mounts.py``) to the runtime's sandboxes and containers.

A pod gets its own network namespace (own IP on the node's bridge, so two pods can both listen on
:8080) and its own UTS namespace (hostname = the pod's hostname); each container its own mount
namespace with its volumes at their mountPath. A ``hostNetwork`` pod keeps the host's network and
hostname but still gets the mount namespaces. Without root, or with ``--no-pod-isolation``, none of
this happens: pods share the host network and find their volumes under the pod's directory, and the
Node says which with the ``kubefacade.io/pod-isolation`` annotation (``netns`` or ``none``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.interface import ContainerConfig, RuntimeError_, SandboxConfig
from runtime.netns import connect_in_netns
from runtime.pod_files import pod_hostname, write_pod_files
from runtime.pod_mounts import (
    STARTED,
    MountPoints,
    container_binds,
    exec_argv,
    host_targets,
    setup_error,
    start_argv,
)
from runtime.pod_network import NetworkError, PodNet, PodNetwork, tools_missing
from runtime.process import ISOLATION_NOTE

log = logging.getLogger("kubefacade.runtime")

ANNOTATION = "kubefacade.io/pod-isolation"
SANDBOX_ERROR = "CreatePodSandboxError"  # kubecontainer.ErrCreatePodSandbox
REPORT_DIR = Path("/run/kubefacade/start")  # one FIFO per starting container (``container_started``)
ISOLATED_NOTE = (
    "process runtime with pod isolation: containers are host processes; each pod has its own network "
    "namespace (its own IP on the node's bridge) and hostname, each container its own mount namespace "
    "with its volumes at their mountPath; the root filesystem is the host's"
)


def isolation_unavailable(disabled: bool = False) -> str:
    """Why pods cannot be isolated here ("" when they can)."""
    if disabled:
        return "pod isolation is turned off (--no-pod-isolation)"
    if platform.system() != "Linux":
        return "pod isolation needs Linux"
    if os.geteuid() != 0:
        return "pod isolation needs root"
    missing = tools_missing()
    return f"pod isolation needs {', '.join(missing)}" if missing else ""


@dataclass
class _Pod:
    net: PodNet | None
    files: dict[str, Path]
    containers: set[str] = field(default_factory=set)


class PodIsolation:
    """Namespaces for one node's pods (see the module docstring)."""

    def __init__(self, node_name: str, annotations: dict[str, str] | None = None) -> None:
        self.annotations = annotations if annotations is not None else {}  # the Node's, kept in step
        self.network = PodNetwork(node_name)
        self.mounts = MountPoints()
        self.pods: dict[str, _Pod] = {}
        self.holders: dict[str, str] = {}  # container id → its mount-point holder id
        self.reports: dict[str, tuple[Path, int]] = {}  # container id → its setup's report FIFO, read end
        self.pid = os.getpid()

    async def prepare(self, pod_cidr: str = "") -> str:
        """Set up the node's bridge (cleaning what a previous run left); returns the pod CIDR.
        Raises NetworkError (after undoing what it did, and saying why on the Node) when it cannot."""
        try:
            cidr = await asyncio.to_thread(self.network.claim, pod_cidr)
        except (NetworkError, OSError) as e:
            await asyncio.to_thread(self.network.close)
            self.annotations[ANNOTATION] = "none"
            self.annotations["kubefacade.io/isolation"] = f"{ISOLATION_NOTE} (pod network setup failed: {e})"
            raise NetworkError(str(e)) from e
        await asyncio.to_thread(self.mounts.release)  # mount points whose containers died with their agent
        log.info("node %s: pods on bridge %s, %s", self.network.node_name, self.network.bridge, cidr)
        return cidr

    async def create_sandbox(self, config: SandboxConfig, host_ip: str) -> str:
        """The pod's namespaces and /etc files; returns its IP."""
        if config.uid in self.pods:
            net = self.pods[config.uid].net
            return net.ip if net else host_ip
        net = None
        if not config.host_network:
            if not self.network.bridge:
                raise RuntimeError("the pod network is not set up (prepare_node was not called)")
            try:
                net = await asyncio.to_thread(self.network.add_pod, config.uid, pod_hostname(config.pod))
            except OSError as e:  # NetworkError too: what containerd says when the CNI ADD fails
                raise RuntimeError_(SANDBOX_ERROR, f'failed to setup network for sandbox "{config.uid}": {e}') from e
        ip = net.ip if net else host_ip
        files = await asyncio.to_thread(write_pod_files, config.pod, [ip], config.pod_dir)
        self.pods[config.uid] = _Pod(net, files)
        return ip

    async def remove_sandbox(self, uid: str) -> None:
        pod = self.pods.pop(uid, None)
        if pod is None:
            return
        for cid in list(pod.containers):
            await self.container_exited(cid)
        if pod.net is not None:
            await asyncio.to_thread(self.network.remove_pod, uid)

    async def container_argv(self, uid: str, cid: str, config: ContainerConfig, argv: list[str]) -> list[str]:
        """The argv that runs ``argv`` as this container, its mount points made on the host first."""
        pod = self.pods.get(uid)
        if pod is None:
            return argv
        binds = await asyncio.to_thread(container_binds, config.mounts, pod.files)
        holder = f"{self.pid}:{cid}"
        await asyncio.to_thread(self.mounts.acquire, holder, host_targets(binds))
        self.holders[cid] = holder
        pod.containers.add(cid)
        net = pod.net
        report = await asyncio.to_thread(self._report_fifo, cid)
        return start_argv(argv, binds, config.working_dir, net.netns_path if net else None,
                          net.uts if net else None, report)

    def _report_fifo(self, cid: str) -> Path:
        """The FIFO the container's setup reports on (``pod_mounts.mount_script``), opened for reading
        (non-blocking, so opening does not wait for the writer) before the container is spawned."""
        REPORT_DIR.mkdir(parents=True, exist_ok=True)
        path = REPORT_DIR / cid
        path.unlink(missing_ok=True)
        os.mkfifo(path, 0o600)
        self.reports[cid] = (path, os.open(path, os.O_RDONLY | os.O_NONBLOCK))
        return path

    def forget_start(self, cid: str) -> None:
        """The container's report FIFO closed and removed (started, failed, or never spawned)."""
        entry = self.reports.pop(cid, None)
        if entry is not None:
            with contextlib.suppress(OSError):
                os.close(entry[1])
            entry[0].unlink(missing_ok=True)

    async def container_started(self, cid: str, proc: Any) -> str:
        """Wait until the container's setup has exec'd its program ("") or failed (why, e.g. the
        mount that failed), whichever comes first — or until the process has exited."""
        entry = self.reports.get(cid)
        if entry is None:
            return ""
        fd = entry[1]
        loop = asyncio.get_running_loop()
        chunks: list[bytes] = []
        eof: asyncio.Future[None] = loop.create_future()

        def readable() -> None:
            while not eof.done():
                try:
                    data = os.read(fd, 65536)
                except BlockingIOError:
                    return
                except OSError:
                    data = b""
                if not data:  # every writer has closed it: exec'd, or exited
                    eof.set_result(None)
                    return
                chunks.append(data)

        loop.add_reader(fd, readable)
        exited = asyncio.ensure_future(proc.wait())
        try:
            await asyncio.wait([eof, exited], return_when=asyncio.FIRST_COMPLETED)
            readable()  # what is left once the process is gone
        finally:
            loop.remove_reader(fd)
            exited.cancel()
            self.forget_start(cid)
        text = b"".join(chunks).decode("utf-8", "replace")
        if STARTED in text.splitlines():
            return ""
        return setup_error(text) or f"the container's setup exited before starting it (exit code {proc.returncode})"

    async def container_exited(self, cid: str) -> None:
        """Its mount points are no longer held by it (removed if no one else holds them)."""
        holder = self.holders.pop(cid, None)
        for pod in self.pods.values():
            pod.containers.discard(cid)
        if holder is not None:
            await asyncio.to_thread(self.mounts.release, holder)

    def exec_argv(self, pid: int, command: list[str]) -> list[str]:
        return exec_argv(pid, command)

    async def connect(self, uid: str, port: int) -> Any:
        """A connection to the pod's localhost:port, made inside its network namespace."""
        pod = self.pods.get(uid)
        if pod is None or pod.net is None:
            return await asyncio.open_connection("127.0.0.1", port)
        sock = await asyncio.to_thread(connect_in_netns, pod.net.netns_path, "127.0.0.1", port)
        return await asyncio.open_connection(sock=sock)

    def close_sync(self) -> None:
        """Remove every namespace, rule and mount point of this node (at stop, or at interpreter exit)."""
        with contextlib.suppress(Exception):
            self.network.close()
        with contextlib.suppress(Exception):
            self.mounts.release(pid=self.pid)
        for cid in list(self.reports):
            with contextlib.suppress(Exception):
                self.forget_start(cid)
        self.pods.clear()
        self.holders.clear()

    async def close(self) -> None:
        await asyncio.to_thread(self.close_sync)
