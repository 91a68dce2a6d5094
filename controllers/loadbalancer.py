"""The in-project load-balancer controller (like k3s's ServiceLB): each LoadBalancer Service gets an
ingress address from 127.0.1.0/24, which is loopback and so reachable from the host without root.

Addresses are allocated lowest-free-first from what other Services already hold, so the same set of
Services always gets the same addresses. The node proxy listens on ip:port for each service port.
"""

from __future__ import annotations

from typing import Any

from controllers.base import Controller

Obj = dict[str, Any]
POOL = [f"127.0.1.{i}" for i in range(1, 255)]


class LoadBalancerController(Controller):
    """Sets ``status.loadBalancer.ingress`` on LoadBalancer Services and clears it on other types."""

    plural = "services"
    name = "service-lb-controller"

    def _taken(self, except_key: str) -> set[str]:
        out: set[str] = set()
        for k, svc in self.cache.items():
            if k == except_key:
                continue
            for ing in ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
                if ing.get("ip"):
                    out.add(ing["ip"])
        return out

    async def reconcile(self, key: str) -> None:
        svc = self.cache.get(key)
        if svc is None:
            return
        spec = svc.get("spec") or {}
        md = svc["metadata"]
        current = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        if spec.get("type") != "LoadBalancer" or spec.get("loadBalancerClass"):
            if current and spec.get("type") != "LoadBalancer":
                await self.client.patch("v1", "services", md["name"], {"status": {"loadBalancer": {}}},
                                        md.get("namespace", ""), subresource="status")
            return
        ip = current[0].get("ip") if current else None
        taken = self._taken(key)
        if not ip or ip in taken:
            ip = next((a for a in POOL if a not in taken), None)
            if ip is None:
                return  # pool exhausted: stays <pending>, as on a cloud without capacity
        ports = [{"port": p["port"], "protocol": p.get("protocol") or "TCP"} for p in spec.get("ports") or []]
        wanted = [{"ip": ip, "ipMode": "VIP", "ports": ports}]
        if current != wanted:
            out = await self.client.patch("v1", "services", md["name"],
                                          {"status": {"loadBalancer": {"ingress": wanted}}},
                                          md.get("namespace", ""), subresource="status")
            self.cache[key] = out
