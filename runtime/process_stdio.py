"""A process-runtime container's standard streams: closed stdin, a kept-open stdin pipe, or a terminal.

What the container spec asks for, as containerd gives it: ``stdin: true`` keeps a pipe to the
container's stdin open for its whole life, so that ``kubectl attach -i`` (and ``kubectl run -i``)
can write to it; ``tty: true`` runs the container on a pseudo-terminal (stdin, stdout and stderr
are the terminal; what it prints reaches the log as stdout). ``stdinOnce`` is the attach side's
business (facade/pod_attach.py): it closes the stdin after the first attach session ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pty
import struct
import termios
from collections.abc import Callable
from typing import Any

from runtime.interface import ContainerConfig
from runtime.logs import LogWriter


def _session_on(tty_path: str) -> Callable[[], None]:
    """For the child: a new session whose controlling terminal is the pty, as a container's init gets."""

    def setup() -> None:
        os.setsid()
        os.close(os.open(tty_path, os.O_RDWR))

    return setup


class ContainerStdio:
    """Chooses the child's stdio, then serves the container's input (``write``, ``close``, ``resize``)."""

    def __init__(self, config: ContainerConfig) -> None:
        self.wants_stdin = config.stdin
        self.tty = config.tty
        self.master: int | None = None
        self._slave: int | None = None
        self.stdin: asyncio.StreamWriter | None = None
        self.closed = False

    def popen_args(self) -> dict[str, Any]:
        """Keyword arguments for ``asyncio.create_subprocess_exec``: streams and the new session."""
        if self.tty:
            self.master, self._slave = pty.openpty()
            os.set_blocking(self.master, False)
            return {"stdin": self._slave, "stdout": self._slave, "stderr": self._slave,
                    "preexec_fn": _session_on(os.ttyname(self._slave))}
        return {"stdin": asyncio.subprocess.PIPE if self.wants_stdin else asyncio.subprocess.DEVNULL,
                "stdout": asyncio.subprocess.PIPE, "stderr": asyncio.subprocess.PIPE, "start_new_session": True}

    def started(self, proc: asyncio.subprocess.Process | None) -> None:
        """After the spawn (or its failure): the parent keeps only its own end of each stream."""
        if self._slave is not None:
            os.close(self._slave)
            self._slave = None
        if proc is None:
            self.release()
            return
        self.stdin = proc.stdin

    def readers(self, proc: asyncio.subprocess.Process, writer: LogWriter,
                pump: Callable[[asyncio.StreamReader | None, LogWriter, str], Any]) -> list[asyncio.Task[Any]]:
        """Tasks copying the container's output to its log: the terminal, or the two pipes."""
        if self.master is None:
            return [asyncio.create_task(pump(proc.stdout, writer, "stdout")),
                    asyncio.create_task(pump(proc.stderr, writer, "stderr"))]
        return [asyncio.create_task(self._pump_terminal(writer))]

    async def _pump_terminal(self, writer: LogWriter) -> None:
        assert self.master is not None
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        master = self.master

        def readable() -> None:
            try:
                data = os.read(master, 65536)
            except BlockingIOError:
                return
            except OSError:  # EIO: every holder of the terminal's other end has exited
                data = b""
            queue.put_nowait(data)
            if not data:
                loop.remove_reader(master)

        loop.add_reader(master, readable)
        try:
            while data := await queue.get():
                writer.write("stdout", data)
        finally:
            with contextlib.suppress(ValueError, OSError):
                loop.remove_reader(master)
            self.release()

    @property
    def accepts_input(self) -> bool:
        return not self.closed and (self.master is not None or self.stdin is not None)

    async def write(self, data: bytes) -> None:
        """Bytes for the container's stdin (the terminal's keyboard under ``tty``)."""
        if self.closed:
            return
        if self.master is not None:
            view = memoryview(data)
            while view:
                try:
                    view = view[os.write(self.master, view):]
                except BlockingIOError:
                    await asyncio.sleep(0.01)
                except OSError:
                    return
        elif self.stdin is not None:
            self.stdin.write(data)
            with contextlib.suppress(ConnectionError, BrokenPipeError):
                await self.stdin.drain()

    def close(self) -> None:
        """End of input: the pipe is closed; on a terminal, an end-of-file character is typed instead."""
        if self.closed:
            return
        if self.master is not None:
            with contextlib.suppress(OSError):
                os.write(self.master, b"\x04")
            return
        self.closed = True
        if self.stdin is not None:
            self.stdin.close()

    def resize(self, width: int, height: int) -> None:
        if self.master is not None:
            with contextlib.suppress(OSError):
                fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))

    def release(self) -> None:
        """The container is gone: no more input, the terminal's master end closed."""
        self.closed = True
        if self.master is not None:
            with contextlib.suppress(OSError):
                os.close(self.master)
            self.master = None
