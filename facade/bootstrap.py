"""Objects that exist when a cluster starts: the system namespaces, the `kubernetes` Service, the system PriorityClasses."""

from __future__ import annotations

import ipaddress
import logging
import socket

from facade.admission_storage import bootstrap_storage_class
from facade.rest import RestStore, WriteOptions

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
MANAGER = "kube-apiserver"
#: the classes kube-apiserver's scheduling post-start hook creates (pkg/apis/scheduling SystemPriorityClasses)
SYSTEM_PRIORITY_CLASSES = {
    "system-node-critical": (2000001000, "Used for system critical pods that must not be moved from their "
                                         "current node."),
    "system-cluster-critical": (2000000000, "Used for system critical pods that must run in the cluster, but "
                                            "can be moved to another node if necessary."),
}


async def bootstrap(rest: RestStore, host_ip: str = "127.0.0.1", port: int = 6443) -> None:
    """Create what kube-apiserver's bootstrap controllers create; idempotent on an existing store."""
    table = rest.table
    ns_info = table.get("", "v1", "namespaces")
    if ns_info is not None:
        for ns in SYSTEM_NAMESPACES:
            if await rest.store.get(ns_info.store_key, ns) is None:
                obj = {"metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}}}
                await rest.create(ns_info, "", obj, WriteOptions(field_manager=MANAGER))
    svc_info = table.get("", "v1", "services")
    if svc_info is not None and await rest.store.get(svc_info.store_key, "default/kubernetes") is None:
        svc = {
            "metadata": {
                "name": "kubernetes",
                "namespace": "default",
                "labels": {"component": "apiserver", "provider": "kubernetes"},
            },
            "spec": {
                "type": "ClusterIP",
                "clusterIP": "10.96.0.1",
                "clusterIPs": ["10.96.0.1"],
                "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}],
                "sessionAffinity": "None",
            },
        }
        await rest.create(svc_info, "default", svc, WriteOptions(field_manager=MANAGER))
    if svc_info is not None and await rest.store.get(svc_info.store_key, "kube-system/kube-dns") is None:
        # the cluster DNS Service (runtime/dns/): created with the others, so 10.96.0.10 is never handed out
        from facade.errors import APIError
        from runtime.dns.publish import kube_dns_service

        try:
            await rest.create(svc_info, "kube-system", kube_dns_service(), WriteOptions(field_manager=MANAGER))
        except APIError as e:  # a durable store where a user's Service already holds 10.96.0.10
            logging.getLogger("kubefacade").warning("kube-system/kube-dns not created: %s", e)
    pc_info = table.get("scheduling.k8s.io", "v1", "priorityclasses")
    for name, (value, description) in SYSTEM_PRIORITY_CLASSES.items():
        if pc_info is not None and await rest.store.get(pc_info.store_key, name) is None:
            pc = {"metadata": {"name": name}, "value": value, "description": description}
            await rest.create(pc_info, "", pc, WriteOptions(field_manager=MANAGER))
    ep_info = table.get("", "v1", "endpoints")
    host_ip = advertise_address(host_ip)
    if host_ip and ep_info is not None and await rest.store.get(ep_info.store_key, "default/kubernetes") is None:
        ep = {
            "metadata": {"name": "kubernetes", "namespace": "default",
                         "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
            "subsets": [{"addresses": [{"ip": host_ip}], "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}],
        }
        await rest.create(ep_info, "default", ep, WriteOptions(field_manager=MANAGER))
    slice_info = table.get("discovery.k8s.io", "v1", "endpointslices")
    if host_ip and slice_info is not None and await rest.store.get(slice_info.store_key, "default/kubernetes") is None:
        # kube-apiserver's endpoint reconciler writes the slice too: the node proxy reads slices
        es = {
            "metadata": {"name": "kubernetes", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": "kubernetes"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [host_ip], "conditions": {"ready": True}}],
            "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
        }
        await rest.create(slice_info, "default", es, WriteOptions(field_manager=MANAGER))
    await bootstrap_storage_class(rest, WriteOptions(field_manager=MANAGER))


def _interface_addresses() -> list[str]:
    """IPv4 addresses of this host's network interfaces (Linux; empty elsewhere).

    The fallback when the host name resolves only to loopback, as /etc/hosts often makes it. Read
    from the interfaces themselves (SIOCGIFADDR): no socket is aimed at any other address.
    """
    import fcntl
    import struct

    out: list[str] = []
    try:
        names = [name for _, name in socket.if_nameindex()]
    except OSError:
        return out
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for name in names:
            try:
                packed = fcntl.ioctl(s.fileno(), 0x8915, struct.pack("256s", name.encode()[:15]))  # SIOCGIFADDR
            except OSError:
                continue
            out.append(socket.inet_ntoa(packed[20:24]))
    return out


def advertise_address(bind_ip: str) -> str:
    """A non-loopback address of this host for the `kubernetes` Endpoints ("" when it has none).

    Endpoints may not hold loopback addresses (as upstream validates), so a server bound to
    127.0.0.1 advertises the host's own address, as kube-apiserver's --advertise-address does.
    """
    candidates = [bind_ip]
    try:
        candidates += [a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)]
    except OSError:
        pass
    candidates += _interface_addresses()
    for c in candidates:
        try:
            ip = ipaddress.ip_address(c)
        except ValueError:
            continue
        if not ip.is_loopback and not ip.is_unspecified and not ip.is_link_local:
            return c
    return ""
