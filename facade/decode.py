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


def _walk(value: Any, node: schemas.Node | None, struct: str, path: list[str]) -> None:
    if node is None or value is None:
        return
    name = schemas.ref_name(node)
    if name in _OPAQUE:
        return
    if name in _STRINGISH:
        if not isinstance(value, str):
            raise _TypeError(value, struct, path, _STRINGISH[name])
        return
    if name == "io.k8s.apimachinery.pkg.util.intstr.IntOrString":
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise _TypeError(value, struct, path, "intstr.IntOrString")
        return
    if name == "io.k8s.apimachinery.pkg.api.resource.Quantity":
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise _TypeError(value, struct, path, "resource.Quantity")
        return
    r = schemas.resolve(node)
    if r.get("x-kubernetes-preserve-unknown-fields"):
        return
    props = r.get("properties")
    if isinstance(props, dict):
        if not isinstance(value, dict):
            raise _TypeError(value, struct, path, _go_type(node))
        inner = _short(name)[1] if name else struct
        for k in [k for k, v in value.items() if k not in props or v is None]:
            del value[k]  # unknown fields are dropped; null decodes to the zero value, which is omitted
        for k, v in value.items():
            _walk(v, props[k], inner, [*path, k])
        return
    extra = r.get("additionalProperties")
    if isinstance(extra, dict):
        if not isinstance(value, dict):
            raise _TypeError(value, struct, path, _go_type(node))
        for k, v in value.items():
            _walk(v, extra, struct, [*path, k])
        return
    t = schemas.types(r)
    if not t:
        return
    if "array" in t:
        if not isinstance(value, list):
            raise _TypeError(value, struct, path, _go_type(node))
        it = schemas.items(r)
        for v in value:
            _walk(v, it, struct, path)
        return
    if "integer" in t:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _TypeError(value, struct, path, _go_type(node))
        if isinstance(value, float) and not value.is_integer():
            raise _TypeError(value, struct, path, _go_type(node))
        return
    if "number" in t:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _TypeError(value, struct, path, _go_type(node))
        return
    if "boolean" in t and not isinstance(value, bool):
        raise _TypeError(value, struct, path, "bool")
    if "string" in t and not isinstance(value, str):
        raise _TypeError(value, struct, path, _go_type(node))


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
