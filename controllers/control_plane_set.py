"""The scheduler, ReplicaSet/ReplicationController, Deployment and garbage-collector controllers, as one group.

``ControllerManager`` starts this list with the rest; each needs only a Client and the controllers'
Clock, so each also runs alone against any API server.
"""

from __future__ import annotations

from controllers.base import Controller
from controllers.client import InProcessClient
from controllers.clock import Clock
from controllers.deployment import DeploymentController
from controllers.garbage_collector import GarbageCollector, table_resources
from controllers.replicaset import ReplicaSetController
from controllers.scheduler import Scheduler
from facade.rest import RestStore


def control_plane_controllers(rest: RestStore, clock: Clock) -> list[Controller]:
    """Each controller writes under its upstream name in managedFields."""
    return [
        Scheduler(InProcessClient(rest, "kube-scheduler"), clock),
        ReplicaSetController(InProcessClient(rest, "kube-controller-manager"), clock),
        ReplicaSetController(InProcessClient(rest, "kube-controller-manager"), clock, for_rc=True),
        DeploymentController(InProcessClient(rest, "kube-controller-manager"), clock),
        GarbageCollector(InProcessClient(rest, "generic-garbage-collector"), table_resources(rest.table)),
    ]
