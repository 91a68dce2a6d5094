"""The cluster DNS settings the node agent and the DNS server share (kubelet's --cluster-dns and
--cluster-domain): the kube-dns Service's fixed clusterIP and the cluster's domain."""

from __future__ import annotations

#: clusterIP of the kube-system/kube-dns Service (the tenth address of the service range, as kubeadm picks)
CLUSTER_DNS_IP = "10.96.0.10"
#: the cluster's DNS domain
CLUSTER_DOMAIN = "cluster.local"
