"""The files a pod's containers see at /etc/hosts, /etc/hostname and /etc/resolv.conf, as kubelet and
the container runtime write them.

- hostname: ``spec.hostname`` or the pod's name, cut to 63 characters (then no trailing ``-``/``.``);
  with ``spec.subdomain`` the pod's domain is ``<subdomain>.<namespace>.svc.<cluster domain>``, and
  ``setHostnameAsFQDN`` makes the FQDN the hostname (pkg/kubelet/kubelet_pods.go).
- /etc/hosts: kubelet's managed hosts file — the localhost and IPv6 boilerplate, ``<podIP> <FQDN>
  <hostname>`` (or ``<podIP> <hostname>``), then a ``# Entries added by HostAliases.`` block; a
  hostNetwork pod gets the node's own hosts file under a header saying so.
- /etc/resolv.conf per ``dnsPolicy`` (pkg/kubelet/network/dns/dns.go): ClusterFirst → the cluster DNS
  server, the ``<ns>.svc.<domain> svc.<domain> <domain>`` searches followed by the host's, and
  ``ndots:5``; Default (and ClusterFirst on the host network) → the host's resolver configuration;
  None → nothing but ``spec.dnsConfig``; ``dnsConfig`` is merged into every other policy (servers and
  searches appended without duplicates, options overriding by name). Written as containerd writes
  it: ``search``, then ``nameserver`` lines, then ``options``.

Pure functions of the pod and the host's files, so they are tested without root.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from runtime.cluster_dns import CLUSTER_DNS_IP, CLUSTER_DOMAIN

Obj = dict[str, Any]

HOSTNAME_MAX = 63
MAX_SEARCHES = 32  # kubelet's validation.MaxDNSSearchPaths
HOST_RESOLV_CONF = Path("/etc/resolv.conf")
HOST_HOSTS = Path("/etc/hosts")

_HOSTS_BOILERPLATE = (
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "fe00::0\tip6-mcastprefix\n"
    "fe00::1\tip6-allnodes\n"
    "fe00::2\tip6-allrouters\n"
)


def pod_hostname(pod: Obj) -> str:
    """The pod's hostname (what ``hostname`` prints inside it); the node's for a hostNetwork pod."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    if spec.get("hostNetwork"):
        return os.uname().nodename
    name = str(spec.get("hostname") or meta.get("name", ""))
    if len(name) > HOSTNAME_MAX:
        name = name[:HOSTNAME_MAX].rstrip("-.")
    domain = pod_domain(pod)
    if spec.get("setHostnameAsFQDN") and domain:
        return f"{name}.{domain}"[:64]
    return name


def pod_domain(pod: Obj) -> str:
    """``<subdomain>.<namespace>.svc.<cluster domain>``, or "" without ``spec.subdomain``."""
    sub = (pod.get("spec") or {}).get("subdomain") or ""
    if not sub:
        return ""
    return f"{sub}.{(pod.get('metadata') or {}).get('namespace', '')}.svc.{CLUSTER_DOMAIN}"


def _short_hostname(pod: Obj) -> str:
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    name = str(spec.get("hostname") or meta.get("name", ""))
    return name[:HOSTNAME_MAX].rstrip("-.") if len(name) > HOSTNAME_MAX else name


def _host_aliases(pod: Obj) -> str:
    aliases = (pod.get("spec") or {}).get("hostAliases") or []
    if not aliases:
        return ""
    lines = ["", "# Entries added by HostAliases."]
    lines += [f"{a.get('ip', '')}\t" + "\t".join(a.get("hostnames") or []) for a in aliases]
    return "\n".join(lines) + "\n"


