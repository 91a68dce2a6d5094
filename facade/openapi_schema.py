"""Schema conversion for the OpenAPI documents: the package's JSON-schema ``$defs`` to Swagger 2.0
``definitions`` and to OpenAPI 3.0 ``components.schemas``, shaped the way kube-apiserver 1.32 serves them.

The source (facade/schemas.py) types every optional field ``[T, "null"]``, writes IntOrString and
Quantity as ``oneOf`` and pins ``apiVersion``/``kind`` with an ``enum``; none of that is in the real
documents, and gnostic (the protobuf form of v2 that kubectl reads) rejects keywords Swagger 2.0 does not
have. The v3 form wraps refs that carry siblings in ``allOf`` and marks value-typed structs with
``default: {}``, as kube-openapi does; kubectl explain and the v3 strategic-merge-patch meta walk that shape.

Custom resources enter through ``crd_definitions``: a CRD's structural schema becomes one more definition in
the same ``$defs`` style, so both converters treat built-in and custom kinds alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from facade import schemas

Node = dict[str, Any]

INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
LIST_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"

_SRC_REF = "#/$defs/"
V2_REF = "#/definitions/"
V3_REF = "#/components/schemas/"

# Keywords of a Swagger 2.0 Schema Object (gnostic's openapi_v2.Schema); anything else but x-* is dropped.
_V2_KEYWORDS = frozenset(
    {
        "$ref", "format", "title", "description", "default", "multipleOf", "maximum", "exclusiveMaximum",
        "minimum", "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems",
        "uniqueItems", "maxProperties", "minProperties", "required", "enum", "additionalProperties", "type",
        "items", "allOf", "properties", "discriminator", "readOnly", "xml", "externalDocs", "example",
    }
)  # fmt: skip

_INT_OR_STRING_DESCRIPTION = (
    "IntOrString is a type that can hold an int32 or a string.  When used in JSON or YAML marshalling and "
    "unmarshalling, it produces or consumes the inner type.  This allows you to have, for example, a JSON "
    "field that can accept a name or number."
)
_QUANTITY_DESCRIPTION = (
    "Quantity is a fixed-point representation of a number. It provides convenient marshaling/unmarshaling "
    "in JSON and YAML, in addition to String() and AsInt64() accessors.\n\nThe serialization format is:\n\n"
    "``` <quantity>        ::= <signedNumber><suffix>\n\n\t(Note that <suffix> may be empty, from the \"\" "
    "case in <decimalSI>.)\n\n<digit>           ::= 0 | 1 | ... | 9 <digits>          ::= <digit> | "
    "<digit><digits> <number>          ::= <digits> | <digits>.<digits> | <digits>. | .<digits> <sign>      "
    "      ::= \"+\" | \"-\" <signedNumber>    ::= <number> | <sign><number> <suffix>          ::= <binarySI> "
    "| <decimalExponent> | <decimalSI> <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei\n\n\t(International "
    "System of units; See: http://physics.nist.gov/cuu/Units/binary.html)\n\n<decimalSI>       ::= m | \"\" | "
    "k | M | G | T | P | E\n\n\t(Note that 1024 = 1Ki but 1000 = 1k; I didn't choose the capitalization.)\n\n"
    "<decimalExponent> ::= \"e\" <signedNumber> | \"E\" <signedNumber> ```\n\nNo matter which of the three "
    "exponent forms is used, no quantity may represent a number greater than 2^63-1 in magnitude, nor may it "
    "have more than 3 decimal places. Numbers larger or more precise will be capped or rounded up. (E.g.: "
    "0.1m will rounded up to 1m.) This may be extended in the future if we require larger or smaller "
    "quantities.\n\nWhen a Quantity is parsed from a string, it will remember the type of suffix it had, and "
    "will use the same type again when it is serialized.\n\nBefore serializing, Quantity will be put in "
    "\"canonical form\". This means that Exponent/suffix will be adjusted up or down (with a corresponding "
    "increase or decrease in Mantissa) such that:\n\n- No precision is lost - No fractional digits will be "
    "emitted - The exponent (or suffix) is as large as possible.\n\nThe sign will be omitted unless the "
    "number is negative.\n\nExamples:\n\n- 1.5 will be serialized as \"1500m\" - 1.5Gi will be serialized as "
    "\"1536Mi\"\n\nNote that the quantity will NEVER be internally represented by a floating point number. "
    "That is the whole point of this exercise.\n\nNon-canonical values will still parse as long as they are "
    "well formed, but will be re-emitted in their canonical form. (So always use canonical form, or don't "
    "diff.)\n\nThis format is intended to make it difficult to use these numbers without writing some sort of "
    "special handling code in the hopes that that will cause implementors to also use a fixed point "
    "implementation."
)

_ZERO = {"string": "", "integer": 0, "number": 0, "boolean": False}


def _target(ref: str) -> str:
    return ref[len(_SRC_REF):] if ref.startswith(_SRC_REF) else ref


def _single_type(t: Any) -> str | None:
    """``[T, "null"]`` -> ``T``; a plain string stays; None when no single type remains."""
    if isinstance(t, str):
        return None if t == "null" else t
    if isinstance(t, list):
        rest = [x for x in t if x != "null"]
        return rest[0] if len(rest) == 1 else None
    return None


def refs(node: Any) -> Iterable[str]:
    """Every definition name a node refers to, at any depth."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, dict):
            ref = n.get("$ref")
            if isinstance(ref, str):
                yield _target(ref)
            for k, v in n.items():
                if k in ("properties", "patternProperties", "definitions"):
                    stack.extend(v.values() if isinstance(v, dict) else ())  # names here are fields, not keywords
                elif k not in ("enum", "default", "example"):
                    stack.append(v)
        elif isinstance(n, list):
            stack.extend(n)


