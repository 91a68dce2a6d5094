"""A CRD version's structural schema applied to custom resources: null pruning, defaults, pruning, validation.

Custom resources have no Go type, so the schema in the CRD is what decoding, defaulting and validation
follow. kube-apiextensions does these steps in this order on every write, and so do we:

1. nulls of non-nullable fields without a default are dropped (``PruneNonNullableNullsWithoutDefaults``);
2. ``default`` values fill missing fields, top-down (a defaulted object is defaulted inside too);
3. fields the schema does not know are pruned, except under ``x-kubernetes-preserve-unknown-fields``
   and the ``apiVersion``/``kind``/``metadata`` of the root and of embedded resources;
4. the object is validated the way kube-openapi's SchemaValidator does it, and its errors are turned
   into field errors as apiextensions' ``kubeOpenAPIResultToFieldErrors`` does: type errors keep the
   ``<path> in body must be of type <t>: "<actual>"`` text, ``required`` becomes ``Required value``,
   ``enum`` becomes ``Unsupported value``, ``maxLength`` ``Too long`` and ``maxItems`` ``Too many``;
   every other failure is ``Invalid value`` with kube-openapi's own sentence.

Validation walks the schema with the data in one pass (no compiled form), which keeps a 200-property
CRD cheap to install; a write costs one walk over the object.
"""

from __future__ import annotations

import copy
import math
import re
from typing import Any

import orjson

from facade.errors import FieldError, duplicate, invalid, not_supported, required, too_many

Node = dict[str, Any]
Obj = dict[str, Any]

_ROOT_KEEP = ("apiVersion", "kind", "metadata")


def json_type(value: Any) -> str:
    """The JSON type name kube-openapi reports for a decoded value (``schemaInfoForType``)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def go_number(value: float | int) -> str:
    """Go's ``%v`` of a float64 (the schema's bounds are float64s): 10, 1.5, 1e+21, 1e-05."""
    f = float(value)
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if f.is_integer() and abs(f) < 1e21:
        return str(int(f))
    text = repr(f)
    if "e" in text:
        mant, _, exp_s = text.partition("e")
        exp_i = int(exp_s)
        return f"{mant}e{'+' if exp_i >= 0 else '-'}{abs(exp_i):02d}"
    return text


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and value.is_integer()


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# -------------------------------------------------------------------------------- nulls and defaults


def drop_nulls(value: Any, schema: Node | None) -> None:
    """Remove nulls of non-nullable fields that have no default (they then get their default or nothing)."""
    if not isinstance(schema, dict):
        return
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        for k in list(value):
            v = value[k]
            sub = props.get(k)
            if sub is None and isinstance(additional, dict):
                sub = additional
            if sub is None:
                continue
            if v is None:
                if not sub.get("nullable") and "default" not in sub:
                    del value[k]
            else:
                drop_nulls(v, sub)
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            if not items.get("nullable") and "default" not in items and any(v is None for v in value):
                value[:] = [v for v in value if v is not None]
            for v in value:
                drop_nulls(v, items)


def apply_defaults(value: Any, schema: Node | None) -> None:
    """Fill missing (or null, where not nullable) fields with the schema's defaults, top-down."""
    if not isinstance(schema, dict):
        return
    if isinstance(value, dict):
        props = schema.get("properties")
        if props:
            for k, sub in props.items():
                if isinstance(sub, dict) and "default" in sub:
                    if k not in value or (value[k] is None and not sub.get("nullable")):
                        value[k] = copy.deepcopy(sub["default"])
        additional = schema.get("additionalProperties")
        for k, v in value.items():
            sub = props.get(k) if props else None
            if sub is None and isinstance(additional, dict):
                sub = additional
            if sub is not None and isinstance(v, (dict, list)):
                apply_defaults(v, sub)
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for i, v in enumerate(value):
                if v is None and "default" in items and not items.get("nullable"):
                    value[i] = copy.deepcopy(items["default"])
                elif isinstance(v, (dict, list)):
                    apply_defaults(v, items)


# ------------------------------------------------------------------------------------------- pruning


