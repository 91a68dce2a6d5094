"""runtime/spawn.py: a container's process started with vfork off the event loop behaves as the part of
asyncio's Process the process runtime uses — pid, stdin/stdout/stderr streams, wait() and its exit
status, a signal's death as a negative status — under uvloop (what `kubefacade serve` runs) and
asyncio's own loop."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
import uvloop

from runtime.spawn import spawn

PIPE = subprocess.PIPE
ENV = {"PATH": "/usr/bin:/bin"}


@pytest.fixture(params=["uvloop", "asyncio"])
def run(request: pytest.FixtureRequest) -> Callable[[Coroutine[Any, Any, Any]], Any]:
    return uvloop.run if request.param == "uvloop" else asyncio.run


def test_streams_and_exit_status(run: Callable[[Coroutine[Any, Any, Any]], Any]) -> None:
    async def main() -> tuple[bytes, bytes, int, bool]:
        proc = await spawn(["sh", "-c", "cat; echo oops >&2; exit 3"], "/", ENV, stdin=PIPE, stdout=PIPE,
                           stderr=PIPE, start_new_session=True)
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        proc.stdin.write(b"hello\n")
        await proc.stdin.drain()
        proc.stdin.close()
        out, err = await asyncio.gather(proc.stdout.read(), proc.stderr.read())
        code = await proc.wait()
        return out, err, code, proc.returncode == code

    out, err, code, same = run(main())
    assert (out, err, code, same) == (b"hello\n", b"oops\n", 3, True)


def test_killed_process_reports_the_signal_and_runs_in_its_own_session(
        run: Callable[[Coroutine[Any, Any, Any]], Any]) -> None:
    async def main() -> tuple[int, bool]:
        proc = await spawn(["sleep", "30"], "/", ENV, stdin=subprocess.DEVNULL, stdout=PIPE, stderr=PIPE,
                           start_new_session=True)
        own_group = os.getpgid(proc.pid) == proc.pid
        os.killpg(proc.pid, signal.SIGTERM)
        return await asyncio.wait_for(proc.wait(), 10), own_group

    code, own_group = run(main())
    assert code == -signal.SIGTERM and own_group


def test_missing_program_raises_os_error(run: Callable[[Coroutine[Any, Any, Any]], Any]) -> None:
    async def main() -> None:
        await spawn(["/nonexistent/program"], "/", ENV, stdout=PIPE, stderr=PIPE)

    with pytest.raises(FileNotFoundError):
        run(main())
