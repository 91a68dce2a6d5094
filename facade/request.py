"""Parsing of a resource request: the URL path, the query parameters, the body, the Accept header."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import orjson
import yaml

from facade import errors
from facade.protobuf.decode import decode_kubernetes_protobuf
from facade.resource_table import ResourceInfo, ResourceTable

MAX_BODY = 3 * 1024 * 1024

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"


@dataclass
class Target:
    """What a resource URL names."""

    info: ResourceInfo
    namespace: str
    name: str
    subresource: str
    rest: str = ""  # what follows a subresource (proxy paths)


def parse_path(table: ResourceTable, path: str) -> Target | None:
    """``/api/v1/namespaces/ns/pods/name/status`` -> Target; None when nothing is served there."""
    parts = path.strip("/").split("/")
    if parts[0] == "api":
        if len(parts) < 3:
            return None
        group, version, rest = "", parts[1], parts[2:]
    elif parts[0] == "apis":
        if len(parts) < 4:
            return None
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    if rest and rest[0] == "watch":  # deprecated /watch/ prefix
        rest = rest[1:]
    namespace = ""
    if len(rest) >= 3 and rest[0] == "namespaces":
        ns_info = table.get(group, version, rest[2])
        if ns_info is not None and ns_info.namespaced:
            namespace, rest = rest[1], rest[2:]
    info = table.get(group, version, rest[0]) if rest else None
    if info is None:
        return None
    if info.namespaced and not namespace and len(rest) > 1:
        return None
    name = rest[1] if len(rest) > 1 else ""
    sub = rest[2] if len(rest) > 2 else ""
    if sub and sub not in info.subresources:
        return None
    extra = "/".join(rest[3:]) if len(rest) > 3 else ""
    return Target(info, namespace, name, sub, extra)


def parse_body(body: bytes, content_type: str) -> Any:
    if len(body) > MAX_BODY:
        raise errors.too_large()
    if not body:
        raise errors.bad_request("the body of the request was empty")
    ct = content_type.split(";", 1)[0].strip().lower()
    if ct in ("", JSON, "*/*"):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as e:
            if ct == "":
                return _yaml(body)
            raise errors.bad_request(f"couldn't get version/kind; json parse error: {e}") from None
    if ct in (YAML, "application/x-yaml", "text/yaml"):
        return _yaml(body)
    if ct == PROTOBUF:
        return decode_kubernetes_protobuf(body)
    raise errors.unsupported_media_type(f"{JSON}, {YAML}, {PROTOBUF}")


def _yaml(body: bytes) -> Any:
    try:
        return yaml.safe_load(body)
    except yaml.YAMLError as e:
        raise errors.bad_request(f"error converting YAML to JSON: {e}") from None


@dataclass(frozen=True)
class Accept:
    table: bool = False
    yaml: bool = False
    table_version: str = "v1"
    partial_metadata: bool = False


@functools.lru_cache(maxsize=512)
def parse_accept(header: str) -> Accept:
    """Pick the first representation we serve from the Accept list; 406 when none is served.

    Cached by header text (clients send the same few); callers must not change the result.
    """
    if not header:
        return Accept()
    served = False
    for raw in header.split(","):
        parts = [p.strip() for p in raw.split(";")]
        media = parts[0].lower()
        params = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        as_ = params.get("as")
        if media in (JSON, "*/*", "application/*"):
            if as_ == "Table" and params.get("g") == "meta.k8s.io":
                return Accept(table=True, table_version=params.get("v", "v1"))
            if as_ in ("PartialObjectMetadata", "PartialObjectMetadataList") and params.get("g") == "meta.k8s.io":
                return Accept(partial_metadata=True)
            if as_ is None:
                return Accept()
            continue
        if media in (YAML, "application/x-yaml", "text/yaml") and as_ is None:
            return Accept(yaml=True)
        if media == "application/json-seq" or media.startswith("application/vnd.kubernetes.protobuf"):
            served = served or False
            continue
    raise errors.not_acceptable("application/json, application/yaml")


def query_int(params: Any, name: str) -> int | None:
    raw = params.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise errors.bad_request(f"invalid value for {name}: {raw!r}: must be an integer") from None


def query_bool(params: Any, name: str) -> bool:
    raw = params.get(name)
    return raw is not None and raw.lower() in ("1", "true", "t", "yes", "")
