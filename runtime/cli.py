"""`kubefacade node`: one node agent on its own, against any API server named by a kubeconfig."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from pathlib import Path
from typing import Any


def add_node_command(sub: Any) -> None:
    node = sub.add_parser("node", help="run a node agent against any API server (a kubeconfig)")
    node.add_argument("--kubeconfig", required=True)
    node.add_argument("--context", default="")
    node.add_argument("--name", default="", help="node name (default: the host name)")
    node.add_argument("--runtime", choices=("process", "sim", "docker"), default="process")
    node.add_argument("--data-dir", default="~/.kubefacade-node", help="pod directories and container logs")
    node.add_argument("--node-ip", default="", help="the node's InternalIP (default: this host's address)")
    node.add_argument("--port", type=int, default=10250,
                      help="HTTPS port for logs, published as the Node's daemonEndpoints.kubeletEndpoint.Port")
    node.add_argument("--pod-cidr", default="",
                      help="pod addresses (default: the Node's spec.podCIDR, else 10.244.0.0/24 or the next free /24)")
    node.add_argument("--no-pod-isolation", action="store_true",
                      help="as root too, run pods on the host network without namespaces of their own")
    node.add_argument("--log-level", default="warning")
    node.set_defaults(func=_node)


async def _run(args: argparse.Namespace) -> None:
    from controllers.clock import RealClock
    from controllers.remote_client import RemoteClient
    from runtime.local import default_node_name, docker_agent, process_agent
    from runtime.sim import SimStages, sim_agent
    from runtime.streaming_server import NodeStreamingServer

    client = RemoteClient.from_kubeconfig(Path(args.kubeconfig).expanduser(), args.context)
    name = args.name or default_node_name()
    data_dir = Path(args.data_dir).expanduser()
    clock = RealClock()
    if args.runtime == "sim":
        agent = sim_agent(client, name, data_dir, clock, SimStages())
    elif args.runtime == "docker":
        agent = docker_agent(client, name, data_dir, clock, args.node_ip)
    else:
        agent = process_agent(client, name, data_dir, clock, args.node_ip, args.pod_cidr,
                              not args.no_pod_isolation)
    agent.options.daemon_port = args.port
    token = client.headers.get("Authorization", "").removeprefix("Bearer ")
    endpoint = NodeStreamingServer(agent, agent.host_ip, args.port, token, data_dir)
    await endpoint.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await agent.start()
    print(f"kubefacade node {name} ({args.runtime}) registered with {client.server}", flush=True)
    try:
        await stop.wait()
    finally:
        await agent.stop()
        await endpoint.stop()
        await client.close()


def _node(args: argparse.Namespace) -> int:
    logging.basicConfig(level=getattr(logging, args.log_level.upper(), logging.WARNING),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(args))
    return 0
