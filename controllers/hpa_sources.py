"""What the HPA controller reads and writes besides HPAs: the target's ``scale`` and pod metrics.

Upstream the controller uses client-go's scale client (GET/PUT ``.../{name}/scale`` of whatever
resource the RESTMapper finds for the target's group and kind) and the metrics.k8s.io client
(``PodMetricsList`` by label selector). Both have two forms here, as the Client does:

* in-process: the server's own resource table and RestStore, and the metrics store the node agents
  push their samples into (``runtime.metrics_store``);
* remote: the same requests over HTTP (``RemoteClient.request``), so the controller also runs
  against any cluster.
"""

from __future__ import annotations

from typing import Any, Protocol

from controllers.clock import Clock
from facade import errors
from facade.errors import APIError
from storage.interface import Stored
from storage.selectors import parse_label_selector

Obj = dict[str, Any]


class Scales(Protocol):
    async def get(self, api_version: str, kind: str, namespace: str, name: str) -> tuple[Obj, str]:
        """The target's autoscaling/v1 Scale and the resource (plural) it was read through."""
        ...

    async def update(self, api_version: str, plural: str, namespace: str, scale: Obj) -> Obj:
        """PUT the Scale (its resourceVersion is a precondition)."""
        ...


class PodMetrics(Protocol):
    async def list(self, namespace: str, selector: str) -> list[Obj]:
        """metrics.k8s.io/v1beta1 PodMetrics of the pods the selector matches."""
        ...


def _no_kind(group: str, kind: str) -> APIError:
    """meta.NoKindMatchError's text, as the RESTMapper reports an unknown kind."""
    return APIError(404, "NotFound", f'no matches for kind "{kind}" in group "{group}"')


class InProcessScales:
    """The scale subresource read and written through the server's RestStore."""

    def __init__(self, rest: Any, manager: str) -> None:
        self.rest = rest
        self.manager = manager

    def _info(self, api_version: str, kind: str) -> Any:
        group, _, version = api_version.rpartition("/")
        info = self.rest.table.by_kind(group, version, kind)
        if info is None:  # RESTMappings(GroupKind): any served version of the kind will do
            info = next((i for i in self.rest.table if i.group == group and i.kind == kind), None)
        if info is None:
            raise _no_kind(group, kind)
        if "scale" not in info.subresources:
            raise APIError(404, "NotFound", "the server could not find the requested resource")
        return info

    @staticmethod
    def _to_scale(info: Any, obj: Obj) -> Obj:
        if info.crd is not None:
            from facade.crd_scale import to_scale as crd_to_scale

            return crd_to_scale(obj, getattr(info.strategy, "scale", None) or {})
        from facade.subresources import to_scale

        return to_scale(obj)

    async def get(self, api_version: str, kind: str, namespace: str, name: str) -> tuple[Obj, str]:
        info = self._info(api_version, kind)
        return self._to_scale(info, await self.rest.get_obj(info, namespace, name)), info.plural

    async def update(self, api_version: str, plural: str, namespace: str, scale: Obj) -> Obj:
        from facade.rest import WriteOptions

        group, _, version = api_version.rpartition("/")
        info = self.rest.table.get(group, version, plural)
        if info is None:
            raise errors.not_found_error(plural, group, "")
        name = scale["metadata"]["name"]
        replicas = (scale.get("spec") or {}).get("replicas", 0)
        rv = (scale.get("metadata") or {}).get("resourceVersion")

        def mutate(obj: Obj) -> Obj:
            if rv:
                obj["metadata"]["resourceVersion"] = rv
            if info.crd is not None:
                from facade.crd_scale import _set_path

                paths = getattr(info.strategy, "scale", None) or {}
                _set_path(obj, paths.get("specReplicasPath") or ".spec.replicas", replicas)
            else:
                obj.setdefault("spec", {})["replicas"] = replicas
            return obj

        out = await self.rest.guaranteed_update(info, namespace, name, mutate, WriteOptions(field_manager=self.manager))
        obj = info.load(out.data) if isinstance(out, Stored) else out
        return self._to_scale(info, obj)


class RemoteScales:
    """The scale subresource over HTTP; the plural comes from the group version's discovery."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._plurals: dict[tuple[str, str], str] = {}

    async def _plural(self, api_version: str, kind: str) -> str:
        key = (api_version, kind)
        if key not in self._plurals:
            group = api_version.rpartition("/")[0]
            path = f"/apis/{api_version}" if group else f"/api/{api_version}"
            try:
                doc = await self.client.request("GET", path)
            except APIError as e:
                if e.code == 404:
                    raise _no_kind(group, kind) from None
                raise
            for r in doc.get("resources") or []:
                if r.get("kind") == kind and "/" not in r.get("name", ""):
                    self._plurals[key] = r["name"]
                    break
            else:
                raise _no_kind(group, kind)
        return self._plurals[key]

    async def get(self, api_version: str, kind: str, namespace: str, name: str) -> tuple[Obj, str]:
        from controllers.remote_client import resource_path

        plural = await self._plural(api_version, kind)
        return await self.client.request("GET", resource_path(api_version, plural, namespace, name, "scale")), plural

    async def update(self, api_version: str, plural: str, namespace: str, scale: Obj) -> Obj:
        from controllers.remote_client import resource_path

        path = resource_path(api_version, plural, namespace, scale["metadata"]["name"], "scale")
        return await self.client.request("PUT", path, scale)


class InProcessPodMetrics:
    """PodMetrics from the samples the node agents push into ``runtime.metrics_store``.

    The agents push a sample whenever a pod's usage changes, so the stored sample is the usage now:
    it is reported with the clock's current time as its timestamp, as metrics-server's latest scrape
    would be (the HPA's readiness check compares it with the pod's Ready transition).
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    async def list(self, namespace: str, selector: str) -> list[Obj]:
        from runtime.metrics_store import store

        wanted = parse_label_selector(selector)
        now = self.clock.rfc3339()
        out = []
        for (ns, name), sample in list(store.pods.items()):  # filtered before rendering: O(pods) per HPA
            if ns == namespace and wanted.matches(sample.labels):
                item = store.pod_metrics(ns, name)
                if item is not None:
                    item["timestamp"] = now
                    out.append(item)
        return out


class RemotePodMetrics:
    """PodMetrics from any cluster's metrics.k8s.io API."""

    def __init__(self, client: Any) -> None:
        self.client = client

    async def list(self, namespace: str, selector: str) -> list[Obj]:
        path = f"/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods"
        doc = await self.client.request("GET", path, params={"labelSelector": selector} if selector else None)
        return list(doc.get("items") or [])


def sources_for(client: Any, clock: Clock) -> tuple[Scales, PodMetrics]:
    """The scale and metrics access that fits the client: in-process when it has the RestStore."""
    rest = getattr(client, "rest", None)
    if rest is not None:
        return InProcessScales(rest, getattr(client, "manager", "kube-controller-manager")), InProcessPodMetrics(clock)
    return RemoteScales(client), RemotePodMetrics(client)
