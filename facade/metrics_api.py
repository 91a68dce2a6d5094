"""GET/LIST of metrics.k8s.io/v1beta1 PodMetrics and NodeMetrics from the agents' latest samples.

Upstream this group is served by metrics-server through the aggregator; here the samples live in
this process (runtime.metrics_store), so the reads are answered directly and never touch storage.
"""

from __future__ import annotations

import datetime as dt
import json

from starlette.requests import Request
from starlette.responses import Response

from facade import errors
from facade.handlers import json_response
from runtime.metrics_store import store

GROUP = "metrics.k8s.io"


def _fresh(obj: dict) -> dict:
    """Stamp a sample with the time of the read: the agents push a sample whenever usage changes, so
    the stored one is the usage now, as metrics-server's latest scrape (at most a resolution old)
    would be. The pushed time would make an unchanged pod look stale for ever, and the HPA controller
    (in-process it stamps the same way) then ignores it as not yet ready."""
    obj["timestamp"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return obj


def _json(obj: dict) -> Response:
    return json_response(json.dumps(_fresh(obj)).encode())


def _list(kind: str, items: list[dict], selector: str) -> Response:
    wanted = dict(p.split("=", 1) for p in selector.replace("==", "=").split(",") if "=" in p)
    items = [_fresh(i) for i in items
             if all((i["metadata"].get("labels") or {}).get(k) == v for k, v in wanted.items())]
    return json_response(json.dumps({"kind": kind, "apiVersion": f"{GROUP}/v1beta1", "metadata": {},
                                      "items": items}).encode())


async def metrics_endpoint(request: Request) -> Response:
    """Route /apis/metrics.k8s.io/v1beta1/{rest} to the pod or node metrics it names."""
    if request.method != "GET":
        raise errors.APIError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
    parts = [p for p in request.path_params["rest"].split("/") if p]
    selector = request.query_params.get("labelSelector", "")
    if parts == ["pods"]:
        return _list("PodMetricsList", store.list_pod_metrics(), selector)
    if len(parts) == 3 and parts[0] == "namespaces" and parts[2] == "pods":
        return _list("PodMetricsList", store.list_pod_metrics(parts[1]), selector)
    if len(parts) == 4 and parts[0] == "namespaces" and parts[2] == "pods":
        obj = store.pod_metrics(parts[1], parts[3])
        if obj is None:
            raise errors.not_found_error("pods", GROUP, parts[3])
        return _json(obj)
    if parts == ["nodes"]:
        return _list("NodeMetricsList", store.list_node_metrics(), selector)
    if len(parts) == 2 and parts[0] == "nodes":
        node = store.node_metrics(parts[1])
        if node is None:
            raise errors.not_found_error("nodes", GROUP, parts[1])
        return _json(node)
    raise errors.APIError(404, "NotFound", "the server could not find the requested resource")
