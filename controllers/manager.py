"""Starts the in-process controllers of `kubefacade serve` and stops them on shutdown."""

from __future__ import annotations

import tempfile
from pathlib import Path

from controllers.base import Controller
from controllers.client import InProcessClient
from controllers.clock import Clock, RealClock
from controllers.control_plane_set import control_plane_controllers
from controllers.crd import CRDController
from controllers.loadbalancer import LoadBalancerController
from controllers.namespace import NamespaceController
from controllers.node_lifecycle import DEFAULT_GRACE_SECONDS, NodeLifecycleController
from controllers.resourcequota import ResourceQuotaController
from controllers.serviceaccounts import ROOT_CA, DependentWatch, ServiceAccountController
from controllers.volumes import volume_controllers
from controllers.workload_set import workload_controllers
from facade.rest import RestStore


class ControllerManager:
    """The controllers `kubefacade serve` runs in-process; each is also usable on its own."""

    def __init__(self, rest: RestStore, ca_pem: str, clock: Clock | None = None,
                 data_dir: Path | None = None, node_monitor_grace_period: float = DEFAULT_GRACE_SECONDS) -> None:
        self.clock = clock or RealClock()
        sa = ServiceAccountController(InProcessClient(rest, "kube-controller-manager"), ca_pem)
        self.controllers: list[Controller] = [
            NamespaceController(InProcessClient(rest, "namespace-controller"), rest),
            sa,
            DependentWatch(InProcessClient(rest, "kube-controller-manager"), "serviceaccounts", "default", sa),
            DependentWatch(InProcessClient(rest, "kube-controller-manager"), "configmaps", ROOT_CA, sa),
        ]
        self.controllers += workload_controllers(rest, self.clock)
        self.controllers += control_plane_controllers(rest, self.clock)
        self.controllers.append(CRDController(InProcessClient(rest, "kube-apiserver"), rest))
        self.controllers.append(LoadBalancerController(InProcessClient(rest, "service-lb-controller")))
        volumes_root = (data_dir or Path(tempfile.gettempdir()) / "kubefacade") / "volumes"
        self.controllers += volume_controllers(InProcessClient(rest, "persistentvolume-binder-controller"),
                                               self.clock, volumes_root)
        self.controllers.append(NodeLifecycleController(InProcessClient(rest, "node-controller"), self.clock,
                                                        node_monitor_grace_period))
        self.controllers.append(ResourceQuotaController(InProcessClient(rest, "resourcequota-controller")))

    def start(self) -> None:
        for c in self.controllers:
            c.start()

    async def stop(self) -> None:
        for c in self.controllers:
            await c.stop()
