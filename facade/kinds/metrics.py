"""metrics.k8s.io/v1beta1 in the resource table, for discovery only: reads are served from
runtime.metrics_store by facade/metrics_api.py, since nothing of it is ever stored."""

from __future__ import annotations

from facade.resource_table import ResourceInfo

RESOURCES = [
    ResourceInfo("metrics.k8s.io", "v1beta1", "PodMetrics", "pods", "", True, verbs=("get", "list")),
    ResourceInfo("metrics.k8s.io", "v1beta1", "NodeMetrics", "nodes", "", False, verbs=("get", "list")),
]
