"""The one runtime interface the node agent drives (DESIGN.md contract 6).

Shaped after the CRI that kubelet speaks to containerd: a pod is a *sandbox* (its directory, its IP,
its volumes' home), a container is created, started, waited on, stopped and removed inside it. The
agent never knows which backend runs underneath — host processes, Docker, or a simulation — so
every pod-lifecycle rule (restart policy, back-off, probes, status) lives once, in the agent.

Container logs are files the backend writes in the CRI log format (``runtime/logs.py``); the agent
reads them itself, as kubelet reads ``/var/log/pods``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

Obj = dict[str, Any]


class RuntimeError_(Exception):
    """A container that cannot be created or started: ``reason`` becomes its state's reason.

    ``reason`` is what kubelet reports for the same failure (``CreateContainerError``,
    ``StartError``, ``RunContainerError``); ``message`` says why, for the status and the Event.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class Mount:
    """A volume as the container sees it: ``host_path`` materialized, ``container_path`` asked for."""

    name: str
    host_path: Path
    container_path: str
    read_only: bool = False
    sub_path: str = ""


@dataclass
class SandboxConfig:
    """What a pod sandbox needs: identity, the pod (for backends that read annotations), its directory."""

    uid: str
    name: str
    namespace: str
    pod_dir: Path
    pod: Obj = field(default_factory=dict)
    host_network: bool = False


@dataclass
class Sandbox:
    id: str
    ip: str


@dataclass
class ContainerConfig:
    """A container ready to create: command resolved by the agent, env expanded, volumes mounted."""

    name: str
    image: str
    command: list[str]
    args: list[str]
    env: dict[str, str]
    working_dir: str
    mounts: list[Mount]
    log_path: Path
    attempt: int = 0
    tty: bool = False
    stdin: bool = False
    termination_message_path: str = ""
    init: bool = False  # a regular init container (runs to completion before the next one starts)


@dataclass
class ContainerStatus:
    """The runtime's view of one container: ``state`` is ``created``, ``running`` or ``exited``."""

    id: str
    state: str
    exit_code: int = 0
    reason: str = ""
    message: str = ""
    started_at: float = 0.0
    finished_at: float = 0.0
    image_ref: str = ""


@dataclass
class ExecResult:
    exit_code: int
    output: bytes


class ContainerInput(Protocol):
    """A running container's stdin, for ``attach -i``: what a backend's optional
    ``container_input(container_id)`` returns (None when the container has no stdin open)."""

    async def write(self, data: bytes) -> None: ...

    def close(self) -> None:
        """End of input (``stdinOnce`` after the first attach); on a terminal, an EOF character."""
        ...

    def resize(self, width: int, height: int) -> None: ...


class Runtime(Protocol):
    """A container backend. Every method is async; blocking work goes to threads inside the backend."""

    #: ``process``, ``sim``, ``docker``: the scheme of containerIDs (``process://…``)
    name: str
    version: str

    async def create_sandbox(self, config: SandboxConfig) -> Sandbox: ...

    async def remove_sandbox(self, sandbox_id: str) -> None: ...

    async def create_container(self, sandbox: Sandbox, config: ContainerConfig) -> str:
        """Returns the container id; raises ``RuntimeError_`` when it cannot be created."""
        ...

    async def start_container(self, container_id: str) -> None:
        """Raises ``RuntimeError_`` when it cannot start (the container then reads ``exited``)."""
        ...

    async def wait_container(self, container_id: str) -> ContainerStatus:
        """Returns once the container has exited."""
        ...

    async def stop_container(self, container_id: str, grace_seconds: float) -> None:
        """SIGTERM, then SIGKILL after ``grace_seconds``; returns once it has exited."""
        ...

    async def remove_container(self, container_id: str) -> None: ...

    async def container_status(self, container_id: str) -> ContainerStatus: ...

    async def exec_sync(self, container_id: str, command: list[str], timeout: float) -> ExecResult:
        """Run a command in the container (exec probes, hooks); a timeout reads exit code -1."""
        ...

    def exec_stream(self, container_id: str, command: list[str], tty: bool) -> AsyncIterator[bytes]:
        """Interactive exec (streams are served by a later part; backends may raise NotImplementedError)."""
        ...

    async def port_forward(self, sandbox_id: str, port: int) -> Any:
        """A (reader, writer) pair to ``port`` in the pod's network, or NotImplementedError."""
        ...
