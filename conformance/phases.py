"""The benchmark's phases: create, get, update (driven by wrk), list and watch (timed in Python).

Each phase returns a plain dict for the report.  The server's CPU time is read from /proc before
and after each phase when its PID is known, so that a phase also says what it cost the server.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import orjson

from conformance.httpclient import Connection, HTTPError
from conformance.kubeconfig import ClusterAccess
from conformance.loadgen import raw_request, run_python
from conformance.procstat import cpu_seconds
from conformance.stats import median, summary_ms
from conformance.wrk_runner import run_wrk

PAGE_SIZE = 500


@dataclass
class BenchOptions:
    """What to run: N objects, C connections, S seconds per timed phase."""

    objects: int = 10_000
    concurrency: int = 32
    duration_s: float = 10.0
    threads: int = 2
    value_bytes: int = 256
    list_runs: int = 3
    watch_events: int = 200
    server_pids: list[int] = field(default_factory=list)
    generator: str = "auto"  # auto: wrk unless the kubeconfig logs in with a client certificate


def pick_generator(access: ClusterAccess, wanted: str) -> str:
    """'wrk' or 'python': wrk whenever it can present the kubeconfig's credentials."""
    if wanted != "auto":
        return wanted
    return "python" if access.needs_client_cert and not access.token else "wrk"


def _value(size: int, stamp: str = "") -> str:
    return stamp + "x" * max(0, size - len(stamp))


def with_cpu(pids: list[int], ops_of: Callable[[dict[str, Any]], int], run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run a phase and add the server's CPU seconds, in total and per 1,000 operations."""
    before = cpu_seconds(pids) if pids else None
    result = run()
    after = cpu_seconds(pids) if pids else None
    if before is not None and after is not None:
        used = after - before
        ops = ops_of(result)
        result["server_cpu_s"] = round(used, 3)
        result["server_cpu_s_per_1k_ops"] = round(used / ops * 1000, 4) if ops else None
    return result


def create_namespace(conn: Connection) -> str:
    resp = conn.request("POST", "/api/v1/namespaces",
                        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"generateName": "kubefacade-bench-"}})
    if not resp.ok:
        raise HTTPError("creating the bench namespace", resp)
    return resp.json()["metadata"]["name"]


def delete_namespace(conn: Connection, namespace: str) -> None:
    """Best-effort clean-up: empty the namespace, then delete it."""
    conn.request("DELETE", f"/api/v1/namespaces/{namespace}/configmaps")
    conn.request("DELETE", f"/api/v1/namespaces/{namespace}")


def configmaps_path(namespace: str) -> str:
    return f"/api/v1/namespaces/{quote(namespace)}/configmaps"


def run_create(access: ClusterAccess, namespace: str, opts: BenchOptions) -> dict[str, Any]:
    """POST ``opts.objects`` ConfigMaps (generateName, ``value_bytes`` of data) at C connections."""
    if pick_generator(access, opts.generator) == "python":
        path = configmaps_path(namespace)
        body = orjson.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "bench-"},
                             "data": {"payload": _value(opts.value_bytes)}})
        request = raw_request(access, "POST", path, body)
        return run_python(access, lambda c, i: request, connections=min(opts.concurrency, opts.objects),
                          duration_s=max(600.0, opts.duration_s), total=opts.objects).report()
    threads = max(1, min(opts.threads, opts.objects))
    result = run_wrk(
        access, "create", configmaps_path(namespace),
        [namespace, str(opts.objects), str(opts.value_bytes), str(threads)],
        connections=max(threads, min(opts.concurrency, opts.objects)), threads=threads,
        duration_s=max(600.0, opts.duration_s), capped=True,
    )
    return result.report()


def run_get(access: ClusterAccess, namespace: str, name: str, opts: BenchOptions) -> dict[str, Any]:
    """GET one ConfigMap for ``duration_s`` seconds at C connections."""
    path = f"{configmaps_path(namespace)}/{quote(name)}"
    if pick_generator(access, opts.generator) == "python":
        request = raw_request(access, "GET", path)
        return run_python(access, lambda c, i: request, connections=opts.concurrency,
                          duration_s=opts.duration_s).report()
    result = run_wrk(access, "get", path, [path], connections=opts.concurrency, threads=opts.threads,
                     duration_s=opts.duration_s)
    return result.report()


