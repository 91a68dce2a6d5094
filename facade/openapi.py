"""OpenAPI v2 (/openapi/v2) and v3 (/openapi/v3, /openapi/v3/<gv>) documents built from the resource table.

What reads them, and why they must look like kube-apiserver's:
- kubectl explain (v3 by default): the per-group-version document, the kind found through the
  ``x-kubernetes-group-version-kind`` of a path's operation and of a component schema.
- kubectl create/apply/replace: whether server-side field validation is supported is read from the v3
  PATCH operation's ``fieldValidation`` parameter; when it cannot be (``kind: List``), kubectl validates
  client-side against the v2 document, which it only accepts as protobuf (facade/openapi_proto.py).
- kubectl apply/diff: strategic-merge-patch keys from the v3 component schemas, v2 as fallback.

All functions are pure over a ``ResourceTable`` and the Kubernetes 1.32 schemas. Documents are large
(core/v1 is over a megabyte), so they are built lazily and cached: the v2 document per
``table.generation``, each v3 document per fingerprint of its group-version's resources (adding a CRD
rebuilds only its own group-version). Custom resources (``ResourceInfo.crd`` set) get their definitions
from ``openapi_schema.crd_definitions``; that is the one hook to extend for CRD publishing.
"""

from __future__ import annotations

import base64
import hashlib
import weakref
from collections import ChainMap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from facade import openapi_proto, schemas
from facade.openapi_paths import (
    Operation,
    Param,
    PathItem,
    api_resources_path,
    discovery_path,
    group_camel,
    group_tag,
    resource_paths,
)
from facade.openapi_schema import (
    V2_REF,
    V3_REF,
    closure,
    crd_definition_name,
    crd_definitions,
    v2_definition,
    v3_component,
)
from facade.resource_table import ResourceInfo, ResourceTable

Node = dict[str, Any]

V2_PROTOBUF_CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
"""Content-Type of the protobuf v2 answer (also served for the deprecated ``...spec.v2@v1.0+protobuf``)."""
V2_PROTOBUF_ACCEPTS = (
    "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
)

INFO = {"title": "Kubernetes", "version": f"v{schemas.KUBERNETES_VERSION}"}
_BEARER = {"description": "Bearer Token authentication", "in": "header", "name": "authorization", "type": "apiKey"}
_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
_VERSION_INFO = "io.k8s.apimachinery.pkg.version.Info"
_DUMP = orjson.OPT_SORT_KEYS


# ------------------------------------------------------------------------------------ definitions


def definition_names(info: ResourceInfo) -> tuple[str, str | None, dict[str, Node]]:
    """(kind definition, list definition or None, definitions this entry adds to the schemas).

    Built-in kinds name their definitions in facade/schemas.py. Custom resources (``info.crd``) and kinds
    the schemas do not know get definitions generated from the CRD's structural schema.
    """
    if info.crd is None:
        name = schemas.definition_name(info.group, info.version, info.kind)
        if name is not None:
            return name, schemas.definition_name(info.group, info.version, info.kind + "List"), {}
    extra = crd_definitions(info.group, info.version, info.kind, info.crd)
    return (
        crd_definition_name(info.group, info.version, info.kind),
        crd_definition_name(info.group, info.version, info.kind + "List"),
        extra,
    )


def _gv_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def _gvs(table: ResourceTable) -> dict[str, tuple[str, str]]:
    """``api/v1`` / ``apis/apps/v1`` -> (group, version) for every served group-version."""
    out: dict[str, tuple[str, str]] = {}
    for group, versions in table.group_versions().items():
        for version in versions:
            out[_gv_path(group, version)] = (group, version)
    return out


@dataclass
class _Collected:
    items: list[PathItem] = field(default_factory=list)
    extra: dict[str, Node] = field(default_factory=dict)
    custom: set[str] = field(default_factory=set)  # definition names that come from CRDs

    def lookup(self) -> Mapping[str, Node]:
        return ChainMap(self.extra, schemas.definitions())


def _collect(infos: Iterable[ResourceInfo]) -> _Collected:
    out = _Collected()
    for info in sorted(infos, key=lambda i: (i.group, i.version, i.plural)):
        name, list_name, extra = definition_names(info)
        out.extra.update(extra)
        out.custom.update(extra)
        out.items.extend(resource_paths(info, name, list_name, custom=info.crd is not None))
    return out


