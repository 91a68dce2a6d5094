"""The process backend (the default): every container is a host process in its own process group.

No daemon and no images: a container's command/args run on the host (for a container without a
command, the entrypoint of a few known images — ``runtime/images.py``). As root on Linux each pod
gets its own network and UTS namespaces and each container its own mount namespace with its volumes
at their mountPath (``runtime/pod_isolation.py``); otherwise (or with ``--no-pod-isolation``) pods
share the host network (their IP is the node's) and volumes are materialized under the pod's
directory. The agent says which on the Node. A container that cannot really run is
reported as failing (``CreateContainerError``/``StartError``), never as Running.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import secrets
import shutil
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from controllers.clock import Clock, RealClock
from runtime.images import known_entrypoint
from runtime.interface import (
    ContainerConfig,
    ContainerStatus,
    ExecResult,
    RuntimeError_,
    Sandbox,
    SandboxConfig,
)
from runtime.logs import LogWriter
from runtime.pod_files import pod_hostname
from runtime.process_stdio import ContainerStdio
from runtime.spawn import spawn

if TYPE_CHECKING:
    from runtime.pod_isolation import PodIsolation

log = logging.getLogger("kubefacade.runtime")

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
ISOLATION_NOTE = (
    "process runtime: containers are host processes; pods share the host network and filesystem "
    "(volumes are materialized under the pod's directory), without isolation"
)


@dataclass
class _Container:
    id: str
    sandbox: Sandbox
    config: ContainerConfig
    argv: list[str]
    cwd: str
    env: dict[str, str]
    proc: asyncio.subprocess.Process | None = None
    status: ContainerStatus = field(default_factory=lambda: ContainerStatus("", "created"))
    exited: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    stdio: ContainerStdio | None = None  # its stdin pipe or terminal, for attach (runtime/process_stdio.py)


def resolve_argv(config: ContainerConfig) -> list[str]:
    """The argv a container runs: its command+args, or the image's entrypoint with args or CMD."""
    if config.command:
        return list(config.command) + list(config.args)
    known = known_entrypoint(config.image)
    if known is None:
        raise RuntimeError_(
            "CreateContainerError",
            f'the process runtime does not know the entrypoint of image "{config.image}"; '
            "give the container a command",
        )
    entrypoint, cmd = known
    return entrypoint + (list(config.args) if config.args else cmd)


