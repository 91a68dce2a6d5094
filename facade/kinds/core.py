"""The core/v1 API group (group ""), as kube-apiserver 1.32 serves it under /api/v1.

Resources are listed in the order discovery shows them (alphabetical). Verbs follow upstream:
Namespaces and Services have no ``deletecollection``; ``bindings`` can only be created.
ComponentStatus is not served (it is deprecated and describes components this server does not have).
"""

from __future__ import annotations

from facade.kinds.core_cluster import NamespaceStrategy, NodeStrategy
from facade.kinds.core_config import ConfigMapStrategy, SecretStrategy
from facade.kinds.core_misc import (
    BindingStrategy,
    EndpointsStrategy,
    EventStrategy,
    LimitRangeStrategy,
    ResourceQuotaStrategy,
    ServiceAccountStrategy,
)
from facade.kinds.core_pod_strategy import PodStrategy
from facade.kinds.core_service import ServiceStrategy
from facade.kinds.core_volumes import PersistentVolumeClaimStrategy, PersistentVolumeStrategy
from facade.kinds.core_workloads import PodTemplateStrategy, ReplicationControllerStrategy
from facade.resource_table import ALL_VERBS, ResourceInfo

GROUP = ""
VERSION = "v1"
NO_DELETECOLLECTION = tuple(v for v in ALL_VERBS if v != "deletecollection")
POD_SUBRESOURCES = ("status", "binding", "eviction", "ephemeralcontainers", "log", "exec", "attach", "portforward", "proxy")


def _r(kind: str, plural: str, namespaced: bool = True, **kw: object) -> ResourceInfo:
    return ResourceInfo(GROUP, VERSION, kind, plural, kind.lower(), namespaced, **kw)  # type: ignore[arg-type]


RESOURCES: list[ResourceInfo] = [
    _r("Binding", "bindings", verbs=("create",), strategy=BindingStrategy()),
    _r("ConfigMap", "configmaps", short_names=("cm",), strategy=ConfigMapStrategy()),
    _r("Endpoints", "endpoints", short_names=("ep",), strategy=EndpointsStrategy()),
    _r("Event", "events", short_names=("ev",), strategy=EventStrategy()),
    _r("LimitRange", "limitranges", short_names=("limits",), strategy=LimitRangeStrategy()),
    _r("Namespace", "namespaces", False, short_names=("ns",), verbs=NO_DELETECOLLECTION,
       subresources=("status", "finalize"), strategy=NamespaceStrategy()),
    _r("Node", "nodes", False, short_names=("no",), subresources=("status", "proxy"), strategy=NodeStrategy()),
    _r("PersistentVolumeClaim", "persistentvolumeclaims", short_names=("pvc",), subresources=("status",),
       strategy=PersistentVolumeClaimStrategy()),
    _r("PersistentVolume", "persistentvolumes", False, short_names=("pv",), subresources=("status",),
       strategy=PersistentVolumeStrategy()),
    _r("Pod", "pods", short_names=("po",), categories=("all",), subresources=POD_SUBRESOURCES, strategy=PodStrategy()),
    _r("PodTemplate", "podtemplates", strategy=PodTemplateStrategy()),
    _r("ReplicationController", "replicationcontrollers", short_names=("rc",), categories=("all",),
       subresources=("status", "scale"), strategy=ReplicationControllerStrategy()),
    _r("ResourceQuota", "resourcequotas", short_names=("quota",), subresources=("status",),
       strategy=ResourceQuotaStrategy()),
    _r("Secret", "secrets", strategy=SecretStrategy()),
    _r("ServiceAccount", "serviceaccounts", short_names=("sa",), subresources=("token",),
       strategy=ServiceAccountStrategy()),
    _r("Service", "services", short_names=("svc",), categories=("all",), verbs=NO_DELETECOLLECTION,
       subresources=("status", "proxy"), strategy=ServiceStrategy()),
]
