"""ClusterIPs on the host, in userspace: what kube-proxy's iptables/nftables rules do, done with sockets.

As root, every Service's clusterIP becomes a /32 address of one interface, ``kf-svc0`` (a ``dummy``
link, or a bridge without ports where the kernel has no dummy driver: both only hold addresses), so
traffic to a clusterIP from the host itself and from pods (whose default route leads to the host)
is delivered locally; one listener per Service port (TCP, and UDP with per-client flows, see
``udp.py``) on ``clusterIP:port`` forwards to the port's ready endpoints with the same choice as the
NodePorts (round-robin, ClientIP affinity, ``internalTrafficPolicy: Local``).

Why userspace rather than DNAT rules: the rules would need conntrack, a MASQUERADE for hairpin and
host-originated traffic, and cleanup that survives a crash, and they would meet Docker's own rules
in the same tables; sockets need none of that, behave the same for traffic from the host and from
pods, and vanish with the process (the interface is removed on stop and flushed on the next start).
The costs: each byte crosses Python, and an endpoint sees the node's address as the client's.

One host, one service network: every kubefacade server hands out addresses from the same
10.96.0.0/12 (``kubernetes`` is 10.96.0.1 everywhere), so only one node proxy per host can own the
clusterIPs. Ownership is an exclusive ``flock`` on ``LOCK_PATH`` (``host_lock.py``), released by the
kernel when the owner exits; the others retry on every sync, and their Node says who owns them
meanwhile. A proxy with ``claim`` set (``serve --claim-cluster-ips``) asks the owner to hand over.

The kube-dns ports are served by the cluster DNS server itself on 10.96.0.10 (``serve_here``), saving
the UDP proxy hop; its Endpoints still say where it listens on the node's address.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import socket
import time
from collections.abc import Awaitable, Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from runtime.proxy.backends import Backends, affinity_seconds, ready_endpoints
from runtime.proxy.host_lock import HostLock
from runtime.proxy.relay import listen
from runtime.proxy.udp import UdpForwarder

Obj = dict[str, Any]
log = logging.getLogger("kubefacade.proxy")
Key = tuple[str, int, str]  # (clusterIP, port, protocol)

IFACE = "kf-svc0"
RETRY_SECONDS = 5.0  # a port that could not be bound is tried again after this
LOCK_PATH = Path("/run/kubefacade/cluster-ips.lock")
#: the Node annotation saying whether this node serves clusterIPs
ANNOTATION = "kubefacade.io/cluster-ips"
NOT_ROOT = ("none: not running as root, so Service clusterIPs are not reachable on this node "
            "(NodePort and LoadBalancer addresses are)")


async def _ip(*args: str, stdin: str | None = None) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        "ip", *args, stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, err = await proc.communicate(stdin.encode() if stdin is not None else None)
    return proc.returncode or 0, err.decode(errors="replace").strip()


@lru_cache(maxsize=256)
def is_local_address(ip: str) -> bool:
    """Whether ``ip`` is an address of this host (it can be bound)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((ip, 0))
        return True
    except OSError:
        return False


def service_ports(services: list[Obj]) -> dict[Key, tuple[Obj, Obj]]:
    """Every (clusterIP, port, protocol) to serve: Services with a clusterIP, TCP and UDP ports."""
    out: dict[Key, tuple[Obj, Obj]] = {}
    for svc in services:
        spec = svc.get("spec") or {}
        if spec.get("type") == "ExternalName":
            continue
        ips = [ip for ip in (spec.get("clusterIPs") or [spec.get("clusterIP")]) if ip and ip != "None" and ":" not in ip]
        for port in spec.get("ports") or []:
            proto = port.get("protocol") or "TCP"
            if proto not in ("TCP", "UDP") or not port.get("port"):
                continue
            for ip in ips:
                out[(ip, int(port["port"]), proto)] = (svc, port)
    return out


_listeners_cache: list[Any] = [0.0, set()]
_LISTENERS_TTL = 10.0  # the sockets asked about are the API server's own, which do not move


def _tcp_listeners() -> set[tuple[str, int]]:
    """(address, port) of every listening IPv4 TCP socket of this network namespace.

    Reading /proc/net/tcp costs milliseconds on a busy host, so the answer is kept for a few seconds.
    """
    now = time.monotonic()
    if now - _listeners_cache[0] < _LISTENERS_TTL:
        return _listeners_cache[1]
    out = _read_tcp_listeners()
    _listeners_cache[0], _listeners_cache[1] = now, out
    return out


