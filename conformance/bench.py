"""`kubefacade bench`: how fast an API server creates, gets, updates, lists and watches ConfigMaps.

Runs against any kubeconfig (this project or a real kube-apiserver), in a namespace of its own
that it deletes afterwards.  Creates, gets and updates are driven by wrk (so the figures are the
server's, not a Python client's); lists and watches are timed in Python to the last byte.
Every non-2xx answer is counted and reported; the exit status is 1 if any phase had errors.

    kubefacade bench --kubeconfig K [--objects N] [--concurrency C] [--duration S] [--json]
    kubefacade bench startup [...]      # start-up time of `kubefacade serve` to /readyz
    kubefacade bench memory [...]       # resident memory with 10,000 and 100,000 ConfigMaps
    kubefacade bench server-time        # in-process: a 50-container server-side apply, a 200-property CRD
    kubefacade bench scale rollout|deployments|sim [...]  # controllers at scale on simulated nodes
    kubefacade bench nodeport [...]     # HTTP req/s and added latency through a NodePort (wrk, busybox httpd)
    kubefacade bench pods [...]         # pod start: one busybox pod to Running, and 100 at once
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import orjson

from conformance.httpclient import Connection, HTTPError
from conformance.kubeconfig import ClusterAccess, KubeconfigError, load_kubeconfig
from conformance.phases import (
    BenchOptions,
    create_namespace,
    delete_namespace,
    pick_generator,
    run_create,
    run_get,
    run_list,
    run_update,
    run_watch,
    with_cpu,
)
from conformance.procstat import is_local_host, pids_listening_on
from conformance.report import format_report
from conformance.wrk_runner import WrkError

PHASE_ORDER = ("create", "list_paged", "list_unpaged", "get", "update", "watch")


def server_pids(access: ClusterAccess, explicit: int | None) -> list[int]:
    """The server's PIDs: ``--server-pid``, else whoever listens on the kubeconfig's local port."""
    if explicit:
        return [explicit]
    if is_local_host(access.host):
        return pids_listening_on(access.port)
    return []


def run_bench(access: ClusterAccess, opts: BenchOptions, keep: bool = False) -> dict[str, Any]:
    """Run every phase in a fresh namespace and return the report as a dict."""
    started = time.time()
    report: dict[str, Any] = {
        "server": access.server,
        "context": access.context,
        "server_pids": opts.server_pids,
        "generator": pick_generator(access, opts.generator),
        "objects": opts.objects,
        "concurrency": opts.concurrency,
        "duration_s": opts.duration_s,
        "value_bytes": opts.value_bytes,
        "phases": {},
    }
    phases: dict[str, Any] = report["phases"]
    pids = opts.server_pids
    with Connection(access) as conn:
        namespace = create_namespace(conn)
        report["namespace"] = namespace
        try:
            phases["create"] = with_cpu(pids, lambda r: r["ok"], lambda: run_create(access, namespace, opts))
            phases["list_paged"], phases["list_unpaged"], names = run_list(access, namespace, opts)
            if not names:
                report["error"] = "no ConfigMap could be created or listed; get/update/watch skipped"
            else:
                phases["get"] = with_cpu(pids, lambda r: r["ok"], lambda: run_get(access, namespace, names[0], opts))
                phases["update"] = with_cpu(pids, lambda r: r["ok"],
                                            lambda: run_update(access, namespace, names, opts))
                phases["watch"] = run_watch(access, namespace, names, opts)
        finally:
            if not keep:
                delete_namespace(conn, namespace)
    report["errors"] = sum(int(p.get("errors") or 0) for p in phases.values())
    report["wall_s"] = round(time.time() - started, 1)
    return report


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kubefacade bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)")
    parser.add_argument("--context", help="kubeconfig context (default: current-context)")
    parser.add_argument("--objects", type=int, default=10_000, help="ConfigMaps to create and list (default 10000)")
    parser.add_argument("--concurrency", type=int, default=32, help="connections for wrk phases (default 32)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per get/update/watch phase (default 10)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--value-bytes", type=int, default=256, help="bytes of data per ConfigMap (default 256)")
    parser.add_argument("--list-runs", type=int, default=3, help="list repetitions; the median is reported")
    parser.add_argument("--watch-events", type=int, default=200, help="updates whose watch events are timed")
    parser.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto",
                        help="load generator for create/get/update: wrk, or python where wrk cannot log in "
                             "(client certificates); default auto")
    parser.add_argument("--server-pid", type=int, help="server PID for CPU accounting (default: found by port)")
    parser.add_argument("--keep", action="store_true", help="keep the bench namespace afterwards")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def main(argv: list[str]) -> int:
    """Entry point of `kubefacade bench`; returns the process exit status."""
    if argv and argv[0] in ("startup", "memory"):
        from conformance import serverbench

        return serverbench.main(argv)
    if argv and argv[0] == "nodeport":
        from conformance import nodeportbench

        return nodeportbench.main(argv[1:])
    if argv and argv[0] == "pods":
        from conformance import podbench

        return podbench.main(argv[1:])
    if argv and argv[0] == "scale":
        from conformance import scalebench

        return scalebench.main(argv[1:])
    if argv and argv[0] == "server-time":
        from conformance import servertime

        return servertime.main(argv[1:])
    if argv and argv[0] == "run":
        argv = argv[1:]
    args = build_parser().parse_args(argv)
    try:
        access = load_kubeconfig(args.kubeconfig, args.context)
    except KubeconfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    opts = BenchOptions(
        objects=args.objects, concurrency=args.concurrency, duration_s=args.duration, threads=args.threads,
        value_bytes=args.value_bytes, list_runs=args.list_runs, watch_events=args.watch_events,
        server_pids=server_pids(access, args.server_pid), generator=args.generator,
    )
    try:
        report = run_bench(access, opts, keep=args.keep)
    except (HTTPError, WrkError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
    else:
        print(format_report(report))
    return 1 if report["errors"] or report.get("error") else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
