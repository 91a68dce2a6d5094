"""The Job, CronJob, StatefulSet, DaemonSet and Endpoints/EndpointSlice controllers, as one group.

``ControllerManager`` starts this list with the rest; each controller needs only a Client and
the controllers' Clock, so it also runs alone against any API server.
"""

from __future__ import annotations

from controllers.base import Controller
from controllers.client import InProcessClient
from controllers.clock import Clock
from controllers.cronjob import CronJobController
from controllers.daemonset import DaemonSetController
from controllers.endpoints import EndpointsController
from controllers.endpointslice_mirroring import EndpointSliceMirroringController, ServiceToEndpointsWatch
from controllers.job import JobController
from controllers.statefulset import StatefulSetController
from facade.rest import RestStore


def workload_controllers(rest: RestStore, clock: Clock) -> list[Controller]:
    """One controller per workload kind, each writing as its upstream name in managedFields."""
    mirroring = EndpointSliceMirroringController(InProcessClient(rest, "endpointslicemirroring-controller"))
    return [
        JobController(InProcessClient(rest, "job-controller"), clock),
        CronJobController(InProcessClient(rest, "cronjob-controller"), clock),
        StatefulSetController(InProcessClient(rest, "statefulset-controller"), clock),
        DaemonSetController(InProcessClient(rest, "daemonset-controller"), clock),
        EndpointsController(InProcessClient(rest, "endpoint-controller"),
                            InProcessClient(rest, "endpointslice-controller")),
        mirroring,
        ServiceToEndpointsWatch(InProcessClient(rest, "endpointslicemirroring-controller"), mirroring),
    ]
