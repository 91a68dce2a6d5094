"""NodePorts in the kernel: nftables DNAT rules, used when the node proxy runs as root.

What kube-proxy's nftables mode does for a NodePort, reduced to its core: a TCP connection to
``<any local address>:<nodePort>`` is rewritten (DNAT) to one of the port's ready endpoints, picked
round-robin by ``numgen inc``, so no byte crosses Python and no connection is accepted twice.
Connections from the host itself are rewritten in the ``output`` hook, others in ``prerouting``.
The userspace listener on the port stays open: it reserves the port on the host (as kube-proxy
holds its NodePort sockets) so another server cannot hand out the same one, and it serves every
case the rules do not cover.

Covered: TCP NodePorts whose ready endpoints are IPv4 and whose Service has no
``sessionAffinity: ClientIP`` (affinity, LoadBalancer ingress addresses, UDP and ports without a
ready endpoint stay in userspace, which refuses when nothing is ready, as the REJECT rule would).

Each proxy owns one table, ``ip kubefacade_np_<pid>``, replaced atomically (one ``nft -f``) when
its rules change and deleted on stop; tables of processes that no longer exist (a server killed
with SIGKILL) are deleted when the next proxy starts. Endpoints that are not addresses of this host
(pods in their own network namespaces) are reached from 127.0.0.1 only with
``net.ipv4.conf.all.route_localnet=1`` and a masquerade of such connections, both of which kube-proxy
sets up too; they are set here only when such an endpoint appears.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import logging
import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

from facade.kinds.core_service_alloc import SERVICE_CIDR

log = logging.getLogger("kubefacade.proxy")

Endpoint = tuple[str, int]
TABLE_PREFIX = "kubefacade_np_"
ROUTE_LOCALNET = Path("/proc/sys/net/ipv4/conf/all/route_localnet")
#: local addresses that are not the node's: clusterIPs (served by their own listeners) and
#: LoadBalancer ingress addresses, which kube-proxy also matches before NodePorts
NOT_NODE_ADDRESSES = (str(SERVICE_CIDR), "127.0.1.0/24")


@functools.lru_cache(maxsize=1024)
def is_host_address(ip: str) -> bool:
    """Whether ``ip`` is an address of this host (a socket can bind it)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((ip, 0))
        return True
    except OSError:
        return False


def render(table: str, ports: dict[int, list[Endpoint]]) -> str:
    """The nft script that (re)creates ``table`` with one DNAT rule per node port."""
    rules = []
    for port, eps in sorted(ports.items()):
        targets = ", ".join(f"{i} : {ip} . {p}" for i, (ip, p) in enumerate(eps))
        rules.append(f"fib daddr type local ip daddr != {{ {', '.join(NOT_NODE_ADDRESSES)} }} tcp dport {port} "
                     f"dnat ip to numgen inc mod {len(eps)} map {{ {targets} }}")
    body = "\n".join(f"    {r}" for r in rules)
    return (
        f"table ip {table} {{}}\n"
        f"delete table ip {table}\n"
        f"table ip {table} {{\n"
        f"  chain prerouting {{\n    type nat hook prerouting priority -100; policy accept;\n{body}\n  }}\n"
        f"  chain output {{\n    type nat hook output priority -100; policy accept;\n{body}\n  }}\n"
        # connections from 127.0.0.1 rewritten to a pod in another network namespace leave through a
        # real interface: give them a source address the pod can answer
        f"  chain postrouting {{\n    type nat hook postrouting priority 100; policy accept;\n"
        f"    ip saddr 127.0.0.0/8 oifname != \"lo\" ct status dnat masquerade\n  }}\n"
        f"}}\n"
    )


async def _nft(script: str | None, *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        "nft", *args, stdin=asyncio.subprocess.PIPE if script is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    run = asyncio.ensure_future(proc.communicate(script.encode() if script is not None else None))
    try:
        out, err = await asyncio.shield(run)
    except asyncio.CancelledError:  # let nft finish, so that a later delete is not undone by it
        await asyncio.wait([run])
        raise
    return proc.returncode or 0, (out if proc.returncode == 0 else err).decode(errors="replace")


class NftNodePorts:
    """The DNAT rules of one node proxy; ``apply`` is called on every sync with the wanted ports."""

    def __init__(self, table: str | None = None) -> None:
        self.table = table or f"{TABLE_PREFIX}{os.getpid()}"
        self.enabled = (os.geteuid() == 0 and shutil.which("nft") is not None
                        and os.environ.get("KUBEFACADE_PROXY_MODE", "") != "userspace")
        self._applied: str | None = None
        self._created = False  # the table may exist: stop() must delete it
        self._probed = False
        self._failed: str | None = None

    async def _clean_stale(self) -> None:
        """Delete the tables of proxies whose process has gone (killed before it could clean up)."""
        code, out = await _nft(None, "list", "tables", "ip")
        if code != 0:
            log.warning("nftables unusable, NodePorts stay in userspace: %s", out.strip())
            self.enabled = False
            return
        for table, pid in re.findall(rf"table ip ({TABLE_PREFIX}(\d+))", out):
            if table != self.table and not Path(f"/proc/{pid}").exists():
                await _nft(None, "delete", "table", "ip", table)

    async def apply(self, ports: dict[int, list[Endpoint]]) -> set[int]:
        """Make the rules DNAT exactly ``ports``; returns the ports now handled in the kernel."""
        if not self._probed:  # is nftables usable at all? (and old tables of dead servers go)
            self._probed = True
            await self._clean_stale()
        if not self.enabled:
            return set()
        ports = {p: eps for p, eps in ports.items() if eps and all(":" not in ip for ip, _ in eps)}
        if not ports:
            await self.stop()
            return set()
        script = render(self.table, ports)
        if script == self._applied:
            return set(ports)
        if script == self._failed:  # nft refused exactly this before: do not retry (and warn) every sync
            return set()
        await self._clean_stale()  # a dead server's rules must not shadow a port this one now holds
        if not self.enabled:
            return set()
        if any(not is_host_address(ip) for eps in ports.values() for ip, _ in eps):
            _enable_route_localnet()
        if not self._created:
            self._created = True
            atexit.register(self._delete_at_exit)  # in case the server exits without stopping its nodes
        code, err = await _nft(script, "-f", "-")
        if code != 0:
            log.warning("nft rules for NodePorts not applied, they stay in userspace: %s", err.strip())
            await _nft(None, "delete", "table", "ip", self.table)  # no stale rules left behind
            self._applied, self._failed = None, script
            return set()
        self._applied = script
        return set(ports)

    async def stop(self) -> None:
        if self._created:
            await _nft(None, "delete", "table", "ip", self.table)
            self._applied = None
            self._created = False
            atexit.unregister(self._delete_at_exit)

    def _delete_at_exit(self) -> None:
        if self._created:
            subprocess.run(["nft", "delete", "table", "ip", self.table], capture_output=True, check=False)
            self._created = False


def _enable_route_localnet() -> None:
    try:
        if ROUTE_LOCALNET.read_text().strip() != "1":
            ROUTE_LOCALNET.write_text("1\n")
    except OSError as e:
        log.warning("cannot set route_localnet; NodePorts on 127.0.0.1 will not reach pod namespaces: %s", e)
