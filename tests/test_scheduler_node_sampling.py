"""How many feasible nodes the scheduler looks for before it stops filtering (kube-scheduler's
adaptive percentageOfNodesToScore): every node below 100, then 50 % minus 1 % per 125 nodes,
never below 5 % nor below 100 nodes."""

from __future__ import annotations

import pytest

from controllers.scheduler import feasible_nodes_to_find


@pytest.mark.parametrize(("nodes", "wanted"), [
    (0, 0), (3, 3), (99, 99), (100, 100), (199, 100), (250, 120), (1000, 420), (5000, 500), (10000, 500),
    (20000, 1000),
])
def test_feasible_nodes_to_find_follows_the_adaptive_percentage(nodes, wanted):
    assert feasible_nodes_to_find(nodes) == wanted
