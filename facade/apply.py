"""Server-side apply: ``PATCH`` with ``application/apply-patch+yaml``.

The request checks come in kube-apiserver's order: PatchOptions (``fieldManager`` required, a 422),
the body (YAML or JSON), the kind and version of the configuration, ``metadata.managedFields``
absent, then the structured merge itself (``facade/apply_engine.py``). An object that does not exist
is created from the configuration (201); on the status subresource it is a 404 instead. The result
then takes the ordinary write path of ``RestStore`` (defaults, strategy, validation, dry run,
no write when nothing changed), with the managedFields the apply computed.

``schema`` is the kind's schema: the built-in definition, or a custom resource's CRD schema
(``info.crd``); ``apply_schema_for`` picks it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
import yaml
from starlette.requests import Request

from facade import errors, schemas
from facade.apply_engine import apply_config
from facade.apply_schema import ApplyTypeError
from facade.fieldvalidation import STRICT, WARN, find_yaml_duplicate_errors, strict_warnings, validate_mode
from facade.request import Target
from facade.resource_table import ResourceInfo
from facade.rest import RestStore, WriteOptions, now_rfc3339
from storage.interface import Stored

if TYPE_CHECKING:
    from facade.handlers import ResourceHandler

_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")

try:
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - libyaml missing
    _Loader = yaml.SafeLoader


def apply_schema_for(rest: RestStore, info: ResourceInfo) -> schemas.Node | None:
    """The schema apply merges with: a custom resource's CRD schema, else the built-in definition."""
    return info.crd if info.crd is not None else rest.schema_for(info)


def decode_apply_body(body: bytes) -> dict[str, Any]:
    """The applied configuration: JSON when it parses as JSON (kubectl sends JSON), else YAML."""
    if not body.strip():
        raise errors.bad_request("error decoding YAML: the body of the request was empty")
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        try:
            doc = yaml.load(body, Loader=_Loader)  # noqa: S506 - a safe loader
        except yaml.YAMLError as e:
            raise errors.bad_request(f"error decoding YAML: {e}") from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise errors.bad_request(
            "error decoding YAML: error unmarshaling JSON: while decoding JSON: json: cannot unmarshal "
            f"{_json_kind(doc)} into Go value of type map[string]interface {{}}")
    return doc


def _json_kind(v: Any) -> str:
    if isinstance(v, list):
        return "array"
    if isinstance(v, str):
        return "string"
    if isinstance(v, bool):
        return "bool"
    return "number"


def _gvk_string(api_version: Any, kind: Any) -> str:
    """schema.GroupVersionKind's String(): ``apps/v1, Kind=Deployment``, ``/v1, Kind=ConfigMap``."""
    av = api_version if isinstance(api_version, str) else ""
    group, _, version = av.rpartition("/")
    if not version and not group:
        return f"/, Kind={kind if isinstance(kind, str) else ''}"
    return f"{group}/{version}, Kind={kind if isinstance(kind, str) else ''}"


def _check_config(info: ResourceInfo, config: dict[str, Any]) -> None:
    if config.get("apiVersion") != info.group_version or config.get("kind") != info.kind:
        raise errors.bad_request(f"invalid object type: {_gvk_string(config.get('apiVersion'), config.get('kind'))}")
    meta = config.get("metadata")
    if isinstance(meta, dict) and meta.get("managedFields") is not None:
        raise errors.bad_request("metadata.managedFields must be nil")


def _type_error(info: ResourceInfo, namespace: str, name: str, e: ApplyTypeError) -> errors.APIError:
    """upstream's message for a configuration the schema refuses, as a 400 (upstream: a 500 without a reason)."""
    where = f"{namespace}/{name}" if namespace else f"/{name}" if name else ""
    target = f"{where}; {info.group}/{info.version}, Kind={info.kind}" if where else \
        f"{info.group}/{info.version}, Kind={info.kind}"
    # kube-apiserver 1.32 answers this bad input with a 500; bad input never gets a 500 here (README)
    return errors.bad_request(f"failed to create typed patch object ({target}): {e}")


