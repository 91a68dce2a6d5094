"""Run wrk against a plain-HTTP URL (no credentials, no per-request Lua) and read its summary.

Used by `kubefacade bench nodeport`, where the server under test is a pod or the node proxy in
front of pods, not the API server: wrk's built-in request loop is the cheapest load generator,
and the shipped ``plain.lua`` only adds a done() that prints the figures as one JSON line.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from typing import Any

from conformance.wrk_runner import WrkError, parse_result, script_path, wrk_binary


@dataclass
class PlainResult:
    """One wrk run: requests completed, wall time, error counts and latency in milliseconds."""

    requests: int
    elapsed_s: float
    errors: dict[str, int]
    latency_ms: dict[str, float]

    @property
    def req_per_s(self) -> float:
        """Requests answered with a status below 400 per second (wrk counts 4xx/5xx as errors)."""
        good = self.requests - self.errors.get("status", 0)
        return good / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def report(self) -> dict[str, Any]:
        return {"requests": self.requests, "elapsed_s": round(self.elapsed_s, 3),
                "req_per_s": round(self.req_per_s, 1), "errors": self.errors,
                "error_total": sum(self.errors.values()), "latency_ms": self.latency_ms}


def result_from(data: dict[str, Any]) -> PlainResult:
    """A PlainResult from the JSON line ``plain.lua`` prints."""
    return PlainResult(
        requests=int(data["requests"]),
        elapsed_s=data["duration_us"] / 1e6,
        errors={k: int(v) for k, v in data["errors"].items()},
        latency_ms={k: round(v / 1000.0, 3) for k, v in data["latency_us"].items()},
    )


def run_plain(url: str, *, connections: int = 32, threads: int = 2, duration_s: float = 10.0,
              timeout_s: float = 5.0) -> PlainResult:
    """``wrk -t threads -c connections -d duration --latency`` against ``url``."""
    threads = max(1, min(threads, connections))
    cmd = [wrk_binary(), "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(duration_s))}s",
           "--timeout", f"{max(1, round(timeout_s))}s", "--latency", "-s", str(script_path("plain")), url]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=duration_s + timeout_s + 30)
    except subprocess.TimeoutExpired:
        raise WrkError(f"wrk against {url} did not finish in time") from None
    if proc.returncode != 0:
        raise WrkError(f"wrk exited with {proc.returncode}: {proc.stderr[-2000:]}")
    return result_from(parse_result(proc.stdout))