def prune(value: Any, schema: Node | None, path: str = "", root: bool = True) -> list[str]:
    """Drop the fields the schema does not specify; returns their paths (``spec.foo``) for fieldValidation."""
    pruned: list[str] = []
    _prune(value, schema, path, root, pruned)
    return pruned


def _prune(value: Any, schema: Node | None, path: str, root: bool, pruned: list[str]) -> None:
    if not isinstance(schema, dict):
        return
    if isinstance(value, dict):
        if schema.get("x-kubernetes-int-or-string"):
            return
        props = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
        embedded = bool(schema.get("x-kubernetes-embedded-resource"))
        for k in list(value):
            sub = props.get(k)
            if (root or embedded) and k in _ROOT_KEEP:
                if k == "metadata" or sub is None:
                    continue
            if sub is None:
                if isinstance(additional, dict):
                    sub = additional
                elif additional is True or preserve:
                    continue
                else:
                    pruned.append(_child(path, k))
                    del value[k]
                    continue
            _prune(value[k], sub, _child(path, k), False, pruned)
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for i, v in enumerate(value):
                _prune(v, items, f"{path}[{i}]", False, pruned)


# ----------------------------------------------------------------------------------------- validation


def _type_error(path: str, expected: str, actual: str) -> FieldError:
    return FieldError("FieldValueTypeInvalid", path, actual, f"{path} in body must be of type {expected}: \"{actual}\"")


def _too_long(path: str, max_length: int) -> FieldError:
    return FieldError("FieldValueTooLong", path, "", f"may not be more than {max_length} bytes")


def _enum_values(values: list[Any]) -> list[str]:
    return [v if isinstance(v, str) else orjson.dumps(v).decode() for v in values]


_PATTERNS: dict[str, re.Pattern[str] | None] = {}


def _pattern(p: str) -> re.Pattern[str] | None:
    try:
        return _PATTERNS[p]
    except KeyError:
        try:
            compiled: re.Pattern[str] | None = re.compile(p)
        except re.error:
            compiled = None
        _PATTERNS[p] = compiled
        return compiled


def validate(value: Any, schema: Node | None, path: str = "") -> list[FieldError]:
    """kube-openapi's SchemaValidator over ``value``, as field errors with upstream's paths and messages."""
    errs: list[FieldError] = []
    if isinstance(schema, dict):
        _validate(value, schema, path, errs, root=True)
    return errs


def _expected_types(schema: Node) -> list[str]:
    if schema.get("x-kubernetes-int-or-string"):
        return ["integer", "string"]
    t = schema.get("type")
    return [t] if t else []


def _validate(value: Any, schema: Node, path: str, errs: list[FieldError], root: bool = False) -> None:
    types = _expected_types(schema)
    if value is None:
        if types and not schema.get("nullable"):
            errs.append(FieldError("FieldValueTypeInvalid", path, "null",
                                   f"{path} in body must be of type {','.join(types)}: \"null\""))
        if "enum" in schema and None not in schema["enum"] and not schema.get("nullable"):
            errs.append(not_supported(path, None, _enum_values(schema["enum"])))
        return
    actual = json_type(value)
    if types and actual not in types:
        if not (actual == "number" and "integer" in types and _is_integer(value)) and not (
            actual == "integer" and "number" in types
        ):
            errs.append(_type_error(path, ",".join(types), actual))
            return
    for sub in schema.get("allOf") or []:
        if isinstance(sub, dict):
            _validate(value, sub, path, errs)
    _any_one_not(value, schema, path, errs)
    if isinstance(value, str):
        max_length = schema.get("maxLength")
        if max_length is not None and len(value) > max_length:
            errs.append(_too_long(path, int(max_length)))
        min_length = schema.get("minLength")
        if min_length is not None and len(value) < min_length:
            errs.append(invalid(path, value, f"{path} in body should be at least {int(min_length)} chars long"))
        pattern = schema.get("pattern")
        if pattern:
            rx = _pattern(pattern)
            if rx is not None and rx.search(value) is None:
                errs.append(invalid(path, value, f"{path} in body should match '{pattern}'"))
    elif actual in ("integer", "number"):
        _validate_number(value, schema, path, errs)
    elif isinstance(value, list):
        _validate_array(value, schema, path, errs)
    if "enum" in schema and schema["enum"] is not None:
        if not any(_json_equal(value, e) for e in schema["enum"]):
            errs.append(not_supported(path, value, _enum_values(schema["enum"])))
    if isinstance(value, dict):
        _validate_object(value, schema, path, errs, root)


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)


