"""The ``scale`` subresource of custom resources: an autoscaling/v1 Scale read from and written to the
CRD's ``specReplicasPath`` / ``statusReplicasPath`` / ``labelSelectorPath`` (apiextensions' scale REST).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from facade import crd_jsonpath, errors
from facade.request import Target, parse_body
from storage.interface import Stored

if TYPE_CHECKING:
    from facade.handlers import ResourceHandler

Obj = dict[str, Any]


def _paths(info: Any) -> Obj:
    return getattr(info.strategy, "scale", None) or {}


def to_scale(obj: Obj, scale: Obj) -> Obj:
    meta = obj.get("metadata") or {}
    spec_path = scale.get("specReplicasPath") or ".spec.replicas"
    status_path = scale.get("statusReplicasPath") or ".status.replicas"
    replicas = crd_jsonpath.first(obj, spec_path)
    status_replicas = crd_jsonpath.first(obj, status_path)
    out: Obj = {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                     if k in meta},
        "spec": {},
        "status": {"replicas": status_replicas if isinstance(status_replicas, int) else 0},
    }
    if isinstance(replicas, int) and not isinstance(replicas, bool) and replicas:
        out["spec"]["replicas"] = replicas
    if scale.get("labelSelectorPath"):
        selector = crd_jsonpath.first(obj, scale["labelSelectorPath"])
        if isinstance(selector, str) and selector:
            out["status"]["selector"] = selector
    return out


def _set_path(obj: Obj, path: str, value: Any) -> None:
    steps = crd_jsonpath.parse(path)
    cur: Any = obj
    for i, (kind, arg) in enumerate(steps):
        if kind != "key" or not isinstance(cur, dict):
            raise errors.bad_request(f"unsupported scale path {path}")
        if i == len(steps) - 1:
            cur[arg] = value
        else:
            cur = cur.setdefault(arg, {})


async def custom_scale(handler: ResourceHandler, request: Request, t: Target) -> Response:
    from facade.handlers import json_response

    rest = handler.rest
    info = t.info
    scale = _paths(info)
    method = request.method
    if method == "GET":
        return json_response(orjson.dumps(to_scale(await rest.get_obj(info, t.namespace, t.name), scale)))
    if method not in ("PUT", "PATCH"):
        raise errors.method_not_allowed(method, f"{info.plural}/scale", info.group)
    body = await handler._read_body(request)
    opts = handler._write_options(request)
    content_type = request.headers.get("content-type", "")

    def mutate(obj: Obj) -> Obj:
        current = to_scale(obj, scale)
        if method == "PUT":
            new_scale = parse_body(body, content_type)
            if not isinstance(new_scale, dict):
                raise errors.bad_request("the body must be a Scale object")
        else:
            from facade.patch import apply_patch

            ct = content_type.split(";", 1)[0].strip().lower()
            if ct == "application/apply-patch+yaml":
                new_scale = apply_patch("application/merge-patch+json", current,
                                        orjson.dumps(parse_body(body, "application/yaml")), None)
            else:
                from facade.schemas import definition

                new_scale = apply_patch(ct, current, body, definition("autoscaling", "v1", "Scale"))
        replicas = (new_scale.get("spec") or {}).get("replicas", 0)
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise errors.invalid_error("Scale", "autoscaling", t.name, [
                errors.invalid("spec.replicas", replicas, "must be greater than or equal to 0")])
        rv = (new_scale.get("metadata") or {}).get("resourceVersion")
        if rv:
            obj["metadata"]["resourceVersion"] = rv
        else:
            obj["metadata"].pop("resourceVersion", None)
        _set_path(obj, scale.get("specReplicasPath") or ".spec.replicas", replicas)
        return obj

    out = await rest.guaranteed_update(info, t.namespace, t.name, mutate, opts)
    obj = info.load(out.data) if isinstance(out, Stored) else out
    return json_response(orjson.dumps(to_scale(obj, scale)))
