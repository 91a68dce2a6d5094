"""The nodes ``kubefacade serve`` runs in its own process: by default one process-backend node named
after the host; ``--sim-nodes N`` adds N simulated ones; ``--no-node`` runs none.
"""

from __future__ import annotations

import signal
import socket
import threading
from pathlib import Path
from typing import Any

from controllers.client import InProcessClient
from controllers.clock import Clock
from facade.bootstrap import advertise_address
from runtime.agent import AgentOptions, NodeAgent
from runtime.process import ISOLATION_NOTE, ProcessRuntime
from runtime.proxy.node_proxy import NodeProxy
from runtime.sim import SimNodePool, SimStages

KUBELET_MANAGER = "kubelet"


def exit_on_sigterm() -> None:
    """SIGTERM raises SystemExit instead of killing the process outright.

    uvicorn restores the previous handler and re-raises the signal once it has shut down; with the
    default handler the process would die there, before the node agents kill their containers
    (each container has its own session, so nothing else would).
    """
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, _raise_exit)


def _raise_exit(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def default_node_name() -> str:
    """The host name, lower-cased, as kubelet's --hostname-override default."""
    return socket.gethostname().split(".")[0].lower() or "kubefacade"


def process_agent(client: Any, name: str, data_dir: Path, clock: Clock, host_ip: str = "") -> NodeAgent:
    ip = host_ip or advertise_address("127.0.0.1") or "127.0.0.1"
    runtime = ProcessRuntime(ip, clock)
    options = AgentOptions(name=name, data_dir=data_dir, host_ip=ip,
                           annotations={"kubefacade.io/runtime": "process", "kubefacade.io/isolation": ISOLATION_NOTE})
    return NodeAgent(client, runtime, options, clock)


def docker_agent(client: Any, name: str, data_dir: Path, clock: Clock, host_ip: str = "") -> NodeAgent:
    """A node whose pods run on the Docker engine ``DOCKER_HOST`` names (``runtime/docker.py``)."""
    from runtime.docker import ISOLATION_NOTE as DOCKER_NOTE
    from runtime.docker import DockerRuntime

    ip = host_ip or advertise_address("127.0.0.1") or "127.0.0.1"
    options = AgentOptions(name=name, data_dir=data_dir, host_ip=ip,
                           annotations={"kubefacade.io/runtime": "docker", "kubefacade.io/isolation": DOCKER_NOTE})
    return NodeAgent(client, DockerRuntime(), options, clock)


class LocalNodes:
    """The in-process node agents of one server; ``stop`` kills every container they started."""

    def __init__(self, rest: Any, data_dir: Path, clock: Clock, node: bool = True, node_name: str = "",
                 sim_nodes: int = 0, sim_stages: SimStages | None = None, runtime: str = "process") -> None:
        self.agents: list[NodeAgent] = []
        self.pool: SimNodePool | None = None
        self.proxies: list[NodeProxy] = []
        if node:
            make = docker_agent if runtime == "docker" else process_agent
            self.agents.append(make(InProcessClient(rest, KUBELET_MANAGER), node_name or default_node_name(),
                                    data_dir / "node", clock))
            self.proxies.append(NodeProxy(InProcessClient(rest, "kube-proxy"), self.agents[-1].name))
        if sim_nodes:
            self.pool = SimNodePool(InProcessClient(rest, KUBELET_MANAGER), sim_nodes, data_dir / "sim", clock,
                                    sim_stages)

    async def start(self) -> None:
        for a in self.agents:
            await a.start()
        for p in self.proxies:
            await p.start()
        if self.pool is not None:
            await self.pool.start()

    async def stop(self) -> None:
        for p in self.proxies:
            await p.stop()
        for a in self.agents:
            await a.stop()
        if self.pool is not None:
            await self.pool.stop()