def closure(roots: Iterable[str], lookup: Mapping[str, Node]) -> list[str]:
    """The sorted names of ``roots`` and of everything they reach through refs."""
    seen: set[str] = set()
    todo = [r for r in roots if r in lookup]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(r for r in refs(lookup[name]) if r in lookup and r not in seen)
    return sorted(seen)


# ---------------------------------------------------------------------------------------------- v2


def _v2(node: Node) -> Node:
    out: Node = {}
    for k, v in node.items():
        if k == "$ref":
            out[k] = V2_REF + _target(v)
        elif k == "type":
            t = _single_type(v)
            if t:
                out[k] = t
        elif k == "properties":
            out[k] = {pk: _v2(pv) for pk, pv in v.items()}
        elif k in ("items", "additionalProperties"):
            out[k] = _v2(v) if isinstance(v, dict) else v
        elif k == "allOf":
            out[k] = [_v2(x) for x in v]
        elif k in _V2_KEYWORDS or k.startswith("x-"):
            out[k] = v
    return out


def v2_definition(name: str, node: Node) -> Node:
    """One Swagger 2.0 definition as kube-apiserver publishes it at /openapi/v2."""
    if name == INT_OR_STRING:
        return {"description": _INT_OR_STRING_DESCRIPTION, "format": "int-or-string", "type": "string"}
    if name == QUANTITY:
        return {"description": _QUANTITY_DESCRIPTION, "type": "string"}
    out = _v2(_unpin_type_meta(node))
    if "x-kubernetes-int-or-string" in node and "type" not in out:
        out.update(type="string", format="int-or-string")
    return out


# ---------------------------------------------------------------------------------------------- v3


def _v3(
    node: Node,
    lookup: Mapping[str, Node],
    *,
    value_struct: bool = False,
    required: bool = False,
    defaults: bool = True,
) -> Node:
    """Convert one schema node.

    ``value_struct`` marks a ref to a struct held by value and ``required`` a required scalar: with
    ``defaults`` (built-in kinds) they get the zero ``default`` kube-openapi derives from Go types.
    """
    out: Node = {}
    ref_name: str | None = None
    for k, v in node.items():
        if k == "$ref":
            ref_name = _target(v)
        elif k == "type":
            t = _single_type(v)
            if t:
                out[k] = t
        elif k == "properties":
            req = set(node.get("required") or ())
            out[k] = {pk: _v3_property(pk, pv, lookup, pk in req, defaults) for pk, pv in v.items()}
        elif k in ("items", "additionalProperties"):
            out[k] = _v3(v, lookup, value_struct=True, defaults=defaults) if isinstance(v, dict) else v
        elif k in ("allOf", "oneOf", "anyOf"):
            out[k] = [_v3(x, lookup, defaults=defaults) for x in v]
        elif k == "not":
            out[k] = _v3(v, lookup, defaults=defaults)
        else:
            out[k] = v
    if ref_name is None:
        t = out.get("type")
        # Go zero values: a required scalar field, and every scalar element of a slice or map.
        if defaults and (required or value_struct) and "default" not in out and t in _ZERO and "enum" not in out:
            out["default"] = _ZERO[t]
        return out
    if defaults and value_struct and lookup.get(ref_name) is not None:
        out.setdefault("default", {})
    ref = {"$ref": V3_REF + ref_name}
    if not out:
        return ref
    return {"allOf": [ref], **out}


# Fields every built-in kind holds by value: the object envelope and the timestamps of conditions.
_BY_VALUE = frozenset(
    {"metadata", "spec", "status", "creationTimestamp", "lastTransitionTime", "lastUpdateTime", "lastProbeTime",
     "lastHeartbeatTime"}
)  # fmt: skip


