"""The nodes ``kubefacade serve`` runs in its own process: by default one process-backend node named
after the host; ``--sim-nodes N`` adds N simulated ones; ``--no-node`` runs none.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from pathlib import Path
from typing import Any

from controllers.client import InProcessClient
from controllers.clock import Clock
from facade.bootstrap import advertise_address
from runtime.agent import AgentOptions, NodeAgent
from runtime.cluster_dns import CLUSTER_DNS_IP
from runtime.process import ISOLATION_NOTE, ProcessRuntime
from runtime.proxy.node_proxy import NodeProxy
from runtime.sim import SimNodePool, SimStages

KUBELET_MANAGER = "kubelet"


def exit_on_sigterm() -> None:
    """SIGTERM raises SystemExit (and SIGINT KeyboardInterrupt) instead of killing the process outright.

    uvicorn restores the previous handler and re-raises the signal once it has shut down; with the
    default handler the process would die there, before the node agents kill their containers
    (each container has its own session, so nothing else would).
    """
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, _raise_exit)
    # Ctrl-C: asyncio's runner would cancel the main task when uvicorn re-raises SIGINT, and the
    # cancellation would cut the node agents' cleanup short at its first await; an exception does not.
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, _raise_interrupt)


def _raise_exit(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def default_node_name() -> str:
    """The host name, lower-cased, as kubelet's --hostname-override default."""
    return socket.gethostname().split(".")[0].lower() or "kubefacade"


def process_agent(client: Any, name: str, data_dir: Path, clock: Clock, host_ip: str = "", pod_cidr: str = "",
                  pod_isolation: bool = True) -> NodeAgent:
    """A process-backend node; as root on Linux its pods are isolated (runtime/pod_isolation.py) unless
    ``pod_isolation`` is False, and the Node's ``kubefacade.io/pod-isolation`` annotation says which."""
    from runtime.pod_isolation import ANNOTATION, ISOLATED_NOTE, PodIsolation, isolation_unavailable

    ip = host_ip or advertise_address("127.0.0.1") or "127.0.0.1"
    why_not = isolation_unavailable(disabled=not pod_isolation)
    annotations = {"kubefacade.io/runtime": "process",
                   "kubefacade.io/isolation": f"{ISOLATION_NOTE} ({why_not})" if why_not else ISOLATED_NOTE,
                   ANNOTATION: "none" if why_not else "netns"}
    isolation = None if why_not else PodIsolation(name, annotations)  # updates them if the setup fails
    runtime = ProcessRuntime(ip, clock, isolation)
    options = AgentOptions(name=name, data_dir=data_dir, host_ip=ip, annotations=annotations, pod_cidr=pod_cidr)
    return NodeAgent(client, runtime, options, clock)


def docker_agent(client: Any, name: str, data_dir: Path, clock: Clock, host_ip: str = "") -> NodeAgent:
    """A node whose pods run on the Docker engine ``DOCKER_HOST`` names (``runtime/docker.py``)."""
    from runtime.docker import ISOLATION_NOTE as DOCKER_NOTE
    from runtime.docker import DockerRuntime

    ip = host_ip or advertise_address("127.0.0.1") or "127.0.0.1"
    options = AgentOptions(name=name, data_dir=data_dir, host_ip=ip,
                           annotations={"kubefacade.io/runtime": "docker", "kubefacade.io/isolation": DOCKER_NOTE})
    return NodeAgent(client, DockerRuntime(), options, clock)


def cluster_dns(rest: Any, agent: NodeAgent, dns_port: int, dns_host: str) -> Any:
    """The cluster DNS server for a node: on the node's address (any free port unless ``dns_port``), which
    the kube-dns endpoints name, and on ``dns_host:dns_port`` too when a port is given. Without root
    (no clusterIP to reach it through) it runs only when a port is given."""
    if os.geteuid() != 0 and not dns_port:
        return None
    from runtime.dns.server import ClusterDNS

    node_ip = agent.options.host_ip if not agent.options.host_ip.startswith("127.") else ""
    hosts = [h for h in (node_ip, dns_host if dns_port else "") if h]
    return ClusterDNS(InProcessClient(rest, "kube-dns"), agent.name, hosts, dns_port, node_ip)


class LocalNodes:
    """The in-process node agents of one server; ``stop`` kills every container they started."""

    def __init__(self, rest: Any, data_dir: Path, clock: Clock, node: bool = True, node_name: str = "",
                 sim_nodes: int = 0, sim_stages: SimStages | None = None, runtime: str = "process",
                 dns_port: int = 0, dns_host: str = "127.0.0.1", pod_cidr: str = "",
                 pod_isolation: bool = True, claim_cluster_ips: bool = False) -> None:
        self.agents: list[NodeAgent] = []
        self.dns: Any = None  # the cluster DNS server (runtime/dns/), beside the in-process node
        self.pool: SimNodePool | None = None
        self.proxies: list[NodeProxy] = []
        if node:
            client, name = InProcessClient(rest, KUBELET_MANAGER), node_name or default_node_name()
            if runtime == "docker":
                self.agents.append(docker_agent(client, name, data_dir / "node", clock))
            else:
                self.agents.append(process_agent(client, name, data_dir / "node", clock, pod_cidr=pod_cidr,
                                                 pod_isolation=pod_isolation))
            self.proxies.append(NodeProxy(InProcessClient(rest, "kube-proxy"), self.agents[-1].name))
            self.dns = cluster_dns(rest, self.agents[-1], dns_port, dns_host)
            plane = self.proxies[-1].cluster_ips
            if plane is not None:
                plane.claim = claim_cluster_ips  # take the host's clusterIPs over from another server
            if self.dns is not None and plane is not None:  # DNS answers on 10.96.0.10:53 itself, no proxy hop
                plane.serve_here([(CLUSTER_DNS_IP, 53, "UDP"), (CLUSTER_DNS_IP, 53, "TCP")], self.dns.listen_also)
        if sim_nodes:
            self.pool = SimNodePool(InProcessClient(rest, KUBELET_MANAGER), sim_nodes, data_dir / "sim", clock,
                                    sim_stages)

    async def start(self) -> None:
        for a in self.agents:
            await a.start()
        if self.dns is not None:
            await self.dns.start()
        for p in self.proxies:
            await p.start()
        if self.pool is not None:
            await self.pool.start()

    async def stop(self) -> None:
        for p in self.proxies:
            await p.stop()
        if self.dns is not None:
            await self.dns.stop()
        for a in self.agents:
            await a.stop()
        if self.pool is not None:
            await self.pool.stop()
