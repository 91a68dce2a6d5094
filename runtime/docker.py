"""The docker backend: pods as a pause container holding the network/IPC namespaces, containers joining it.

Talks to any Docker engine through the ``docker`` SDK (``DOCKER_HOST`` or the default socket); every
blocking SDK call runs in a thread so the agent's event loop never waits on the engine. Shaped after
what kubelet's dockershim did: the sandbox is a pause container whose IP is the pod's IP; volumes
are bind mounts of the directories ``runtime/volumes.py`` materialized; limits become cgroup limits.
When no pause image exists locally the local busybox image runs ``sleep`` as the pause process.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import threading
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from runtime.blocking import in_own_thread
from runtime.docker_streams import DockerStdin, open_pod_connection
from runtime.images import normalize_image
from runtime.interface import (
    ContainerConfig,
    ContainerStatus,
    ExecResult,
    RuntimeError_,
    Sandbox,
    SandboxConfig,
)
from runtime.logs import LogWriter

log = logging.getLogger("kubefacade.docker")
PAUSE_IMAGES = ("registry.k8s.io/pause:3.10", "busybox:latest")
LABEL = "io.kubefacade.pod-uid"
ISOLATION_NOTE = "docker runtime: each pod has its own network/IPC namespaces (a pause container); volumes are bind mounts"


def _ts(value: str) -> float:
    """Docker's RFC 3339 nanosecond timestamps as epoch seconds (0 for the zero time)."""
    if not value or value.startswith("0001-"):
        return 0.0
    head, _, frac = value.rstrip("Z").partition(".")
    seconds = datetime.fromisoformat(head + "+00:00").timestamp()
    return seconds + (float("0." + frac[:6]) if frac else 0.0)


def parse_quantity(value: Any) -> float:
    """A Kubernetes quantity (``64Mi``, ``500m``, ``1.5``) as a plain number."""
    text = str(value).strip()
    suffixes = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
                "m": 1e-3}
    for suffix, factor in suffixes.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


def engine_available() -> str:
    """'' when a Docker engine answers, otherwise why not (for skips and errors)."""
    try:
        import docker

        client = docker.from_env(timeout=5)
        client.ping()
        client.close()
        return ""
    except Exception as e:  # noqa: BLE001 - any failure means "no engine here"
        return f"no Docker engine answers ({e.__class__.__name__}: {e})"


def sandbox_dns(config: SandboxConfig) -> dict[str, Any]:
    """The pause container's resolver settings per dnsPolicy (the containers share its resolv.conf).

    ClusterFirst pods ask the cluster DNS at 10.96.0.10: from Docker's bridge the host is the
    gateway, where the node proxy holds the clusterIPs. A host-network sandbox keeps Docker's default.
    """
    from runtime.pod_files import dns_config

    spec = config.pod.get("spec") or {}
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    if config.host_network or (policy == "Default" and not spec.get("dnsConfig")):
        return {}  # Docker's default is the host's resolv.conf (without loopback resolvers), as Default asks
    servers, searches, options = dns_config(config.pod)
    return {"dns": servers, "dns_search": searches, "dns_opt": options}