def _read_tcp_listeners() -> set[tuple[str, int]]:
    out: set[tuple[str, int]] = set()
    try:
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return out
    for line in lines:
        f = line.split()
        if len(f) > 3 and f[3] == "0A":  # LISTEN
            hex_ip, _, hex_port = f[1].partition(":")
            ip = ".".join(str(int(hex_ip[i:i + 2], 16)) for i in (6, 4, 2, 0))
            out.add((ip, int(hex_port, 16)))
    return out


def loopback_if_only_there(ep: tuple[str, int], listening: dict[str, set[tuple[str, int]]]) -> tuple[str, int]:
    """An endpoint on this host's routed address whose server listens on loopback only, as 127.0.0.1.

    The ``kubernetes`` Endpoints carry the advertised address (Endpoints may not hold loopback) while
    ``kubefacade serve`` binds 127.0.0.1 by default; this lets 10.96.0.1:443 reach it anyway.
    """
    if ep[0].startswith("127.") or not is_local_address(ep[0]):
        return ep
    if "tcp" not in listening:  # read once per sync, and only when some endpoint is on this host
        listening["tcp"] = _tcp_listeners()
    tcp = listening["tcp"]
    if (ep[0], ep[1]) in tcp or ("0.0.0.0", ep[1]) in tcp or ("127.0.0.1", ep[1]) not in tcp:
        return ep
    return ("127.0.0.1", ep[1])


