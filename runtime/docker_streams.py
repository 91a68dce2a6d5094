"""The docker backend's streams: a container's stdin for ``attach -i``, and connections for port-forward.

Stdin, as dockershim served it: the container is created with ``OpenStdin`` (``stdin: true``) and
``StdinOnce`` (``stdinOnce: true``), and ``attach -i`` writes to an attach connection that carries
stdin only (the output reaches the caller from the container's log). Ending that connection's write
side is "stdin ended": with ``StdinOnce`` and no terminal the engine then closes the container's stdin,
otherwise it stays open for the next attach session. A terminal's size goes to the engine's resize.

Port-forward, as containerd serves it: the connection is made from inside the pod's network namespace
(the pause container's) to its localhost, so a server bound to 127.0.0.1 in the pod answers too, and
the engine's network need not be routable from here. Where that namespace cannot be entered (not
root, another PID namespace), the pod's IP on the engine's network is dialled instead.

Every engine call and socket write runs in a thread; the agent's event loop never waits on them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import socket
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from runtime.netns import CLONE_NEWNET, in_own_thread, setns

CONNECT_TIMEOUT = 5.0


class DockerStdin:
    """One container's stdin through an attach connection of its own (opened at the first use).

    Writes, resizes and the end of input run in order on one thread of this container's (started at
    the first use): a terminal's size set by ``attach -it`` is in place before what is typed next,
    and a container that reads no input blocks only its own writer, not the loop's thread pool.
    """

    def __init__(self, docker: Any, container_id: str, tty: bool) -> None:
        self._docker = docker
        self.container_id = container_id
        self.tty = tty
        self.closed = False
        self._client: Any = None
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._ops: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...], Future[Any]] | None] = \
            queue.SimpleQueue()
        self._worker: threading.Thread | None = None

    def _submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self._ops.put((fn, args, future))
        with self._lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="kubefacade-docker-stdin", daemon=True)
                self._worker.start()
        return future

    def _work(self) -> None:
        while (op := self._ops.get()) is not None:
            fn, args, future = op
            try:
                future.set_result(fn(*args))
            except Exception as e:  # noqa: BLE001 - handed to whoever waits on it
                future.set_exception(e)

    def _api(self) -> Any:
        if self._client is None:
            self._client = self._docker.from_env(timeout=None).api
        return self._client

    def _open(self) -> socket.socket:
        """The attach connection (stdin only), made once; later calls reuse it."""
        if self._sock is None:
            raw = self._api().attach_socket(self.container_id,
                                            params={"stdin": 1, "stdout": 0, "stderr": 0, "stream": 1})
            self._sock = getattr(raw, "_sock", raw)
        return self._sock

    def _send(self, data: bytes) -> None:
        if self.closed and not self.tty:
            return
        with contextlib.suppress(OSError, self._docker.errors.DockerException):
            self._open().sendall(data)

    async def write(self, data: bytes) -> None:
        await asyncio.wrap_future(self._submit(self._send, data))

    def _end(self) -> None:
        """Half-close: the engine sees the end of this attach's stdin (and, with StdinOnce, closes the container's)."""
        with contextlib.suppress(OSError, self._docker.errors.DockerException):
            self._open().shutdown(socket.SHUT_WR)

    def close(self) -> None:
        """End of input: with no terminal the attach's write side ends; a terminal gets an EOF character."""
        if self.closed:
            return
        if self.tty:
            self._submit(self._send, b"\x04")
            return
        self.closed = True
        self._submit(self._end)

    def _resize(self, width: int, height: int) -> None:
        with contextlib.suppress(self._docker.errors.DockerException):
            self._api().resize(self.container_id, height=height, width=width)

    def resize(self, width: int, height: int) -> None:
        if self.tty:
            self._submit(self._resize, width, height)

    def release(self) -> None:
        """The container is gone: stop the worker, drop the connection and its client (call from a thread)."""
        self.closed = True
        self._ops.put(None)
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()  # also ends a write the container never read
        if self._worker is not None:
            self._worker.join(5)
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
        self._sock = self._client = None


def _sandbox_target(client: Any, sandbox_id: str) -> tuple[int, str]:
    """The pause container's PID (0 when not running) and its IP on the engine's network."""
    attrs = client.api.inspect_container(sandbox_id)
    networks = attrs.get("NetworkSettings", {}).get("Networks", {}) or {}
    ip = next((n.get("IPAddress") for n in networks.values() if n.get("IPAddress")), "") or "127.0.0.1"
    return int((attrs.get("State") or {}).get("Pid") or 0), ip


def _dial_in_netns(pid: int, port: int) -> socket.socket | None:
    """A connection to localhost:port inside ``pid``'s network namespace; None when it cannot be entered."""

    def work() -> socket.socket | None:
        try:
            target = os.open(Path(f"/proc/{pid}/ns/net"), os.O_RDONLY)
        except OSError:
            return None
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            try:
                setns(target, CLONE_NEWNET)
            except OSError:
                return None
            try:
                return socket.create_connection(("127.0.0.1", port), CONNECT_TIMEOUT)
            finally:
                setns(own, CLONE_NEWNET)
        finally:
            os.close(target)
            os.close(own)

    return in_own_thread(work)  # type: ignore[no-any-return]


def connect_to_pod(client: Any, sandbox_id: str, port: int) -> socket.socket:
    """A blocking connection to ``port`` of the pod whose pause container is ``sandbox_id``."""
    pid, ip = _sandbox_target(client, sandbox_id)
    if pid and (sock := _dial_in_netns(pid, port)) is not None:
        sock.settimeout(None)
        return sock
    sock = socket.create_connection((ip, port), CONNECT_TIMEOUT)
    sock.settimeout(None)
    return sock


async def open_pod_connection(client: Any, sandbox_id: str, port: int) -> tuple[asyncio.StreamReader,
                                                                                 asyncio.StreamWriter]:
    """``connect_to_pod`` off the event loop, as an asyncio stream pair."""
    sock = await asyncio.to_thread(connect_to_pod, client, sandbox_id, port)
    return await asyncio.open_connection(sock=sock)
