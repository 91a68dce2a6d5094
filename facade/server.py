"""`kubefacade serve`: certificates, kubeconfig, store, bootstrap, then uvicorn or hypercorn over TLS."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from facade.app import build_app
from facade.bootstrap import bootstrap
from facade.kinds import builtin_table
from facade.kubeconfig import ensure_token, write_kubeconfig
from facade.rest import RestStore
from facade.tls import ensure_certificates
from storage.memory import MemoryStore

log = logging.getLogger("kubefacade")


@dataclass
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 6443
    data_dir: Path = Path.home() / ".kubefacade"
    kubeconfig: Path | None = None
    server: str = "uvicorn"  # uvicorn (HTTP/1.1, fastest) or hypercorn (HTTP/1.1 + HTTP/2 via ALPN)
    http2: bool = False
    log_level: str = "warning"
    controllers: bool = True
    history_window: int = 20_000
    fake_clock: bool = False
    node: bool = True  # one process-backend node named after the host (runtime/local.py)
    node_name: str = ""
    sim_nodes: int = 0
    sim_job_seconds: float = 1.0
    sim_ready_seconds: float = 0.0
    runtime: str = "process"  # the in-process node's backend: process or docker (runtime/docker.py)
    node_monitor_grace_period: float = 40.0  # silence after which a node's conditions turn Unknown
    default_unreachable_toleration_seconds: int = 300  # DefaultTolerationSeconds admission
    pod_cidr: str = ""  # the in-process node's pod CIDR (default: 10.244.0.0/24, or the next free /24)
    pod_isolation: bool = True  # as root: each pod its own netns/UTS, each container its own mount ns
    dns_port: int = 0  # cluster DNS also on HOST:dns_port (0: only behind the kube-dns clusterIP, as root)
    claim_cluster_ips: bool = False  # take the host's Service clusterIPs over from another kubefacade server
    ingress_http_port: int = 8080  # the built-in Ingress controller (runtime/ingress/); 0 = off
    ingress_https_port: int = 8443


def _client_host(host: str) -> str:
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


async def build(opts: ServeOptions) -> tuple[Any, RestStore, Path]:
    """Everything but the listening socket: returns (ASGI app, rest store, kubeconfig path)."""
    opts.data_dir.mkdir(parents=True, exist_ok=True)
    ca_crt, _, _ = ensure_certificates(opts.data_dir, opts.host)
    token = ensure_token(opts.data_dir)
    from facade.service_account_token import load_signing_key

    load_signing_key(opts.data_dir)  # service-account tokens stay valid across restarts
    kubeconfig = opts.kubeconfig or opts.data_dir / "kubeconfig"
    write_kubeconfig(kubeconfig, f"https://{_client_host(opts.host)}:{opts.port}", ca_crt, token)
    rest = RestStore(MemoryStore(history=opts.history_window), builtin_table())
    if opts.default_unreachable_toleration_seconds != 300:
        from facade.kinds import core_pod_strategy

        core_pod_strategy.DEFAULT_TOLERATION_SECONDS = opts.default_unreachable_toleration_seconds
    await bootstrap(rest, "127.0.0.1" if opts.host in ("0.0.0.0", "::") else opts.host.strip("[]"), opts.port)
    from controllers.clock import FakeClock, RealClock

    clock = FakeClock() if opts.fake_clock else RealClock()
    app = build_app(rest, token, f"{_client_host(opts.host)}:{opts.port}", clock if opts.fake_clock else None)
    if opts.controllers:
        from controllers.manager import ControllerManager

        manager = ControllerManager(rest, ca_crt.read_text(), clock, opts.data_dir, opts.node_monitor_grace_period)
        manager.start()
        app.controllers = manager  # type: ignore[attr-defined]
    if opts.node or opts.sim_nodes:
        from runtime.local import LocalNodes
        from runtime.sim import SimStages

        nodes = LocalNodes(rest, opts.data_dir, clock, opts.node, opts.node_name, opts.sim_nodes,
                           SimStages(running_delay=opts.sim_ready_seconds, job_delay=opts.sim_job_seconds),
                           runtime=opts.runtime, dns_port=opts.dns_port, dns_host=opts.host.strip("[]"),
                           pod_cidr=opts.pod_cidr, pod_isolation=opts.pod_isolation,
                           claim_cluster_ips=opts.claim_cluster_ips)
        await nodes.start()
        app.nodes = nodes  # type: ignore[attr-defined]
    if opts.controllers and (opts.ingress_http_port or opts.ingress_https_port):
        from runtime.ingress import start_ingress

        ingress = await start_ingress(rest, opts.data_dir, opts.host, opts.ingress_http_port,
                                      opts.ingress_https_port)
        app.ingress = ingress  # type: ignore[attr-defined]
    return app, rest, kubeconfig


async def _serve_uvicorn(app: Any, opts: ServeOptions, rest: Any = None) -> None:
    import uvicorn
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    from facade.http_protocol import CoalescingHttpToolsProtocol
    from facade.spdy_upgrade import protocol_class  # kubectl port-forward's plain SPDY/3.1 upgrade

    config = uvicorn.Config(
        app,
        host=opts.host,
        port=opts.port,
        ssl_certfile=str(opts.data_dir / "server.crt"),
        ssl_keyfile=str(opts.data_dir / "server.key"),
        http=protocol_class(rest, ensure_token(opts.data_dir),
                            CoalescingHttpToolsProtocol if not os.environ.get("KF_NOCOAL") else HttpToolsProtocol),
        ws="websockets",  # exec/attach/port-forward streams are tested with this implementation
        loop="none",
        lifespan="off",
        log_level=opts.log_level,
        access_log=False,
        timeout_keep_alive=120,
        timeout_graceful_shutdown=3,  # open watches and streams must not keep Ctrl-C from stopping the server
        backlog=4096,
        proxy_headers=False,
        server_header=False,
        date_header=False,
    )
    server = uvicorn.Server(config)
    await server.serve()


async def _serve_hypercorn(app: Any, opts: ServeOptions) -> None:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"{_client_host(opts.host) if opts.host not in ('0.0.0.0', '::') else opts.host}:{opts.port}"]
    config.certfile = str(opts.data_dir / "server.crt")
    config.keyfile = str(opts.data_dir / "server.key")
    config.alpn_protocols = ["h2", "http/1.1"] if opts.http2 else ["http/1.1"]
    config.loglevel = opts.log_level.upper()
    config.accesslog = None
    config.keep_alive_timeout = 120
    config.h2_max_concurrent_streams = 1000
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]


async def serve(opts: ServeOptions) -> None:
    app, _rest, kubeconfig = await build(opts)
    from facade.gc_tuning import tune_gc

    tune_gc()  # after start-up: its objects live as long as the process
    print(f"export KUBECONFIG={kubeconfig}", flush=True)
    print(f"kubefacade serving Kubernetes v1.32 API on https://{_client_host(opts.host)}:{opts.port} "
          f"({'hypercorn' if opts.server == 'hypercorn' or opts.http2 else 'uvicorn'})", file=sys.stderr, flush=True)
    if getattr(app, "nodes", None) is not None:
        from runtime.local import exit_on_sigterm

        exit_on_sigterm()  # so that the node agents' cleanup below runs when uvicorn re-raises SIGTERM
    try:
        if opts.server == "hypercorn" or opts.http2:
            await _serve_hypercorn(app, opts)
        else:
            await _serve_uvicorn(app, opts, _rest)
    finally:
        ingress = getattr(app, "ingress", None)
        if ingress is not None:
            await ingress.stop()
        nodes = getattr(app, "nodes", None)
        if nodes is not None:  # the node agents' containers do not outlive the server
            await nodes.stop()


def run(opts: ServeOptions) -> int:
    logging.basicConfig(level=getattr(logging, opts.log_level.upper(), logging.WARNING),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    if os.environ.get("KUBEFACADE_NO_UVLOOP"):
        runner = asyncio.run
    try:
        runner(serve(opts))
    except KeyboardInterrupt:
        pass
    return 0