def _any_one_not(value: Any, schema: Node, path: str, errs: list[FieldError]) -> None:
    any_of = schema.get("anyOf")
    if any_of:
        if not any(not validate_at(value, s, path) for s in any_of if isinstance(s, dict)):
            errs.append(invalid(path, "", f'"{path}" must validate at least one schema (anyOf)'))
    one_of = schema.get("oneOf")
    if one_of:
        ok = sum(1 for s in one_of if isinstance(s, dict) and not validate_at(value, s, path))
        if ok != 1:
            errs.append(invalid(path, "", f'"{path}" must validate one and only one schema (oneOf)'))
    not_schema = schema.get("not")
    if isinstance(not_schema, dict) and not validate_at(value, not_schema, path):
        errs.append(invalid(path, "", f'"{path}" must not validate the schema (not)'))


def validate_at(value: Any, schema: Node, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    _validate(value, schema, path, errs)
    return errs


def _validate_number(value: int | float, schema: Node, path: str, errs: list[FieldError]) -> None:
    multiple = schema.get("multipleOf")
    if multiple:
        q = value / multiple
        if not float(q).is_integer():
            errs.append(invalid(path, value, f"{path} in body should be a multiple of {go_number(multiple)}"))
    maximum = schema.get("maximum")
    if maximum is not None:
        exclusive = bool(schema.get("exclusiveMaximum"))
        if value > maximum or (exclusive and value == maximum):
            word = "less than" if exclusive else "less than or equal to"
            errs.append(invalid(path, value, f"{path} in body should be {word} {go_number(maximum)}"))
    minimum = schema.get("minimum")
    if minimum is not None:
        exclusive = bool(schema.get("exclusiveMinimum"))
        if value < minimum or (exclusive and value == minimum):
            word = "greater than" if exclusive else "greater than or equal to"
            errs.append(invalid(path, value, f"{path} in body should be {word} {go_number(minimum)}"))


def _validate_array(value: list[Any], schema: Node, path: str, errs: list[FieldError]) -> None:
    items = schema.get("items")
    if isinstance(items, dict):
        for i, v in enumerate(value):
            _validate(v, items, f"{path}[{i}]", errs)
    min_items = schema.get("minItems")
    if min_items is not None and len(value) < min_items:
        errs.append(invalid(path, len(value), f"{path} in body should have at least {int(min_items)} items"))
    max_items = schema.get("maxItems")
    if max_items is not None and len(value) > max_items:
        errs.append(too_many(path, len(value), int(max_items)))
    if schema.get("uniqueItems"):
        seen: set[bytes] = set()
        for v in value:
            key = orjson.dumps(v, option=orjson.OPT_SORT_KEYS)
            if key in seen:
                errs.append(invalid(path, "", f"{path} in body shouldn't contain duplicates"))
                break
            seen.add(key)


def _validate_object(value: Obj, schema: Node, path: str, errs: list[FieldError], root: bool) -> None:
    n = len(value)
    min_props = schema.get("minProperties")
    if min_props is not None and n < min_props:
        errs.append(invalid(path, n, f"{path} in body should have at least {int(min_props)} properties"))
    max_props = schema.get("maxProperties")
    if max_props is not None and n > max_props:
        errs.append(too_many(path, n, int(max_props)))
    props = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    if isinstance(additional, dict):
        for k, v in value.items():
            if k not in props:
                _validate(v, additional, _child(path, k), errs)
    for k, sub in props.items():
        if k in value and isinstance(sub, dict):
            if root and k == "metadata":
                _validate_root_metadata(value[k], sub, errs)
                continue
            _validate(value[k], sub, _child(path, k), errs)
    for k in schema.get("required") or []:
        if k not in value:
            errs.append(required(_child(path, k), ""))


def _validate_root_metadata(meta: Any, schema: Node, errs: list[FieldError]) -> None:
    """Only name and generateName of the root metadata may carry constraints; the rest is ObjectMeta."""
    if not isinstance(meta, dict):
        return
    for k in ("name", "generateName"):
        sub = (schema.get("properties") or {}).get(k)
        if isinstance(sub, dict) and k in meta:
            _validate(meta[k], sub, f"metadata.{k}", errs)


# ------------------------------------------------------------------------ list types, embedded objects


def validate_list_types(value: Any, schema: Node | None, path: str = "") -> list[FieldError]:
    """``x-kubernetes-list-type`` set and map: no duplicate items / keys (structurallisttype)."""
    errs: list[FieldError] = []
    _list_types(value, schema, path, errs)
    return errs


def go_map_key(keys: dict[str, Any]) -> str:
    """``%#v`` of the ``map[string]interface {}`` upstream reports for a duplicate list-map key."""
    parts = []
    for k in sorted(keys):
        v = keys[k]
        if isinstance(v, bool):
            text = "true" if v else "false"
        elif isinstance(v, int):
            text = str(v)
        elif isinstance(v, float):
            text = go_number(v)
        elif v is None:
            text = "interface {}(nil)"
        else:
            text = orjson.dumps(v).decode()
        parts.append(f"{orjson.dumps(k).decode()}:{text}")
    return "map[string]interface {}{" + ", ".join(parts) + "}"


def _list_types(value: Any, schema: Node | None, path: str, errs: list[FieldError]) -> None:
    if not isinstance(schema, dict):
        return
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        for k, v in value.items():
            sub = props.get(k)
            if sub is None and isinstance(additional, dict):
                sub = additional
            if isinstance(v, (dict, list)):
                _list_types(v, sub, _child(path, k), errs)
    elif isinstance(value, list):
        list_type = schema.get("x-kubernetes-list-type")
        if list_type == "set":
            seen: set[bytes] = set()
            for i, v in enumerate(value):
                key = orjson.dumps(v, option=orjson.OPT_SORT_KEYS)
                if key in seen:
                    errs.append(duplicate(f"{path}[{i}]", v))
                seen.add(key)
        elif list_type == "map":
            keys = schema.get("x-kubernetes-list-map-keys") or []
            seen_keys: set[bytes] = set()
            for i, v in enumerate(value):
                if not isinstance(v, dict):
                    continue
                k = {name: v.get(name) for name in keys if name in v}
                key = orjson.dumps(k, option=orjson.OPT_SORT_KEYS)
                if key in seen_keys:
                    errs.append(FieldError("FieldValueDuplicate", f"{path}[{i}]", detail=go_map_key(k)))
                seen_keys.add(key)
        items = schema.get("items")
        for i, v in enumerate(value):
            if isinstance(v, (dict, list)):
                _list_types(v, items, f"{path}[{i}]", errs)


def validate_embedded(value: Any, schema: Node | None, path: str = "") -> list[FieldError]:
    """``x-kubernetes-embedded-resource`` objects need apiVersion and kind (schemaobjectmeta.Validate)."""
    errs: list[FieldError] = []
    _embedded(value, schema, path, errs)
    return errs


def _embedded(value: Any, schema: Node | None, path: str, errs: list[FieldError]) -> None:
    if not isinstance(schema, dict):
        return
    if isinstance(value, dict):
        if schema.get("x-kubernetes-embedded-resource"):
            if not value.get("apiVersion"):
                errs.append(required(_child(path, "apiVersion"), "must not be empty"))
            if not value.get("kind"):
                errs.append(required(_child(path, "kind"), "must not be empty"))
            meta = value.get("metadata")
            if meta is not None and not isinstance(meta, dict):
                errs.append(invalid(_child(path, "metadata"), meta, "must be an object"))
        props = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        for k, v in value.items():
            sub = props.get(k)
            if sub is None and isinstance(additional, dict):
                sub = additional
            if isinstance(v, (dict, list)):
                _embedded(v, sub, _child(path, k), errs)
    elif isinstance(value, list):
        items = schema.get("items")
        for i, v in enumerate(value):
            if isinstance(v, (dict, list)):
                _embedded(v, items, f"{path}[{i}]", errs)