class ProcessRuntime:
    """Containers as host process groups; see the module docstring for what is and is not isolated."""

    name = "process"
    version = "0.1.0"

    def __init__(self, host_ip: str = "127.0.0.1", clock: Clock | None = None,
                 isolation: PodIsolation | None = None) -> None:
        self.host_ip = host_ip
        self.clock = clock or RealClock()
        self.isolation = isolation  # as root: pods in namespaces of their own (runtime/pod_isolation.py)
        self._sandboxes: dict[str, SandboxConfig] = {}
        self._containers: dict[str, _Container] = {}
        atexit.register(self._kill_all)

    def _kill_all(self) -> None:
        """At interpreter exit, no container outlives its agent (each has its own session)."""
        for c in self._containers.values():
            if c.proc is not None and not c.exited.is_set():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(c.proc.pid, signal.SIGKILL)
        if self.isolation is not None:
            self.isolation.close_sync()

    async def prepare_node(self, pod_cidr: str) -> str:
        """Before the Node registers: set up the pod network; returns its pod CIDR ("" without isolation).
        When that fails, pods run without isolation, and the Node's annotations say why."""
        if self.isolation is None:
            return ""
        try:
            return await self.isolation.prepare(pod_cidr)
        except OSError as e:
            log.error("pods will share the host network: %s", e)
            self.isolation = None
            return ""

    async def release_node(self) -> None:
        """The agent stops: remove the pods' namespaces, the node's bridge and its rules."""
        if self.isolation is not None:
            await self.isolation.close()

    async def create_sandbox(self, config: SandboxConfig) -> Sandbox:
        config.pod_dir.mkdir(parents=True, exist_ok=True)
        self._sandboxes[config.uid] = config
        if self.isolation is not None:
            return Sandbox(config.uid, await self.isolation.create_sandbox(config, self.host_ip))
        return Sandbox(config.uid, self.host_ip)

    async def remove_sandbox(self, sandbox_id: str) -> None:
        config = self._sandboxes.pop(sandbox_id, None)
        for c in [c for c in self._containers.values() if c.sandbox.id == sandbox_id]:
            await self.stop_container(c.id, 0)
            self._containers.pop(c.id, None)
        if self.isolation is not None:
            await self.isolation.remove_sandbox(sandbox_id)
        if config is not None:
            await asyncio.to_thread(shutil.rmtree, config.pod_dir, True)

    async def create_container(self, sandbox: Sandbox, config: ContainerConfig) -> str:
        argv = resolve_argv(config)
        env = {"PATH": DEFAULT_PATH, "HOME": "/root"}
        sandbox_config = self._sandboxes.get(sandbox.id)
        if sandbox_config is not None:
            env["HOSTNAME"] = pod_hostname(sandbox_config.pod) if sandbox_config.pod else sandbox_config.name
        env.update(config.env)
        pod_dir = sandbox_config.pod_dir if sandbox_config else Path.cwd()
        cwd = config.working_dir if config.working_dir and os.path.isdir(config.working_dir) else str(pod_dir)
        cid = secrets.token_hex(32)
        self._containers[cid] = _Container(cid, sandbox, config, argv, cwd, env,
                                           status=ContainerStatus(cid, "created"))
        return cid

    def _get(self, container_id: str) -> _Container:
        try:
            return self._containers[container_id]
        except KeyError:
            raise RuntimeError_("ContainerNotFound", f"container {container_id} not found") from None

    async def start_container(self, container_id: str) -> None:
        c = self._get(container_id)
        exe = shutil.which(c.argv[0], path=c.env.get("PATH", DEFAULT_PATH)) if "/" not in c.argv[0] else c.argv[0]
        writer = await asyncio.to_thread(LogWriter, c.config.log_path)  # mkdir and open off the event loop
        if exe is None or not os.access(exe, os.X_OK):
            return self._fail_start(c, writer, f'exec: "{c.argv[0]}": executable file not found in $PATH')
        c.stdio = stdio = ContainerStdio(c.config)
        argv = [exe, *c.argv[1:]]
        try:
            if self.isolation is not None:
                argv = await self.isolation.container_argv(c.sandbox.id, c.id, c.config, argv)
            proc = await spawn(argv, c.cwd, c.env, **stdio.popen_args())  # vfork, off the loop (runtime/spawn.py)
        except OSError as e:
            stdio.started(None)
            if self.isolation is not None:
                self.isolation.forget_start(c.id)
            return self._fail_start(c, writer, f'exec: "{c.argv[0]}": {e.strerror or e}')
        stdio.started(proc)
        c.proc = proc
        readers = stdio.readers(proc, writer, _pump)
        # with isolation, started means its mounts are made and its program exec'd; a failed mount is a StartError
        why = await self.isolation.container_started(c.id, proc) if self.isolation is not None else ""
        if why:
            await self._reap(c, proc, readers, writer, failed=why)
            raise RuntimeError_("StartError", why)
        c.status = ContainerStatus(container_id, "running", started_at=time.time(), image_ref=f"process://{exe}")
        c.tasks.append(asyncio.create_task(self._reap(c, proc, readers, writer)))

    def _fail_start(self, c: _Container, writer: LogWriter, why: str) -> None:
        writer.close()
        now = time.time()
        c.status = ContainerStatus(c.id, "exited", exit_code=128, reason="StartError", message=why,
                                   started_at=0.0, finished_at=now)
        c.exited.set()
        raise RuntimeError_("StartError", why)

    async def _reap(self, c: _Container, proc: asyncio.subprocess.Process, readers: list[asyncio.Task[Any]],
                    writer: LogWriter, failed: str = "") -> None:
        """Wait for the container's exit and record it (``failed``: it never got past its setup)."""
        code = await proc.wait()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # what is left of the group dies with its container
        if self.isolation is not None:
            with contextlib.suppress(OSError):
                await self.isolation.container_exited(c.id)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.gather(*readers, return_exceptions=True), 2)
        for r in readers:
            r.cancel()
        writer.close()
        exit_code = code if code >= 0 else 128 - code
        if failed:
            c.status = ContainerStatus(c.id, "exited", exit_code=128, reason="StartError", message=failed,
                                       started_at=0.0, finished_at=time.time())
        else:
            c.status = ContainerStatus(c.id, "exited", exit_code=exit_code, reason="Completed" if exit_code == 0 else "Error",
                                       started_at=c.status.started_at, finished_at=time.time(),
                                       image_ref=c.status.image_ref)
        c.exited.set()

    async def wait_container(self, container_id: str) -> ContainerStatus:
        c = self._get(container_id)
        await c.exited.wait()
        return c.status

    async def stop_container(self, container_id: str, grace_seconds: float) -> None:
        c = self._containers.get(container_id)
        if c is None or c.proc is None or c.exited.is_set():
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(c.proc.pid, signal.SIGTERM if grace_seconds > 0 else signal.SIGKILL)
        if grace_seconds > 0:
            exited = asyncio.create_task(c.exited.wait())
            timer = asyncio.create_task(self.clock.sleep(grace_seconds))
            await asyncio.wait([exited, timer], return_when=asyncio.FIRST_COMPLETED)
            timer.cancel()
            exited.cancel()
            if not c.exited.is_set():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(c.proc.pid, signal.SIGKILL)
        await c.exited.wait()

    async def remove_container(self, container_id: str) -> None:
        c = self._containers.pop(container_id, None)
        if c is not None and not c.exited.is_set():
            self._containers[container_id] = c
            await self.stop_container(container_id, 0)
            self._containers.pop(container_id, None)

    async def container_status(self, container_id: str) -> ContainerStatus:
        return self._get(container_id).status

    async def exec_sync(self, container_id: str, command: list[str], timeout: float) -> ExecResult:
        c = self._get(container_id)
        command = self.exec_command(container_id, command)
        try:
            proc = await asyncio.create_subprocess_exec(
                *command, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT, cwd=c.cwd, env=c.env, start_new_session=True,
            )
        except OSError as e:
            return ExecResult(126, f'exec: "{command[0]}": {e.strerror or e}'.encode())
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            return ExecResult(-1, b"")
        return ExecResult(proc.returncode or 0, out)

    def exec_environment(self, container_id: str) -> tuple[str, dict[str, str]]:
        """(working directory, environment) a command run in this container gets, for exec streams."""
        c = self._get(container_id)
        return c.cwd, dict(c.env)

    def exec_command(self, container_id: str, command: list[str], tty: bool = False, stdin: bool = False) -> list[str]:
        """What runs for a command in this container: with isolation, the command inside the container's
        namespaces. A bare program name the host's PATH lacks is left as it is, so that it fails as a
        missing executable does (the container's PATH directories are the host's)."""
        c = self._get(container_id)
        if self.isolation is None or c.proc is None or c.exited.is_set() or not command:
            return command
        if "/" not in command[0] and shutil.which(command[0], path=c.env.get("PATH", DEFAULT_PATH)) is None:
            return command
        return self.isolation.exec_argv(c.proc.pid, command)

    def exec_stream(self, container_id: str, command: list[str], tty: bool) -> AsyncIterator[bytes]:
        raise NotImplementedError("interactive exec is served by the streams part of the node agent")

    def container_input(self, container_id: str) -> ContainerStdio | None:
        """The running container's stdin (``stdin: true``) or terminal (``tty: true``), for attach."""
        c = self._containers.get(container_id)
        if c is None or c.stdio is None or c.exited.is_set() or not c.stdio.accepts_input:
            return None
        return c.stdio

    async def port_forward(self, sandbox_id: str, port: int) -> Any:
        """kubelet forwards to the pod's localhost: inside the pod's network namespace with isolation, else
        the host's loopback (pods share the host network; a server bound to 127.0.0.1 answers only there)."""
        if self.isolation is not None:
            return await self.isolation.connect(sandbox_id, port)
        return await asyncio.open_connection("127.0.0.1", port)

    async def image_size(self, config: ContainerConfig) -> int | None:
        """No images here: one is "present" when the container has a command or the image's entrypoint is
        known on this host (``runtime/images.py``); its size is that of the executable it resolves to."""
        if not config.command and known_entrypoint(config.image) is None:
            return None
        try:
            argv = resolve_argv(config)
        except RuntimeError_:
            return None
        exe = shutil.which(argv[0], path=dict(config.env).get("PATH", DEFAULT_PATH)) if argv else None
        try:
            return os.path.getsize(exe) if exe else 0
        except OSError:
            return 0

    async def pull_image(self, config: ContainerConfig) -> int:
        """Nothing can be pulled: an image that is not "present" fails as it always did, at creation."""
        size = await self.image_size(config)
        if size is None:
            resolve_argv(config)  # raises the CreateContainerError that says why
            raise RuntimeError_("CreateContainerError", f'the process runtime cannot pull image "{config.image}"')
        return size


async def _pump(stream: asyncio.StreamReader | None, writer: LogWriter, name: str) -> None:
    if stream is None:
        return
    while True:
        data = await stream.read(65536)
        if not data:
            return
        writer.write(name, data)
