"""Every active namespace gets the ``default`` ServiceAccount and the ``kube-root-ca.crt`` ConfigMap.

As kube-controller-manager's serviceaccount and root-ca-cert-publisher controllers: recreated when
deleted, the ConfigMap's ``ca.crt`` kept equal to the cluster CA.
"""

from __future__ import annotations

from typing import Any

from controllers.base import Controller
from facade.errors import APIError

ROOT_CA = "kube-root-ca.crt"


class ServiceAccountController(Controller):
    """Reconciles namespaces; also re-queued when a default ServiceAccount or root CA map is deleted."""

    plural = "namespaces"
    name = "serviceaccount-controller"

    def __init__(self, client: Any, ca_pem: str | None, accounts: bool = True) -> None:
        """``ca_pem`` None: publish no root CA map; ``accounts`` False: create no default ServiceAccount
        (kube-controller-manager runs the two as separate controllers; ``kubefacade controllers`` may too)."""
        super().__init__(client)
        self.ca_pem = ca_pem
        self.accounts = accounts

    async def reconcile(self, key: str) -> None:
        ns = self.cache.get(key)
        if ns is None or ns["metadata"].get("deletionTimestamp"):
            return
        if self.accounts:
            await self._ensure("serviceaccounts", key, {"apiVersion": "v1", "kind": "ServiceAccount",
                                                        "metadata": {"name": "default"}})
        if self.ca_pem is None:
            return
        await self._ensure("configmaps", key, {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": ROOT_CA, "annotations": {
                "kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver "
                "when using internal endpoints such as the internal service IP or kubernetes.default.svc. "
                "No other usage is guaranteed across distributions of Kubernetes clusters."}},
            "data": {"ca.crt": self.ca_pem},
        })

    async def _ensure(self, plural: str, namespace: str, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        try:
            current = await self.client.get("v1", plural, name, namespace)
        except APIError as e:
            if e.code != 404:
                raise
            try:
                await self.client.create("v1", plural, obj, namespace)
            except APIError as e2:
                if e2.code not in (409, 403):  # exists already, or the namespace began terminating
                    raise
            return
        if plural == "configmaps" and (current.get("data") or {}).get("ca.crt") != self.ca_pem:
            current["data"] = {**(current.get("data") or {}), "ca.crt": self.ca_pem}
            await self.client.update("v1", plural, current, namespace)


class DependentWatch(Controller):
    """Re-queues the namespace of a deleted default ServiceAccount or root CA ConfigMap."""

    def __init__(self, client: Any, plural: str, name: str, target: ServiceAccountController) -> None:
        super().__init__(client)
        self.plural = plural
        self.watched_name = name
        self.target = target
        self.name = f"{plural}-{name}-watch"
        self.field_selector = f"metadata.name={name}"

    async def reconcile(self, key: str) -> None:
        ns, _, name = key.rpartition("/")
        if name == self.watched_name and key not in self.cache:
            self.target.queue.add(ns)