def run_update(access: ClusterAccess, namespace: str, names: list[str], opts: BenchOptions) -> dict[str, Any]:
    """PUT (unconditional, new value each time) over up to 1,000 ConfigMaps for ``duration_s``."""
    chosen = names[:1000]
    if pick_generator(access, opts.generator) == "python":

        def put(connection: int, number: int) -> bytes:
            name = chosen[(connection + number * opts.concurrency) % len(chosen)]
            body = orjson.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                                 "metadata": {"name": name, "namespace": namespace},
                                 "data": {"payload": _value(opts.value_bytes, f"{connection}-{number}-")}})
            return raw_request(access, "PUT", f"{configmaps_path(namespace)}/{quote(name)}", body)

        report = run_python(access, put, connections=opts.concurrency, duration_s=opts.duration_s).report()
        report["objects_updated"] = len(chosen)
        return report
    fd, names_file = tempfile.mkstemp(prefix="kubefacade-bench-names-", suffix=".txt")
    try:
        with os.fdopen(fd, "w") as out:
            out.write("\n".join(chosen) + "\n")
        threads = max(1, min(opts.threads, opts.concurrency))
        result = run_wrk(access, "update", configmaps_path(namespace),
                         [namespace, names_file, str(opts.value_bytes), str(threads)],
                         connections=opts.concurrency, threads=threads, duration_s=opts.duration_s)
    finally:
        os.unlink(names_file)
    report = result.report()
    report["objects_updated"] = len(chosen)
    return report


def paged_list(conn: Connection, path: str, limit: int = PAGE_SIZE) -> tuple[float, int, int, list[str], int]:
    """One full traversal with limit/continue: (seconds, items, pages, names, failed pages)."""
    seconds, items, pages, failed = 0.0, 0, 0, 0
    names: list[str] = []
    token = ""
    while True:
        query = f"?limit={limit}" + (f"&continue={quote(token)}" if token else "")
        resp = conn.request("GET", path + query)
        seconds += resp.seconds
        pages += 1
        if not resp.ok:
            failed += 1
            break
        body = resp.json()
        items += len(body.get("items") or [])
        names.extend(item["metadata"]["name"] for item in body.get("items") or [])
        token = (body.get("metadata") or {}).get("continue") or ""
        if not token:
            break
    return seconds, items, pages, names, failed


def run_list(access: ClusterAccess, namespace: str, opts: BenchOptions) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """Time full paged traversals and unpaged lists of the namespace (median of ``list_runs``).

    The wall time is the sum of the requests' times to last byte on one keep-alive connection.
    """
    path = configmaps_path(namespace)
    names: list[str] = []
    with Connection(access) as conn:

        def paged() -> dict[str, Any]:
            nonlocal names
            runs, counts, pages, failed = [], [], 0, 0
            for _ in range(opts.list_runs):
                seconds, items, pages, names, bad = paged_list(conn, path)
                runs.append(seconds * 1000)
                counts.append(items)
                failed += bad
            return {"page_size": PAGE_SIZE, "objects": counts[-1], "pages": pages, "errors": failed,
                    "ms": round(median(runs) or 0, 1), "runs_ms": [round(r, 1) for r in runs],
                    "lists": opts.list_runs, "requests": pages * opts.list_runs}

        def unpaged() -> dict[str, Any]:
            runs, count, failed, size = [], 0, 0, 0
            for _ in range(opts.list_runs):
                resp = conn.request("GET", path)
                runs.append(resp.seconds * 1000)
                if resp.ok:
                    count = len(resp.json().get("items") or [])
                    size = len(resp.body)
                else:
                    failed += 1
            return {"objects": count, "bytes": size, "errors": failed, "ms": round(median(runs) or 0, 1),
                    "runs_ms": [round(r, 1) for r in runs], "lists": opts.list_runs, "requests": opts.list_runs}

        paged_report = with_cpu(opts.server_pids, lambda r: r["lists"], paged)
        unpaged_report = with_cpu(opts.server_pids, lambda r: r["lists"], unpaged)
    return paged_report, unpaged_report, names