def _roots(items: Iterable[PathItem]) -> set[str]:
    names: set[str] = set()
    for item in items:
        for op in item.operations:
            names.update(r for r in op.responses.values() if r)
            if op.body is not None:
                names.add(op.body.schema)
    return names


# ------------------------------------------------------------------------------------ rendering


def _v2_param(p: Param) -> Node:
    if p.where == "body":
        out: Node = {"in": "body", "name": p.name, "schema": {"$ref": V2_REF + p.schema}}
    else:
        out = {"description": p.description, "in": p.where, "name": p.name, "type": p.type, "uniqueItems": True}
    if p.required:
        out["required"] = True
    return out


def _v2_responses(op: Operation) -> Node:
    out: Node = {}
    for code, ref in op.responses.items():
        r: Node = {"description": _RESPONSE_TEXT[code]}
        if ref == "":
            r["schema"] = {"type": "string"}
        elif ref:
            r["schema"] = {"$ref": V2_REF + ref}
        out[code] = r
    return out


_RESPONSE_TEXT = {"200": "OK", "201": "Created", "202": "Accepted", "401": "Unauthorized"}


def _extensions(op: Operation) -> Node:
    out: Node = {}
    if op.action:
        out["x-kubernetes-action"] = op.action
    if op.gvk:
        out["x-kubernetes-group-version-kind"] = op.gvk
    return out


def _v2_paths(items: list[PathItem]) -> tuple[Node, Node]:
    """Paths and the shared ``#/parameters`` section (parameters used in more than one place)."""
    counts: dict[tuple[Any, ...], int] = {}

    def shareable(p: Param) -> bool:
        return p.name != "name" and (p.where != "body" or p.schema.endswith(".DeleteOptions"))

    every = [p for item in items for p in item.params] + [
        p for item in items for op in item.operations for p in [*op.params, *([op.body] if op.body else [])]
    ]
    for p in every:
        if shareable(p):
            counts[p.key] = counts.get(p.key, 0) + 1
    shared: dict[tuple[Any, ...], str] = {}
    parameters: Node = {}
    for p in every:
        if shareable(p) and counts[p.key] > 1 and p.key not in shared:
            rendered = _v2_param(p)
            digest = hashlib.sha256(orjson.dumps(rendered, option=_DUMP)).digest()
            name = f"{p.name}-{base64.urlsafe_b64encode(digest).decode()[:8]}"
            shared[p.key] = name
            parameters[name] = rendered

    def ref(p: Param) -> Node:
        name = shared.get(p.key)
        return {"$ref": "#/parameters/" + name} if name else _v2_param(p)

    paths: Node = {}
    for item in items:
        entry: Node = {}
        for op in item.operations:
            params = ([op.body] if op.body else []) + sorted(op.params, key=lambda p: p.name)
            o: Node = {
                "consumes": list(op.consumes),
                "description": op.description,
                "operationId": op.operation_id,
                "produces": list(op.produces),
                "responses": _v2_responses(op),
                "schemes": ["https"],
                "tags": list(op.tags),
                **_extensions(op),
            }
            if params:
                o["parameters"] = [ref(p) for p in params]
            entry[op.method] = o
        if item.params:
            entry["parameters"] = [ref(p) for p in item.params]
        paths[item.path] = entry
    return paths, parameters


def _v3_param(p: Param) -> Node:
    out: Node = {
        "description": p.description,
        "in": p.where,
        "name": p.name,
        "schema": {"type": p.type, "uniqueItems": True},
    }
    if p.required:
        out["required"] = True
    return out


def _v3_operation(op: Operation) -> Node:
    out: Node = {"description": op.description, "operationId": op.operation_id, "tags": list(op.tags)}
    if op.params:
        out["parameters"] = [_v3_param(p) for p in sorted(op.params, key=lambda p: p.name)]
    if op.body is not None:
        schema = {"$ref": V3_REF + op.body.schema}
        out["requestBody"] = {"content": {media: {"schema": schema} for media in op.consumes}}
    responses: Node = {}
    for code, ref in op.responses.items():
        r: Node = {"description": _RESPONSE_TEXT[code]}
        if ref is not None:
            schema = {"type": "string"} if ref == "" else {"$ref": V3_REF + ref}
            r["content"] = {media: {"schema": schema} for media in op.produces}
        responses[code] = r
    out["responses"] = responses
    out.update(_extensions(op))
    return out


def _v3_paths(items: list[PathItem]) -> Node:
    paths: Node = {}
    for item in items:
        entry: Node = {op.method: _v3_operation(op) for op in item.operations}
        if item.params:
            entry["parameters"] = [_v3_param(p) for p in item.params]
        paths[item.path] = entry
    return paths


