"""Unknown and duplicate field detection for the ``fieldValidation`` query parameter.

kube-apiserver decodes a create/update body of a built-in kind with a strict JSON decoder
(sigs.k8s.io/json) into the Go type. Every JSON key the Go struct does not have becomes
``unknown field "spec.foo"``; every key seen twice in one object becomes ``duplicate field "x"``.
Paths join field names with "." and add ``[i]`` for list items; map keys are path elements too
(``data.x``). The decoder skips the value of an unknown field (nothing below it is reported), and
types with their own JSON decoding (RawExtension, FieldsV1, Quantity, IntOrString, Time, JSON) are
opaque. The messages are deduplicated and capped at 100, in document order.

We have the schema of the Go types (``facade.schemas``) rather than the types, and the body already
parsed by orjson (a dict, in which duplicates have collapsed). Why two paths:

- common path: count the keys of the parsed dict and compare with a count of the key-ending quotes
  in the raw bytes (one C-speed regex scan). Equal counts prove there is no duplicate, and the dict
  is then walked once against the schema for unknown fields.
- rare path: when the counts differ (a duplicate, or just a ``":`` inside a string value), the body
  is re-parsed keeping every (key, value) pair, and the same walk reports unknown and duplicate
  fields interleaved exactly as the Go decoder meets them.

YAML bodies: upstream first converts YAML strictly and reports goyaml's duplicate-key errors
(``line 3: key "a" already set in map``); those come first, as one error (one warning per line).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

import orjson

from facade import schemas
from facade.errors import APIError, invalid, invalid_error, not_supported
from storage.selectors import go_strconv_quote

IGNORE = "Ignore"
WARN = "Warn"
STRICT = "Strict"
ALLOWED_MODES = ("", IGNORE, STRICT, WARN)
"""What ValidateFieldValidation accepts, in the order its message lists them (a sorted set)."""

MAX_ERRORS = 100
"""sigs.k8s.io/json stops collecting strict errors after this many."""

_OPAQUE_REFS = frozenset(
    {
        "io.k8s.apimachinery.pkg.runtime.RawExtension",
        "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
        "io.k8s.apimachinery.pkg.api.resource.Quantity",
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
        "io.k8s.apimachinery.pkg.apis.meta.v1.Time",
        "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime",
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON",
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrArray",
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrBool",
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrStringArray",
    }
)
"""Types whose Go decoding is custom (UnmarshalJSON): the strict decoder does not look inside."""

# Shapes of schema nodes, cached by node identity (the definitions are loaded once).
_OPAQUE, _ANY, _STRUCT, _MAP, _ARRAY, _LEAF = range(6)
_shape_cache: dict[int, tuple[int, Any]] = {}


def _shape(node: dict[str, Any] | None) -> tuple[int, Any]:
    if node is None:
        return (_ANY, None)
    key = id(node)
    cached = _shape_cache.get(key)
    if cached is not None:
        return cached
    shape: tuple[int, Any]
    if schemas.ref_name(node) in _OPAQUE_REFS:
        shape = (_OPAQUE, None)
    else:
        r = schemas.resolve(node)
        if r.get("x-kubernetes-preserve-unknown-fields"):
            shape = (_ANY, None)
        elif isinstance(r.get("properties"), dict):
            shape = (_STRUCT, r["properties"])
        elif isinstance(r.get("additionalProperties"), dict):
            shape = (_MAP, r["additionalProperties"])
        elif isinstance(r.get("items"), dict):
            shape = (_ARRAY, r["items"])
        else:
            t = schemas.types(r)
            shape = (_ANY, None) if (not t or "object" in t or "array" in t) else (_LEAF, None)
    _shape_cache[key] = shape
    return shape


class _Pairs(list):
    """A JSON object as its (key, value) pairs, duplicates kept (the rare path)."""


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Collector:
    """Ordered, deduplicated, capped strict errors (sigs.k8s.io/json's saveStrictError)."""

    __slots__ = ("found", "check_duplicates")

    def __init__(self, check_duplicates: bool) -> None:
        self.found: dict[tuple[str, str], None] = {}
        self.check_duplicates = check_duplicates

    def add(self, kind: str, path: str) -> None:
        if len(self.found) < MAX_ERRORS:
            self.found.setdefault((kind, path), None)

    def paths(self) -> list[str]:
        return [path for _, path in self.found]

    def messages(self) -> list[str]:
        return [f"{kind} {go_strconv_quote(path)}" for kind, path in self.found]

    def walk(self, value: Any, node: dict[str, Any] | None, path: str) -> None:
        shape, sub = _shape(node)
        if shape == _LEAF or shape == _OPAQUE:
            return
        if shape == _STRUCT:
            items = _items(value)
            if items is None:
                return
            seen: set[str] | None = set() if self.check_duplicates else None
            for k, v in items:
                prop = sub.get(k)
                if prop is None:
                    self.add("unknown field", _child(path, k))
                    continue
                if seen is not None:
                    if k in seen:
                        self.add("duplicate field", _child(path, k))
                    seen.add(k)
                if isinstance(v, (dict, list)):
                    self.walk(v, prop, _child(path, k))
        elif shape == _MAP:
            items = _items(value)
            if items is None:
                return
            seen = set() if self.check_duplicates else None
            for k, v in items:
                if seen is not None:
                    if k in seen:
                        self.add("duplicate field", _child(path, k))
                    seen.add(k)
                if isinstance(v, (dict, list)):
                    self.walk(v, sub, _child(path, k))
        elif shape == _ARRAY:
            if type(value) is list:
                for i, v in enumerate(value):
                    if isinstance(v, (dict, list)):
                        self.walk(v, sub, f"{path}[{i}]")
        else:  # untyped: decoded into interface{}, where only duplicates are checked
            if not self.check_duplicates:
                return
            self.walk_any(value, path)

    def walk_any(self, value: Any, path: str) -> None:
        if type(value) is list:
            for i, v in enumerate(value):
                self.walk_any(v, f"{path}[{i}]")
            return
        items = _items(value)
        if items is None:
            return
        seen: set[str] = set()
        for k, v in items:
            if k in seen:
                self.add("duplicate field", _child(path, k))
            seen.add(k)
            self.walk_any(v, _child(path, k))


def _items(value: Any) -> Iterable[tuple[str, Any]] | None:
    if type(value) is dict:
        return value.items()
    if type(value) is _Pairs:
        return value
    return None


def _count_keys(value: Any) -> int:
    """Keys in every object of a parsed JSON tree."""
    n = 0
    stack = [value]
    pop, push = stack.pop, stack.append
    while stack:
        v = pop()
        if type(v) is dict:
            n += len(v)
            for x in v.values():
                if type(x) is dict or type(x) is list:
                    push(x)
        elif type(v) is list:
            for x in v:
                if type(x) is dict or type(x) is list:
                    push(x)
    return n


# A quote followed by optional whitespace and a colon ends every JSON key; inside strings a quote
# is always escaped, so only an escaped quote (or a string value starting with ":") can also match.
_KEY_END = re.compile(rb'"\s*:')
_ESCAPED_KEY_END = re.compile(rb'\\"\s*:')


def _may_have_duplicates(body: bytes, parsed: Any) -> bool:
    """False only when the raw body provably has no duplicate key (see the module docstring)."""
    if b'\\\\"' in body:  # an escaped backslash before a quote: escapes can no longer be told apart
        return True
    candidates = len(_KEY_END.findall(body))
    if b'\\"' in body:
        candidates -= len(_ESCAPED_KEY_END.findall(body))
    return candidates != _count_keys(parsed)


def _parse_pairs(body: bytes) -> Any:
    try:
        return json.loads(body, object_pairs_hook=_Pairs)
    except (ValueError, RecursionError):
        return None


def _is_json(body: bytes) -> bool:
    return body.lstrip()[:1] in (b"{", b"[")


def find_unknown_fields(obj: Any, schema: dict[str, Any] | None) -> list[str]:
    """Paths of the fields of ``obj`` that ``schema`` (a kind's definition) does not have.

    Paths are in the decoder's notation: ``spec.template.spec.containers[0].foo``.
    """
    if schema is None:
        return []
    c = _Collector(check_duplicates=False)
    c.walk(obj, schema, "")
    return c.paths()


def find_duplicate_fields(body: bytes, obj: Any = None) -> list[str]:
    """Paths of keys that appear twice in one object of a JSON body (``data.x``, ``metadata``).

    Schema-less (every object is checked, as for custom resources). ``obj`` is the body already
    parsed, when the caller has it: then the exact re-parse only happens when a cheap count cannot
    rule duplicates out. YAML bodies are handled by ``find_yaml_duplicate_errors``.
    """
    if obj is None:
        try:
            obj = orjson.loads(body)
        except orjson.JSONDecodeError:
            return []
    if not _may_have_duplicates(body, obj):
        return []
    pairs = _parse_pairs(body)
    if pairs is None:
        return []
    c = _Collector(check_duplicates=True)
    c.walk_any(pairs, "")
    return c.paths()


def _go_value(v: Any) -> str:
    """Go's %#v of a decoded YAML map key."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return go_strconv_quote(v)
    if v is None:
        return "<nil>"
    return str(v)


def find_yaml_duplicate_errors(body: bytes) -> list[str]:
    """goyaml's strict errors for duplicate map keys: ``line N: key "a" already set in map``.

    N is the line of the repeated key's value (goyaml reports the value node's line).
    """
    import yaml

    try:
        loader = yaml.SafeLoader(body)
        try:
            root = loader.get_single_node()
            out: list[str] = []
            _yaml_walk(loader, root, out)
            return out
        finally:
            loader.dispose()
    except yaml.YAMLError:
        return []


def _yaml_walk(loader: Any, node: Any, out: list[str], visited: set[int] | None = None) -> None:
    """Depth first in document order, each value before its key's duplicate check (as goyaml).

    A node reached again through an alias is not walked twice (no alias bombs, no cycles).
    """
    import yaml

    if visited is None:
        visited = set()
    if id(node) in visited:
        return
    visited.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for child in node.value:
            _yaml_walk(loader, child, out, visited)
        return
    if not isinstance(node, yaml.MappingNode):
        return
    keys: set[tuple[type, Any]] = set()
    for k, v in node.value:
        if k.tag == "tag:yaml.org,2002:merge":
            continue
        _yaml_walk(loader, v, out, visited)
        try:
            key = loader.construct_object(k, deep=True)
            marker = (type(key), key)
            hash(marker)
        except (yaml.YAMLError, TypeError):
            continue
        if marker in keys:
            out.append(f"line {v.start_mark.line + 1}: key {_go_value(key)} already set in map")
        else:
            keys.add(marker)


def strict_errors(body: bytes, obj: Any, schema: dict[str, Any] | None) -> list[str]:
    """Every strict decoding error of a create/update body, as upstream words and orders them.

    A YAML body's duplicate-key errors come first, as one multi-line error.
    """
    errors: list[str] = []
    if not _is_json(body):
        yaml_errors = find_yaml_duplicate_errors(body)
        if yaml_errors:
            errors.append("yaml: unmarshal errors:\n  " + "\n  ".join(yaml_errors))
        c = _Collector(check_duplicates=False)
        c.walk(obj, schema, "")
        return errors + c.messages()
    if _may_have_duplicates(body, obj):
        pairs = _parse_pairs(body)
        if pairs is not None:
            c = _Collector(check_duplicates=True)
            c.walk(pairs, schema, "")
            return c.messages()
    c = _Collector(check_duplicates=False)
    c.walk(obj, schema, "")
    return c.messages()


def strict_warnings(errors: list[str]) -> list[str]:
    """One warning per strict error; a goyaml error becomes one warning per line (parseYAMLWarnings)."""
    out: list[str] = []
    for e in errors:
        for prefix in ("yaml: unmarshal errors:\n", "error converting YAML to JSON: yaml: unmarshal errors:\n"):
            if e.startswith(prefix):
                out.extend(line.strip() for line in e[len(prefix) :].split("\n"))
                break
        else:
            out.append(e)
    return out


def strict_decoding_message(errors: list[str]) -> str:
    """runtime.NewStrictDecodingError(errs).Error()."""
    return "strict decoding error: " + ", ".join(errors)


def validate_mode(mode: str, options_kind: str = "CreateOptions") -> str:
    """The effective directive for a ``fieldValidation`` value ("" means Warn).

    An unknown value is a 422 on the options object, as ValidateCreateOptions (Update/Patch) says:
    ``CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "x": ...``.
    """
    if mode not in ALLOWED_MODES:
        raise invalid_error(options_kind, "meta.k8s.io", "", [not_supported("fieldValidation", mode, ALLOWED_MODES)])
    return mode or WARN


def strict_error(kind: str, version: str, errors: list[str]) -> APIError:
    """The 400 a create/update with fieldValidation=Strict gets (handlers.transformDecodeError)."""
    return APIError(
        400,
        "BadRequest",
        f"{kind} in version {go_strconv_quote(version)} cannot be handled as a {kind}: {strict_decoding_message(errors)}",
    )


def strict_patch_error(patched_json: str, errors: list[str]) -> APIError:
    """The 422 a JSON/merge patch with fieldValidation=Strict gets: the patched object is the value."""
    return invalid_error("", "", "", [invalid("patch", patched_json, strict_decoding_message(errors))])


def _version_of(obj: Any) -> str:
    api_version = obj.get("apiVersion") if isinstance(obj, dict) else None
    if not isinstance(api_version, str):
        return ""
    return api_version.rpartition("/")[2]


def check_fields(
    body: bytes,
    obj: Any,
    schema: dict[str, Any] | None,
    mode: str,
    kind: str,
    group: str,
    name: str,
    *,
    version: str = "",
    options_kind: str = "CreateOptions",
) -> list[str]:
    """Apply ``fieldValidation`` to a create/update body of ``kind``.

    Returns the warning texts for Warn (also the default, ""), nothing for Ignore, and raises
    for Strict exactly as kube-apiserver 1.32 does (400 BadRequest,
    ``Deployment in version "v1" cannot be handled as a Deployment: strict decoding error:
    unknown field "spec.foo"``). ``schema`` None (no schema known) checks duplicates only.
    ``group`` and ``name`` are accepted for symmetry with the other admission steps; upstream's
    messages name neither.
    """
    directive = validate_mode(mode, options_kind)
    if directive == IGNORE:
        return []
    errors = strict_errors(body, obj, schema)
    if not errors:
        return []
    if directive == WARN:
        return strict_warnings(errors)
    raise strict_error(kind, version or _version_of(obj), errors)


def prune_unknown_fields(obj: Any, schema: dict[str, Any] | None) -> None:
    """Drop, in place, every field the kind's schema does not have.

    What decoding into the Go type does for a built-in kind: an unknown field is reported (Warn) or
    refused (Strict) by ``check_fields``, and never stored.
    """
    shape, sub = _shape(schema)
    if shape == _STRUCT and isinstance(obj, dict):
        for k in [k for k in obj if k not in sub]:
            del obj[k]
        for k, v in obj.items():
            if isinstance(v, (dict, list)):
                prune_unknown_fields(v, sub[k])
    elif shape == _MAP and isinstance(obj, dict):
        for v in obj.values():
            if isinstance(v, (dict, list)):
                prune_unknown_fields(v, sub)
    elif shape == _ARRAY and type(obj) is list:
        for v in obj:
            if isinstance(v, (dict, list)):
                prune_unknown_fields(v, sub)