class _WatchReader(threading.Thread):
    """Reads a watch stream, stamping each event's arrival time by the object's resourceVersion."""

    def __init__(self, access: ClusterAccess, path: str) -> None:
        super().__init__(daemon=True)
        self.conn = Connection(access, timeout=600)
        self.path = path
        self.opened = threading.Event()
        self.arrivals: dict[str, float] = {}
        self.arrived = threading.Condition()
        self.status: int | None = None
        self.error: str | None = None
        self.stopping = False

    def run(self) -> None:
        try:
            resp = self.conn.open_stream(self.path)
            self.status = resp.status
            self.opened.set()
            if resp.status != 200:
                self.error = resp.read()[:300].decode(errors="replace")
                return
            while True:
                line = resp.readline()
                if not line:
                    return
                now = time.perf_counter()
                event = orjson.loads(line)
                rv = ((event.get("object") or {}).get("metadata") or {}).get("resourceVersion")
                if event.get("type") == "MODIFIED" and rv:
                    with self.arrived:
                        self.arrivals[rv] = now
                        self.arrived.notify_all()
        except Exception as exc:  # closing the socket under a read raises anything
            if self.error is None and not self.stopping:
                self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.opened.set()

    def wait_for(self, rv: str, timeout: float) -> float | None:
        with self.arrived:
            self.arrived.wait_for(lambda: rv in self.arrivals, timeout)
            return self.arrivals.get(rv)

    def stop(self) -> None:
        self.stopping = True
        sock = self.conn._conn.sock if self.conn._conn is not None else None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.conn.close()


def run_watch(access: ClusterAccess, namespace: str, names: list[str], opts: BenchOptions) -> dict[str, Any]:
    """Watch delivery latency: time from an update's response to its MODIFIED event's arrival.

    Updates are sent one at a time, each waiting for its event (at most 5 s, else it counts as
    missed), so the figure is delivery latency on an idle server, not queueing behind a load.
    An event that arrives before the write's response has been read counts as 0 (and is counted
    in ``before_response``); ``from_request_ms`` is the time from sending the write to its event.
    """
    path = configmaps_path(namespace)
    with Connection(access) as conn:
        listing = conn.request("GET", path + "?limit=1")
        if not listing.ok:
            return {"errors": 1, "error": f"list: HTTP {listing.status}"}
        rv = listing.json()["metadata"].get("resourceVersion", "")
        reader = _WatchReader(access, f"{path}?watch=1&resourceVersion={quote(rv)}&timeoutSeconds=600")
        old_interval = sys.getswitchinterval()
        sys.setswitchinterval(0.0005)  # let the reader thread stamp arrivals promptly
        reader.start()
        reader.opened.wait(5)
        latencies: list[float] = []
        from_request: list[float] = []
        missed = failed = sent = early = 0
        deadline = time.monotonic() + opts.duration_s
        try:
            for i in range(opts.watch_events):
                if time.monotonic() > deadline or reader.error:
                    break
                name = names[i % len(names)]
                body = {"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": name, "namespace": namespace},
                        "data": {"payload": f"watch-{i}-" + "w" * max(0, opts.value_bytes - 12)}}
                requested = time.perf_counter()
                resp = conn.request("PUT", f"{path}/{quote(name)}", body)
                answered = time.perf_counter()
                sent += 1
                if not resp.ok:
                    failed += 1
                    continue
                arrived = reader.wait_for(resp.json()["metadata"]["resourceVersion"], 5.0)
                if arrived is None:
                    missed += 1
                else:
                    early += arrived < answered
                    latencies.append(max(0.0, arrived - answered))
                    from_request.append(arrived - requested)
        finally:
            sys.setswitchinterval(old_interval)
            reader.stop()
            reader.join(5)
    report: dict[str, Any] = {"updates": sent, "events": len(latencies), "missed": missed,
                              "errors": failed + missed, "latency_ms": summary_ms(latencies),
                              "before_response": early, "from_request_ms": summary_ms(from_request)}
    if reader.status not in (None, 200) or (reader.error and not latencies):
        report["error"] = f"watch: HTTP {reader.status}: {reader.error}"
        report["errors"] += 1
    return report
