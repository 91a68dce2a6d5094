"""Starting a container's process cheaply: ``subprocess.Popen`` (vfork) in a thread, the child watched
through a pidfd on the event loop, its pipes as asyncio streams.

Why not ``asyncio.create_subprocess_exec``: under uvloop (what ``kubefacade serve`` runs) it forks
the whole server process on the event loop, copying the page tables of a 100 MB+ process — 8 ms
per container on an idle 2-core machine, 30 ms+ under load, and nothing else runs meanwhile (a
hundred pods starting at once stalled the API for seconds). CPython's ``Popen`` uses ``vfork`` when
it can, 1–3 ms, and here it runs in a worker thread, so the loop never waits for it.

What the runtime gets behaves as the part of ``asyncio.subprocess.Process`` it uses: ``pid``,
``returncode``, ``wait()``, and ``stdin`` (StreamWriter) / ``stdout`` / ``stderr`` (StreamReader)
for the streams given as ``PIPE``. Without ``os.pidfd_open`` (not Linux, or a kernel before 5.3)
it falls back to ``asyncio.create_subprocess_exec``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
from typing import IO, Any


class HostProcess:
    """A child started by ``spawn``; see the module docstring."""

    def __init__(self, popen: subprocess.Popen, pidfd: int) -> None:
        self._popen = popen
        self.pid = popen.pid
        self.stdin: asyncio.StreamWriter | None = None
        self.stdout: asyncio.StreamReader | None = None
        self.stderr: asyncio.StreamReader | None = None
        self._loop = asyncio.get_running_loop()
        self._exited: asyncio.Future[int] = self._loop.create_future()
        self._pidfd = pidfd
        self._loop.add_reader(pidfd, self._reap)
        self._reap()  # it may have exited already

    @property
    def returncode(self) -> int | None:
        return self._popen.returncode

    def _reap(self) -> None:
        if self._popen.poll() is None or self._exited.done():
            return
        self._loop.remove_reader(self._pidfd)
        os.close(self._pidfd)
        self._exited.set_result(self._popen.returncode)

    async def wait(self) -> int:
        """The exit status once the process has exited (negative: the signal that killed it)."""
        return await asyncio.shield(self._exited)


def _loop_owned(loop: asyncio.AbstractEventLoop, pipe: IO[bytes], mode: str) -> IO[bytes]:
    """The pipe's descriptor as a file object that never closes it: the loop's transport closes the
    descriptor itself. uvloop closes it through libuv and then closes the file object it was given
    as well; a file object that still owned the descriptor would close that number a second time,
    by then possibly another thread's new descriptor (pod network setup saw EBADF and EINVAL).
    The original file object is closed here, on a duplicate, so its close cannot hit anyone.
    asyncio's own loops close only the file object: they get it as it is."""
    if not type(loop).__module__.startswith("uvloop"):
        return pipe
    fd = os.dup(pipe.fileno())
    pipe.close()
    return open(fd, mode, buffering=0, closefd=False)  # noqa: SIM115 - the transport owns ``fd``


async def _reader(loop: asyncio.AbstractEventLoop, pipe: IO[bytes]) -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=2**16, loop=loop)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader, loop=loop), _loop_owned(loop, pipe, "rb"))
    return reader


async def _writer(loop: asyncio.AbstractEventLoop, pipe: IO[bytes]) -> asyncio.StreamWriter:
    transport, protocol = await loop.connect_write_pipe(lambda: asyncio.streams.FlowControlMixin(loop),
                                                       _loop_owned(loop, pipe, "wb"))
    return asyncio.StreamWriter(transport, protocol, None, loop)


def pidfds_work() -> bool:
    """Whether this host has pidfds (Linux 5.3+), checked once."""
    global _PIDFDS
    if _PIDFDS is None:
        _PIDFDS = False
        if hasattr(os, "pidfd_open"):
            with contextlib.suppress(OSError):
                os.close(os.pidfd_open(os.getpid()))
                _PIDFDS = True
    return _PIDFDS


_PIDFDS: bool | None = None


async def spawn(argv: list[str], cwd: str, env: dict[str, str], **popen_args: Any) -> Any:
    """Start ``argv`` as ``asyncio.create_subprocess_exec`` would (same keyword arguments: stdin, stdout,
    stderr, start_new_session, preexec_fn); raises OSError when it cannot be started."""
    if not pidfds_work():
        return await asyncio.create_subprocess_exec(*argv, cwd=cwd, env=env, **popen_args)
    loop = asyncio.get_running_loop()
    popen = await asyncio.to_thread(subprocess.Popen, argv, cwd=cwd, env=env, **popen_args)
    try:
        pidfd = os.pidfd_open(popen.pid)
    except OSError:  # out of file descriptors: the process cannot be watched, so it does not run
        popen.kill()
        await asyncio.to_thread(popen.wait)
        for pipe in (popen.stdin, popen.stdout, popen.stderr):
            if pipe is not None:
                pipe.close()
        raise
    proc = HostProcess(popen, pidfd)
    if popen.stdin is not None:
        proc.stdin = await _writer(loop, popen.stdin)
    if popen.stdout is not None:
        proc.stdout = await _reader(loop, popen.stdout)
    if popen.stderr is not None:
        proc.stderr = await _reader(loop, popen.stderr)
    return proc
