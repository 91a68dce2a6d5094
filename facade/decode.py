"""Decoding a built-in kind's JSON as kube-apiserver's Go decoder does: types checked, unknown fields dropped.

A value of the wrong JSON type is a 400 BadRequest with encoding/json's message, e.g.
``ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal number into Go
struct field ObjectMeta.metadata.name of type string``. Fields the schema does not have are dropped
(``fieldValidation`` reports them separately). One walk does both, guided by ``facade.schemas``;
strategies can then trust the types they read.
"""

from __future__ import annotations

from typing import Any

from facade import errors, schemas

_OPAQUE = {
    "io.k8s.apimachinery.pkg.runtime.RawExtension",
    "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrArray",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrBool",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrStringArray",
}
_STRINGISH = {
    "io.k8s.apimachinery.pkg.apis.meta.v1.Time": "v1.Time",
    "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime": "v1.MicroTime",
}


class _TypeError(Exception):
    def __init__(self, value: Any, struct: str, path: list[str], go_type: str) -> None:
        self.value, self.struct, self.path, self.go_type = value, struct, path, go_type


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _short(def_name: str) -> tuple[str, str]:
    """("v1.ObjectMeta", "ObjectMeta") for a definition name."""
    parts = def_name.split(".")
    return f"{parts[-2]}.{parts[-1]}", parts[-1]


def _go_type(node: schemas.Node) -> str:
    name = schemas.ref_name(node)
    if name:
        if name == "io.k8s.apimachinery.pkg.util.intstr.IntOrString":
            return "intstr.IntOrString"
        if name == "io.k8s.apimachinery.pkg.api.resource.Quantity":
            return "resource.Quantity"
        return _short(name)[0]
    r = schemas.resolve(node)
    t = schemas.types(r)
    fmt = r.get("format", "")
    if "integer" in t:
        return fmt if fmt in ("int32", "int64") else "int"
    if "number" in t:
        return "float64"
    if "boolean" in t:
        return "bool"
    if "string" in t:
        return "[]uint8" if fmt == "byte" else "string"
    if "array" in t:
        it = schemas.items(r)
        return "[]" + (_go_type(it) if it else "interface {}")
    if isinstance(r.get("additionalProperties"), dict):
        return "map[string]" + _go_type(r["additionalProperties"])
    return "interface {}"


# What the walk does at a schema node, computed once per node (the schemas are loaded once).
_SKIP, _STRING, _INTSTR, _QUANTITY, _STRUCT, _MAP, _ARRAY, _INT, _NUMBER, _BOOL, _STR = range(11)
_plans: dict[int, tuple[int, Any, str]] = {}


def _plan(node: schemas.Node) -> tuple[int, Any, str]:
    """(action, detail, Go type name) for a schema node."""
    key = id(node)
    plan = _plans.get(key)
    if plan is not None:
        return plan
    name = schemas.ref_name(node)
    r = schemas.resolve(node)
    t = schemas.types(r)
    if name in _OPAQUE or r.get("x-kubernetes-preserve-unknown-fields"):
        plan = (_SKIP, None, "")
    elif name in _STRINGISH:
        plan = (_STRING, None, _STRINGISH[name])
    elif name == "io.k8s.apimachinery.pkg.util.intstr.IntOrString":
        plan = (_INTSTR, None, "intstr.IntOrString")
    elif name == "io.k8s.apimachinery.pkg.api.resource.Quantity":
        plan = (_QUANTITY, None, "resource.Quantity")
    elif isinstance(r.get("properties"), dict):
        plan = (_STRUCT, (r["properties"], _short(name)[1] if name else ""), _go_type(node))
    elif isinstance(r.get("additionalProperties"), dict):
        plan = (_MAP, r["additionalProperties"], _go_type(node))
    elif not t:
        plan = (_SKIP, None, "")
    elif "array" in t:
        plan = (_ARRAY, schemas.items(r), _go_type(node))
    elif "integer" in t:
        plan = (_INT, None, _go_type(node))
    elif "number" in t:
        plan = (_NUMBER, None, _go_type(node))
    elif "boolean" in t:
        plan = (_BOOL, None, "bool")
    elif "string" in t:
        plan = (_STR, None, _go_type(node))
    else:
        plan = (_SKIP, None, "")
    _plans[key] = plan
    return plan


def _walk(value: Any, node: schemas.Node | None, struct: str, path: list[str]) -> None:
    if node is None or value is None:
        return
    action, detail, go_type = _plan(node)
    if action == _STR:
        if value.__class__ is not str:
            raise _TypeError(value, struct, path, go_type)
    elif action == _STRUCT:
        if value.__class__ is not dict:
            raise _TypeError(value, struct, path, go_type)
        props, inner = detail
        inner = inner or struct
        drop = [k for k, v in value.items() if v is None or k not in props]
        for k in drop:
            del value[k]  # unknown fields are dropped; null decodes to the zero value, which is omitted
        for k, v in value.items():
            if v.__class__ in _SCALARS and _plan(props[k])[0] == _STR:
                if v.__class__ is not str:
                    raise _TypeError(v, inner, [*path, k], "string")
                continue
            _walk(v, props[k], inner, [*path, k])
    elif action == _MAP:
        if value.__class__ is not dict:
            raise _TypeError(value, struct, path, go_type)
        sub_action = _plan(detail)[0]
        if sub_action == _STR:
            for v in value.values():
                if v is not None and v.__class__ is not str:
                    raise _TypeError(v, struct, path, "string")  # Go names the map field, not the key
            return
        for v in value.values():
            _walk(v, detail, struct, path)
    elif action == _ARRAY:
        if value.__class__ is not list:
            raise _TypeError(value, struct, path, go_type)
        for v in value:
            _walk(v, detail, struct, path)
    elif action == _INT:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            isinstance(value, float) and not value.is_integer()
        ):
            raise _TypeError(value, struct, path, go_type)
    elif action == _NUMBER:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _TypeError(value, struct, path, go_type)
    elif action == _BOOL:
        if value.__class__ is not bool:
            raise _TypeError(value, struct, path, "bool")
    elif action == _STRING:
        if value.__class__ is not str:
            raise _TypeError(value, struct, path, go_type)
    elif action == _INTSTR:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise _TypeError(value, struct, path, go_type)
    elif action == _QUANTITY:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise _TypeError(value, struct, path, go_type)


_SCALARS = (str, int, float, bool)


def decode_object(obj: dict[str, Any], schema: schemas.Node, kind: str, version: str) -> None:
    """Check the types of ``obj`` against its kind's schema and drop unknown fields, in place."""
    try:
        _walk(obj, schema, kind, [])
    except _TypeError as e:
        what = _json_kind(e.value)
        if what == "number" and isinstance(e.value, float) and not e.value.is_integer():
            what = f"number {e.value:g}"
        field = ".".join(e.path)
        raise errors.bad_request(
            f'{kind} in version "{version}" cannot be handled as a {kind}: json: cannot unmarshal {what} into '
            f"Go struct field {e.struct}.{field} of type {e.go_type}"
        ) from None
