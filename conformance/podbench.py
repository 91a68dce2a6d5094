"""`kubefacade bench pods`: how fast a pod with one busybox container is Running and ready.

Starts `kubefacade serve` on a free port with a fresh data directory (or uses ``--kubeconfig``, any
cluster) and measures, in a namespace of its own:

- single-pod latency: create one pod (``busybox``, ``sleep 3600``), time from just before the POST
  until a watch shows it ``Running`` with every container ready; ``--runs`` times (each pod deleted
  and gone before the next), median and max reported;
- a batch: ``--pods`` such pods POSTed at once over 32 pre-opened connections, time until the last
  one is Running and ready (and until the last POST was answered), with the server's CPU seconds
  over that time when the server runs on this host.

Readiness is seen through one watch on the namespace (no polling load on the server). The issue's
bar: one pod Running within 1 s, 100 pods in under 15 s.

    kubefacade bench pods [--kubeconfig K] [--pods N] [--runs R] [--no-pod-isolation] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from queue import Queue
from typing import Any
from urllib.parse import quote

import orjson

from conformance.httpclient import Connection, HTTPError
from conformance.kubeconfig import ClusterAccess, KubeconfigError, load_kubeconfig
from conformance.nodeport_pods import wait
from conformance.nodeportbench import node_ready
from conformance.phases import create_namespace
from conformance.procstat import children_cpu_seconds, cpu_seconds, is_local_host, pids_listening_on
from conformance.serverbench import DEFAULT_SERVER_CMD, serving
from conformance.stats import median

BAR_SINGLE_S = 1.0
BAR_BATCH_S = 15.0
BAR_BATCH_PODS = 100
CREATE_CONNECTIONS = 32

Obj = dict[str, Any]




def pod_manifest(name: str, image: str) -> Obj:
    """The measured pod: one busybox-style container sleeping for an hour."""
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "kubefacade-bench"}},
            "spec": {"terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "main", "image": image, "command": ["sleep", "3600"]}]}}


def running_and_ready(pod: Obj) -> bool:
    """Phase Running and every container of the spec reported ready."""
    status = pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    wanted = len((pod.get("spec") or {}).get("containers") or [])
    return status.get("phase") == "Running" and len(statuses) >= wanted and all(s.get("ready") for s in statuses)


class PodWatch:
    """One watch on the namespace's pods, in a thread: when each pod first read Running and ready,
    and when it was deleted. Re-watches from the last resourceVersion if the stream ends."""

    def __init__(self, access: ClusterAccess, namespace: str, resource_version: str) -> None:
        self.access, self.namespace, self.rv = access, namespace, resource_version
        self.ready_at: dict[str, float] = {}
        self.gone: set[str] = set()
        self.cond = threading.Condition()
        self.stopped = False
        self.error = ""
        self.thread = threading.Thread(target=self._run, name="kubefacade-bench-watch", daemon=True)
        self.conn = Connection(access, timeout=3600)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        while not self.stopped:
            path = (f"/api/v1/namespaces/{quote(self.namespace)}/pods?watch=1&allowWatchBookmarks=true"
                    f"&timeoutSeconds=3600&resourceVersion={quote(self.rv)}")
            try:
                resp = self.conn.open_stream(path)
                if resp.status != 200:
                    self.error = f"watch: HTTP {resp.status}: {resp.read()[:300]!r}"
                    return
                for line in resp:
                    if line.strip():
                        self._event(orjson.loads(line))
            except (OSError, ValueError, AttributeError) as e:  # AttributeError: closed under http.client
                if not self.stopped:
                    self.error = f"watch: {e}"
            self.conn.close()
            time.sleep(0.1)

    def _event(self, ev: Obj) -> None:
        now = time.monotonic()
        obj = ev.get("object") or {}
        if ev.get("type") == "ERROR":
            self.error = f"watch: {obj.get('message', obj)}"
            self.stopped = True
            return
        self.rv = (obj.get("metadata") or {}).get("resourceVersion") or self.rv
        name = (obj.get("metadata") or {}).get("name", "")
        with self.cond:
            if ev.get("type") == "DELETED":
                self.gone.add(name)
            elif ev.get("type") in ("ADDED", "MODIFIED") and name not in self.ready_at and running_and_ready(obj):
                self.ready_at[name] = now
            self.cond.notify_all()

    def wait_for(self, check: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not check():
                left = deadline - time.monotonic()
                if left <= 0 or (self.stopped and self.error):
                    raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}"
                                       + (f" ({self.error})" if self.error else ""))
                self.cond.wait(min(left, 0.5))

    def stop(self) -> None:
        """End the stream: shutting the socket down wakes the reading thread (closing it would block
        on the reader's buffer lock), which then closes the connection itself."""
        self.stopped = True
        raw = self.conn._conn.sock if self.conn._conn is not None else None
        if raw is not None:
            with contextlib.suppress(OSError):
                raw.shutdown(socket.SHUT_RDWR)
        self.thread.join(5)


def _create(conn: Connection, namespace: str, name: str, image: str) -> None:
    resp = conn.request("POST", f"/api/v1/namespaces/{quote(namespace)}/pods", pod_manifest(name, image))
    if not resp.ok:
        raise HTTPError(f"creating pod {name}", resp)


def _delete(conn: Connection, namespace: str, name: str) -> None:
    conn.request("DELETE", f"/api/v1/namespaces/{quote(namespace)}/pods/{quote(name)}")


def measure_single(access: ClusterAccess, watch: PodWatch, namespace: str, runs: int, image: str,
                   timeout: float) -> Obj:
    """``runs`` times: one pod created, timed to Running and ready, deleted and waited for."""
    times: list[float] = []
    with Connection(access) as conn:
        for i in range(runs):
            name = f"single-{i}"
            started = time.monotonic()
            _create(conn, namespace, name, image)
            watch.wait_for(lambda name=name: name in watch.ready_at, timeout, f"pod {name} to be Running")
            times.append(watch.ready_at[name] - started)
            _delete(conn, namespace, name)
            watch.wait_for(lambda name=name: name in watch.gone, timeout, f"pod {name} to be deleted")
    return {"runs": runs, "runs_s": [round(t, 3) for t in times], "median_s": round(median(times) or 0, 3),
            "max_s": round(max(times), 3)}


def measure_batch(access: ClusterAccess, watch: PodWatch, namespace: str, pods: int, image: str,
                  timeout: float, pids: list[int]) -> Obj:
    """``pods`` pods POSTed at once over pre-opened connections, timed until the last is ready."""
    n_conn = max(1, min(CREATE_CONNECTIONS, pods))
    pool: Queue[Connection] = Queue()
    for _ in range(n_conn):
        conn = Connection(access)
        conn.request("GET", "/version")  # TLS handshake outside the timed part
        pool.put(conn)
    names = [f"batch-{i}" for i in range(pods)]
    posted: list[float] = []

    def create(name: str) -> None:
        conn = pool.get()
        try:
            _create(conn, namespace, name, image)
            posted.append(time.monotonic())
        finally:
            pool.put(conn)

    cpu_before = cpu_seconds(pids) if pids else None
    children_before = children_cpu_seconds(pids) if pids else None
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(n_conn) as executor:
            list(executor.map(create, names))
        watch.wait_for(lambda: all(n in watch.ready_at for n in names), timeout, f"{pods} pods to be Running")
    finally:
        while not pool.empty():
            pool.get().close()
    cpu_after = cpu_seconds(pids) if pids else None
    children_after = children_cpu_seconds(pids) if pids else None
    ready = sorted(watch.ready_at[n] - started for n in names)
    out: Obj = {"pods": pods, "connections": n_conn, "all_created_s": round(max(posted) - started, 3),
                "all_running_s": round(ready[-1], 3), "first_running_s": round(ready[0], 3),
                "median_running_s": round(median(ready) or 0, 3)}
    if cpu_before is not None and cpu_after is not None:
        out["server_cpu_s"] = round(cpu_after - cpu_before, 2)
    if children_before is not None and children_after is not None:
        out["server_children_cpu_s"] = round(children_after - children_before, 2)
    return out


def server_pids(access: ClusterAccess, explicit: int | None) -> list[int]:
    """``--server-pid``, else whoever listens on the kubeconfig's port on this host."""
    if explicit:
        return [explicit]
    return pids_listening_on(access.port) if is_local_host(access.host) else []


def node_isolation(conn: Connection) -> str:
    """The nodes' ``kubefacade.io/pod-isolation`` annotations (``netns``/``none``), "" on other clusters."""
    resp = conn.request("GET", "/api/v1/nodes")
    found = {((n["metadata"].get("annotations") or {}).get("kubefacade.io/pod-isolation") or "")
             for n in (resp.json()["items"] if resp.ok else [])} - {""}
    return ", ".join(sorted(found))


def run(args: argparse.Namespace, kubeconfig: str | None, pids: list[int]) -> Obj:
    access = load_kubeconfig(kubeconfig, args.context)
    report: Obj = {"server": access.server, "server_pids": pids, "image": args.image}
    with Connection(access) as conn:
        wait("a Ready node", lambda: node_ready(conn), 60)
        report["pod_isolation"] = node_isolation(conn)
        namespace = create_namespace(conn)
        report["namespace"] = namespace
        watch: PodWatch | None = None
        try:
            wait("the namespace's default ServiceAccount", lambda: conn.request(
                "GET", f"/api/v1/namespaces/{quote(namespace)}/serviceaccounts/default").ok, 30)
            listed = conn.request("GET", f"/api/v1/namespaces/{quote(namespace)}/pods")
            if not listed.ok:
                raise HTTPError("listing the bench namespace's pods", listed)
            watch = PodWatch(access, namespace, listed.json()["metadata"]["resourceVersion"])
            watch.start()
            report["single"] = measure_single(access, watch, namespace, args.runs, args.image, args.timeout)
            report["batch"] = measure_batch(access, watch, namespace, args.pods, args.image, args.timeout, pids)
        finally:
            if watch is not None:
                watch.stop()
            if not args.keep:
                conn.request("DELETE", f"/api/v1/namespaces/{quote(namespace)}")
    batch_met = report["batch"]["all_running_s"] < BAR_BATCH_S if args.pods >= BAR_BATCH_PODS else None
    report["bar"] = {"single_s": BAR_SINGLE_S, "batch_pods": BAR_BATCH_PODS, "batch_s": BAR_BATCH_S,
                     "single_met": report["single"]["max_s"] < BAR_SINGLE_S, "batch_met": batch_met}
    return report


def format_pods(report: Obj) -> str:
    single, batch, bar = report["single"], report["batch"], report["bar"]
    cpu = f", server CPU {batch['server_cpu_s']:.2f} s" if "server_cpu_s" in batch else ""
    if "server_children_cpu_s" in batch:
        cpu += f" (+{batch['server_children_cpu_s']:.2f} s in the commands it ran)"
    met = {True: "met", False: "NOT met", None: f"not measured (needs --pods {bar['batch_pods']})"}
    return "\n".join([
        f"pod start bench against {report['server']} (image {report['image']}, pod isolation: "
        f"{report.get('pod_isolation') or 'unknown'})",
        f"one pod to Running and ready: median {single['median_s'] * 1000:.0f} ms, max {single['max_s'] * 1000:.0f} ms "
        f"({single['runs']} runs: {', '.join(f'{t * 1000:.0f}' for t in single['runs_s'])} ms)",
        f"{batch['pods']} pods at once ({batch['connections']} connections): all created in "
        f"{batch['all_created_s']:.2f} s, first Running {batch['first_running_s']:.2f} s, median "
        f"{batch['median_running_s']:.2f} s, all Running {batch['all_running_s']:.2f} s{cpu}",
        f"bar (one pod within {bar['single_s']:g} s): {met[bar['single_met']]}; "
        f"({bar['batch_pods']} pods under {bar['batch_s']:g} s): {met[bar['batch_met']]}",
    ])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kubefacade bench pods", description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubeconfig", help="an existing cluster (default: start kubefacade serve on a free port)")
    parser.add_argument("--context", help="kubeconfig context (default: current-context)")
    parser.add_argument("--pods", type=int, default=BAR_BATCH_PODS, help="pods created at once (default 100)")
    parser.add_argument("--runs", type=int, default=10, help="single-pod runs (default 10)")
    parser.add_argument("--image", default="busybox", help="the container's image (default busybox)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for pods (default 120)")
    parser.add_argument("--no-pod-isolation", action="store_true",
                        help="started server only: run pods without namespaces of their own (serve's flag)")
    parser.add_argument("--server-cmd", default=None, help="command that serves (gets --port and --data-dir)")
    parser.add_argument("--server-pid", type=int, help="with --kubeconfig: server PID for CPU accounting "
                                                       "(default: found by port)")
    parser.add_argument("--keep", action="store_true", help="keep the bench namespace afterwards")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def main(argv: list[str]) -> int:
    """`kubefacade bench pods [options]`; exit status 2 when it cannot run or a pod never ran."""
    args = build_parser().parse_args(argv)
    if args.pods < 1 or args.runs < 1:
        print("error: --pods and --runs must be at least 1", file=sys.stderr)
        return 2
    try:
        with contextlib.ExitStack() as stack:
            kubeconfig = args.kubeconfig
            pids: list[int] = []
            if kubeconfig:
                pids = server_pids(load_kubeconfig(kubeconfig, args.context), args.server_pid)
            else:
                cmd = shlex.split(args.server_cmd) if args.server_cmd else [
                    *DEFAULT_SERVER_CMD, "--ingress-http-port", "0", "--ingress-https-port", "0"]
                if args.no_pod_isolation:
                    cmd.append("--no-pod-isolation")
                server = stack.enter_context(serving(cmd, "kubefacade-pods-"))
                kubeconfig = str(server.kubeconfig)
                pids = server.pids()
            report = run(args, kubeconfig, pids)
    except (KubeconfigError, HTTPError, TimeoutError, RuntimeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() if args.json else format_pods(report))
    return 0
