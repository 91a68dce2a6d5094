"""HTTP handlers for resource URLs: turn a request into a RestStore call and its result into bytes.

GET/LIST/WATCH mostly concatenate the cached bytes of stored versions (DESIGN.md contract 1).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import random
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
import yaml
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from facade import errors
from facade.errors import APIError, go_quote
from facade.fieldvalidation import check_fields as check
from facade.managed_fields import manager_from_user_agent
from facade.patch_handler import patch_object
from facade.request import Target, parse_accept, parse_body, parse_path, query_bool, query_int
from facade.resource_table import ResourceInfo
from facade.rest import DeleteOptions, RestStore, WriteOptions
from facade.selection import build_predicate
from facade.tables import to_table
from storage.interface import Expired, Stored, TooLarge

JSON_CT = "application/json"
WATCH_BOOKMARK_INTERVAL = 60.0
MIN_REQUEST_TIMEOUT = 1800


def json_response(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, media_type=JSON_CT, headers=headers)


def status_response(err: APIError) -> Response:
    if isinstance(err, RouteMethodNotAllowed):
        return Response(b"405: Method Not Allowed", 405, media_type="text/plain")
    return json_response(orjson.dumps(err.status()), err.code, err.headers)


class RouteMethodNotAllowed(APIError):
    """A verb the resource does not serve: upstream registers no route for it, so its HTTP router
    answers a plain-text 405 (kubectl prints "the server does not allow this method ...")."""

    def __init__(self) -> None:
        super().__init__(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")


def success_status(info: ResourceInfo, name: str, uid: str) -> bytes:
    details: dict[str, Any] = {"name": name, "kind": info.plural, "uid": uid}
    if info.group:
        details = {"name": name, "group": info.group, "kind": info.plural, "uid": uid}
    return orjson.dumps({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details,
    })


def encode_continue(rv: int, start: str) -> str:
    raw = orjson.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start})
    return base64.b64encode(raw).decode()


def decode_continue(token: str) -> tuple[int, str]:
    try:
        data = orjson.loads(base64.b64decode(token + "=" * (-len(token) % 4), validate=False))
        if data.get("v") != "meta.k8s.io/v1":
            raise ValueError
        return int(data["rv"]), str(data["start"])
    except (ValueError, KeyError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise errors.bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)") from None


class ResourceHandler:
    """Serves every ``/api/...`` and ``/apis/...`` resource URL."""

    def __init__(self, rest: RestStore) -> None:
        self.rest = rest
        self.table = rest.table

    async def __call__(self, request: Request) -> Response:
        try:
            target = parse_path(self.table, request.scope["path"])
            if target is None:
                return self.not_found(request.scope["path"])
            return await self.dispatch(request, target)
        except APIError as e:
            return status_response(e)

    def not_found(self, path: str) -> Response:
        return json_response(
            orjson.dumps({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "the server could not find the requested resource", "reason": "NotFound",
                "details": {}, "code": 404,
            }),
            404,
        )

    async def dispatch(self, request: Request, t: Target) -> Response:
        method = request.method
        info = t.info
        params = request.query_params
        if t.subresource:
            from facade.subresources import handle_subresource

            return await handle_subresource(self, request, t)
        if method == "GET":
            if t.name:
                self._verb(info, "get")
                return await self.get(request, t)
            if query_bool(params, "watch") or request.scope["path"].split("/")[2:3] == ["watch"] or "/watch/" in request.scope["path"]:
                self._verb(info, "watch")
                return await self.watch(request, t)
            self._verb(info, "list")
            return await self.list(request, t)
        if method == "POST":
            if t.name:
                raise errors.method_not_allowed("POST", info.plural, info.group)
            self._verb(info, "create")
            return await self.create(request, t)
        if method == "PUT":
            if not t.name:
                raise errors.method_not_allowed("PUT", info.plural, info.group)
            self._verb(info, "update")
            return await self.update(request, t)
        if method == "PATCH":
            if not t.name:
                raise errors.method_not_allowed("PATCH", info.plural, info.group)
            self._verb(info, "patch")
            return await self.patch(request, t)
        if method == "DELETE":
            if t.name:
                self._verb(info, "delete")
                return await self.delete(request, t)
            self._verb(info, "deletecollection")
            return await self.delete_collection(request, t)
        raise errors.method_not_allowed(method, info.plural, info.group)

    def _verb(self, info: ResourceInfo, verb: str) -> None:
        if verb not in info.verbs:
            if verb == "watch" and "list" in info.verbs:  # the list route exists and refuses the watch
                raise errors.method_not_allowed(verb, info.plural, info.group)
            raise RouteMethodNotAllowed()

    # -- output ----------------------------------------------------------------------------------

    def respond_object(self, request: Request, info: ResourceInfo, data: bytes, status: int = 200,
                       warnings: list[str] | None = None) -> Response:
        accept = parse_accept(request.headers.get("accept", ""))
        headers = _warning_headers(warnings)
        if accept.table:
            table = to_table(info, [orjson.loads(data)], request.query_params.get("includeObject", ""), None,
                             accept.table_version)
            return json_response(orjson.dumps(table), status, headers)
        if accept.yaml:
            return Response(yaml.safe_dump(orjson.loads(data), sort_keys=False), status, headers,
                            media_type="application/yaml")
        if accept.partial_metadata:
            obj = orjson.loads(data)
            return json_response(orjson.dumps({
                "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata", {}),
            }), status, headers)
        return json_response(data, status, headers)

    # -- verbs -----------------------------------------------------------------------------------

    async def get(self, request: Request, t: Target) -> Response:
        accept = parse_accept(request.headers.get("accept", ""))
        stored = await self.rest.get(t.info, t.namespace, t.name)
        if not accept.table and not accept.yaml and not accept.partial_metadata:
            return json_response(t.info.emit(stored.data))
        return self.respond_object(request, t.info, stored.data)

    async def list(self, request: Request, t: Target) -> Response:
        info = t.info
        params = request.query_params
        accept = parse_accept(request.headers.get("accept", ""))
        predicate = build_predicate(info, params.get("labelSelector", ""), params.get("fieldSelector", ""), t.namespace)
        limit = query_int(params, "limit") or 0
        token = params.get("continue", "")
        rv_param = params.get("resourceVersion", "")
        match = params.get("resourceVersionMatch", "")
        at_rv = 0
        start = ""
        prefix = f"{t.namespace}/" if t.namespace else ""
        if token:
            if rv_param:
                raise errors.bad_request("specifying resource version is not allowed when using continue")
            at_rv, start = decode_continue(token)
            start = prefix + start if prefix and not start.startswith(prefix) else start
            if at_rv == -1:
                at_rv = 0
        elif rv_param:
            rv_int = _parse_rv(rv_param)
            if match == "Exact":
                if rv_int == 0:
                    raise errors.bad_request("resourceVersionMatch \"Exact\" is forbidden for resourceVersion \"0\"")
                at_rv = rv_int
            elif match in ("", "NotOlderThan"):
                if rv_int > self.rest.store.rv:
                    await _wait_for_rv(self.rest, rv_int)
            else:
                raise errors.bad_request(
                    f'resourceVersionMatch: Unsupported value: "{match}": supported values: "Exact", "NotOlderThan"'
                )
        elif match:
            raise errors.bad_request("resourceVersionMatch is forbidden unless resourceVersion is provided")
        try:
            items, next_key, list_rv = await self.rest.store.list(
                info.store_key, prefix, start=start, limit=limit, at_rv=at_rv, predicate=predicate
            )
        except Expired:
            fresh = encode_continue(-1, start[len(prefix):] if prefix else start) if token else None
            if token:
                raise errors.gone(
                    "The provided continue parameter is too old to display a consistent list result. You can start "
                    "a new list without the continue parameter, or use the continue token in this response to "
                    "retrieve the remainder of the results. Continuing with the provided token results in an "
                    "inconsistent list - objects that were created, modified, or deleted between the time the first "
                    "chunk was returned and now may show up in the list.",
                    fresh,
                ) from None
            raise errors.gone(f"too old resource version: {at_rv} ({self.rest.store.rv})") from None
        except TooLarge:
            raise errors.timeout(f"Too large resource version: {at_rv}, current: {self.rest.store.rv}") from None
        meta: dict[str, Any] = {"resourceVersion": str(list_rv)}
        if next_key is not None:
            meta["continue"] = encode_continue(list_rv, next_key[len(prefix):] if prefix else next_key)
            if predicate is None:  # as upstream: only known when nothing is filtered out
                meta["remainingItemCount"] = self.rest.store.count_after(info.store_key, prefix, items[-1].key)
        if accept.table:
            objs = [info.load(s.data) for s in items]
            return json_response(orjson.dumps(to_table(info, objs, params.get("includeObject", ""), meta,
                                                        accept.table_version)))
        if accept.partial_metadata:
            objs = [info.load(s.data) for s in items]
            return json_response(orjson.dumps({
                "kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
                "items": [{"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                           "metadata": o["metadata"]} for o in objs],
            }))
        head = (
            b'{"kind":"' + info.kind.encode() + b'List","apiVersion":"' + info.group_version.encode()
            + b'","metadata":' + orjson.dumps(meta) + b',"items":['
        )
        body = head + b",".join([info.emit(s.data) for s in items] if info.converts else [s.data for s in items]) + b"]}"
        if accept.yaml:
            return Response(yaml.safe_dump(orjson.loads(body), sort_keys=False), media_type="application/yaml")
        return json_response(body)

    def _write_options(self, request: Request) -> WriteOptions:
        params = request.query_params
        dry = params.getlist("dryRun")
        for d in dry:
            if d != "All":
                raise errors.bad_request(f'dryRun: Unsupported value: "{d}": supported values: "All"')
        manager = params.get("fieldManager") or manager_from_user_agent(request.headers.get("user-agent", ""))
        if len(manager) > 128:
            raise errors.bad_request("fieldManager: Too long: must have at most 128 bytes")
        return WriteOptions(dry_run=bool(dry), field_manager=manager)

    async def _read_body(self, request: Request) -> bytes:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > 3 * 1024 * 1024:
            raise errors.too_large()
        chunks = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > 3 * 1024 * 1024:
                raise errors.too_large()
            chunks.append(chunk)
        return b"".join(chunks)

    async def _decode(self, request: Request, t: Target) -> tuple[Any, list[str]]:
        body = await self._read_body(request)
        obj = parse_body(body, request.headers.get("content-type", ""))
        warnings = check_fields(self.rest, t.info, body, obj, request.query_params.get("fieldValidation", ""),
                                "CreateOptions" if request.method == "POST" else "UpdateOptions")
        return obj, warnings

    async def create(self, request: Request, t: Target) -> Response:
        obj, warnings = await self._decode(request, t)
        opts = self._write_options(request)
        out = await self.rest.create(t.info, t.namespace, obj, opts)
        data = t.info.emit(out.data) if isinstance(out, Stored) else orjson.dumps(out)
        return self.respond_object(request, t.info, data, 201, warnings)

    async def update(self, request: Request, t: Target, subresource: str = "") -> Response:
        obj, warnings = await self._decode(request, t)
        opts = self._write_options(request)
        opts.subresource = subresource
        try:
            out = await self.rest.update(t.info, t.namespace, t.name, obj, opts)
        except APIError as e:
            if e.code == 404 and t.info.strategy.allow_create_on_update and not subresource:
                out = await self.rest.create(t.info, t.namespace, obj, opts)
                data = t.info.emit(out.data) if isinstance(out, Stored) else orjson.dumps(out)
                return self.respond_object(request, t.info, data, 201, warnings)
            raise
        data = t.info.emit(out.data) if isinstance(out, Stored) else orjson.dumps(out)
        return self.respond_object(request, t.info, data, 200, warnings)

    async def patch(self, request: Request, t: Target, subresource: str = "") -> Response:
        body = await self._read_body(request)
        opts = self._write_options(request)
        opts.subresource = subresource
        out, status, warnings = await patch_object(self, request, t, body, opts)
        data = t.info.emit(out.data) if isinstance(out, Stored) else orjson.dumps(out)
        return self.respond_object(request, t.info, data, status, warnings)

    def _delete_options(self, request: Request, body: bytes) -> DeleteOptions:
        params = request.query_params
        opts = DeleteOptions()
        doc: dict[str, Any] = {}
        if body.startswith(b"k8s\x00"):  # typed client-go clients send DeleteOptions as protobuf
            doc = parse_body(body, "application/vnd.kubernetes.protobuf")
        elif body.strip():
            try:
                doc = orjson.loads(body)
            except orjson.JSONDecodeError:
                raise errors.bad_request("the body of the request was in an unknown format") from None
            if not isinstance(doc, dict):
                raise errors.bad_request("DeleteOptions must be an object")
        dry = params.getlist("dryRun") or doc.get("dryRun") or []
        opts.dry_run = "All" in dry
        policy = params.get("propagationPolicy") or doc.get("propagationPolicy") or ""
        if policy and policy not in ("Orphan", "Background", "Foreground"):
            raise errors.invalid_error("DeleteOptions", "", "", [errors.not_supported(
                "propagationPolicy", policy, ["Foreground", "Background", "Orphan", "nil"])])
        if doc.get("orphanDependents") is True or params.get("orphanDependents") == "true":
            policy = policy or "Orphan"
        opts.propagation_policy = policy
        grace = query_int(params, "gracePeriodSeconds")
        if grace is None and doc.get("gracePeriodSeconds") is not None:
            grace = int(doc["gracePeriodSeconds"])
        opts.grace_period_seconds = grace
        pre = doc.get("preconditions") or {}
        opts.precondition_uid = pre.get("uid") or ""
        opts.precondition_rv = pre.get("resourceVersion") or ""
        return opts

    async def delete(self, request: Request, t: Target) -> Response:
        body = await self._read_body(request)
        opts = self._delete_options(request, body)
        obj, deleted = await self.rest.delete(t.info, t.namespace, t.name, opts)
        if not deleted or t.info.strategy.return_deleted_object:
            status = 200 if deleted or not opts.grace_period_seconds else 202
            return self.respond_object(request, t.info, orjson.dumps(obj), 200 if deleted else status)
        return json_response(success_status(t.info, t.name, obj["metadata"].get("uid", "")))

    async def delete_collection(self, request: Request, t: Target) -> Response:
        info = t.info
        params = request.query_params
        body = await self._read_body(request)
        opts = self._delete_options(request, body)
        predicate = build_predicate(info, params.get("labelSelector", ""), params.get("fieldSelector", ""), t.namespace)
        prefix = f"{t.namespace}/" if t.namespace else ""
        items, _, list_rv = await self.rest.store.list(info.store_key, prefix, predicate=predicate)
        out = []
        for s in items:
            ns, _, name = s.key.rpartition("/")
            try:
                obj, _ = await self.rest.delete(info, ns, name, opts)
                out.append(orjson.dumps(obj))
            except APIError as e:
                if e.code != 404:
                    raise
        head = (
            b'{"kind":"' + info.kind.encode() + b'List","apiVersion":"' + info.group_version.encode()
            + b'","metadata":{"resourceVersion":"' + str(self.rest.store.rv).encode() + b'"},"items":['
        )
        return json_response(head + b",".join(out) + b"]}")

    # -- watch -----------------------------------------------------------------------------------

    async def watch(self, request: Request, t: Target) -> Response:
        info = t.info
        params = request.query_params
        accept = parse_accept(request.headers.get("accept", ""))
        predicate = build_predicate(info, params.get("labelSelector", ""), params.get("fieldSelector", ""), t.namespace)
        prefix = f"{t.namespace}/" if t.namespace else ""
        if t.name:
            prefix = f"{prefix}{t.name}"
        field_name = _single_name(params.get("fieldSelector", ""))
        rv_param = params.get("resourceVersion", "")
        bookmarks = query_bool(params, "allowWatchBookmarks")
        send_initial = params.get("sendInitialEvents")
        match = params.get("resourceVersionMatch", "")
        if send_initial is not None:
            if match != "NotOlderThan":
                raise errors.invalid_error("ListOptions", "meta.k8s.io", "", [errors.forbidden(
                    "resourceVersionMatch", "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan")])
            if not bookmarks:
                raise errors.invalid_error("ListOptions", "meta.k8s.io", "", [errors.forbidden(
                    "allowWatchBookmarks", "sendInitialEvents requires setting allowWatchBookmarks to true")])
        initial = (rv_param in ("", "0")) if send_initial is None else send_initial.lower() == "true"
        timeout = query_int(params, "timeoutSeconds")
        if timeout is None:
            timeout = int(MIN_REQUEST_TIMEOUT * (1 + random.random()))
        store = self.rest.store
        from_rv = store.rv if initial or rv_param in ("", "0") else _parse_rv(rv_param)
        if not initial and from_rv > store.rv:
            await _wait_for_rv(self.rest, from_rv)
        initial_items: list[Stored] = []
        if initial:
            initial_items, _, _ = await store.list(info.store_key, prefix if not t.name else "", predicate=predicate)
            if field_name or t.name:
                want = field_name or t.name
                initial_items = [s for s in initial_items if s.key.rpartition("/")[2] == want]
        try:
            watcher = store.watch(info.store_key, prefix, from_rv, predicate)
        except Expired as e:
            err = errors.gone(f"too old resource version: {e.requested} ({e.oldest})")
            line = b'{"type":"ERROR","object":' + orjson.dumps(err.status()) + b"}\n"

            async def expired() -> AsyncIterator[bytes]:
                yield line

            return StreamingResponse(expired(), media_type=JSON_CT)
        if t.name:
            name = t.name
            base_pred = watcher.predicate
            watcher.predicate = lambda s: s.key.rpartition("/")[2] == name and (base_pred is None or base_pred(s))
        init_end = send_initial is not None and initial
        table_info = info if accept.table else None
        slow_path = table_info is not None or info.converts
        include = params.get("includeObject", "")

        headers_sent = [False]

        def encode(ev_type: str, data: bytes) -> bytes:
            if table_info is not None:
                tbl = to_table(table_info, [orjson.loads(data)], include, None, accept.table_version,
                               no_headers=headers_sent[0])
                headers_sent[0] = True
                return orjson.dumps({"type": ev_type, "object": tbl}) + b"\n"
            return b'{"type":"' + ev_type.encode() + b'","object":' + data + b"}\n"

        def bookmark(rv: int, end: bool = False) -> bytes:
            meta: dict[str, Any] = {"resourceVersion": str(rv)}
            if end:
                meta["annotations"] = {"k8s.io/initial-events-end": "true"}
            obj = {"kind": info.kind, "apiVersion": info.group_version, "metadata": meta}
            return b'{"type":"BOOKMARK","object":' + orjson.dumps(obj) + b"}\n"

        async def stream() -> AsyncIterator[bytes]:
            deadline = time.monotonic() + timeout
            try:
                if initial_items:
                    chunk = [encode("ADDED", info.emit(s.data)) for s in initial_items]
                    for i in range(0, len(chunk), 500):
                        yield b"".join(chunk[i:i + 500])
                if init_end:
                    yield bookmark(store.rv, True)
                elif not initial_items:
                    yield b""
                next_bookmark = time.monotonic() + WATCH_BOOKMARK_INTERVAL
                while True:
                    now = time.monotonic()
                    if now >= deadline:
                        return
                    wait = min(deadline, next_bookmark) - now
                    got = await watcher.wait(wait)
                    if got:
                        events = watcher.drain()
                        if events:
                            yield b"".join(
                                encode(ev.type, info.emit(ev.obj.data)) if slow_path else ev.line()
                                for ev in events
                            )
                        if watcher.closed:
                            return
                    elif bookmarks and time.monotonic() >= next_bookmark:
                        yield bookmark(store.rv)
                        next_bookmark = time.monotonic() + WATCH_BOOKMARK_INTERVAL
            finally:
                watcher.close()

        return StreamingResponse(stream(), media_type=JSON_CT, headers={"Cache-Control": "no-cache, private"})


def _single_name(field_selector: str) -> str:
    if field_selector.startswith("metadata.name=") and "," not in field_selector:
        return field_selector.split("=", 1)[1].lstrip("=")
    return ""


def _parse_rv(raw: str) -> int:
    try:
        rv = int(raw)
    except ValueError:
        raise errors.bad_request(f"invalid resource version: {raw!r}") from None
    if rv < 0:
        raise errors.bad_request(f"invalid resource version: {raw!r}")
    return rv


async def _wait_for_rv(rest: RestStore, rv: int, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while rest.store.rv < rv:
        if time.monotonic() > deadline:
            raise errors.timeout(f"Too large resource version: {rv}, current: {rest.store.rv}")
        await asyncio.sleep(0.05)


def _warning_headers(warnings: list[str] | None) -> dict[str, str] | None:
    if not warnings:
        return None
    return {"Warning": ", ".join("299 - " + go_quote(w) for w in warnings)}


def check_fields(rest: RestStore, info: ResourceInfo, body: bytes, obj: Any, mode: str,
                 options_kind: str = "CreateOptions") -> list[str]:
    """fieldValidation of a write: warnings for Warn, a 400 for Strict, nothing for Ignore."""
    if not isinstance(obj, dict):
        return []
    if info.crd is not None:  # custom resources: unknown means what the CRD schema prunes
        from facade.crd_fieldvalidation import check_custom_fields

        return check_custom_fields(info, body, obj, mode, options_kind)
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    return check(body, obj, rest.schema_for(info), mode, info.kind, info.group, (meta or {}).get("name", ""),
                 version=info.version, options_kind=options_kind)