def _apply_warnings(body: bytes, directive: str) -> list[str]:
    """fieldValidation for apply: only duplicate keys of the YAML body (yaml.UnmarshalStrict)."""
    if directive not in (STRICT, WARN):
        return []
    dups = find_yaml_duplicate_errors(body)
    if not dups:
        return []
    message = "yaml: unmarshal errors:\n  " + "\n  ".join(dups)
    if directive == STRICT:
        raise errors.bad_request(f"error strict decoding YAML: {message}")
    return strict_warnings([message])


def _force(params: Any) -> bool:
    raw = params.get("force")
    if raw is None or raw == "":
        return False
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise errors.bad_request(f'force: invalid value "{raw}": strconv.ParseBool: parsing "{raw}": invalid syntax')


async def server_side_apply(
    handler: ResourceHandler, request: Request, t: Target, body: bytes, opts: WriteOptions
) -> tuple[Stored | dict[str, Any], int, list[str]]:
    """Apply the configuration in ``body`` to the object ``t`` names; (result, HTTP status, warnings)."""
    params = request.query_params
    manager = params.get("fieldManager", "")
    if not manager:
        raise errors.invalid_error("PatchOptions", "meta.k8s.io", "", [
            errors.required("fieldManager", "is required for apply patch")])
    directive = validate_mode(params.get("fieldValidation", ""), "PatchOptions")
    force = _force(params)
    config = decode_apply_body(body)
    info = t.info
    _check_config(info, config)
    warnings = _apply_warnings(body, directive)
    return await apply_to_store(handler.rest, info, t.namespace, t.name, config, manager, force,
                                WriteOptions(dry_run=opts.dry_run, subresource=opts.subresource), warnings)


async def apply_to_store(
    rest: RestStore, info: ResourceInfo, namespace: str, name: str, config: dict[str, Any], manager: str,
    force: bool, opts: WriteOptions, warnings: list[str] | None = None,
) -> tuple[Stored | dict[str, Any], int, list[str]]:
    """The apply itself, for HTTP and in-process callers alike: create or merge, then the usual write."""
    warnings = warnings if warnings is not None else []
    schema = apply_schema_for(rest, info)
    status_fields = info.strategy.status_fields if info.strategy.has_status else ()
    write = WriteOptions(dry_run=opts.dry_run, field_manager="", subresource=opts.subresource)

    def run(live: dict[str, Any] | None) -> dict[str, Any]:
        try:
            result = apply_config(live, config, manager, info.group_version, schema, force=force,
                                  now=now_rfc3339(), subresource=opts.subresource, status_fields=status_fields)
        except ApplyTypeError as e:
            raise _type_error(info, namespace, name, e) from None
        return result.obj

    for _attempt in range(3):
        exists = await rest.store.get(info.store_key, f"{namespace}/{name}" if namespace else name)
        if exists is None:
            if opts.subresource:
                raise errors.not_found_error(info.plural, info.group, name)
            obj = run(None)
            meta = obj.setdefault("metadata", {})
            if meta.get("name") and meta["name"] != name:
                raise errors.bad_request(
                    f"the name of the object ({meta['name']}) does not match the name on the URL ({name})")
            meta["name"] = name
            try:
                out = await rest.create(info, namespace, obj, write)
            except errors.APIError as e:
                if e.code == 409 and e.reason == "AlreadyExists":
                    continue  # created meanwhile: apply to it
                raise
            return out, 201, warnings
        try:
            out = await rest.guaranteed_update(info, namespace, name, run, write)
        except errors.APIError as e:
            if e.code == 404 and not opts.subresource:
                continue  # deleted meanwhile: create it
            raise
        return out, 200, warnings
    raise errors.conflict(info.plural, info.group, name, errors.MODIFIED)
