"""The HTTPS endpoint a separate ``kubefacade node`` publishes in its Node's daemonEndpoints.

kube-apiserver reaches a kubelet at ``https://<InternalIP>:<kubeletEndpoint.Port>`` for logs (and
exec, attach, port-forward); this is that endpoint for an agent in its own process. The API server
forwards the caller's bearer token, which must be the one the node itself uses (its kubeconfig's),
so only callers the API server already admitted with that identity can read the node's logs.
``GET /containerLogs/{namespace}/{pod}/{container}`` takes the kubelet's query parameters.
"""

from __future__ import annotations

import hmac
import ssl
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
from aiohttp import web

from facade.errors import APIError
from facade.tls import ensure_certificates
from runtime.logs import LogOptions

if TYPE_CHECKING:
    from runtime.agent import NodeAgent


def _status(err: APIError) -> web.Response:
    return web.Response(body=orjson.dumps(err.status()), status=err.code, content_type="application/json")


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in ("1", "true")


def _opt_int(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    return int(raw) if raw not in (None, "") else None


class NodeStreamingServer:
    def __init__(self, agent: NodeAgent, host: str, port: int, token: str, data_dir: Path) -> None:
        self.agent = agent
        self.host = host
        self.port = port
        self.expected = f"Bearer {token}" if token else ""
        self.data_dir = data_dir
        self._runner: web.AppRunner | None = None

    async def logs(self, request: web.Request) -> web.StreamResponse:
        if self.expected and not hmac.compare_digest(request.headers.get("Authorization", ""), self.expected):
            return _status(APIError(401, "Unauthorized", "Unauthorized"))
        ns, pod, container = (request.match_info[k] for k in ("namespace", "pod", "container"))
        since = request.query.get("since")
        try:
            opts = LogOptions(follow=_flag(request, "follow"), tail_lines=_opt_int(request, "tailLines"),
                              since=float(since) if since else None, timestamps=_flag(request, "timestamps"),
                              limit_bytes=_opt_int(request, "limitBytes"))
            stream = await self.agent.open_log(ns, pod, container, opts, previous=_flag(request, "previous"))
        except APIError as e:
            return _status(e)
        except ValueError as e:
            return _status(APIError(400, "BadRequest", str(e)))
        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await resp.prepare(request)
        async for chunk in stream:
            await resp.write(chunk)
        await resp.write_eof()
        return resp

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/containerLogs/{namespace}/{pod}/{container}", self.logs)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        (self.data_dir / "tls").mkdir(parents=True, exist_ok=True)
        _, crt, key = ensure_certificates(self.data_dir / "tls", self.host)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(crt), str(key))
        await web.TCPSite(self._runner, self.host, self.port, ssl_context=ctx).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
