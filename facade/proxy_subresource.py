"""The ``proxy`` subresource of Services and Pods (the paths ``kubectl proxy`` exposes):
``services/[scheme:]name[:port]/proxy/...`` and ``pods/name[:port]/proxy/...`` forward HTTP to a
ready endpoint, as kube-apiserver does. Plain HTTP only; the body is streamed back.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from facade import errors
from facade.request import Target

HOP_HEADERS = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
               "transfer-encoding", "upgrade", "host", "authorization", "content-length"}


def split_name(name: str) -> tuple[str, str, str]:
    """``[scheme:]name[:port]`` -> (scheme, name, port), as upstream's SplitSchemeNamePort."""
    parts = name.split(":")
    if len(parts) == 1:
        return "", parts[0], ""
    if len(parts) == 2:
        return "", parts[0], parts[1]
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    raise errors.bad_request(f"invalid service request {name!r}")


async def _service_location(rest: Any, table_info: Any, ns: str, name: str, port: str) -> tuple[str, int]:
    svc = await rest.get_obj(table_info, ns, name)
    ports = (svc.get("spec") or {}).get("ports") or []
    sp = next((p for p in ports if port in (p.get("name") or "", str(p.get("port")))), None) if port else \
        (ports[0] if len(ports) == 1 else None)
    if sp is None:
        raise errors.APIError(503, "ServiceUnavailable", f"no endpoints available for service \"{name}\"")
    ep_info = rest.table.get("", "v1", "endpoints") if hasattr(rest, "table") else None
    eps: dict[str, Any] = {}
    if ep_info is not None:
        try:
            eps = await rest.get_obj(ep_info, ns, name)
        except errors.APIError:
            eps = {}
    choices = [(a["ip"], int(p["port"])) for ss in eps.get("subsets") or [] for p in ss.get("ports") or []
               if (p.get("name") or "") == (sp.get("name") or "") for a in ss.get("addresses") or []]
    if not choices:
        raise errors.APIError(503, "ServiceUnavailable", f"no endpoints available for service \"{name}\"")
    return random.choice(choices)


async def serve_proxy(request: Request, rest: Any, t: Target) -> Response:
    """Forward one request to the Service's or Pod's endpoint and stream the answer back."""
    scheme, name, port = split_name(t.name)
    if scheme not in ("", "http"):
        raise errors.bad_request(f"scheme {scheme!r} is not supported by this proxy")
    if t.info.kind == "Service":
        host, port_num = await _service_location(rest, t.info, t.namespace, name, port)
    else:
        pod = await rest.get_obj(t.info, t.namespace, name)
        host = (pod.get("status") or {}).get("podIP") or ""
        if not host:
            raise errors.APIError(503, "ServiceUnavailable", f"address not allowed: pod {name} has no IP")
        port_num = 80
        if port:
            if port.isdigit():
                port_num = int(port)
            else:
                named = [p["containerPort"] for c in (pod.get("spec") or {}).get("containers") or []
                         for p in c.get("ports") or [] if p.get("name") == port]
                if not named:
                    raise errors.bad_request(f"no port named {port!r} on pod {name}")
                port_num = named[0]
    url = f"http://{host}:{port_num}/{t.rest.lstrip('/')}"
    if request.url.query:
        url += "?" + request.url.query
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
    body = await request.body()
    session = aiohttp.ClientSession(auto_decompress=False)
    try:
        upstream = await session.request(request.method, url, headers=headers, data=body or None,
                                         allow_redirects=False)
    except aiohttp.ClientError as e:
        await session.close()
        raise errors.APIError(503, "ServiceUnavailable", f"error trying to reach service: {e}") from e

    async def chunks() -> AsyncIterator[bytes]:
        try:
            async for chunk in upstream.content.iter_chunked(65536):
                yield chunk
        finally:
            upstream.release()
            await session.close()

    out_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_HEADERS}
    return StreamingResponse(chunks(), status_code=upstream.status, headers=out_headers)
