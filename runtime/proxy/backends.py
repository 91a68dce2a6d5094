"""Choosing an endpoint for a new connection: round-robin, or sticky per client IP (sessionAffinity).

Kept apart from the socket code so the choice is the same for every listener kind.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
DEFAULT_AFFINITY_SECONDS = 10800  # Kubernetes' default sessionAffinityConfig.clientIP.timeoutSeconds


@dataclass
class Backends:
    """The ready endpoints of one service port and the state needed to pick among them."""

    endpoints: list[tuple[str, int]] = field(default_factory=list)
    affinity_seconds: int = 0
    _rr: itertools.count = field(default_factory=itertools.count)
    _sticky: dict[str, tuple[tuple[str, int], float]] = field(default_factory=dict)

    def pick(self, client_ip: str) -> tuple[str, int] | None:
        """The endpoint for a connection from client_ip, or None when no endpoint is ready."""
        if not self.endpoints:
            return None
        now = time.monotonic()
        if self.affinity_seconds:
            hit = self._sticky.get(client_ip)
            if hit and hit[0] in self.endpoints and now - hit[1] < self.affinity_seconds:
                self._sticky[client_ip] = (hit[0], now)
                return hit[0]
        ep = self.endpoints[next(self._rr) % len(self.endpoints)]
        if self.affinity_seconds:
            self._sticky[client_ip] = (ep, now)
        return ep


def ready_endpoints(svc: Obj, port: Obj, slices: list[Obj], node_name: str, local_only: bool) -> list[tuple[str, int]]:
    """The (ip, port) pairs of the service port's ready endpoints, as kube-proxy reads EndpointSlices.

    Slices name their ports after the service port, so the port is matched by name; with
    externalTrafficPolicy Local only endpoints on this node count.
    """
    out: list[tuple[str, int]] = []
    name = port.get("name") or ""
    proto = port.get("protocol") or "TCP"
    for sl in slices:
        target = next((p.get("port") for p in sl.get("ports") or []
                       if (p.get("name") or "") == name and (p.get("protocol") or "TCP") == proto), None)
        if not target:
            continue
        for ep in sl.get("endpoints") or []:
            cond = ep.get("conditions") or {}
            if cond.get("ready") is False:
                continue
            if local_only and ep.get("nodeName") != node_name:
                continue
            for ip in ep.get("addresses") or []:
                out.append((ip, int(target)))
    return sorted(set(out))


def affinity_seconds(svc: Obj) -> int:
    spec = svc.get("spec") or {}
    if spec.get("sessionAffinity") != "ClientIP":
        return 0
    cfg = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {})
    return int(cfg.get("timeoutSeconds") or DEFAULT_AFFINITY_SECONDS)
