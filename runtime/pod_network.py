"""Each pod its own network namespace on a per-node bridge: what the CNI ``bridge`` plugin with
``host-local`` IPAM does for kubelet, done with iproute2 and iptables (root only).

- The node: a Linux bridge ``kfb<8 hex of the node name>`` holding the gateway (first) address of the
  node's pod CIDR; IPv4 forwarding on; ``MASQUERADE`` for traffic from the pod CIDR that leaves by any
  other interface, and ``ACCEPT`` in ``FORWARD`` for the bridge (Docker sets that chain's policy to
  DROP), every rule tagged with a comment naming the bridge, so it can be found and removed.
- A pod: a named netns ``<bridge>_<pod uid>`` (``ip netns add``), a veth pair whose host end
  ``kfv<11 hex of the uid>`` is a port of the bridge and whose other end is the pod's ``eth0`` with the
  next free address (round robin, as host-local does, so a just-freed address is not reused at once
  while neighbours still cache the old MAC), ``lo`` up, a default route via the bridge, and a UTS
  namespace kept alive by a bind mount on ``/run/kubefacade/net/<bridge>/uts/<uid>`` (as ``unshare
  --uts=FILE`` keeps one; ``runtime/netns.py``) whose hostname is the pod's.

Ownership: a bridge belongs to the live process holding the ``flock`` on ``/run/kubefacade/net/
<bridge>.lock``. On start, an agent claims its node's bridge, removes what a previous run of the same
node left (netns, UTS files, rules, the bridge itself — and any bridge whose owner died) and sets it
up again; another live process running a node of the same name (test servers on one host) gets
``<bridge>-1``, ``-2``... When the pod CIDR was not given, the first 10.244.N.0/24 that no interface
on the host uses is chosen. On stop, the agent removes its netns, rules and bridge.

Everything here is synchronous (subprocesses and syscalls): the runtime calls it in a thread, and
the interpreter-exit hook calls it directly.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import ipaddress
import json
import os
import shlex
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from runtime.netns import in_own_thread, new_uts_namespace, umount

STATE_DIR = Path("/run/kubefacade/net")
NETNS_DIR = Path("/run/netns")
DEFAULT_POD_CIDR = "10.244.0.0/24"


class NetworkError(OSError):
    """A command or syscall setting up the pod network failed; the message says which and why."""


def run(*argv: str, input: str | None = None, check: bool = True) -> str:
    """Run a command; its stdout, or NetworkError with its stderr."""
    proc = subprocess.run(argv, input=input, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise NetworkError(f"{' '.join(argv[:4])}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def tools_missing() -> list[str]:
    """The commands pod isolation needs that this host lacks."""
    needed = ["ip", "nsenter", "unshare", "mount", "sh"]
    missing = [t for t in needed if shutil.which(t) is None]
    if shutil.which("iptables") is None and shutil.which("nft") is None:
        missing.append("iptables (or nft)")
    return missing


def _hex(text: str, n: int) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:n]


@dataclass
class PodNet:
    uid: str
    netns: str
    ip: str
    veth: str
    uts: Path | None  # the bind-mounted UTS namespace, None for a hostNetwork pod

    @property
    def netns_path(self) -> Path:
        return NETNS_DIR / self.netns


def _host_networks(skip: str) -> list[tuple[str, ipaddress.IPv4Network]]:
    """(interface, IPv4 network) of every address on the host except on ``skip``."""
    out = []
    for link in json.loads(run("ip", "-j", "-4", "addr", "show") or "[]"):
        if link.get("ifname") == skip:
            continue
        for a in link.get("addr_info") or []:
            if a.get("local") and a.get("local", "").startswith("127."):
                continue
            with contextlib.suppress(ValueError, KeyError):
                out.append((link["ifname"], ipaddress.ip_network(f"{a['local']}/{a['prefixlen']}", strict=False)))
    return out


def _uplink_mtu() -> int:
    """The MTU of the default route's interface (pods use it so their packets leave unfragmented)."""
    with contextlib.suppress(NetworkError, ValueError, IndexError, KeyError, OSError):
        dev = json.loads(run("ip", "-j", "route", "show", "default"))[0]["dev"]
        return int(Path(f"/sys/class/net/{dev}/mtu").read_text())
    return 1500


