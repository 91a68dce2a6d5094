"""Resource usage the node agents report, rendered as metrics.k8s.io/v1beta1 objects.

metrics-server scrapes each kubelet's summary API and serves the latest sample per pod and node;
here the agents in this process push their samples straight into this store instead, and the
metrics API (and the HPA controller) read from it. Simulated pods take their usage from the
``kubefacade.io/sim-cpu`` / ``kubefacade.io/sim-memory`` annotations, or a small default.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from facade.kinds.core_quantity import BINARY, canonical, value_of

SIM_CPU = "kubefacade.io/sim-cpu"
SIM_MEMORY = "kubefacade.io/sim-memory"
DEFAULT_SIM_CPU = "1m"
DEFAULT_SIM_MEMORY = "4Mi"
WINDOW_SECONDS = 10

Obj = dict[str, Any]


@dataclass
class Usage:
    """One sample: CPU in cores (exact) and memory working set in bytes."""

    cpu: Fraction
    memory: int

    def as_resources(self) -> dict[str, str]:
        nanocores = int(self.cpu * 1_000_000_000)
        return {"cpu": f"{nanocores}n", "memory": canonical(Fraction(self.memory), BINARY)}


@dataclass
class PodSample:
    namespace: str
    name: str
    labels: dict[str, str]
    containers: dict[str, Usage]
    timestamp: float


@dataclass
class MetricsStore:
    """Latest sample per pod and per node; the agents write, the metrics API and HPA read."""

    pods: dict[tuple[str, str], PodSample] = field(default_factory=dict)
    nodes: dict[str, tuple[Usage, float]] = field(default_factory=dict)
    pod_nodes: dict[tuple[str, str], str] = field(default_factory=dict)

    def record_pod(self, pod: Obj, containers: dict[str, Usage], now: float) -> None:
        meta = pod.get("metadata") or {}
        self.pods[(meta.get("namespace", ""), meta.get("name", ""))] = PodSample(
            meta.get("namespace", ""), meta.get("name", ""), dict(meta.get("labels") or {}),
            containers, now)

    def record_sim_pod(self, pod: Obj, now: float) -> None:
        """Record a simulated pod's usage, split evenly from its annotations over its containers."""
        self.record_pod(pod, sim_usage(pod), now)

    def forget_pod(self, namespace: str, name: str) -> None:
        self.pods.pop((namespace, name), None)

    def record_sim_event(self, ev_type: str, pod: Obj, now: float) -> None:
        """Track a simulated pod's watch event: running pods report usage, others are forgotten.

        The pod's node reports the sum of its pods, as a kubelet's summary would; the sum is kept
        incrementally so a pool of thousands of pods costs O(1) per event.
        """
        meta = pod.get("metadata") or {}
        key = (meta.get("namespace", ""), meta.get("name", ""))
        old_node = self.pod_nodes.pop(key, "")
        old = self.pods.get(key)
        if old_node and old is not None:
            self._add_to_node(old_node, old.containers.values(), -1, now)
        if ev_type != "DELETED" and (pod.get("status") or {}).get("phase") == "Running":
            self.record_sim_pod(pod, now)
            node = (pod.get("spec") or {}).get("nodeName") or ""
            self.pod_nodes[key] = node
            if node:
                self._add_to_node(node, self.pods[key].containers.values(), 1, now)
        else:
            self.forget_pod(*key)

    def _add_to_node(self, node: str, usages: Any, sign: int, now: float) -> None:
        total = self.nodes.get(node, (Usage(Fraction(0), 0), now))[0]
        for u in usages:
            total = Usage(total.cpu + sign * u.cpu, total.memory + sign * u.memory)
        self.record_node(node, total, now)

    def record_node(self, node: str, usage: Usage, now: float) -> None:
        self.nodes[node] = (usage, now)

    def forget_node(self, node: str) -> None:
        self.nodes.pop(node, None)

    def pod_metrics(self, namespace: str, name: str) -> Obj | None:
        sample = self.pods.get((namespace, name))
        return None if sample is None else _pod_object(sample)

    def list_pod_metrics(self, namespace: str | None = None) -> list[Obj]:
        return [_pod_object(s) for (ns, _), s in sorted(self.pods.items())
                if namespace is None or ns == namespace]

    def node_metrics(self, name: str) -> Obj | None:
        entry = self.nodes.get(name)
        return None if entry is None else _node_object(name, *entry)

    def list_node_metrics(self) -> list[Obj]:
        return [_node_object(n, u, t) for n, (u, t) in sorted(self.nodes.items())]


@functools.lru_cache(maxsize=256)
def _quantity(text: Any) -> Fraction | None:
    """value_of, parsed once per distinct annotation text (every pod of a template has the same)."""
    return value_of(text)


def sim_usage(pod: Obj) -> dict[str, Usage]:
    """A simulated pod's per-container usage: the pod-level annotations divided across containers."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    cpu = _quantity(annotations.get(SIM_CPU, DEFAULT_SIM_CPU))
    memory = _quantity(annotations.get(SIM_MEMORY, DEFAULT_SIM_MEMORY))
    cpu = _quantity(DEFAULT_SIM_CPU) if cpu is None else cpu
    memory = _quantity(DEFAULT_SIM_MEMORY) if memory is None else memory
    names = [c.get("name", "") for c in (pod.get("spec") or {}).get("containers") or []] or [""]
    share = len(names)
    return {n: Usage(Fraction(cpu) / share, int(Fraction(memory) / share)) for n in names}


def _timestamp(seconds: float) -> str:
    return dt.datetime.fromtimestamp(int(seconds), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pod_object(sample: PodSample) -> Obj:
    return {
        "kind": "PodMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": {"name": sample.name, "namespace": sample.namespace,
                     "creationTimestamp": _timestamp(sample.timestamp), "labels": sample.labels},
        "timestamp": _timestamp(sample.timestamp), "window": f"{WINDOW_SECONDS}s",
        "containers": [{"name": n, "usage": u.as_resources()} for n, u in sample.containers.items()],
    }


def _node_object(name: str, usage: Usage, now: float) -> Obj:
    return {
        "kind": "NodeMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": {"name": name, "creationTimestamp": _timestamp(now)},
        "timestamp": _timestamp(now), "window": f"{WINDOW_SECONDS}s", "usage": usage.as_resources(),
    }


store = MetricsStore()