class DockerRuntime:
    """Pods on a Docker engine; see the module docstring for the sandbox model."""

    name = "docker"

    def __init__(self) -> None:
        import docker

        self._docker = docker
        self.client = docker.from_env(timeout=120)
        self.version = str(self.client.version().get("Version", "unknown"))
        self._sandboxes: dict[str, SandboxConfig] = {}
        self._pull_failures: dict[tuple[str, str], int] = {}
        self._pumps: dict[str, list[threading.Thread]] = {}
        self._log_paths: dict[str, ContainerConfig] = {}
        self._stdins: dict[str, DockerStdin] = {}
        atexit.register(self._remove_all)

    def _remove_all(self) -> None:
        """At interpreter exit no pod outlives its agent: its sandboxes and containers are removed."""
        for sandbox_id in list(self._sandboxes):
            with contextlib.suppress(Exception):
                self._remove_sandbox(sandbox_id)

    # sandboxes

    def _pause_image(self) -> str:
        for image in PAUSE_IMAGES:
            try:
                self.client.images.get(image)
                return image
            except self._docker.errors.ImageNotFound:
                continue
        raise RuntimeError_("CreatePodSandboxError", "no pause image: neither registry.k8s.io/pause nor busybox is present")

    def _create_sandbox(self, config: SandboxConfig) -> Sandbox:
        config.pod_dir.mkdir(parents=True, exist_ok=True)
        image = self._pause_image()
        command = None if "pause" in image else ["sleep", "2147483647"]
        name = f"k8s_POD_{config.name}_{config.namespace}_{config.uid}"
        self._remove_named(name)
        container = self.client.containers.run(
            image, command, name=name, detach=True, hostname=config.name[:63],
            ipc_mode="shareable", network_mode="host" if config.host_network else "bridge",
            labels={LABEL: config.uid, "io.kubernetes.pod.name": config.name,
                    "io.kubernetes.pod.namespace": config.namespace},
            **sandbox_dns(config),
        )
        container.reload()
        networks = container.attrs.get("NetworkSettings", {}).get("Networks", {}) or {}
        ip = next((n.get("IPAddress") for n in networks.values() if n.get("IPAddress")), "") or "127.0.0.1"
        self._sandboxes[container.id] = config
        return Sandbox(container.id, ip)

    def _remove_named(self, name: str) -> None:
        try:
            self.client.containers.get(name).remove(force=True)
        except self._docker.errors.NotFound:
            pass

    async def create_sandbox(self, config: SandboxConfig) -> Sandbox:
        try:
            return await asyncio.to_thread(self._create_sandbox, config)
        except self._docker.errors.DockerException as e:
            raise RuntimeError_("CreatePodSandboxError", f"Failed to create pod sandbox: {e}") from e

    def _remove_sandbox(self, sandbox_id: str) -> None:
        config = self._sandboxes.pop(sandbox_id, None)
        filters = {"label": f"{LABEL}={config.uid}"} if config else None
        if filters:
            for c in self.client.containers.list(all=True, filters=filters):
                if c.id != sandbox_id:
                    c.remove(force=True)
        try:
            self.client.containers.get(sandbox_id).remove(force=True)
        except self._docker.errors.NotFound:
            pass

    async def remove_sandbox(self, sandbox_id: str) -> None:
        await asyncio.to_thread(self._remove_sandbox, sandbox_id)

    # containers

    def _ensure_image(self, config: ContainerConfig, pod: dict[str, Any]) -> Any:
        """The image by imagePullPolicy; a failed pull without a local image reads ErrImagePull, then back-off."""
        spec = next((c for key in ("initContainers", "containers")
                     for c in (pod.get("spec", {}).get(key) or []) if c.get("name") == config.name), {})
        policy = spec.get("imagePullPolicy") or ("Always" if config.image.endswith(":latest")
                                                 or ":" not in config.image.rsplit("/", 1)[-1] else "IfNotPresent")
        local = None
        try:
            local = self.client.images.get(config.image)
        except self._docker.errors.ImageNotFound:
            pass
        if local is not None and policy != "Always":
            return local
        if policy == "Never":
            raise RuntimeError_("ErrImageNeverPull",
                                f'Container image "{config.image}" is not present with pull policy of Never')
        try:
            return self.client.images.pull(config.image)
        except self._docker.errors.DockerException as e:
            if local is not None:
                return local
            key = (str(pod.get("metadata", {}).get("uid", "")), config.name)
            failures = self._pull_failures.get(key, 0)
            self._pull_failures[key] = failures + 1
            if failures:
                raise RuntimeError_("ImagePullBackOff", f'Back-off pulling image "{config.image}"') from e
            raise RuntimeError_("ErrImagePull", f'Failed to pull image "{config.image}": {e}') from e

    def _create_container(self, sandbox: Sandbox, config: ContainerConfig) -> str:
        sandbox_config = self._sandboxes.get(sandbox.id)
        pod = sandbox_config.pod if sandbox_config else {}
        try:  # the agent pulled it by its policy (runtime/image_pull.py) just before
            image = self.client.images.get(config.image)
        except self._docker.errors.ImageNotFound:
            image = self._ensure_image(config, pod)
        spec = next((c for key in ("initContainers", "containers")
                     for c in (pod.get("spec", {}).get(key) or []) if c.get("name") == config.name), {})
        limits = (spec.get("resources") or {}).get("limits") or {}
        kwargs: dict[str, Any] = {}
        if "memory" in limits:
            kwargs["mem_limit"] = int(parse_quantity(limits["memory"]))
            kwargs["memswap_limit"] = kwargs["mem_limit"]
        if "cpu" in limits:
            kwargs["nano_cpus"] = int(parse_quantity(limits["cpu"]) * 1e9)
        # Kubernetes semantics: command replaces ENTRYPOINT (and drops CMD); args alone replace CMD.
        entrypoint = config.command or None
        cmd: list[str] | None = config.args or None
        if config.command and not config.args:
            cmd = []
        mounts = []
        for m in config.mounts:
            host = m.host_path / m.sub_path if m.sub_path else m.host_path
            mounts.append(self._docker.types.Mount(m.container_path, str(host), type="bind", read_only=m.read_only))
        uid = sandbox_config.uid if sandbox_config else ""
        name = f"k8s_{config.name}_{sandbox_config.name if sandbox_config else ''}_" \
               f"{sandbox_config.namespace if sandbox_config else ''}_{uid}_{config.attempt}"
        self._remove_named(name)
        # the low-level call: the SDK's containers.create has no StdinOnce (stdinOnce, see runtime/docker_streams.py)
        host_config = self.client.api.create_host_config(
            mounts=mounts, network_mode=f"container:{sandbox.id}", ipc_mode=f"container:{sandbox.id}", **kwargs)
        create_config = self.client.api.create_container_config(
            image.id, cmd, entrypoint=entrypoint, environment=self._docker.utils.format_environment(config.env),
            working_dir=config.working_dir or None, tty=config.tty, stdin_open=config.stdin, detach=True,
            host_config=host_config, labels={LABEL: uid, "io.kubernetes.container.name": config.name},
        )
        create_config["StdinOnce"] = config.stdin and bool(spec.get("stdinOnce"))
        created = self.client.api.create_container_from_config(create_config, name)
        container_id = str(created["Id"])
        for warning in created.get("Warnings") or []:  # e.g. limits an engine without that cgroup dropped
            log.warning("docker: container %s: %s", name, warning)
        self._pumps[container_id] = []
        self._log_paths[container_id] = config
        return container_id

    def _image_size(self, config: ContainerConfig) -> int | None:
        try:
            return int(self.client.images.get(config.image).attrs.get("Size") or 0)
        except self._docker.errors.ImageNotFound:
            return None

    async def image_size(self, config: ContainerConfig) -> int | None:
        """The local image's size, None when the engine does not have it (for runtime/image_pull.py)."""
        return await asyncio.to_thread(self._image_size, config)

    def _pull_image(self, config: ContainerConfig) -> int:
        try:
            image = self.client.images.pull(config.image)
        except self._docker.errors.APIError as e:  # the engine's words, as the docker CLI and cri-dockerd print them
            raise RuntimeError_("ErrImagePull", f"Error response from daemon: {e.explanation or e}") from e
        except self._docker.errors.DockerException as e:
            raise RuntimeError_("ErrImagePull", str(e)) from e
        return int(image.attrs.get("Size") or 0)

    async def pull_image(self, config: ContainerConfig) -> int:
        """Pull from the registry; ``ErrImagePull`` with the engine's reason when it fails."""
        return await in_own_thread(self._pull_image, config, name="kubefacade-docker-pull")  # may take minutes

    async def create_container(self, sandbox: Sandbox, config: ContainerConfig) -> str:
        try:
            return await asyncio.to_thread(self._create_container, sandbox, config)
        except RuntimeError_:
            raise
        except self._docker.errors.DockerException as e:
            raise RuntimeError_("CreateContainerError", str(e)) from e

    def _start_container(self, container_id: str) -> None:
        container = self.client.containers.get(container_id)
        container.start()
        config = self._log_paths.get(container_id)
        if config is None:
            return
        writer = LogWriter(config.log_path)
        lock = threading.Lock()
        threads = [threading.Thread(target=self._pump, args=(container_id, stream, writer, lock), daemon=True)
                   for stream in ("stdout", "stderr")]
        for t in threads:
            t.start()
        self._pumps[container_id] = threads

    def _pump(self, container_id: str, stream: str, writer: LogWriter, lock: threading.Lock) -> None:
        """Copy one output stream from the engine into the CRI log file the agent reads."""
        try:
            chunks = self.client.api.logs(container_id, stdout=stream == "stdout", stderr=stream == "stderr",
                                          stream=True, follow=True)
            for chunk in chunks:
                with lock:
                    writer.write(stream, chunk)
        except Exception:  # noqa: BLE001 - the container went away; its log ends here
            pass

    async def start_container(self, container_id: str) -> None:
        try:
            await asyncio.to_thread(self._start_container, container_id)
        except self._docker.errors.DockerException as e:
            raise RuntimeError_("StartError", str(e)) from e

    def _status(self, container_id: str) -> ContainerStatus:
        try:
            attrs = self.client.api.inspect_container(container_id)
        except self._docker.errors.NotFound:
            return ContainerStatus(container_id, "exited", exit_code=137, reason="Error",
                                   message="container not found")
        state = attrs.get("State", {})
        image_ref = ""
        config = self._log_paths.get(container_id)
        if config is not None:
            image_ref = f"{normalize_image(config.image).rsplit(':', 1)[0]}@{attrs.get('Image', '')}"
        status = {"created": "created", "running": "running"}.get(state.get("Status", ""), "exited")
        code = int(state.get("ExitCode") or 0)
        reason = ""
        if status == "exited":
            reason = "OOMKilled" if state.get("OOMKilled") else ("Completed" if code == 0 else "Error")
        return ContainerStatus(container_id, status, exit_code=code, reason=reason,
                               message=str(state.get("Error") or ""), started_at=_ts(state.get("StartedAt", "")),
                               finished_at=_ts(state.get("FinishedAt", "")), image_ref=image_ref)

    async def wait_container(self, container_id: str) -> ContainerStatus:
        """Blocks a thread of its own (not the shared pool: runtime/blocking.py) on the engine's wait, with its
        own connection (no read timeout)."""

        def wait() -> ContainerStatus:
            waiter = self._docker.from_env(timeout=None)
            try:
                waiter.api.wait(container_id)
            except self._docker.errors.NotFound:
                pass
            finally:
                waiter.close()
            for t in self._pumps.get(container_id, []):
                t.join(2)
            return self._status(container_id)

        return await in_own_thread(wait, name="kubefacade-docker-wait")

    async def stop_container(self, container_id: str, grace_seconds: float) -> None:
        def stop() -> None:
            try:
                self.client.api.stop(container_id, timeout=max(0, int(grace_seconds)))
            except self._docker.errors.NotFound:
                pass
        await asyncio.to_thread(stop)

    async def remove_container(self, container_id: str) -> None:
        def remove() -> None:
            try:
                self.client.api.remove_container(container_id, force=True)
            except self._docker.errors.NotFound:
                pass
        await asyncio.to_thread(remove)
        self._log_paths.pop(container_id, None)
        self._pumps.pop(container_id, None)
        stdin = self._stdins.pop(container_id, None)
        if stdin is not None:
            await asyncio.to_thread(stdin.release)

    async def container_status(self, container_id: str) -> ContainerStatus:
        return await asyncio.to_thread(self._status, container_id)

    async def exec_sync(self, container_id: str, command: list[str], timeout: float) -> ExecResult:
        def run() -> ExecResult:
            result = self.client.containers.get(container_id).exec_run(command)
            return ExecResult(int(result.exit_code or 0), bytes(result.output or b""))
        try:
            return await asyncio.wait_for(in_own_thread(run, name="kubefacade-docker-exec"), timeout)
        except TimeoutError:
            return ExecResult(-1, b"")
        except self._docker.errors.DockerException as e:
            return ExecResult(126, str(e).encode())

    def exec_environment(self, container_id: str) -> tuple[str, dict[str, str]]:
        """Where the exec stream runs ``exec_command``'s argv: on the host, in this process's environment (its DOCKER_HOST)."""
        return os.getcwd(), dict(os.environ)

    def exec_command(self, container_id: str, command: list[str], tty: bool, stdin: bool) -> list[str]:
        """The host argv that runs ``command`` inside the container through the engine (``docker exec``)."""
        flags = (["-i"] if stdin else []) + (["-t"] if tty else [])
        return ["docker", "exec", *flags, container_id, *command]

    def exec_stream(self, container_id: str, command: list[str], tty: bool) -> AsyncIterator[bytes]:
        raise NotImplementedError("interactive exec on the docker runtime is not served yet")

    def container_input(self, container_id: str) -> DockerStdin | None:
        """The container's stdin (``stdin: true``) for attach, through the engine's attach (runtime/docker_streams.py)."""
        config = self._log_paths.get(container_id)
        if config is None or not config.stdin:
            return None
        stdin = self._stdins.get(container_id)
        if stdin is None:
            stdin = self._stdins[container_id] = DockerStdin(self._docker, container_id, config.tty)
        return None if stdin.closed else stdin

    async def port_forward(self, sandbox_id: str, port: int) -> Any:
        """localhost:port inside the pod's network namespace, as containerd dials it (runtime/docker_streams.py)."""
        return await open_pod_connection(self.client, sandbox_id, port)

    def close(self) -> None:
        self.client.close()