class PodNetwork:
    """The pod network of one node agent; see the module docstring."""

    def __init__(self, node_name: str) -> None:
        self.node_name = node_name
        self.base = "kfb" + _hex(node_name, 8)
        self.bridge = ""
        self.network: ipaddress.IPv4Network | None = None
        self.gateway = ""
        self.mtu = 1500
        self.pods: dict[str, PodNet] = {}
        self._lock_file: IO[Any] | None = None
        self._used: set[int] = set()
        self._last = 1
        self._mutex = threading.Lock()

    @property
    def cidr(self) -> str:
        return str(self.network) if self.network else ""

    # -- the node ----------------------------------------------------------------------------------

    def claim(self, pod_cidr: str = "") -> str:
        """Own a bridge for this node, clean what dead runs left, set it up; returns the pod CIDR used."""
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        with open(STATE_DIR / ".lock", "w") as host_lock:  # one claim at a time on this host
            fcntl.flock(host_lock, fcntl.LOCK_EX)
            self._remove_dead_bridges()
            for n in range(100):
                name = self.base if n == 0 else f"{self.base}-{n}"
                f = open(STATE_DIR / f"{name}.lock", "w")  # noqa: SIM115 - held for the agent's lifetime
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    f.close()
                    continue
                self._lock_file, self.bridge = f, name
                break
            else:
                raise NetworkError(f"no free bridge name for node {self.node_name}")
            remove_bridge(self.bridge)
            self.network = self._choose_network(pod_cidr)
            self.gateway = str(self.network.network_address + 1)
            self.mtu = _uplink_mtu()
            run("ip", "-batch", "-", input=(
                f"link add {self.bridge} mtu {self.mtu} type bridge\n"
                f"addr add {self.gateway}/{self.network.prefixlen} dev {self.bridge}\n"
                f"link set {self.bridge} up\n"))
        with contextlib.suppress(OSError):
            Path("/proc/sys/net/ipv4/ip_forward").write_text("1")
        self._add_rules()
        uts_dir = STATE_DIR / self.bridge / "uts"
        uts_dir.mkdir(parents=True, exist_ok=True)
        # a shared mount, as ip-netns makes /run/netns: a UTS file unmounted here is unmounted in every
        # container's (slave) mount namespace too, so the namespace is really freed
        run("mount", "--bind", str(uts_dir), str(uts_dir))
        run("mount", "--make-shared", str(uts_dir))
        return self.cidr

    @staticmethod
    def _remove_dead_bridges() -> None:
        """Bridges whose owner died (its lock is free): remove them and what hangs on them."""
        for lock in STATE_DIR.glob("kfb*.lock"):
            with open(lock, "w") as f:
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue
                bridge = lock.name.removesuffix(".lock")
                remove_bridge(bridge)
                shutil.rmtree(STATE_DIR / bridge, ignore_errors=True)
                lock.unlink(missing_ok=True)

    def _choose_network(self, pod_cidr: str) -> ipaddress.IPv4Network:
        taken = _host_networks(self.bridge)
        if pod_cidr:
            try:
                net = ipaddress.ip_network(pod_cidr, strict=False)
            except ValueError as e:
                raise NetworkError(f"pod CIDR {pod_cidr!r}: {e}") from None
            if not isinstance(net, ipaddress.IPv4Network) or net.num_addresses < 4:
                raise NetworkError(f"pod CIDR {pod_cidr}: an IPv4 network of at least 4 addresses is needed")
            for ifname, other in taken:
                if net.overlaps(other):
                    raise NetworkError(f"pod CIDR {net} overlaps {other} of interface {ifname}")
            return net
        for third in range(256):
            net = ipaddress.ip_network(f"10.244.{third}.0/24")
            if not any(net.overlaps(other) for _, other in taken):
                return net
        raise NetworkError("no free 10.244.N.0/24 on this host; give the node a pod CIDR")

    def _add_rules(self) -> None:
        if shutil.which("iptables") is None:
            run("nft", "-f", "-", input=(
                f"table ip {_nft_table(self.bridge)} {{\n"
                f" chain kf_post {{ type nat hook postrouting priority srcnat; "
                f"ip saddr {self.cidr} oifname != \"{self.bridge}\" masquerade; }}\n"
                f" chain kf_forward {{ type filter hook forward priority filter; "
                f"iifname \"{self.bridge}\" accept; oifname \"{self.bridge}\" accept; }}\n}}\n"))
            return
        c = ["-m", "comment", "--comment", _comment(self.bridge)]
        rules = [("nat", "POSTROUTING", "-A", ["-s", self.cidr, "!", "-o", self.bridge, *c, "-j", "MASQUERADE"]),
                 ("filter", "FORWARD", "-I", ["-i", self.bridge, *c, "-j", "ACCEPT"]),
                 ("filter", "FORWARD", "-I", ["-o", self.bridge, *c, "-j", "ACCEPT"])]
        for table, chain, verb, spec in rules:
            if subprocess.run(["iptables", "-w", "-t", table, "-C", chain, *spec], capture_output=True).returncode:
                run("iptables", "-w", "-t", table, verb, chain, *spec)

    def close(self) -> None:
        """Remove every pod network of this agent, its rules and its bridge; give the bridge name back."""
        if not self.bridge:
            return
        for uid in list(self.pods):
            with contextlib.suppress(NetworkError, OSError):
                self.remove_pod(uid)
        with open(STATE_DIR / ".lock", "w") as host_lock:
            fcntl.flock(host_lock, fcntl.LOCK_EX)
            with contextlib.suppress(NetworkError, OSError):
                remove_bridge(self.bridge)
            shutil.rmtree(STATE_DIR / self.bridge, ignore_errors=True)
            (STATE_DIR / f"{self.bridge}.lock").unlink(missing_ok=True)
            if self._lock_file is not None:
                self._lock_file.close()
                self._lock_file = None
        self.bridge = ""

    # -- pods --------------------------------------------------------------------------------------

    def _allocate(self) -> str:
        assert self.network is not None
        size = self.network.num_addresses
        with self._mutex:
            for step in range(1, size + 1):  # the last one handed out comes round again last
                offset = (self._last + step) % size
                if offset in (0, 1, size - 1) or offset in self._used:
                    continue  # network, gateway, broadcast, taken
                self._used.add(offset)
                self._last = offset
                return str(self.network.network_address + offset)
        raise NetworkError(f"no free address left in the pod CIDR {self.network}")

    def _release(self, ip: str) -> None:
        assert self.network is not None
        with self._mutex:
            self._used.discard(int(ipaddress.ip_address(ip)) - int(self.network.network_address))

    def add_pod(self, uid: str, hostname: str) -> PodNet:
        """The pod's netns, veth, address, routes and UTS namespace."""
        if uid in self.pods:
            return self.pods[uid]
        ip = self._allocate()
        pod = PodNet(uid, f"{self.bridge}_{uid}", ip, "kfv" + _hex(uid, 11), STATE_DIR / self.bridge / "uts" / uid)
        assert self.network is not None
        try:
            run("ip", "-batch", "-", input=(
                f"netns add {pod.netns}\n"
                f"link add {pod.veth} mtu {self.mtu} type veth peer name eth0 mtu {self.mtu} netns {pod.netns}\n"
                f"link set {pod.veth} master {self.bridge} up\n"))
            run("ip", "-n", pod.netns, "-batch", "-", input=(
                "link set lo up\n"
                f"addr add {ip}/{self.network.prefixlen} dev eth0\n"
                "link set eth0 up\n"
                f"route add default via {self.gateway}\n"))
            assert pod.uts is not None
            pod.uts.touch()
            in_own_thread(new_uts_namespace, pod.uts, hostname)
        except (NetworkError, OSError):
            self.pods[uid] = pod
            with contextlib.suppress(NetworkError, OSError):
                self.remove_pod(uid)
            raise
        self.pods[uid] = pod
        return pod

    def remove_pod(self, uid: str) -> None:
        pod = self.pods.pop(uid, None)
        if pod is None:
            return
        if pod.uts is not None:
            umount(pod.uts)
            pod.uts.unlink(missing_ok=True)
        # what ``ip netns del`` does: its last reference gone, the netns takes eth0 and its veth peer with it
        umount(pod.netns_path)
        pod.netns_path.unlink(missing_ok=True)
        if Path(f"/sys/class/net/{pod.veth}").exists():  # still referenced somewhere: cut the link now
            run("ip", "link", "del", pod.veth, check=False)
        self._release(pod.ip)


