"""Run `wrk` with one of the shipped Lua scripts and parse the JSON its done() prints.

wrk is the load generator because the figures must describe the server, not a Python client:
one wrk thread pushes tens of thousands of requests a second over keep-alive TLS connections.
Every status code is counted by the script; a non-2xx answer or a socket error is reported as a
failure, never as throughput.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from conformance.kubeconfig import ClusterAccess

SCRIPT_DIR = Path(__file__).resolve().parent / "wrk"
RESULT_MARKER = "KUBEFACADE_WRK_RESULT "
THREAD_DONE_MARKER = "KUBEFACADE_THREAD_DONE"


class WrkError(Exception):
    """wrk is missing, cannot be used with these credentials, or produced no result."""


@dataclass
class WrkResult:
    """What one wrk run measured; latencies in milliseconds."""

    requests: int
    elapsed_s: float
    statuses: dict[int, int]
    socket_errors: dict[str, int]
    latency_ms: dict[str, float]
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> int:
        """Responses with a 2xx status: the only ones that count as operations done."""
        return sum(n for code, n in self.statuses.items() if 200 <= code < 300)

    @property
    def failed(self) -> int:
        """Non-2xx responses plus socket errors (connect, read, write, timeout)."""
        return self.requests - self.ok + sum(self.socket_errors.values())

    @property
    def ops_per_s(self) -> float:
        return self.ok / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def report(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "ok": self.ok,
            "errors": self.failed,
            "statuses": {str(code): n for code, n in sorted(self.statuses.items())},
            "socket_errors": self.socket_errors,
            "elapsed_s": round(self.elapsed_s, 3),
            "ops_per_s": round(self.ops_per_s, 1),
            "latency_ms": self.latency_ms,
        }


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if not found:
        raise WrkError("wrk is not installed (apt-get install wrk)")
    return found


def script_path(name: str) -> Path:
    """Path of a shipped Lua script, e.g. ``script_path("create")``."""
    path = SCRIPT_DIR / f"{name}.lua"
    if not path.exists():
        raise WrkError(f"no wrk script {path}")
    return path


def parse_result(stdout: str) -> dict[str, Any]:
    """Find and decode the JSON line that the scripts' done() prints."""
    for line in stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            return orjson.loads(line[len(RESULT_MARKER):])
    raise WrkError(f"wrk printed no result line; output was:\n{stdout[-2000:]}")


def result_from_json(data: dict[str, Any]) -> WrkResult:
    first, last = data.get("first_us", 0), data.get("last_us", 0)
    elapsed = (last - first) / 1e6 if first and last > first else data["duration_us"] / 1e6
    errors = data["errors"]
    return WrkResult(
        requests=data["requests"],
        elapsed_s=elapsed,
        statuses={int(code): n for code, n in data["statuses"].items()},
        socket_errors={k: errors[k] for k in ("connect", "read", "write", "timeout")},
        latency_ms={k: round(v / 1000.0, 3) for k, v in data["latency_us"].items()},
        raw=data,
    )


def run_wrk(
    access: ClusterAccess,
    script: str,
    path: str,
    args: list[str],
    *,
    connections: int,
    threads: int,
    duration_s: float,
    capped: bool = False,
    request_timeout_s: float = 30.0,
) -> WrkResult:
    """Run ``script`` against ``access`` at ``path``; ``args`` go to the script's init().

    With ``capped`` the script stops each thread after its share of requests and wrk is ended
    early with SIGINT (which makes it report at once) when every thread has stopped;
    ``duration_s`` is then only an upper bound.
    """
    if access.needs_client_cert and not access.token:
        raise WrkError("wrk cannot present a client certificate; use a kubeconfig with a bearer token")
    threads = max(1, min(threads, connections))
    cmd = [
        wrk_binary(), "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(duration_s))}s",
        "--timeout", f"{max(1, round(request_timeout_s))}s", "-s", str(script_path(script)),
    ]
    for name, value in access.auth_headers().items():
        cmd += ["-H", f"{name}: {value}"]
    cmd += [access.url(path), "--", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stderr_lines: list[str] = []

    all_done = threading.Event()

    def watch_stderr() -> None:
        done = 0
        assert proc.stderr is not None
        for line in proc.stderr:
            if line.strip() == THREAD_DONE_MARKER:
                done += 1
                if done >= threads:
                    all_done.set()
            else:
                stderr_lines.append(line)

    def interrupt_when_done() -> None:
        # wrk ignores SIGINT until its threads are started, and a signal that lands before its
        # sleep() does not shorten it: keep asking until it exits.
        all_done.wait()
        while proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            time.sleep(0.2)

    stdout_parts: list[str] = []

    def read_stdout() -> None:
        assert proc.stdout is not None
        stdout_parts.extend(proc.stdout)

    readers = [threading.Thread(target=watch_stderr, daemon=True), threading.Thread(target=read_stdout, daemon=True)]
    for reader in readers:
        reader.start()
    if capped:
        threading.Thread(target=interrupt_when_done, daemon=True).start()
    try:
        proc.wait(timeout=duration_s + request_timeout_s + 30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise WrkError("wrk did not finish in time") from None
    finally:
        all_done.set()
        for reader in readers:
            reader.join(timeout=5)
    stdout = "".join(stdout_parts)
    if proc.returncode != 0:
        raise WrkError(f"wrk exited with {proc.returncode}: {''.join(stderr_lines)[-2000:]}")
    if stderr_lines and RESULT_MARKER not in stdout:
        raise WrkError("".join(stderr_lines)[-2000:])
    return result_from_json(parse_result(stdout))
