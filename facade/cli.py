"""The `kubefacade` command: serve, bench."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _serve(args: argparse.Namespace) -> int:
    from facade.server import ServeOptions, run

    return run(ServeOptions(
        host=args.host,
        port=args.port,
        data_dir=Path(args.data_dir).expanduser(),
        kubeconfig=Path(args.kubeconfig).expanduser() if args.kubeconfig else None,
        server=args.server,
        http2=args.http2,
        log_level=args.log_level,
        controllers=not args.no_controllers,
        history_window=args.history_window,
        fake_clock=args.fake_clock,
        node=not args.no_node,
        node_name=args.node_name,
        sim_nodes=args.sim_nodes,
        sim_job_seconds=args.sim_job_seconds,
        sim_ready_seconds=args.sim_ready_seconds,
        runtime=args.runtime,
        node_monitor_grace_period=args.node_monitor_grace_period,
        default_unreachable_toleration_seconds=args.default_unreachable_toleration_seconds,
        dns_port=args.dns_port,
        claim_cluster_ips=args.claim_cluster_ips,
        pod_cidr=args.pod_cidr,
        pod_isolation=not args.no_pod_isolation,
        ingress_http_port=args.ingress_http_port,
        ingress_https_port=args.ingress_https_port,
    ))


def _cache_bytecode() -> None:
    """Keep compiled bytecode even where PYTHONDONTWRITEBYTECODE is set, outside the source tree.

    Without it every start compiles the ~300 modules of the server from source again (about 0.4 s of
    the start-up on a 2-core machine); with it only the first start after a change does. The cache
    lives under $XDG_CACHE_HOME (default ~/.cache)/kubefacade/pycache, never beside the sources.
    """
    if not sys.dont_write_bytecode or sys.pycache_prefix:
        return
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    cache = base / "kubefacade" / "pycache"
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    sys.pycache_prefix = str(cache)
    sys.dont_write_bytecode = False


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    _cache_bytecode()
    if argv[:1] == ["bench"]:
        from conformance.bench import main as bench_main

        return bench_main(argv[1:])
    parser = argparse.ArgumentParser(prog="kubefacade", description="A Kubernetes-compatible API server.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the Kubernetes API over HTTPS")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=6443)
    serve.add_argument("--data-dir", default="~/.kubefacade", help="certificates, token and kubeconfig")
    serve.add_argument("--kubeconfig", default="", help="where to write the kubeconfig (default DATA_DIR/kubeconfig)")
    serve.add_argument("--server", choices=("uvicorn", "hypercorn"), default="uvicorn",
                       help="HTTP server: uvicorn (fastest HTTP/1.1) or hypercorn")
    serve.add_argument("--http2", action="store_true", help="serve HTTP/2 too (ALPN h2), through hypercorn")
    serve.add_argument("--log-level", default="warning")
    serve.add_argument("--history-window", type=int, default=20_000,
                       help="events kept per resource for watch resumption and consistent paging")
    serve.add_argument("--fake-clock", action="store_true",
                       help="controllers use a clock that moves only through POST /debug/clock?advance=SECONDS")
    serve.add_argument("--no-controllers", action="store_true", help="serve the API only, run no controllers")
    serve.add_argument("--no-node", action="store_true", help="run no node agent in this process")
    serve.add_argument("--node-monitor-grace-period", type=float, default=40.0,
                       help="seconds a node may stay silent before its conditions turn Unknown")
    serve.add_argument("--default-unreachable-toleration-seconds", type=int, default=300,
                       help="tolerationSeconds of the not-ready/unreachable tolerations pods get by default")
    serve.add_argument("--node-name", default="", help="name of the in-process node (default: the host name)")
    serve.add_argument("--sim-nodes", type=int, default=0, help="also run N simulated (KWOK-like) nodes")
    serve.add_argument("--sim-job-seconds", type=float, default=1.0,
                       help="simulated nodes: seconds until a Job's pod succeeds")
    serve.add_argument("--sim-ready-seconds", type=float, default=0.0,
                       help="simulated nodes: seconds until a started container reads Running and Ready")
    serve.add_argument("--runtime", choices=("process", "docker"), default="process",
                       help="backend of the in-process node: host processes, or a Docker engine (DOCKER_HOST)")
    serve.add_argument("--ingress-http-port", type=int, default=8080,
                       help="port of the built-in Ingress controller's HTTP listener on --host (0: none)")
    serve.add_argument("--ingress-https-port", type=int, default=8443,
                       help="port of the built-in Ingress controller's HTTPS listener on --host (0: none)")
    serve.add_argument("--pod-cidr", default="",
                       help="pod addresses of the in-process node (default 10.244.0.0/24, or the next free /24)")
    serve.add_argument("--no-pod-isolation", action="store_true",
                       help="as root too, run pods on the host network without namespaces of their own")
    serve.add_argument("--dns-port", type=int, default=0,
                       help="also serve the cluster DNS on HOST:PORT (0: only at the kube-dns clusterIP, as root)")
    serve.add_argument("--claim-cluster-ips", action="store_true",
                       help="as root, take the host's Service clusterIPs over from another kubefacade server "
                            "(one server per host holds them)")
    serve.set_defaults(func=_serve)
    from controllers.cli_args import add_controllers_command
    from runtime.cli import add_node_command

    add_node_command(sub)
    add_controllers_command(sub)
    sub.add_parser("bench", help="benchmark any cluster: kubefacade bench --help")
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
