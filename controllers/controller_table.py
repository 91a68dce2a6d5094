"""Every controller by name, and how to build it over a Client: one table for both sets.

``ControllerManager`` builds all of them over ``InProcessClient`` inside ``kubefacade serve``;
``kubefacade controllers --only a,b`` builds the ones named over ``RemoteClient``, against any
kubeconfig. The names are kube-controller-manager's ``--controllers`` names (the short aliases;
the canonical ``*-controller`` names are accepted too), plus ``scheduler`` for kube-scheduler and
clear names for what upstream leaves to add-ons (``service-lb``, ``local-path-provisioner``).

Where one controller here does the work of two upstream ones (endpoint/endpointslice,
serviceaccount/root-ca-cert-publisher) it is built with only the parts whose names were picked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controllers.base import Controller
from controllers.client import Client
from controllers.clock import Clock
from controllers.node_lifecycle import DEFAULT_GRACE_SECONDS

Picked = frozenset[str]


@dataclass
class Wiring:
    """What the factories need: a Client per field manager, the clock, and the server's own parts
    when in-process (``rest``) or discovery when remote (``discovery``)."""

    client: Callable[[str], Client]
    clock: Clock
    ca_pem: str | None
    volumes_root: Path
    node_monitor_grace_period: float = DEFAULT_GRACE_SECONDS
    rest: Any = None  # facade.rest.RestStore, in-process only
    discovery: Any = None  # controllers.discovery.RemoteResources, remote only


@dataclass(frozen=True)
class Spec:
    names: tuple[str, ...]
    canonical: tuple[str, ...]
    what: str | tuple[str, ...]  # one per name when several
    build: Callable[[Wiring, Picked], list[Controller]]
    #: why it cannot run outside the server ("" when it can)
    in_process_only: str = ""
    extra_aliases: tuple[str, ...] = field(default=())


def _namespace(w: Wiring, _p: Picked) -> list[Controller]:
    if w.rest is not None:
        from controllers.namespace import NamespaceController

        return [NamespaceController(w.client("namespace-controller"), w.rest)]
    from controllers.namespace_remote import RemoteNamespaceController

    return [RemoteNamespaceController(w.client("namespace-controller"), w.discovery)]


def _service_accounts(w: Wiring, p: Picked) -> list[Controller]:
    from controllers.serviceaccounts import ROOT_CA, DependentWatch, ServiceAccountController

    accounts, root_ca = "serviceaccount" in p, "root-ca-cert-publisher" in p
    sa = ServiceAccountController(w.client("kube-controller-manager"), w.ca_pem if root_ca else None, accounts)
    out: list[Controller] = [sa]
    if accounts:
        out.append(DependentWatch(w.client("kube-controller-manager"), "serviceaccounts", "default", sa))
    if root_ca:
        out.append(DependentWatch(w.client("kube-controller-manager"), "configmaps", ROOT_CA, sa))
    return out


def _clocked(module: str, cls: str, manager: str, **kw: Any) -> Callable[[Wiring, Picked], list[Controller]]:
    """A controller built as ``cls(client, clock, **kw)``, imported only when picked."""

    def build(w: Wiring, _p: Picked) -> list[Controller]:
        import importlib

        return [getattr(importlib.import_module(module), cls)(w.client(manager), w.clock, **kw)]

    return build


def _endpoints(w: Wiring, p: Picked) -> list[Controller]:
    from controllers.endpoints import EndpointsController

    slices = w.client("endpointslice-controller") if "endpointslice" in p else None
    return [EndpointsController(w.client("endpoint-controller"), slices, endpoints="endpoint" in p)]


def _mirroring(w: Wiring, _p: Picked) -> list[Controller]:
    from controllers.endpointslice_mirroring import EndpointSliceMirroringController, ServiceToEndpointsWatch

    mirroring = EndpointSliceMirroringController(w.client("endpointslicemirroring-controller"))
    return [mirroring, ServiceToEndpointsWatch(w.client("endpointslicemirroring-controller"), mirroring)]


def _garbage_collector(w: Wiring, _p: Picked) -> list[Controller]:
    from controllers.garbage_collector import GarbageCollector, table_resources

    resources = table_resources(w.rest.table) if w.rest is not None else w.discovery
    return [GarbageCollector(w.client("generic-garbage-collector"), resources)]


def _crd(w: Wiring, _p: Picked) -> list[Controller]:
    from controllers.crd import CRDController

    return [CRDController(w.client("kube-apiserver"), w.rest)]


def _service_lb(w: Wiring, _p: Picked) -> list[Controller]:
    from controllers.loadbalancer import LoadBalancerController

    return [LoadBalancerController(w.client("service-lb-controller"))]


def _local_path(w: Wiring, _p: Picked) -> list[Controller]:
    from controllers.volumes import volume_controllers

    return volume_controllers(w.client("persistentvolume-binder-controller"), w.clock, w.volumes_root)


def _node_lifecycle(w: Wiring, _p: Picked) -> list[Controller]:
    from controllers.node_lifecycle import NodeLifecycleController

    return [NodeLifecycleController(w.client("node-controller"), w.clock, w.node_monitor_grace_period)]


def _resource_quota(w: Wiring, _p: Picked) -> list[Controller]:
    from controllers.resourcequota import ResourceQuotaController

    return [ResourceQuotaController(w.client("resourcequota-controller"))]


SPECS: tuple[Spec, ...] = (
    Spec(("namespace",), ("namespace-controller",),
         "empties a deleted namespace, then removes its kubernetes finalizer", _namespace),
    Spec(("serviceaccount", "root-ca-cert-publisher"),
         ("serviceaccount-controller", "root-ca-certificate-publisher-controller"),
         ("the default ServiceAccount in every namespace", "the kube-root-ca.crt ConfigMap in every namespace"),
         _service_accounts),
    Spec(("job",), ("job-controller",),
         "Jobs' pods, completions and failures (and ttl-after-finished's deletion of finished Jobs)",
         _clocked("controllers.job", "JobController", "job-controller")),
    Spec(("cronjob",), ("cronjob-controller",), "Jobs on a schedule",
         _clocked("controllers.cronjob", "CronJobController", "cronjob-controller")),
    Spec(("statefulset",), ("statefulset-controller",), "StatefulSets' ordered pods and claims",
         _clocked("controllers.statefulset", "StatefulSetController", "statefulset-controller")),
    Spec(("daemonset",), ("daemonset-controller",), "one pod per eligible node",
         _clocked("controllers.daemonset", "DaemonSetController", "daemonset-controller")),
    Spec(("endpoint", "endpointslice"), ("endpoints-controller", "endpointslice-controller"),
         ("Endpoints of Services with a selector", "EndpointSlices of Services with a selector"), _endpoints),
    Spec(("endpointslicemirroring",), ("endpointslice-mirroring-controller",),
         "EndpointSlices mirrored from custom Endpoints", _mirroring),
    Spec(("scheduler",), ("kube-scheduler",), "binds pending pods to nodes (kube-scheduler)",
         _clocked("controllers.scheduler", "Scheduler", "kube-scheduler")),
    Spec(("replicaset",), ("replicaset-controller",), "ReplicaSets' pods",
         _clocked("controllers.replicaset", "ReplicaSetController", "kube-controller-manager")),
    Spec(("replicationcontroller",), ("replicationcontroller-controller",), "ReplicationControllers' pods",
         _clocked("controllers.replicaset", "ReplicaSetController", "kube-controller-manager", for_rc=True)),
    Spec(("deployment",), ("deployment-controller",), "Deployments' ReplicaSets, rollouts and rollbacks",
         _clocked("controllers.deployment", "DeploymentController", "kube-controller-manager")),
    Spec(("garbagecollector",), ("garbage-collector-controller",),
         "deletes dependents of deleted owners; foreground and orphan deletion", _garbage_collector),
    Spec(("crd",), ("apiextensions-controllers",),
         "names and establishes CustomResourceDefinitions and serves their resources", _crd,
         in_process_only="it is part of the API server (apiextensions-apiserver): it changes what the "
                         "server serves, so it runs only inside kubefacade serve"),
    Spec(("service-lb",), ("service-lb-controller",),
         "LoadBalancer Services get an address from 127.0.1.0/24 (like k3s's ServiceLB)", _service_lb,
         extra_aliases=("service",)),
    Spec(("local-path-provisioner",), ("local-path-provisioner",),
         "hostPath volumes for claims of the kubefacade.io/local-path class, and their reclaim", _local_path),
    Spec(("nodelifecycle",), ("node-lifecycle-controller",),
         "node conditions turn Unknown when a node goes silent; taints and evictions", _node_lifecycle),
    Spec(("resourcequota",), ("resourcequota-controller",), "ResourceQuota status.used", _resource_quota),
    Spec(("horizontalpodautoscaling",), ("horizontal-pod-autoscaler-controller",),
         "HorizontalPodAutoscalers (autoscaling/v2) on metrics.k8s.io",
         _clocked("controllers.hpa", "HorizontalController", "kube-controller-manager")),
)

#: what upstream splits off but runs inside another controller here
MERGED_INTO = {"ttl-after-finished": "job", "ttl-after-finished-controller": "job"}


def all_names() -> list[str]:
    return [n for s in SPECS for n in s.names]


def _lookup() -> dict[str, str]:
    table: dict[str, str] = {}
    for s in SPECS:
        for n, c in zip(s.names, s.canonical, strict=True):
            table[n] = n
            table[c] = n
        for a in s.extra_aliases:
            table[a] = s.names[0]
    return table


def describe(spec: Spec, name: str) -> str:
    return spec.what if isinstance(spec.what, str) else spec.what[spec.names.index(name)]


class UnknownController(ValueError):
    pass


def resolve(names: Iterable[str]) -> set[str]:
    """The table's names for these (aliases or canonical names); ``UnknownController`` for others,
    with kube-controller-manager's message."""
    table, out = _lookup(), set()
    for raw in names:
        name = raw.strip()
        if not name:
            continue
        if name in MERGED_INTO:
            raise UnknownController(f'"{name}" runs inside the "{MERGED_INTO[name]}" controller here; '
                                    f'pick "{MERGED_INTO[name]}"')
        if name not in table:
            raise UnknownController(f'"{name}" is not in the list of known controllers')
        out.add(table[name])
    return out


def in_process_only(picked: Iterable[str]) -> dict[str, str]:
    """Picked names that cannot run against a remote server, with the reason."""
    wanted = set(picked)
    return {n: s.in_process_only for s in SPECS if s.in_process_only for n in s.names if n in wanted}


def build(wiring: Wiring, picked: Iterable[str] | None = None) -> list[Controller]:
    """The controllers for the picked names (all of them when None), in the table's order."""
    wanted = set(all_names() if picked is None else picked)
    out: list[Controller] = []
    for s in SPECS:
        mine = wanted & set(s.names)
        if mine:
            out += s.build(wiring, frozenset(mine))
    return out