# ------------------------------------------------------------------------------------ v2


def _discovery_items(table: ResourceTable) -> list[PathItem]:
    """The discovery endpoints kube-apiserver documents alongside the resources."""
    items = [
        discovery_path("/api/", "getCoreAPIVersions", "get available API versions", "core", _META + "APIVersions"),
        discovery_path("/apis/", "getAPIVersions", "get available API versions", "apis", _META + "APIGroupList"),
        discovery_path("/version/", "getCodeVersion", "get the version information for this server", "version",
                       _VERSION_INFO, json_only=True),
    ]  # fmt: skip
    for group, versions in table.group_versions().items():
        if group:
            items.append(_group_item(group))
        for version in versions:
            items.append(api_resources_path(group, version))
    return items


def _group_item(group: str) -> PathItem:
    return discovery_path(
        f"/apis/{group}/", f"get{group_camel(group)}APIGroup", "get information of a group", group_tag(group),
        _META + "APIGroup",
    )  # fmt: skip


def _build_v2(table: ResourceTable) -> Node:
    collected = _collect(table)
    items = _discovery_items(table) + collected.items
    items.sort(key=lambda i: i.path)
    lookup = collected.lookup()
    definitions = {
        name: _v2_definition_cached(name) if name not in collected.custom else v2_definition(name, lookup[name])
        for name in closure(_roots(items), lookup)
    }
    paths, parameters = _v2_paths(items)
    return {
        "definitions": definitions,
        "info": dict(INFO),
        "parameters": parameters,
        "paths": paths,
        "security": [{"BearerToken": []}],
        "securityDefinitions": {"BearerToken": dict(_BEARER)},
        "swagger": "2.0",
    }


_v2_definitions: dict[str, Node] = {}
_v3_components: dict[str, Node] = {}


def _v2_definition_cached(name: str) -> Node:
    out = _v2_definitions.get(name)
    if out is None:
        out = _v2_definitions[name] = v2_definition(name, schemas.definitions()[name])
    return out


def _v3_component_cached(name: str) -> Node:
    out = _v3_components.get(name)
    if out is None:
        out = _v3_components[name] = v3_component(name, schemas.definitions()[name], schemas.definitions())
    return out


# ------------------------------------------------------------------------------------ v3


def _build_v3(table: ResourceTable, gv_path: str) -> Node | None:
    gvs = _gvs(table)
    if gv_path in gvs:
        group, version = gvs[gv_path]
        infos = [i for i in table if i.group == group and i.version == version]
        collected = _collect(infos)
        items = [api_resources_path(group, version), *collected.items]
    else:
        items = _discovery_document_items(table, gv_path)
        if items is None:
            return None
        collected = _Collected()
    lookup = collected.lookup()
    components = {
        name: _v3_component_cached(name)
        if name not in collected.custom
        else v3_component(name, lookup[name], lookup, builtin=False)
        for name in closure(_roots(items), lookup)
    }
    return {
        "components": {"schemas": components, "securitySchemes": {"BearerToken": dict(_BEARER)}},
        "info": dict(INFO),
        "openapi": "3.0.0",
        "paths": _v3_paths(sorted(items, key=lambda i: i.path)),
    }


def _discovery_document_items(table: ResourceTable, gv_path: str) -> list[PathItem] | None:
    """Documents for ``api``, ``apis``, ``apis/<group>`` and ``version``, which the real index also lists."""
    if gv_path == "api":
        return [discovery_path("/api/", "getCoreAPIVersions", "get available API versions", "core",
                               _META + "APIVersions")]  # fmt: skip
    if gv_path == "apis":
        return [discovery_path("/apis/", "getAPIVersions", "get available API versions", "apis",
                               _META + "APIGroupList")]  # fmt: skip
    if gv_path == "version":
        return [discovery_path("/version/", "getCodeVersion", "get the version information for this server",
                               "version", _VERSION_INFO, json_only=True)]  # fmt: skip
    if gv_path.startswith("apis/") and gv_path.count("/") == 1:
        group = gv_path.split("/", 1)[1]
        if group and group in table.group_versions():
            return [_group_item(group)]
    return None


def _index_paths(table: ResourceTable) -> list[str]:
    out = ["api", "apis", "version"]
    for group, versions in table.group_versions().items():
        if group:
            out.append(f"apis/{group}")
        out.extend(_gv_path(group, v) for v in versions)
    return sorted(out)


