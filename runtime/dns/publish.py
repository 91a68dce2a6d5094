"""The ``kube-system/kube-dns`` Service and the endpoints saying where the cluster DNS server listens.

The Service is what kubeadm installs for CoreDNS (clusterIP 10.96.0.10, ports ``dns`` 53/UDP and
``dns-tcp`` 53/TCP, the ``kubernetes.io/cluster-service`` and ``kubernetes.io/name`` labels that
``kubectl cluster-info`` lists), created by the API server's bootstrap. It has no selector, since
no pod serves it: the DNS server writes the Endpoints itself (labelled skip-mirror) and the
matching EndpointSlice, as kube-apiserver does for ``kubernetes``, so the proxy finds it with or
without the controllers running.
"""

from __future__ import annotations

import contextlib
from typing import Any

from facade.errors import APIError
from runtime.cluster_dns import CLUSTER_DNS_IP

Obj = dict[str, Any]
NAMESPACE = "kube-system"
NAME = "kube-dns"
MANAGED_BY = "cluster-dns.kubefacade.io"
LABELS = {"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS"}


def kube_dns_service() -> Obj:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": dict(LABELS)},
        "spec": {
            "type": "ClusterIP",
            "clusterIP": CLUSTER_DNS_IP,
            "clusterIPs": [CLUSTER_DNS_IP],
            "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                      {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53}],
            "sessionAffinity": "None",
        },
    }


async def _put(client: Any, api_version: str, plural: str, obj: Obj) -> None:
    try:
        old = await client.get(api_version, plural, NAME, NAMESPACE)
    except APIError as e:
        if e.code != 404:
            raise
        await client.create(api_version, plural, obj, NAMESPACE)
        return
    obj["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
    await client.update(api_version, plural, obj, NAMESPACE)


async def publish_endpoints(client: Any, ip: str, port: int, node_name: str) -> None:
    """Point kube-dns at ``ip:port`` (both protocols): Endpoints and one EndpointSlice."""
    ports = [("dns", "UDP"), ("dns-tcp", "TCP")]
    endpoints = {
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": NAME, "namespace": NAMESPACE,
                     "labels": {**LABELS, "endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": ip, "nodeName": node_name}],
                     "ports": [{"name": n, "port": port, "protocol": p} for n, p in ports]}],
    }
    await _put(client, "v1", "endpoints", endpoints)
    endpoint_slice = {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": NAME, "namespace": NAMESPACE,
                     "labels": {**LABELS, "kubernetes.io/service-name": NAME,
                                "endpointslice.kubernetes.io/managed-by": MANAGED_BY}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [ip], "conditions": {"ready": True, "serving": True, "terminating": False},
                       "nodeName": node_name}],
        "ports": [{"name": n, "port": port, "protocol": p} for n, p in ports],
    }
    await _put(client, "discovery.k8s.io/v1", "endpointslices", endpoint_slice)


async def unpublish_endpoints(client: Any) -> None:
    for api_version, plural in (("discovery.k8s.io/v1", "endpointslices"), ("v1", "endpoints")):
        with contextlib.suppress(APIError):
            await client.delete(api_version, plural, NAME, NAMESPACE)