class ClusterIPPlane:
    """The clusterIP listeners of one node; ``sync`` is called by the node proxy on every pass."""

    def __init__(self, node_name: str, iface: str = IFACE, lock_path: Path = LOCK_PATH, claim: bool = False) -> None:
        self.node_name = node_name
        #: ask the current owner to hand the clusterIPs over (``serve --claim-cluster-ips``)
        self.claim = claim
        self.iface = iface
        self.lock = HostLock(lock_path, f"node {node_name}")
        self.addresses: set[str] = set()
        self.backends: dict[Key, Backends] = {}
        self.tcp: dict[Key, asyncio.AbstractServer] = {}
        self.udp: dict[Key, UdpForwarder] = {}
        self.failed: dict[Key, float] = {}  # ports that could not be bound -> when to try again
        #: service ports served by this process itself on the clusterIP (the cluster DNS): key -> binder
        self.served_here: dict[Key, Callable[[str, int, str], Awaitable[Any]]] = {}
        self.delegated: dict[Key, Any] = {}  # what the binders returned (each has close())
        self._warned: set[Key] = set()
        self.state = NOT_ROOT if os.geteuid() != 0 else "none: starting"

    @property
    def owner(self) -> bool:
        return self.lock.held

    async def _acquire(self) -> bool:
        if self.owner:
            return True
        if os.geteuid() != 0:
            return False
        if shutil.which("ip") is None:
            self.state = "none: the ip command (iproute2) is missing, so clusterIPs are not reachable"
            return False
        holder = self.lock.try_lock()
        if holder:
            self.state = (f"none: another kubefacade node proxy on this host ({holder}) serves the "
                          f"clusterIPs; NodePort and LoadBalancer addresses work")
            return False
        code, err = await _ip("link", "add", self.iface, "type", "dummy")
        if code and "exists" not in err:  # no dummy driver: a bridge without ports holds addresses as well
            code, err = await _ip("link", "add", self.iface, "type", "bridge")
        if code and "exists" not in err:
            self.state = f"none: cannot create interface {self.iface}: {err}"
            self.lock.unlock()
            return False
        await _ip("addr", "flush", "dev", self.iface)  # leftovers of an owner that died
        await _ip("link", "set", self.iface, "up")
        self.addresses = set()
        self.state = f"userspace: Service clusterIPs are addresses of {self.iface} on this host, proxied to endpoints"
        log.info("node %s serves Service clusterIPs on %s", self.node_name, self.iface)
        return True

    async def _yield_to_claimant(self) -> bool:
        """Hand over (or keep off) the clusterIPs when another live process claims them."""
        if self.claim:
            if not self.owner:
                self.lock.claim()
            return False
        claimant = self.lock.claimant()
        if not claimant:
            return False
        if self.owner:
            log.info("handing the Service clusterIPs over to pid %d", claimant)
            await self._release()
        self.state = (f"none: kubefacade pid {claimant} claimed the clusterIPs on this host "
                      f"(--claim-cluster-ips); NodePort and LoadBalancer addresses work")
        return True

    async def sync(self, services: list[Obj], by_svc: dict[tuple[str, str], list[Obj]]) -> None:
        if os.geteuid() == 0 and await self._yield_to_claimant():
            return
        if not await self._acquire():
            return
        wanted = service_ports(services)
        await self._set_addresses({k[0] for k in wanted})
        for key in [k for k in (*self.tcp, *self.udp, *self.delegated) if k not in wanted]:
            if key in self.delegated:
                self.delegated.pop(key).close()
            if key in self.tcp:
                self.tcp.pop(key).close()
            if key in self.udp:
                self.udp.pop(key).close()
            self.backends.pop(key, None)
        now = time.monotonic()
        self.failed = {k: t for k, t in self.failed.items() if k in wanted and t > now}
        listening: dict[str, set[tuple[str, int]]] = {}
        for key, (svc, port) in wanted.items():
            if key in self.served_here:
                await self._delegate(key)
                continue
            md = svc.get("metadata") or {}
            local = (svc.get("spec") or {}).get("internalTrafficPolicy") == "Local"
            b = self.backends.setdefault(key, Backends())
            eps = ready_endpoints(svc, port, by_svc.get((md.get("namespace", ""), md.get("name", "")), []),
                                  self.node_name, local)
            b.endpoints = [loopback_if_only_there(ep, listening) for ep in eps] if key[2] == "TCP" else eps
            b.affinity_seconds = affinity_seconds(svc)
            if key in self.udp:
                self.udp[key].prune()
            if key not in self.tcp and key not in self.udp and key not in self.failed:
                await self._listen(key, b)

    def serve_here(self, keys: list[Key], binder: Callable[[str, int, str], Awaitable[Any]]) -> None:
        """Let ``binder(ip, port, protocol)`` listen on these clusterIP ports itself (no proxy hop) while
        this node owns the clusterIPs and the Service port exists."""
        for key in keys:
            self.served_here[key] = binder

    async def _delegate(self, key: Key) -> None:
        if key in self.delegated or key in self.failed:
            return
        try:
            self.delegated[key] = await self.served_here[key](*key)
        except OSError as e:
            self._failed(key, e)

    async def _set_addresses(self, ips: set[str]) -> None:
        add, remove = ips - self.addresses, self.addresses - ips
        if not add and not remove:
            return
        batch = "".join(f"addr del {ip}/32 dev {self.iface}\n" for ip in sorted(remove))
        batch += "".join(f"addr replace {ip}/32 dev {self.iface}\n" for ip in sorted(add))
        code, err = await _ip("-force", "-batch", "-", stdin=batch)
        if code:
            log.warning("updating addresses of %s: %s", self.iface, err)
        self.addresses = ips

    async def _listen(self, key: Key, b: Backends) -> None:
        ip, port, proto = key
        try:
            if proto == "UDP":
                fwd = UdpForwarder(b)
                await fwd.start(ip, port)
                self.udp[key] = fwd
            else:
                self.tcp[key] = await listen(ip, port, lambda: self.backends.get(key))
        except OSError as e:
            self._failed(key, e)  # e.g. a host-network pod holds the port

    def _failed(self, key: Key, e: OSError) -> None:
        self.failed[key] = time.monotonic() + RETRY_SECONDS
        (log.debug if key in self._warned else log.warning)("cluster IP proxy cannot listen on %s:%s/%s: %s",
                                                            *key, e)
        self._warned.add(key)

    async def stop(self) -> None:
        await self._release()
        if self.claim:
            self.lock.drop_claim()

    async def _release(self) -> None:
        for srv in self.tcp.values():
            srv.close()
        for fwd in self.udp.values():
            fwd.close()
        for handle in self.delegated.values():
            handle.close()
        self.tcp.clear()
        self.udp.clear()
        self.delegated.clear()
        self.backends.clear()
        self.failed.clear()
        if self.owner:
            await _ip("link", "del", self.iface)
            self.lock.unlock()
            self.addresses = set()
