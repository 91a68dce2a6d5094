"""The ASGI application: authentication, health, version, discovery, OpenAPI and resource URLs.

A plain ASGI app (Starlette routing), so uvicorn and hypercorn serve the same object.
"""

from __future__ import annotations

import hmac
import logging
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from facade import errors, identity
from facade.discovery import AGGREGATED_V2, AGGREGATED_V2BETA1, Discovery
from facade.errors import APIError
from facade.handlers import ResourceHandler, json_response, status_response
from facade.metrics_api import metrics_endpoint
from facade.rest import RestStore
from facade.schemas import KUBERNETES_VERSION

log = logging.getLogger("kubefacade")

ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
ANONYMOUS_PATHS = ("/healthz", "/livez", "/readyz", "/version")

Endpoint = Callable[[Request], Awaitable[Response]]


def version_info() -> dict[str, str]:
    major, minor, _ = KUBERNETES_VERSION.split(".")
    return {
        "major": major,
        "minor": minor,
        "gitVersion": f"v{KUBERNETES_VERSION}+kubefacade",
        "gitCommit": "kubefacade",
        "gitTreeState": "clean",
        "buildDate": "2026-11-26T00:00:00Z",
        "goVersion": "go1.23.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


class TokenAuth:
    """Bearer-token authentication; 401 Unauthorized Status for anything else (health endpoints aside)."""

    def __init__(self, app: ASGIApp, token: str | None, rest: RestStore | None = None) -> None:
        self.app = app
        self.rest = rest  # for service-account tokens: their account (and bound pod) must still exist
        self.expected = f"Bearer {token}".encode() if token else None
        if token:
            identity.register_token(token, identity.ADMIN)
        self.user = identity.ADMIN if token else identity.ANONYMOUS_USER

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        requestor = self.user
        if self.expected is not None and scope["type"] in ("http", "websocket"):
            path = scope["path"]
            if not path.startswith(ANONYMOUS_PATHS):
                given = b""
                for k, v in scope["headers"]:
                    if k == b"authorization":
                        given = v
                        break
                if not hmac.compare_digest(given, self.expected):
                    account = await self._service_account(given)
                    if account is None:
                        if scope["type"] == "http":
                            resp = status_response(errors.unauthorized())
                            await resp(scope, receive, send)
                        else:
                            await send({"type": "websocket.close", "code": 1008})
                        return
                    requestor = account
        if scope["type"] in ("http", "websocket"):
            try:
                identity.current_user.set(identity.impersonate(requestor, scope["headers"]))
            except APIError as e:
                if scope["type"] == "http":
                    await status_response(e)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def authenticate(self, headers: list[tuple[bytes, bytes]]) -> identity.UserInfo:
        """The user a request with these headers acts as (impersonation applied), or a 401 APIError: for
        connections served below ASGI (the plain SPDY upgrade, facade/spdy_upgrade.py)."""
        requestor = self.user
        if self.expected is not None:
            given = next((v for k, v in headers if k == b"authorization"), b"")
            if not hmac.compare_digest(given, self.expected):
                account = await self._service_account(given)
                if account is None:
                    raise errors.unauthorized()
                requestor = account
        return identity.impersonate(requestor, headers)

    async def _service_account(self, header: bytes) -> identity.UserInfo | None:
        """A bearer JWT the server issued (facade/service_account_token.py), as its service account."""
        if not header.startswith(b"Bearer "):
            return None
        from facade.service_account_token import authenticate

        return await authenticate(self.rest, header[7:].decode("latin-1").strip())


def _safe(endpoint: Endpoint) -> Endpoint:
    """Every failure becomes a Status: APIError as itself, anything unexpected as a logged 500."""

    async def wrapped(request: Request) -> Response:
        try:
            return await endpoint(request)
        except APIError as e:
            return status_response(e)
        except Exception as e:  # noqa: BLE001 - the last line of defence; logged with its traceback
            log.error("internal error on %s %s: %s", request.method, request.scope["path"], traceback.format_exc())
            return status_response(errors.internal(f"{type(e).__name__}: {e}"))

    return wrapped


def _wants_aggregated(request: Request) -> str | None:
    accept = request.headers.get("accept", "")
    if "as=APIGroupDiscoveryList" not in accept:
        return None
    for part in accept.split(","):
        p = part.replace(" ", "")
        if "as=APIGroupDiscoveryList" in p and "g=apidiscovery.k8s.io" in p:
            if "v=v2beta1" in p:
                return AGGREGATED_V2BETA1
            if "v=v2" in p:
                return AGGREGATED_V2
    return None


def build_app(rest: RestStore, token: str | None = None, server_address: str = "", fake_clock: Any = None) -> ASGIApp:
    discovery = Discovery(rest.table, server_address)
    resources = ResourceHandler(rest)
    ready = {"ok": True}

    async def health(request: Request) -> Response:
        name = request.scope["path"].strip("/").split("/")[0]
        if "verbose" in request.query_params:
            return PlainTextResponse(f"[+]ping ok\n[+]etcd ok\n{name} check passed\n")
        return PlainTextResponse("ok" if ready["ok"] else "not ready", 200 if ready["ok"] else 500)

    async def version(request: Request) -> Response:
        return json_response(orjson.dumps(version_info()))

    async def api(request: Request) -> Response:
        path = request.scope["path"].rstrip("/")
        parts = path.strip("/").split("/")
        if request.method == "GET":
            agg = _wants_aggregated(request)
            if path in ("/api", "/apis") and agg:
                api_version = "apidiscovery.k8s.io/" + ("v2beta1" if agg == AGGREGATED_V2BETA1 else "v2")
                body = discovery.aggregated(path == "/api", api_version)
                return Response(body, media_type=agg)
            if path == "/api":
                return json_response(discovery.api())
            if path == "/apis":
                return json_response(discovery.apis())
            if parts[0] == "api" and len(parts) == 2:
                body = discovery.resource_list("", parts[1])
                return json_response(body) if body else resources.not_found(path)
            if parts[0] == "apis" and len(parts) == 2:
                body = discovery.group(parts[1])
                return json_response(body) if body else resources.not_found(path)
            if parts[0] == "apis" and len(parts) == 3:
                body = discovery.resource_list(parts[1], parts[2])
                return json_response(body) if body else resources.not_found(path)
        return await resources(request)

    async def openapi(request: Request) -> Response:
        from facade import openapi as oa

        r = oa.openapi_response(
            rest.table, request.scope["path"], query_hash=request.query_params.get("hash"),
            accept=request.headers.get("accept"), if_none_match=request.headers.get("if-none-match"),
        )
        if r is None:
            return resources.not_found(request.scope["path"])
        return Response(r.body, status_code=r.status, headers=r.headers)

    async def not_found(request: Request) -> Response:
        return resources.not_found(request.scope["path"])

    async def debug_clock(request: Request) -> Response:
        """``POST /debug/clock?advance=SECONDS`` moves the fake clock (only with --fake-clock)."""
        if fake_clock is None:
            return resources.not_found(request.scope["path"])
        if request.method == "POST":
            try:
                seconds = float(request.query_params.get("advance", "0"))
            except ValueError:
                raise errors.bad_request("advance must be a number of seconds") from None
            fake_clock.advance(seconds)
        return json_response(orjson.dumps({"now": fake_clock.rfc3339(), "epoch": fake_clock.now()}))

    async def pod_exec(websocket: WebSocket) -> None:
        from facade.pod_exec import serve_exec

        await serve_exec(websocket, rest)

    async def pod_portforward(websocket: WebSocket) -> None:
        from facade.pod_portforward import serve_portforward

        await serve_portforward(websocket, rest)

    async def pod_attach(websocket: WebSocket) -> None:
        from facade.pod_attach import serve_attach

        await serve_attach(websocket, rest)

    routes = [
        WebSocketRoute("/api/v1/namespaces/{namespace}/pods/{name}/exec", pod_exec),
        WebSocketRoute("/api/v1/namespaces/{namespace}/pods/{name}/portforward", pod_portforward),
        WebSocketRoute("/api/v1/namespaces/{namespace}/pods/{name}/attach", pod_attach),
        Route("/healthz", _safe(health)),
        Route("/livez", _safe(health)),
        Route("/readyz", _safe(health)),
        Route("/healthz/{rest:path}", _safe(health)),
        Route("/livez/{rest:path}", _safe(health)),
        Route("/readyz/{rest:path}", _safe(health)),
        Route("/version", _safe(version)),
        Route("/api", _safe(api), methods=ALL_METHODS),
        Route("/apis", _safe(api), methods=ALL_METHODS),
        Route("/api/{rest:path}", _safe(api), methods=ALL_METHODS),
        Route("/apis/metrics.k8s.io/v1beta1/{rest:path}", _safe(metrics_endpoint), methods=ALL_METHODS),
        Route("/apis/{rest:path}", _safe(api), methods=ALL_METHODS),
        Route("/openapi/{rest:path}", _safe(openapi)),
        Route("/debug/clock", _safe(debug_clock), methods=["GET", "POST"]),
        Route("/{rest:path}", _safe(not_found), methods=ALL_METHODS),
    ]
    app: Any = Starlette(routes=routes)
    app.state.rest = rest
    app.state.ready = ready
    return TokenAuth(ResourceFastPath(app, _safe(api)), token, rest)


class ResourceFastPath:
    """Resource URLs (/api/..., /apis/...) go straight to their handler.

    They are most of the traffic, and the generic middleware stack and router cost more per request
    than a GET or a create itself; the handler already turns every failure into a Status.
    """

    def __init__(self, app: ASGIApp, api: Endpoint) -> None:
        self.app = app
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            metrics = path.startswith("/apis/metrics.k8s.io/v1beta1/")  # served from the agents' samples
            if not metrics and (path.startswith("/api/") or path.startswith("/apis/") or path in ("/api", "/apis")):
                response = await self.api(Request(scope, receive))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