def _v3_property(name: str, node: Node, lookup: Mapping[str, Node], required: bool, defaults: bool) -> Node:
    # Which struct fields Go holds by value cannot be read from the JSON schemas; _BY_VALUE names the
    # ones that are by value throughout the built-in kinds.
    by_value = name in _BY_VALUE or (required and name == "template")
    return _v3(node, lookup, value_struct=by_value, required=required, defaults=defaults)


def v3_component(name: str, node: Node, lookup: Mapping[str, Node], *, builtin: bool = True) -> Node:
    """One ``components.schemas`` entry as kube-apiserver publishes it under /openapi/v3.

    ``builtin`` False (custom resources) skips the Go-derived zero defaults a CRD schema never has.
    """
    if name == INT_OR_STRING:
        return {
            "description": _INT_OR_STRING_DESCRIPTION,
            "format": "int-or-string",
            "oneOf": [{"type": "integer"}, {"type": "string"}],
        }
    if name == QUANTITY:
        return {"description": _QUANTITY_DESCRIPTION, "oneOf": [{"type": "string"}, {"type": "number"}]}
    return _v3(_unpin_type_meta(node), lookup, defaults=builtin)


def _unpin_type_meta(node: Node) -> Node:
    """Drop the ``enum`` the package adds to a kind's apiVersion and kind (the real documents have none)."""
    props = node.get("properties")
    if not props or "x-kubernetes-group-version-kind" not in node:
        return node
    fixed = dict(props)
    for key in ("apiVersion", "kind"):
        if isinstance(fixed.get(key), dict) and "enum" in fixed[key]:
            fixed[key] = {k: v for k, v in fixed[key].items() if k != "enum"}
    return {**node, "properties": fixed}


# ------------------------------------------------------------------------------------------ CRDs


def crd_definition_name(group: str, version: str, kind: str) -> str:
    """``stable.example.com``/v1/CronTab -> ``com.example.stable.v1.CronTab``, as the apiextensions server names it."""
    return ".".join([*reversed(group.split(".")), version, kind])


_TYPE_META = {
    "apiVersion": {
        "description": "APIVersion defines the versioned schema of this representation of an object. Servers "
        "should convert recognized schemas to the latest internal value, and may reject unrecognized values. "
        "More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources",
        "type": "string",
    },
    "kind": {
        "description": "Kind is a string value representing the REST resource this object represents. Servers may "
        "infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: "
        "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
        "type": "string",
    },
}


def _crd_openapi_schema(crd: Node | None) -> Node:
    """Accept either the openAPIV3Schema itself or a dict holding it (``{"openAPIV3Schema": ...}``)."""
    if not crd:
        return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    inner = crd.get("openAPIV3Schema")
    if isinstance(inner, dict):
        return inner
    schema = crd.get("schema")
    if isinstance(schema, dict) and isinstance(schema.get("openAPIV3Schema"), dict):
        return schema["openAPIV3Schema"]
    return crd


def crd_definitions(group: str, version: str, kind: str, crd: Node | None) -> dict[str, Node]:
    """The kind and its list as definitions in the ``$defs`` style of facade/schemas.py.

    ``crd`` is the version's ``openAPIV3Schema`` (what ResourceInfo.crd holds for custom resources).
    metadata is replaced by a ref to ObjectMeta, as the apiextensions server publishes it.
    """
    name = crd_definition_name(group, version, kind)
    schema = dict(_crd_openapi_schema(crd))
    props = dict(schema.get("properties") or {})
    props.update(_TYPE_META)
    props["metadata"] = {
        "$ref": _SRC_REF + OBJECT_META,
        "description": "Standard object's metadata. More info: "
        "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
    }
    schema["properties"] = props
    schema.setdefault("type", "object")
    schema["x-kubernetes-group-version-kind"] = [{"group": group, "kind": kind, "version": version}]
    list_kind = kind + "List"
    listing = {
        "description": f"{list_kind} is a list of {kind}",
        "properties": {
            **_TYPE_META,
            "items": {
                "description": f"List of {kind.lower()}s. More info: "
                "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md",
                "items": {"$ref": _SRC_REF + name},
                "type": "array",
            },
            "metadata": {
                "$ref": _SRC_REF + LIST_META,
                "description": "Standard list metadata. More info: "
                "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
            },
        },
        "required": ["items"],
        "type": "object",
        "x-kubernetes-group-version-kind": [{"group": group, "kind": list_kind, "version": version}],
    }
    return {name: schema, crd_definition_name(group, version, list_kind): listing}


def builtin_lookup() -> Mapping[str, Node]:
    return schemas.definitions()