def _comment(bridge: str) -> str:
    return f"kubefacade {bridge}"


def _nft_table(bridge: str) -> str:
    return f"kubefacade_{bridge.replace('-', '_')}"


def remove_bridge(bridge: str) -> None:
    """A bridge and everything hanging on it: its pods' netns and UTS files, its NAT/forward rules."""
    prefix = f"{bridge}_"
    if NETNS_DIR.is_dir():
        for ns in os.listdir(NETNS_DIR):
            if ns.startswith(prefix):
                run("ip", "netns", "del", ns, check=False)
    uts_dir = STATE_DIR / bridge / "uts"
    if uts_dir.is_dir():
        for f in uts_dir.iterdir():
            umount(f)
            f.unlink(missing_ok=True)
        umount(uts_dir)
    if shutil.which("iptables") is None:
        run("nft", "delete", "table", "ip", _nft_table(bridge), check=False)
    else:
        for table, chain in (("nat", "POSTROUTING"), ("filter", "FORWARD")):
            for line in run("iptables", "-w", "-t", table, "-S", chain, check=False).splitlines():
                if f'"{_comment(bridge)}"' in line:
                    run("iptables", "-w", "-t", table, "-D", *shlex.split(line)[1:], check=False)
    if Path(f"/sys/class/net/{bridge}").exists():
        run("ip", "link", "del", bridge, check=False)