# ------------------------------------------------------------------------------------ caching


def etag(data: bytes) -> str:
    """kube-openapi's ETag and v3 ``hash``: the SHA-512 of the served bytes, upper-case hex.

    The HTTP handler sends it quoted (``ETag: "<etag>"``); a ``?hash=`` that differs gets a 301 to the
    current URL, one that matches may be cached as immutable.
    """
    return hashlib.sha512(data).hexdigest().upper()


@dataclass
class _Cache:
    v2_generation: int = -1
    v2_json: bytes = b""
    v2_proto: bytes | None = None
    index_generation: int = -1
    index: bytes = b""
    # gv_path -> (fingerprint, bytes, etag)
    v3: dict[str, tuple[Any, bytes, str]] = field(default_factory=dict)
    v2_doc: Node | None = None


_caches: weakref.WeakKeyDictionary[ResourceTable, _Cache] = weakref.WeakKeyDictionary()


def _cache(table: ResourceTable) -> _Cache:
    c = _caches.get(table)
    if c is None:
        c = _caches[table] = _Cache()
    return c


def _fingerprint(table: ResourceTable, gv_path: str) -> Any:
    """What a v3 document depends on: its group-version's entries, or the group list for discovery docs."""
    gvs = _gvs(table)
    if gv_path not in gvs:
        return ("discovery", tuple(sorted(table.group_versions())))
    group, version = gvs[gv_path]
    parts = []
    for i in table:
        if i.group == group and i.version == version:
            crd = orjson.dumps(i.crd, option=_DUMP) if i.crd is not None else None
            parts.append((i.kind, i.plural, i.namespaced, tuple(i.verbs), tuple(i.subresources), crd))
    return tuple(sorted(parts, key=lambda p: p[1]))


def _v2_cached(table: ResourceTable) -> _Cache:
    c = _cache(table)
    if c.v2_generation != table.generation:
        doc = _build_v2(table)
        c.v2_doc = doc
        c.v2_json = orjson.dumps(doc, option=_DUMP)
        c.v2_proto = None
        c.v2_generation = table.generation
    return c


def openapi_v2(table: ResourceTable) -> bytes:
    """The Swagger 2.0 document (JSON) served at /openapi/v2 for ``Accept: application/json``."""
    return _v2_cached(table).v2_json


def openapi_v2_protobuf(table: ResourceTable) -> bytes:
    """The same document as gnostic's ``openapi.v2.Document`` protobuf, what kubectl asks for."""
    c = _v2_cached(table)
    if c.v2_proto is None:
        assert c.v2_doc is not None
        c.v2_proto = openapi_proto.document_to_protobuf(_sorted(c.v2_doc))
    return c.v2_proto


def openapi_v2_for_accept(table: ResourceTable, accept: str | None) -> tuple[bytes, str, str] | None:
    """Content negotiation of /openapi/v2 as kube-openapi does it: (body, content type, etag) or None (406).

    Clauses are tried in the client's order of preference; ``*/*`` (or no Accept) gets JSON.
    """
    for media in _accept_clauses(accept or "*/*"):
        if media in ("application/json", "application/*", "*/*"):
            body = openapi_v2(table)
            return body, "application/json", etag(body)
        if media in V2_PROTOBUF_ACCEPTS:
            body = openapi_v2_protobuf(table)
            return body, V2_PROTOBUF_CONTENT_TYPE, etag(body)
    return None


def _accept_clauses(accept: str) -> list[str]:
    clauses: list[tuple[float, int, str]] = []
    for n, part in enumerate(accept.split(",")):
        pieces = [x.strip() for x in part.split(";")]
        media = pieces[0].lower()
        if not media:
            continue
        q = 1.0
        for p in pieces[1:]:
            if p.startswith("q="):
                try:
                    q = float(p[2:])
                except ValueError:
                    q = 0.0
        if q > 0:
            clauses.append((-q, n, media))
    return [m for _, _, m in sorted(clauses)]


def openapi_v3_document(table: ResourceTable, gv_path: str) -> bytes | None:
    """The OpenAPI 3.0 document for ``api/v1``, ``apis/apps/v1`` (or ``api``, ``apis``, ``apis/<group>``,
    ``version``); None when the index does not list it (the handler answers 404)."""
    gv_path = gv_path.strip("/")
    c = _cache(table)
    fp = _fingerprint(table, gv_path)
    hit = c.v3.get(gv_path)
    if hit is not None and hit[0] == fp:
        return hit[1]
    doc = _build_v3(table, gv_path)
    if doc is None:
        return None
    data = orjson.dumps(doc, option=_DUMP)
    c.v3[gv_path] = (fp, data, etag(data))
    return data


