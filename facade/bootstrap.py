"""Objects that exist when a cluster starts: the four system namespaces and the `kubernetes` Service."""

from __future__ import annotations

import ipaddress
import socket

from facade.rest import RestStore, WriteOptions

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
MANAGER = "kube-apiserver"


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
    ep_info = table.get("", "v1", "endpoints")
    host_ip = advertise_address(host_ip)
    if host_ip and ep_info is not None and await rest.store.get(ep_info.store_key, "default/kubernetes") is None:
        ep = {
            "metadata": {"name": "kubernetes", "namespace": "default",
                         "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
            "subsets": [{"addresses": [{"ip": host_ip}], "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}],
        }
        await rest.create(ep_info, "default", ep, WriteOptions(field_manager=MANAGER))


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
    for c in candidates:
        try:
            ip = ipaddress.ip_address(c)
        except ValueError:
            continue
        if not ip.is_loopback and not ip.is_unspecified and not ip.is_link_local:
            return c
    return ""
