"""The process backend (the default): every container is a host process in its own process group.

No daemon and no images: a container's command/args run on the host (for a container without a
command, the entrypoint of a few known images — ``runtime/images.py``). Filesystems and the network
are not isolated: pods share the host network (their IP is the node's) and volumes are materialized
under the pod's directory; the agent says so on the Node. A container that cannot really run is
reported as failing (``CreateContainerError``/``StartError``), never as Running.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import secrets
import shutil
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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

    def __init__(self, host_ip: str = "127.0.0.1", clock: Clock | None = None) -> None:
        self.host_ip = host_ip
        self.clock = clock or RealClock()
        self._sandboxes: dict[str, SandboxConfig] = {}
        self._containers: dict[str, _Container] = {}
        atexit.register(self._kill_all)

    def _kill_all(self) -> None:
        """At interpreter exit, no container outlives its agent (each has its own session)."""
        for c in self._containers.values():
            if c.proc is not None and not c.exited.is_set():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(c.proc.pid, signal.SIGKILL)

    async def create_sandbox(self, config: SandboxConfig) -> Sandbox:
        config.pod_dir.mkdir(parents=True, exist_ok=True)
        self._sandboxes[config.uid] = config
        return Sandbox(config.uid, self.host_ip)

    async def remove_sandbox(self, sandbox_id: str) -> None:
        config = self._sandboxes.pop(sandbox_id, None)
        for c in [c for c in self._containers.values() if c.sandbox.id == sandbox_id]:
            await self.stop_container(c.id, 0)
            self._containers.pop(c.id, None)
        if config is not None:
            await asyncio.to_thread(shutil.rmtree, config.pod_dir, True)

    async def create_container(self, sandbox: Sandbox, config: ContainerConfig) -> str:
        argv = resolve_argv(config)
        env = {"PATH": DEFAULT_PATH, "HOME": "/root"}
        sandbox_config = self._sandboxes.get(sandbox.id)
        if sandbox_config is not None:
            env["HOSTNAME"] = sandbox_config.name
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
        writer = LogWriter(c.config.log_path)
        if exe is None or not os.access(exe, os.X_OK):
            return self._fail_start(c, writer, f'exec: "{c.argv[0]}": executable file not found in $PATH')
        try:
            proc = await asyncio.create_subprocess_exec(
                exe, *c.argv[1:], stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, cwd=c.cwd, env=c.env, start_new_session=True,
            )
        except OSError as e:
            return self._fail_start(c, writer, f'exec: "{c.argv[0]}": {e.strerror or e}')
        c.proc = proc
        c.status = ContainerStatus(container_id, "running", started_at=time.time(), image_ref=f"process://{exe}")
        readers = [asyncio.create_task(_pump(proc.stdout, writer, "stdout")),
                   asyncio.create_task(_pump(proc.stderr, writer, "stderr"))]
        c.tasks.append(asyncio.create_task(self._reap(c, proc, readers, writer)))

    def _fail_start(self, c: _Container, writer: LogWriter, why: str) -> None:
        writer.close()
        now = time.time()
        c.status = ContainerStatus(c.id, "exited", exit_code=128, reason="StartError", message=why,
                                   started_at=0.0, finished_at=now)
        c.exited.set()
        raise RuntimeError_("StartError", why)

    async def _reap(self, c: _Container, proc: asyncio.subprocess.Process, readers: list[asyncio.Task[Any]],
                    writer: LogWriter) -> None:
        code = await proc.wait()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # what is left of the group dies with its container
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.gather(*readers, return_exceptions=True), 2)
        for r in readers:
            r.cancel()
        writer.close()
        exit_code = code if code >= 0 else 128 - code
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

    def exec_stream(self, container_id: str, command: list[str], tty: bool) -> AsyncIterator[bytes]:
        raise NotImplementedError("interactive exec is served by the streams part of the node agent")

    async def port_forward(self, sandbox_id: str, port: int) -> Any:
        """kubelet forwards to the pod's localhost; pods share the host network, so the host's loopback
        (the pod IP is the host's routed address, which a server bound to 127.0.0.1 does not answer)."""
        return await asyncio.open_connection("127.0.0.1", port)


async def _pump(stream: asyncio.StreamReader | None, writer: LogWriter, name: str) -> None:
    if stream is None:
        return
    while True:
        data = await stream.read(65536)
        if not data:
            return
        writer.write(name, data)