def hosts_file(pod: Obj, pod_ips: list[str], host_hosts: str | None = None) -> str:
    """kubelet's managed /etc/hosts for the pod (``host_hosts``: the node's file, for hostNetwork pods)."""
    if (pod.get("spec") or {}).get("hostNetwork"):
        if host_hosts is None:
            host_hosts = _read(HOST_HOSTS)
        text = "# Kubernetes-managed hosts file (host network).\n" + host_hosts
        if text and not text.endswith("\n"):
            text += "\n"
        return text + _host_aliases(pod)
    name, domain = _short_hostname(pod), pod_domain(pod)
    out = "# Kubernetes-managed hosts file.\n" + _HOSTS_BOILERPLATE
    for ip in pod_ips:
        out += f"{ip}\t{name}.{domain}\t{name}\n" if domain else f"{ip}\t{name}\n"
    return out + _host_aliases(pod)


def parse_resolv_conf(text: str) -> tuple[list[str], list[str], list[str]]:
    """(nameservers, search domains, options) of a resolv.conf; the last ``search`` line wins, as in libc."""
    servers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        fields = line.split()
        if not fields:
            continue
        if fields[0] == "nameserver" and len(fields) > 1:
            servers.append(fields[1])
        elif fields[0] in ("search", "domain"):
            searches = [s for s in fields[1:] if s != "."]
        elif fields[0] == "options":
            options.extend(fields[1:])
    return servers, searches, options


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))


def _merge_options(base: list[str], extra: list[Obj]) -> list[str]:
    merged: dict[str, str | None] = {}
    for opt in base:
        name, sep, value = opt.partition(":")
        merged[name] = value if sep else None
    for opt in extra:
        value = opt.get("value")
        merged[str(opt.get("name", ""))] = None if value is None else str(value)
    return [name if value in (None, "") else f"{name}:{value}" for name, value in merged.items() if name]


def dns_config(pod: Obj, host_resolv: str | None = None) -> tuple[list[str], list[str], list[str]]:
    """(nameservers, searches, options) of the pod, per its ``dnsPolicy`` and ``dnsConfig``."""
    spec = pod.get("spec") or {}
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    if host_resolv is None:
        host_resolv = _read(HOST_RESOLV_CONF)
    servers, searches, options = parse_resolv_conf(host_resolv)
    if policy == "None":
        servers, searches, options = [], [], []
    elif policy == "ClusterFirstWithHostNet" or (policy == "ClusterFirst" and not spec.get("hostNetwork")):
        ns = (pod.get("metadata") or {}).get("namespace", "")
        cluster = [f"{ns}.svc.{CLUSTER_DOMAIN}", f"svc.{CLUSTER_DOMAIN}", CLUSTER_DOMAIN]
        servers, searches, options = [CLUSTER_DNS_IP], _unique(cluster + searches), ["ndots:5"]
    extra = spec.get("dnsConfig") or {}
    if extra:
        servers = _unique(servers + list(extra.get("nameservers") or []))
        searches = _unique(searches + list(extra.get("searches") or []))
        options = _merge_options(options, list(extra.get("options") or []))
    return servers, searches[:MAX_SEARCHES], options


def resolv_conf(pod: Obj, host_resolv: str | None = None) -> str:
    """The pod's /etc/resolv.conf, in containerd's layout."""
    servers, searches, options = dns_config(pod, host_resolv)
    out = ""
    if searches:
        out += "search " + " ".join(searches) + "\n"
    out += "".join(f"nameserver {s}\n" for s in servers)
    if options:
        out += "options " + " ".join(options) + "\n"
    return out


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def write_pod_files(pod: Obj, pod_ips: list[str], directory: Path) -> dict[str, Path]:
    """Write the three files into ``directory``; returns container path → host file."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "/etc/hosts": (directory / "etc-hosts", hosts_file(pod, pod_ips)),
        "/etc/hostname": (directory / "hostname", pod_hostname(pod) + "\n"),
        "/etc/resolv.conf": (directory / "resolv.conf", resolv_conf(pod)),
    }
    for path, text in files.values():
        path.write_text(text)
        path.chmod(0o644)
    return {target: path for target, (path, _) in files.items()}
