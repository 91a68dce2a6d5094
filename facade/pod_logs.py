"""``GET pods/{name}/log``: PodLogOptions validated as kube-apiserver does, then streamed from the node.

The API server checks the options (``PodLogOptions "p" is invalid: ...``) and the container name
(``a container name must be specified for pod p, choose one of: [a b]``); the node agent that runs
the pod answers the rest (waiting containers, ``--previous`` without a previous run) and streams
the log file, following it while the container runs.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from facade import errors
from facade.request import query_bool

Obj = dict[str, Any]


def _int_param(params: Any, name: str) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise errors.bad_request(f'strconv.ParseInt: parsing "{raw}": invalid syntax') from None


def container_names(pod: Obj) -> list[str]:
    """Every container of the pod in VisitContainers order: init, regular, ephemeral."""
    spec = pod.get("spec") or {}
    return [c.get("name", "") for g in ("initContainers", "containers", "ephemeralContainers")
            for c in spec.get(g) or []]


def resolve_container(pod: Obj, container: str) -> str:
    name = pod["metadata"]["name"]
    if container:
        if container not in container_names(pod):
            raise errors.bad_request(f"container {container} is not valid for pod {name}")
        return container
    regular = (pod.get("spec") or {}).get("containers") or []
    if len(regular) == 1:
        return regular[0].get("name", "")
    if not regular:
        raise errors.bad_request(f"a container name must be specified for pod {name}")
    names = " ".join(container_names(pod))
    raise errors.bad_request(f"a container name must be specified for pod {name}, choose one of: [{names}]")


async def serve_pod_log(request: Request, pod: Obj, rest: Any = None) -> Response:
    from runtime import registry
    from runtime.logs import LogOptions, parse_rfc3339

    params = request.query_params
    name = pod["metadata"]["name"]
    tail = _int_param(params, "tailLines")
    limit = _int_param(params, "limitBytes")
    since_seconds = _int_param(params, "sinceSeconds")
    since_time = params.get("sinceTime") or ""
    errs = []
    if tail is not None and tail < 0:
        errs.append(errors.invalid("tailLines", tail, "must be greater than or equal to 0"))
    if limit is not None and limit < 1:
        errs.append(errors.invalid("limitBytes", limit, "must be greater than 0"))
    if since_seconds is not None and since_time:
        errs.append(errors.forbidden("", "at most one of `sinceTime` or `sinceSeconds` may be specified"))
    elif since_seconds is not None and since_seconds < 1:
        errs.append(errors.invalid("sinceSeconds", since_seconds, "must be greater than 0"))
    if errs:
        raise errors.invalid_error("PodLogOptions", "", name, errs)
    since: float | None = None
    if since_time:
        try:
            since = parse_rfc3339(since_time)
        except ValueError:
            raise errors.bad_request(f'parsing time "{since_time}" as "2006-01-02T15:04:05Z07:00": cannot parse') from None
    elif since_seconds is not None:
        since = time.time() - since_seconds
    container = resolve_container(pod, params.get("container", ""))
    node = (pod.get("spec") or {}).get("nodeName") or ""
    if not node:
        return Response(b"", media_type="text/plain")
    agent = registry.get(node)
    if agent is None:
        return await _from_node_endpoint(request, pod, container, node, since, rest)
    opts = LogOptions(follow=query_bool(params, "follow"), tail_lines=tail, since=since,
                      timestamps=query_bool(params, "timestamps"), limit_bytes=limit)
    stream = await agent.open_log(pod["metadata"].get("namespace", ""), name, container, opts,
                                  previous=query_bool(params, "previous"))
    return StreamingResponse(_chunks(stream), media_type="text/plain")


async def _chunks(stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    async for chunk in stream:
        yield chunk


async def _from_node_endpoint(request: Request, pod: Obj, container: str, node: str, since: float | None,
                              rest: Any) -> Response:
    """A node in another process: proxy to the HTTPS endpoint its Node object publishes, as kube-apiserver does."""
    import aiohttp

    name = pod["metadata"]["name"]
    node_obj = None
    if rest is not None:
        info = rest.table.get("", "v1", "nodes")
        stored = await rest.store.get(info.store_key, node) if info is not None else None
        node_obj = info.load(stored.data) if stored is not None else None
    status = (node_obj or {}).get("status") or {}
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port") or 0
    address = next((a.get("address") for a in status.get("addresses") or [] if a.get("type") == "InternalIP"), "")
    if not port or not address:
        raise errors.APIError(503, "ServiceUnavailable",
                              f"no node agent is serving pods/log for {name}: node {node} has no streaming endpoint")
    params = {k: v for k, v in request.query_params.items()
              if k in ("follow", "previous", "timestamps", "tailLines", "limitBytes")}
    if since is not None:
        params["since"] = repr(since)
    host = f"[{address}]" if ":" in address else address
    url = f"https://{host}:{port}/containerLogs/{pod['metadata'].get('namespace', '')}/{name}/{container}"
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=10))
    try:
        resp = await session.get(url, params=params, ssl=False,
                                 headers={"Authorization": request.headers.get("authorization", "")})
    except aiohttp.ClientError as e:
        await session.close()
        raise errors.internal(f'Get "{url}": {e}') from None
    if resp.status != 200:
        body = await resp.read()
        await session.close()
        return Response(body, status_code=resp.status, media_type="application/json")

    async def relay() -> AsyncIterator[bytes]:
        try:
            async for chunk in resp.content.iter_any():
                yield chunk
        finally:
            resp.release()
            await session.close()

    return StreamingResponse(relay(), media_type="text/plain")
