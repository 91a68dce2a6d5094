"""How the node proxy picks endpoints: ready only, this node only under externalTrafficPolicy Local,
round-robin, and sticky per client IP with sessionAffinity ClientIP."""

from __future__ import annotations

from runtime.proxy.backends import Backends, affinity_seconds, ready_endpoints

SLICES = [{"ports": [{"name": "web", "port": 8080, "protocol": "TCP"}],
           "endpoints": [{"addresses": ["10.0.0.1"], "nodeName": "n1", "conditions": {"ready": True}},
                         {"addresses": ["10.0.0.2"], "nodeName": "n2", "conditions": {"ready": True}},
                         {"addresses": ["10.0.0.3"], "nodeName": "n1", "conditions": {"ready": False}}]},
          {"ports": [{"name": "web", "port": 9090, "protocol": "TCP"}],
           "endpoints": [{"addresses": ["10.0.0.4"], "nodeName": "n1", "conditions": {"ready": True}}]}]
PORT = {"name": "web", "port": 80, "protocol": "TCP"}


def test_ready_endpoints_skip_not_ready_and_use_each_slices_target_port() -> None:
    assert ready_endpoints({}, PORT, SLICES, "n1", False) == [("10.0.0.1", 8080), ("10.0.0.2", 8080),
                                                              ("10.0.0.4", 9090)]


def test_external_traffic_policy_local_keeps_only_this_nodes_endpoints() -> None:
    assert ready_endpoints({}, PORT, SLICES, "n1", True) == [("10.0.0.1", 8080), ("10.0.0.4", 9090)]


def test_round_robin_without_affinity_and_sticky_with_client_ip() -> None:
    b = Backends(endpoints=[("a", 1), ("b", 1)])
    assert {b.pick("c1") for _ in range(4)} == {("a", 1), ("b", 1)}
    svc = {"spec": {"sessionAffinity": "ClientIP"}}
    assert affinity_seconds(svc) == 10800
    sticky = Backends(endpoints=[("a", 1), ("b", 1)], affinity_seconds=affinity_seconds(svc))
    assert len({sticky.pick("c1") for _ in range(6)}) == 1
    assert Backends().pick("c1") is None
