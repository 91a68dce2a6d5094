"""Subresources served generically: status, scale, binding, eviction, finalize.

Streaming subresources (log, exec, attach, portforward, proxy) need a node agent; until one runs
they answer as kube-apiserver does for a pod that no node has taken.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from facade import errors
from facade.request import Target, parse_body
from facade.rest import DeleteOptions
from storage.interface import Stored

if TYPE_CHECKING:
    from facade.handlers import ResourceHandler


def label_selector_string(selector: Any) -> str:
    """A LabelSelector (or an RC's plain map) as the string Scale.status.selector carries."""
    if not isinstance(selector, dict):
        return ""
    if "matchLabels" not in selector and "matchExpressions" not in selector:
        return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for e in selector.get("matchExpressions") or []:
        op, key, values = e.get("operator"), e.get("key"), sorted(e.get("values") or [])
        if op == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(sorted(parts))


def to_scale(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    scale_meta = {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in meta}
    out: dict[str, Any] = {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": scale_meta,
        "spec": {"replicas": spec.get("replicas", 0)},
        "status": {"replicas": status.get("replicas", 0)},
    }
    sel = label_selector_string(spec.get("selector"))
    if sel:
        out["status"]["selector"] = sel
    return out


def _success(code: int = 201) -> Response:
    from facade.handlers import json_response

    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code}
    return json_response(orjson.dumps(body), code)


async def handle_subresource(handler: ResourceHandler, request: Request, t: Target) -> Response:
    method = request.method
    sub = t.subresource
    rest = handler.rest
    info = t.info
    if sub in ("status", "ephemeralcontainers", "finalize"):
        if method == "GET" and sub != "finalize":
            stored = await rest.get(info, t.namespace, t.name)
            return handler.respond_object(request, info, stored.data)
        if method == "PUT":
            return await handler.update(request, t, sub if sub in ("status", "finalize") else "")
        if method == "PATCH" and sub != "finalize":
            return await handler.patch(request, t, "status" if sub == "status" else "")
        raise errors.method_not_allowed(method, f"{info.plural}/{sub}", info.group)
    if sub == "scale":
        if info.crd is not None:  # custom resources: the CRD's replica paths
            from facade.crd_scale import custom_scale

            return await custom_scale(handler, request, t)
        return await _scale(handler, request, t)
    if sub == "token" and info.kind == "ServiceAccount" and method == "POST":
        from facade.service_account_token import serve_token_request

        return await serve_token_request(handler, request, t)
    if sub == "binding" and method == "POST":
        return await _bind(handler, request, t)
    if sub == "eviction" and method == "POST":
        body = await handler._read_body(request)
        doc = parse_body(body, request.headers.get("content-type", "")) if body else {}
        opts = DeleteOptions()
        if isinstance(doc, dict) and isinstance(doc.get("deleteOptions"), dict):
            opts = handler._delete_options(request, orjson.dumps(doc["deleteOptions"]))
        await rest.delete(info, t.namespace, t.name, opts)
        return _success(201)
    if sub == "proxy" and info.kind in ("Service", "Pod"):
        from facade.proxy_subresource import serve_proxy

        return await serve_proxy(request, rest, t)
    if sub in ("log", "exec", "attach", "portforward", "proxy"):
        obj = await rest.get_obj(info, t.namespace, t.name)
        if sub == "log" and info.kind == "Pod" and method == "GET":  # streamed from the node agent
            from facade.pod_logs import serve_pod_log

            return await serve_pod_log(request, obj, rest)
        if info.kind == "Pod" and not (obj.get("spec") or {}).get("nodeName"):
            raise errors.bad_request(f"pod {t.name} does not have a host assigned")
        raise errors.APIError(
            503, "ServiceUnavailable",
            f"no node agent is serving {info.plural}/{sub} for {t.name}: the node has no streaming endpoint",
        )
    raise errors.method_not_allowed(method, f"{info.plural}/{sub}", info.group)


async def _scale(handler: ResourceHandler, request: Request, t: Target) -> Response:
    from facade.handlers import json_response

    rest = handler.rest
    info = t.info
    method = request.method
    if method == "GET":
        return json_response(orjson.dumps(to_scale(await rest.get_obj(info, t.namespace, t.name))))
    if method not in ("PUT", "PATCH"):
        raise errors.method_not_allowed(method, f"{info.plural}/scale", info.group)
    body = await handler._read_body(request)
    opts = handler._write_options(request)
    content_type = request.headers.get("content-type", "")
    if method == "PUT":
        new_scale = parse_body(body, content_type)
        if not isinstance(new_scale, dict):
            raise errors.bad_request("the body must be a Scale object")
    else:
        new_scale = None

    def mutate(obj: dict[str, Any]) -> dict[str, Any]:
        nonlocal new_scale
        scale = to_scale(obj)
        if method == "PATCH":
            from facade.patch import apply_patch

            ct = content_type.split(";", 1)[0].strip().lower()
            if ct == "application/apply-patch+yaml":
                ct = "application/merge-patch+json"
                patch_doc = parse_body(body, "application/yaml")
                patched = apply_patch(ct, scale, orjson.dumps(patch_doc), None)
            else:
                from facade.schemas import definition

                patched = apply_patch(ct, scale, body, definition("autoscaling", "v1", "Scale"))
            new_scale = patched
        assert new_scale is not None
        replicas = (new_scale.get("spec") or {}).get("replicas", 0)
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise errors.invalid_error("Scale", "autoscaling", t.name, [
                errors.invalid("spec.replicas", replicas, "must be greater than or equal to 0")])
        rv = (new_scale.get("metadata") or {}).get("resourceVersion")
        if rv:
            obj["metadata"]["resourceVersion"] = rv
        else:
            obj["metadata"].pop("resourceVersion", None)
        obj.setdefault("spec", {})["replicas"] = replicas
        return obj

    out = await rest.guaranteed_update(info, t.namespace, t.name, mutate, opts)
    obj = info.load(out.data) if isinstance(out, Stored) else out
    return json_response(orjson.dumps(to_scale(obj)))


async def _bind(handler: ResourceHandler, request: Request, t: Target) -> Response:
    from facade.pod_binding import bind_pod, check_binding

    body = await handler._read_body(request)
    binding = check_binding(parse_body(body, request.headers.get("content-type", "")), t.name)
    await bind_pod(handler.rest, t.namespace, t.name, binding,
                   dry_run=handler._write_options(request).dry_run)
    return _success(201)
