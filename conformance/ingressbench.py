"""HTTP throughput and added latency through the built-in Ingress controller.

    python -m conformance.ingressbench [--duration S] [--connections C] [--threads T] [--json]

Starts `kubefacade serve` on free ports (API and Ingress HTTP), deploys the two backends of
`kubefacade bench nodeport` (``conformance/nodeport_pods.py``: busybox httpd, a new connection per
request; and an HTTP/1.1 keep-alive server), puts each behind an Ingress rule without host (its
own path prefix is not needed: one Ingress per run), and runs wrk straight at one pod, then through
the Ingress. Reports req/s, p50/p99, the added latency and the server's CPU time per 1,000
requests (the figure that does not depend on how busy the machine is).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from typing import Any

import orjson

from conformance.httpclient import Connection, HTTPError
from conformance.kubeconfig import load_kubeconfig
from conformance.nodeport_pods import Backend, deploy, wait
from conformance.nodeportbench import answers, node_ready
from conformance.phases import create_namespace
from conformance.plainwrk import run_plain
from conformance.procstat import cpu_seconds
from conformance.serverbench import DEFAULT_SERVER_CMD, free_port, serving
from conformance.wrk_runner import WrkError, wrk_binary


def ingress(name: str, service: str) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": name},
            "spec": {"rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {
                "service": {"name": service, "port": {"number": 80}}}}]}}]}}


def measure(backend: Backend, port: int, args: argparse.Namespace, pids: list[int]) -> dict[str, Any]:
    ip, pod_port = backend.pods[0]
    direct = run_plain(f"http://{ip}:{pod_port}/", connections=args.connections, threads=args.threads,
                       duration_s=args.duration)
    before = cpu_seconds(pids)
    via = run_plain(f"http://127.0.0.1:{port}/", connections=args.connections, threads=args.threads,
                    duration_s=args.duration)
    after = cpu_seconds(pids)
    return {"backend": "busybox httpd (Connection: close)" if backend.kind == "httpd" else "HTTP/1.1 keep-alive",
            "direct": direct.report(), "ingress": via.report(),
            "added_p50_ms": round(via.latency_ms["p50"] - direct.latency_ms["p50"], 3),
            "added_p99_ms": round(via.latency_ms["p99"] - direct.latency_ms["p99"], 3),
            "server_cpu_ms_per_request": (round((after - before) * 1000 / max(1, via.requests), 3)
                                          if after is not None and before is not None else None)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    report: dict[str, Any] = {"connections": args.connections, "threads": args.threads,
                              "duration_s": args.duration, "variants": {}}
    cmd = [*DEFAULT_SERVER_CMD, "--ingress-http-port", str(port), "--ingress-https-port", "0"]
    with serving(cmd, "kubefacade-ingressbench-") as server:
        pids = server.pids()
        with Connection(load_kubeconfig(str(server.kubeconfig), None)) as conn:
            wait("a Ready node", lambda: node_ready(conn), 60)
            ns = create_namespace(conn)
            for kind in ("httpd", "keepalive"):
                backend = deploy(conn, ns, kind)
                resp = conn.request("POST", f"/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses",
                                    orjson.dumps(ingress("bench", backend.service)))
                if not resp.ok:
                    raise HTTPError("creating the Ingress", resp)
                wait("an answer through the Ingress", lambda: answers("127.0.0.1", port), 30)
                time.sleep(1.0)
                report["variants"][kind] = measure(backend, port, args, pids)
                conn.request("DELETE", f"/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses/bench")
                wait("the Ingress gone", lambda: not answers("127.0.0.1", port), 10)
    return report


def format_report(report: dict[str, Any]) -> str:
    lines = [f"Ingress bench ({report['connections']} connections, {report['threads']} wrk threads, "
             f"{report['duration_s']:g} s per run)"]
    for v in report["variants"].values():
        lines.append(v["backend"])
        for where in ("direct", "ingress"):
            r = v[where]
            lines.append(f"  {where:<8} {r['req_per_s']:>9,.1f} req/s  p50 {r['latency_ms']['p50']:.2f} ms  "
                         f"p99 {r['latency_ms']['p99']:.2f} ms  errors {r['error_total']}")
        lines.append(f"  added latency: p50 {v['added_p50_ms']:+.2f} ms, p99 {v['added_p99_ms']:+.2f} ms; "
                     f"server CPU {v['server_cpu_ms_per_request']} ms per request")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.ingressbench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run (default 10)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    try:
        wrk_binary()
        if shutil.which("busybox") is None:
            raise WrkError("busybox is not installed: the httpd pods run busybox httpd")
        report = run(args)
    except (HTTPError, WrkError, TimeoutError, RuntimeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() if args.json else format_report(report))
    return 1 if any(v[k]["error_total"] for v in report["variants"].values() for k in ("direct", "ingress")) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
