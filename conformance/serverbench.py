"""`kubefacade bench startup` and `kubefacade bench memory`: figures about the server process.

Both launch `kubefacade serve` on a free port with a fresh data directory, so they measure a cold
start and an empty store: start-up is the time from process launch to the first 200 from
/readyz (median of several runs); memory is VmRSS with 10,000 and then 100,000 stored ConfigMaps.
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from conformance.httpclient import Connection
from conformance.kubeconfig import load_kubeconfig
from conformance.phases import BenchOptions, create_namespace, run_create
from conformance.procstat import pids_listening_on, rss_bytes
from conformance.report import format_memory, format_startup
from conformance.stats import median

DEFAULT_SERVER_CMD = [sys.executable, "-m", "facade.cli", "serve"]
MIB = 1024 * 1024


def free_port() -> int:
    """A TCP port nobody listens on right now (the kernel's pick)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def readyz_ok(port: int, timeout: float = 1.0) -> bool:
    """One probe of https://127.0.0.1:port/readyz (unverified TLS: the CA is still being made)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                tls.sendall(b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                head = tls.recv(64)
                return head.startswith(b"HTTP/1.1 200") or head.startswith(b"HTTP/1.0 200")
    except OSError:
        return False


@dataclass
class ServerProcess:
    """A `kubefacade serve` child with its port, data dir and (once printed) kubeconfig path."""

    proc: subprocess.Popen
    port: int
    data_dir: Path
    kubeconfig: Path | None = None
    output: list[str] = field(default_factory=list)

    def pids(self) -> list[int]:
        """The process(es) serving the port; the child itself if none is found (a wrapper)."""
        return pids_listening_on(self.port) or [self.proc.pid]

    def rss(self) -> int:
        return sum(rss_bytes(pid) or 0 for pid in self.pids())

    def stop(self) -> None:
        for sig, wait in ((signal.SIGINT, 5), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
            if self.proc.poll() is not None:
                break
            self.proc.send_signal(sig)
            try:
                self.proc.wait(wait)
            except subprocess.TimeoutExpired:
                continue


def launch(server_cmd: list[str], data_dir: Path) -> ServerProcess:
    """Start the server on a free port; its stdout is read for the `export KUBECONFIG=` line."""
    port = free_port()
    proc = subprocess.Popen([*server_cmd, "--port", str(port), "--data-dir", str(data_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    server = ServerProcess(proc, port, data_dir)

    def read_output() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            server.output.append(line)
            if line.startswith("export KUBECONFIG="):
                server.kubeconfig = Path(line.split("=", 1)[1].strip())

    threading.Thread(target=read_output, daemon=True).start()
    return server


def wait_ready(server: ServerProcess, timeout: float = 60.0, interval: float = 0.005) -> float:
    """Poll /readyz until it answers 200; the monotonic time it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"server exited with {server.proc.returncode}: {''.join(server.output)[-2000:]}")
        if readyz_ok(server.port):
            return time.monotonic()
        time.sleep(interval)
    raise RuntimeError(f"server not ready after {timeout:g} s: {''.join(server.output)[-2000:]}")


@contextlib.contextmanager
def serving(server_cmd: list[str], prefix: str, ready_timeout: float = 60.0) -> Iterator[ServerProcess]:
    """A server of the bench's own: started on a free port in a temporary data directory, ready,
    its kubeconfig written; stopped and its directory removed afterwards, however the bench ends."""
    data_dir = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        server = launch(server_cmd, data_dir)
        try:
            wait_ready(server, timeout=ready_timeout)
            deadline = time.monotonic() + 10
            while server.kubeconfig is None:
                if time.monotonic() > deadline:
                    raise RuntimeError("the server printed no kubeconfig within 10 s")
                time.sleep(0.01)
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def measure_startup(server_cmd: list[str], runs: int = 5) -> dict[str, Any]:
    """Launch the server ``runs`` times, each with a fresh data dir; milliseconds to /readyz."""
    times: list[float] = []
    for _ in range(runs):
        data_dir = Path(tempfile.mkdtemp(prefix="kubefacade-startup-"))
        started = time.monotonic()
        server = launch(server_cmd, data_dir)
        try:
            ready = wait_ready(server)
            times.append((ready - started) * 1000)
        finally:
            server.stop()
            shutil.rmtree(data_dir, ignore_errors=True)
    return {"command": server_cmd, "runs_ms": [round(t, 1) for t in times], "median_ms": round(median(times) or 0, 1)}


def measure_memory(server_cmd: list[str], counts: list[int], value_bytes: int = 1024,
                   concurrency: int = 32, threads: int = 2) -> dict[str, Any]:
    """VmRSS of a fresh server after storing each of ``counts`` ConfigMaps of ``value_bytes`` data."""
    data_dir = Path(tempfile.mkdtemp(prefix="kubefacade-memory-"))
    server = launch(server_cmd, data_dir)
    try:
        wait_ready(server)
        deadline = time.monotonic() + 10
        while server.kubeconfig is None and time.monotonic() < deadline:
            time.sleep(0.01)
        access = load_kubeconfig(str(server.kubeconfig or data_dir / "kubeconfig"))
        with Connection(access) as conn:
            namespace = create_namespace(conn)
        time.sleep(1.0)  # let start-up work (controllers' first lists) settle before the baseline
        report: dict[str, Any] = {"command": server_cmd, "server_pids": server.pids(),
                                  "baseline_rss_mib": round(server.rss() / MIB, 1), "steps": []}
        stored = 0
        for count in sorted(counts):
            if count <= stored:
                continue
            opts = BenchOptions(objects=count - stored, concurrency=concurrency, threads=threads,
                                value_bytes=value_bytes)
            created = run_create(access, namespace, opts)
            stored += created["ok"]
            time.sleep(1.0)
            report["steps"].append({"objects": count, "stored": stored, "value_bytes": value_bytes,
                                    "rss_mib": round(server.rss() / MIB, 1), "create_s": created["elapsed_s"],
                                    "create_ops_per_s": created["ops_per_s"], "errors": created["errors"]})
        return report
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def main(argv: list[str]) -> int:
    """`kubefacade bench startup|memory [options]`."""
    parser = argparse.ArgumentParser(prog=f"kubefacade bench {argv[0]}")
    parser.add_argument("--server-cmd", default=None,
                        help="command that serves (it gets --port and --data-dir); default: "
                             "python -m facade.cli serve")
    parser.add_argument("--runs", type=int, default=5, help="start-ups to time (startup; default 5)")
    parser.add_argument("--counts", default="10000,100000", help="ConfigMap counts to measure at (memory)")
    parser.add_argument("--value-bytes", type=int, default=1024, help="bytes of data per ConfigMap (memory)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv[1:])
    cmd = shlex.split(args.server_cmd) if args.server_cmd else DEFAULT_SERVER_CMD
    try:
        if argv[0] == "startup":
            report = measure_startup(cmd, args.runs)
            text = format_startup(report)
        else:
            counts = [int(c) for c in args.counts.split(",") if c.strip()]
            report = measure_memory(cmd, counts, args.value_bytes)
            text = format_memory(report)
    except (RuntimeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() if args.json else text)
    return 1 if any(step.get("errors") for step in report.get("steps", [])) else 0
