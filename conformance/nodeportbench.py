"""`kubefacade bench nodeport`: HTTP throughput and added latency through a NodePort.

Starts `kubefacade serve` on a free port with a fresh data directory (or uses ``--kubeconfig``),
deploys two web pods behind a NodePort Service (``conformance/nodeport_pods.py``), then runs wrk
(32 connections, 2 threads, 10 s by default) first straight at one pod's ``podIP:port`` and then at
``NODE_ADDRESS:nodePort``. The report gives requests/s and p50/p99 latency of both and the p99
difference: the latency the node proxy adds. It does this for busybox httpd (a new connection per
request: the bar's case) and for a keep-alive server (bytes relayed over long-lived connections).

    kubefacade bench nodeport [--kubeconfig K] [--duration S] [--connections C] [--threads T] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import shlex
import shutil
import sys
import time
from collections.abc import Iterator
from typing import Any

import orjson

from conformance.httpclient import Connection, HTTPError
from conformance.kubeconfig import KubeconfigError, load_kubeconfig
from conformance.nodeport_pods import Backend, deploy, wait
from conformance.phases import create_namespace
from conformance.plainwrk import run_plain
from conformance.procstat import cpu_seconds
from conformance.serverbench import DEFAULT_SERVER_CMD, serving
from conformance.stats import median
from conformance.wrk_runner import WrkError, wrk_binary

BAR_REQ_PER_S = 2000.0
BAR_ADDED_P99_MS = 5.0
MODE_ENV = "KUBEFACADE_PROXY_MODE"  # read by runtime/proxy/nft_nodeports.py


def answers(host: str, port: int, timeout: float = 2.0) -> bool:
    """One GET / through ``host:port`` answered with 200."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", "/")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def node_ready(conn: Connection) -> bool:
    resp = conn.request("GET", "/api/v1/nodes")
    if not resp.ok:
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for n in resp.json()["items"] for c in (n.get("status") or {}).get("conditions") or [])


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One wrk report whose figures are the medians over ``runs`` (the runs themselves kept apart)."""
    if len(runs) == 1:
        return runs[0]
    out = dict(runs[0])
    for key in ("requests", "elapsed_s", "req_per_s", "error_total"):
        out[key] = median([r[key] for r in runs])
    out["requests"], out["error_total"] = round(out["requests"]), round(out["error_total"])
    out["latency_ms"] = {k: median([r["latency_ms"][k] for r in runs]) for k in runs[0]["latency_ms"]}
    out["runs"] = [{"req_per_s": r["req_per_s"], "p50": r["latency_ms"]["p50"], "p99": r["latency_ms"]["p99"]}
                   for r in runs]
    return out


def measure(backend: Backend, node_address: str, args: argparse.Namespace, pids: list[int]) -> dict[str, Any]:
    """wrk straight at the first pod, then through the NodePort (``--runs`` times, alternating)."""
    ip, port = backend.pods[0]
    direct_url, via_url = f"http://{ip}:{port}/", f"http://{node_address}:{backend.node_port}/"
    directs: list[dict[str, Any]] = []
    vias: list[dict[str, Any]] = []
    cpu = 0.0
    for _ in range(max(1, args.runs)):
        directs.append(run_plain(direct_url, connections=args.connections, threads=args.threads,
                                 duration_s=args.duration).report())
        cpu_before = cpu_seconds(pids) if pids else None
        vias.append(run_plain(via_url, connections=args.connections, threads=args.threads,
                              duration_s=args.duration).report())
        cpu_after = cpu_seconds(pids) if pids else None
        if cpu_before is not None and cpu_after is not None:
            cpu += cpu_after - cpu_before
    direct, via = _median_run(directs), _median_run(vias)
    out: dict[str, Any] = {
        "backend": "busybox httpd (Connection: close)" if backend.kind == "httpd" else "HTTP/1.1 keep-alive",
        "service": backend.service, "node_port": backend.node_port, "layout": backend.layout,
        "pods": [f"{a}:{p}" for a, p in backend.pods],
        "direct": {"url": direct_url, **direct},
        "nodeport": {"url": via_url, **via},
        "added_p50_ms": round(via["latency_ms"]["p50"] - direct["latency_ms"]["p50"], 3),
        "added_p99_ms": round(via["latency_ms"]["p99"] - direct["latency_ms"]["p99"], 3),
    }
    total = sum(r["requests"] for r in vias)
    if pids and total:
        out["server_cpu_s_per_1000"] = round(cpu * 1000 / total, 3)
    return out


def node_proxy_mode(conn: Connection) -> str:
    """How the nodes say they serve NodePorts (kubefacade's ``kubefacade.io/nodeports`` annotation)."""
    resp = conn.request("GET", "/api/v1/nodes")
    modes = {((n["metadata"].get("annotations") or {}).get("kubefacade.io/nodeports") or "")
             for n in (resp.json()["items"] if resp.ok else [])} - {""}
    return ", ".join(sorted(modes)) or "unknown"


def run(args: argparse.Namespace, kubeconfig: str | None, pids: list[int]) -> dict[str, Any]:
    access = load_kubeconfig(kubeconfig, args.context)
    report: dict[str, Any] = {"server": access.server, "node_address": args.node_address,
                              "connections": args.connections, "threads": args.threads,
                              "duration_s": args.duration, "runs": args.runs, "server_pids": pids,
                              "variants": {}}
    with Connection(access) as conn:
        wait("a Ready node", lambda: node_ready(conn), 60)
        namespace = create_namespace(conn)
        report["namespace"] = namespace
        try:
            kinds = ["httpd"] if args.no_keepalive else ["httpd", "keepalive"]
            backends = [deploy(conn, namespace, kind) for kind in kinds]
            for b in backends:
                wait(f"an answer through {args.node_address}:{b.node_port}",
                     lambda b=b: answers(args.node_address, b.node_port), 30)
            time.sleep(1.0)  # the node proxy re-reads endpoints every 0.5 s: let it see both pods
            report["proxy_mode"] = node_proxy_mode(conn)
            for b in backends:
                report["variants"][b.kind] = measure(b, args.node_address, args, pids)
        finally:
            if not args.keep:
                conn.request("DELETE", f"/api/v1/namespaces/{namespace}")
    httpd = report["variants"]["httpd"]
    report["bar"] = {"req_per_s": BAR_REQ_PER_S, "added_p99_ms": BAR_ADDED_P99_MS,
                     "met": httpd["nodeport"]["req_per_s"] >= BAR_REQ_PER_S
                     and httpd["added_p99_ms"] < BAR_ADDED_P99_MS}
    report["errors"] = sum(v[k]["error_total"] for v in report["variants"].values() for k in ("direct", "nodeport"))
    return report


def format_nodeport(report: dict[str, Any]) -> str:
    lines = [f"NodePort bench against {report['server']} ({report['connections']} connections, "
             f"{report['threads']} wrk threads, {report['duration_s']:g} s per run, medians of {report['runs']})",
             f"node proxy: {report.get('proxy_mode', 'unknown')}"]
    for v in report["variants"].values():
        lines.append(f"{v['backend']}: {v['layout']}")
        for where in ("direct", "nodeport"):
            r = v[where]
            lines.append(f"  {where:<9} {r['url']:<32} {r['req_per_s']:>9,.1f} req/s  p50 {r['latency_ms']['p50']:.2f} ms"
                         f"  p99 {r['latency_ms']['p99']:.2f} ms  errors {r['error_total']}")
        cpu = f", server CPU {v['server_cpu_s_per_1000']} s per 1,000" if "server_cpu_s_per_1000" in v else ""
        lines.append(f"  added latency: p50 {v['added_p50_ms']:+.2f} ms, p99 {v['added_p99_ms']:+.2f} ms{cpu}")
    bar = report["bar"]
    lines.append(f"bar ({bar['req_per_s']:,.0f} req/s through the NodePort to busybox httpd, added p99 under "
                 f"{bar['added_p99_ms']:g} ms): {'met' if bar['met'] else 'NOT met'}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kubefacade bench nodeport", description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubeconfig", help="an existing cluster (default: start kubefacade serve on a free port)")
    parser.add_argument("--context", help="kubeconfig context (default: current-context)")
    parser.add_argument("--node-address", default="127.0.0.1", help="where the NodePort is reached (default 127.0.0.1)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run (default 10)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--runs", type=int, default=1, help="direct/NodePort run pairs; medians reported (default 1)")
    parser.add_argument("--proxy-mode", choices=("auto", "userspace"), default="auto",
                        help="started server only: userspace keeps NodePorts out of nftables even as root")
    parser.add_argument("--no-keepalive", action="store_true", help="measure busybox httpd only")
    parser.add_argument("--server-cmd", default=None, help="command that serves (gets --port and --data-dir)")
    parser.add_argument("--keep", action="store_true", help="keep the bench namespace afterwards")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


@contextlib.contextmanager
def proxy_mode(mode: str) -> Iterator[None]:
    """While the bench's server starts and runs: ``userspace`` reaches its node proxy as
    ``KUBEFACADE_PROXY_MODE`` (the environment it inherits)."""
    saved = os.environ.get(MODE_ENV)
    if mode == "userspace":
        os.environ[MODE_ENV] = "userspace"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(MODE_ENV, None)
        else:
            os.environ[MODE_ENV] = saved


def main(argv: list[str]) -> int:
    """`kubefacade bench nodeport [options]`; exit status 2 when it cannot run, 1 on request errors."""
    args = build_parser().parse_args(argv)
    try:
        with contextlib.ExitStack() as stack:
            wrk_binary()
            kubeconfig = args.kubeconfig
            pids: list[int] = []
            if not kubeconfig:
                if shutil.which("busybox") is None:
                    raise WrkError("busybox is not installed (apt-get install busybox-static): "
                                   "the pods run busybox httpd")
                stack.enter_context(proxy_mode(args.proxy_mode))
                cmd = shlex.split(args.server_cmd) if args.server_cmd else DEFAULT_SERVER_CMD
                server = stack.enter_context(serving(cmd, "kubefacade-nodeport-"))
                kubeconfig = str(server.kubeconfig)
                pids = server.pids()
            report = run(args, kubeconfig, pids)
    except (KubeconfigError, HTTPError, WrkError, TimeoutError, RuntimeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() if args.json else format_nodeport(report))
    return 1 if report["errors"] else 0