def openapi_v3_etag(table: ResourceTable, gv_path: str) -> str | None:
    """The ETag (and index ``hash``) of one v3 document, or None when there is no such document."""
    gv_path = gv_path.strip("/")
    if openapi_v3_document(table, gv_path) is None:
        return None
    return _cache(table).v3[gv_path][2]


def openapi_v3_index(table: ResourceTable) -> bytes:
    """``GET /openapi/v3``: every document with its ``serverRelativeURL`` (``...?hash=<etag>``)."""
    c = _cache(table)
    if c.index_generation != table.generation:
        paths: Node = {}
        for gv_path in _index_paths(table):
            tag = openapi_v3_etag(table, gv_path)
            if tag is not None:
                paths[gv_path] = {"serverRelativeURL": f"/openapi/v3/{gv_path}?hash={tag}"}
        for stale in set(c.v3) - set(paths):
            del c.v3[stale]
        c.index = orjson.dumps({"paths": paths}, option=_DUMP)
        c.index_generation = table.generation
    return c.index


def _sorted(node: Any) -> Any:
    """Key-sorted copy, so the protobuf lists entries in the order the JSON document does."""
    if isinstance(node, dict):
        return {k: _sorted(node[k]) for k in sorted(node)}
    if isinstance(node, list):
        return [_sorted(x) for x in node]
    return node


# ------------------------------------------------------------------------------------ HTTP semantics


@dataclass
class OpenAPIResponse:
    """What the /openapi/* routes answer: status, headers and body, as kube-openapi's handlers answer."""

    status: int
    headers: dict[str, str]
    body: bytes = b""


_V3_ACCEPTS = ("application/json", "application/*", "*/*")


def openapi_response(
    table: ResourceTable,
    path: str,
    *,
    query_hash: str | None = None,
    accept: str | None = None,
    if_none_match: str | None = None,
) -> OpenAPIResponse | None:
    """Answer ``GET /openapi/v2``, ``/openapi/v3`` or ``/openapi/v3/<gv>``; None means 404.

    - /openapi/v2 negotiates JSON or gnostic protobuf on Accept (406 when neither is acceptable);
    - /openapi/v3/<gv> with ``?hash=`` that is stale redirects (301) to the current hash, and a current
      one is marked immutable, which lets kubectl's disk cache keep it;
    - every answer carries a quoted ETag and honours If-None-Match with 304.
    """
    path = "/" + path.strip("/")
    if path == "/openapi/v2":
        got = openapi_v2_for_accept(table, accept)
        if got is None:
            return OpenAPIResponse(406, {"Vary": "Accept"})
        body, media, tag = got
        return _conditional(body, media, tag, if_none_match, {"Vary": "Accept"})
    if path == "/openapi/v3":
        body = openapi_v3_index(table)
        return _conditional(body, "application/json", etag(body), if_none_match, {})
    if not path.startswith("/openapi/v3/"):
        return None
    gv_path = path[len("/openapi/v3/"):]
    body_or_none = openapi_v3_document(table, gv_path)
    if body_or_none is None:
        return None
    if not any(m in _V3_ACCEPTS for m in _accept_clauses(accept or "*/*")):
        return OpenAPIResponse(406, {"Vary": "Accept"})
    tag = _cache(table).v3[gv_path.strip("/")][2]
    extra = {"Vary": "Accept"}
    if query_hash:
        if query_hash != tag:
            return OpenAPIResponse(301, {"Location": f"/openapi/v3/{gv_path.strip('/')}?hash={tag}", **extra})
        extra["Cache-Control"] = "public, immutable"
        extra["Expires"] = _http_date(365 * 24 * 3600)
    return _conditional(body_or_none, "application/json", tag, if_none_match, extra)


def _conditional(body: bytes, media: str, tag: str, if_none_match: str | None, extra: dict[str, str]) -> OpenAPIResponse:
    quoted = f'"{tag}"'
    headers = {"Content-Type": media, "Etag": quoted, **extra}
    if if_none_match and (if_none_match.strip() == "*" or quoted in [t.strip() for t in if_none_match.split(",")]):
        return OpenAPIResponse(304, headers)
    return OpenAPIResponse(200, headers, body)


def _http_date(seconds_from_now: int) -> str:
    import email.utils
    import time

    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)
