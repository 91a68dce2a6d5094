"""Discovery documents: legacy (/api, /apis, /apis/g, /apis/g/v) and aggregated (apidiscovery.k8s.io/v2).

All built from the resource table; rebuilt only when the table changes (``table.generation``).
"""

from __future__ import annotations

from typing import Any

import orjson

from facade.resource_table import ResourceInfo, ResourceTable

# subresource -> (group, version, kind of its response or None for the parent kind, verbs)
SUBRESOURCES: dict[str, tuple[str, str, str | None, tuple[str, ...]]] = {
    "status": ("", "", None, ("get", "patch", "update")),
    "scale": ("autoscaling", "v1", "Scale", ("get", "patch", "update")),
    "binding": ("", "v1", "Binding", ("create",)),
    "eviction": ("policy", "v1", "Eviction", ("create",)),
    "ephemeralcontainers": ("", "", None, ("get", "patch", "update")),
    "log": ("", "", None, ("get",)),
    "exec": ("", "v1", "PodExecOptions", ("create", "get")),
    "attach": ("", "v1", "PodAttachOptions", ("create", "get")),
    "portforward": ("", "v1", "PodPortForwardOptions", ("create", "get")),
    "proxy": ("", "v1", "{kind}ProxyOptions", ("create", "delete", "get", "patch", "update")),
    "finalize": ("", "", None, ("update",)),
    "token": ("authentication.k8s.io", "v1", "TokenRequest", ("create",)),
}

GROUP_ORDER = [
    "", "apiregistration.k8s.io", "apps", "events.k8s.io", "authentication.k8s.io", "authorization.k8s.io",
    "autoscaling", "batch", "certificates.k8s.io", "networking.k8s.io", "policy", "rbac.authorization.k8s.io",
    "storage.k8s.io", "admissionregistration.k8s.io", "apiextensions.k8s.io", "scheduling.k8s.io",
    "coordination.k8s.io", "node.k8s.io", "discovery.k8s.io", "flowcontrol.apiserver.k8s.io",
]

AGGREGATED_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
AGGREGATED_V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"

VERSION_PRIORITY = {"v1": 0, "v2": 1}


def _sub_kind(info: ResourceInfo, sub: str) -> tuple[str, str, str]:
    group, version, kind, _ = SUBRESOURCES.get(sub, ("", "", None, ()))
    if kind is None:
        return info.group, info.version, info.kind
    return group, version, kind.replace("{kind}", info.kind)


def _group_order(table: ResourceTable) -> list[str]:
    groups = list(table.group_versions())
    return sorted(groups, key=lambda g: (GROUP_ORDER.index(g) if g in GROUP_ORDER else len(GROUP_ORDER), g))


def _preferred(versions: list[str]) -> list[str]:
    def rank(v: str) -> tuple[int, int, str]:
        stable = 0 if "alpha" not in v and "beta" not in v else (1 if "beta" in v else 2)
        digits = "".join(c for c in v[1:] if c.isdigit()) or "0"
        return (stable, -int(digits[:3]), v)

    return sorted(versions, key=rank)


class Discovery:
    def __init__(self, table: ResourceTable, server_address: str = "") -> None:
        self.table = table
        self.server_address = server_address
        self._cache: dict[Any, bytes] = {}
        self._generation = -1

    def _cached(self, key: Any, build: Any) -> bytes:
        if self._generation != self.table.generation:
            self._cache.clear()
            self._generation = self.table.generation
        out = self._cache.get(key)
        if out is None:
            out = self._cache[key] = orjson.dumps(build())
        return out

    def api(self) -> bytes:
        return self._cached("api", lambda: {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": self.server_address}],
        })

    def _group(self, group: str) -> dict[str, Any]:
        versions = _preferred(self.table.group_versions()[group])
        return {
            "name": group,
            "versions": [{"groupVersion": f"{group}/{v}", "version": v} for v in versions],
            "preferredVersion": {"groupVersion": f"{group}/{versions[0]}", "version": versions[0]},
        }

    def apis(self) -> bytes:
        return self._cached("apis", lambda: {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [self._group(g) for g in _group_order(self.table) if g],
        })

    def group(self, group: str) -> bytes | None:
        if not group or group not in self.table.group_versions():
            return None
        return self._cached(("group", group), lambda: {"kind": "APIGroup", "apiVersion": "v1", **self._group(group)})

    def _resources(self, group: str, version: str) -> list[ResourceInfo]:
        return [i for i in self.table if i.group == group and i.version == version]

    def resource_list(self, group: str, version: str) -> bytes | None:
        infos = self._resources(group, version)
        if not infos:
            return None

        def build() -> dict[str, Any]:
            resources: list[dict[str, Any]] = []
            for info in sorted(infos, key=lambda i: i.plural):
                r: dict[str, Any] = {
                    "name": info.plural,
                    "singularName": info.singular,
                    "namespaced": info.namespaced,
                    "kind": info.kind,
                    "verbs": sorted(info.verbs),
                }
                if info.short_names:
                    r["shortNames"] = list(info.short_names)
                if info.categories:
                    r["categories"] = list(info.categories)
                resources.append(r)
                for sub in sorted(info.subresources):
                    g, v, k = _sub_kind(info, sub)
                    s: dict[str, Any] = {
                        "name": f"{info.plural}/{sub}",
                        "singularName": "",
                        "namespaced": info.namespaced,
                        "kind": k,
                        "verbs": list(SUBRESOURCES.get(sub, ("", "", None, ("get",)))[3]),
                    }
                    if (g, v) != (info.group, info.version):
                        s["group"], s["version"] = g, v
                    resources.append(s)
            return {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": f"{group}/{version}" if group else version,
                "resources": resources,
            }

        return self._cached(("resources", group, version), build)

    def _aggregated_item(self, group: str) -> dict[str, Any]:
        versions = _preferred(self.table.group_versions()[group])
        out_versions = []
        for v in versions:
            resources = []
            for info in sorted(self._resources(group, v), key=lambda i: i.plural):
                r: dict[str, Any] = {
                    "resource": info.plural,
                    "responseKind": {"group": info.group, "version": info.version, "kind": info.kind},
                    "scope": "Namespaced" if info.namespaced else "Cluster",
                    "singularResource": info.singular,
                    "verbs": sorted(info.verbs),
                }
                if info.short_names:
                    r["shortNames"] = list(info.short_names)
                if info.categories:
                    r["categories"] = list(info.categories)
                subs = []
                for sub in sorted(info.subresources):
                    g, sv, k = _sub_kind(info, sub)
                    subs.append({
                        "subresource": sub,
                        "responseKind": {"group": g, "version": sv, "kind": k},
                        "verbs": list(SUBRESOURCES.get(sub, ("", "", None, ("get",)))[3]),
                    })
                if subs:
                    r["subresources"] = subs
                resources.append(r)
            out_versions.append({"version": v, "resources": resources, "freshness": "Current"})
        meta: dict[str, Any] = {"name": group} if group else {"creationTimestamp": None}
        return {"metadata": meta, "versions": out_versions}

    def aggregated(self, legacy: bool, api_version: str = "apidiscovery.k8s.io/v2") -> bytes:
        def build() -> dict[str, Any]:
            groups = [""] if legacy else [g for g in _group_order(self.table) if g]
            return {
                "kind": "APIGroupDiscoveryList",
                "apiVersion": api_version,
                "metadata": {},
                "items": [self._aggregated_item(g) for g in groups if g in self.table.group_versions()],
            }

        return self._cached(("aggregated", legacy, api_version), build)
