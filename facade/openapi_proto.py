"""The Swagger 2.0 document in gnostic's protobuf form (``openapi.v2.Document``), which kubectl requires.

client-go asks /openapi/v2 only for ``application/com.github.proto-openapi.spec.v2@v1.0+protobuf`` and
unmarshals the answer as protobuf: a JSON answer fails to parse and a 406 sends it to the long-gone
/swagger-2.0.0.pb-v1. kubectl needs that document for client-side validation whenever server-side
field validation cannot be confirmed (every ``kind: List`` file that ``kubectl apply -f`` reads), for
``kubectl explain --output=plaintext-openapiv2``, and as apply's patch-type fallback.

Only the wire format is needed, not a protobuf runtime: this module writes the messages of gnostic's
OpenAPIv2.proto by hand from the same dict that becomes the JSON document. Field numbers are those of
that .proto; values gnostic keeps as YAML text (vendor extensions, ``default``, ``enum``, ``example``)
are written as YAML (JSON-style flow, which every YAML parser reads).
"""

from __future__ import annotations

import struct
from typing import Any

import orjson

Node = dict[str, Any]


# ------------------------------------------------------------------------------------ wire format


def _varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _key(num: int, wire: int) -> bytes:
    return _varint((num << 3) | wire)


def _bytes(num: int, data: bytes) -> bytes:
    return _key(num, 2) + _varint(len(data)) + data


def _str(num: int, s: str | None) -> bytes:
    if not s:
        return b""  # proto3: empty strings are not written
    return _bytes(num, s.encode())


def _msg(num: int, data: bytes) -> bytes:
    """An embedded message; present even when empty (presence matters for oneofs and optional messages)."""
    return _bytes(num, data)


def _bool(num: int, v: Any) -> bytes:
    return _key(num, 0) + b"\x01" if v else b""


def _int(num: int, v: Any) -> bytes:
    return _key(num, 0) + _varint(int(v)) if v else b""


def _double(num: int, v: Any) -> bytes:
    return _key(num, 1) + struct.pack("<d", float(v)) if v else b""


def _strings(num: int, values: Any) -> bytes:
    if isinstance(values, str):
        values = [values]
    return b"".join(_bytes(num, v.encode()) for v in values or ())


# ------------------------------------------------------------------------------------ YAML values


def _yaml(value: Any) -> str:
    """A value as YAML text. Scalars plain where unambiguous, everything else in JSON flow style."""
    if isinstance(value, str) and value and value.isascii() and value.replace("-", "").replace("_", "").isalnum():
        if value.lower() not in ("true", "false", "null", "yes", "no", "on", "off", "y", "n", "~") and not (
            value[0].isdigit() or value[0] == "-"
        ):
            return value + "\n"
    return orjson.dumps(value).decode() + "\n"


def _any(value: Any) -> bytes:
    """openapi.v2.Any {google.protobuf.Any value = 1; string yaml = 2;}"""
    return _str(2, _yaml(value))


def _named_any(num: int, name: str, value: Any) -> bytes:
    """NamedAny {string name = 1; Any value = 2;}"""
    return _msg(num, _str(1, name) + _msg(2, _any(value)))


def _extensions(num: int, node: Node) -> bytes:
    return b"".join(_named_any(num, k, v) for k, v in node.items() if k.startswith("x-"))


# ------------------------------------------------------------------------------------ messages


def _schema(s: Node) -> bytes:
    """openapi.v2.Schema."""
    out = bytearray()
    out += _str(1, s.get("$ref"))
    out += _str(2, s.get("format"))
    out += _str(3, s.get("title"))
    out += _str(4, s.get("description"))
    if "default" in s:
        out += _msg(5, _any(s["default"]))
    out += _double(6, s.get("multipleOf"))
    out += _double(7, s.get("maximum"))
    out += _bool(8, s.get("exclusiveMaximum"))
    out += _double(9, s.get("minimum"))
    out += _bool(10, s.get("exclusiveMinimum"))
    out += _int(11, s.get("maxLength"))
    out += _int(12, s.get("minLength"))
    out += _str(13, s.get("pattern"))
    out += _int(14, s.get("maxItems"))
    out += _int(15, s.get("minItems"))
    out += _bool(16, s.get("uniqueItems"))
    out += _int(17, s.get("maxProperties"))
    out += _int(18, s.get("minProperties"))
    out += _strings(19, s.get("required"))
    for v in s.get("enum") or ():
        out += _msg(20, _any(v))
    if "additionalProperties" in s:
        ap = s["additionalProperties"]
        # AdditionalPropertiesItem {oneof {Schema schema = 1; bool boolean = 2;}}
        inner = _msg(1, _schema(ap)) if isinstance(ap, dict) else _key(2, 0) + _varint(1 if ap else 0)
        out += _msg(21, inner)
    if "type" in s:
        out += _msg(22, _strings(1, s["type"]))  # TypeItem {repeated string value = 1;}
    if "items" in s:
        items = s["items"] if isinstance(s["items"], list) else [s["items"]]
        out += _msg(23, b"".join(_msg(1, _schema(i)) for i in items))  # ItemsItem {repeated Schema schema = 1;}
    for sub in s.get("allOf") or ():
        out += _msg(24, _schema(sub))
    if "properties" in s:
        # Properties {repeated NamedSchema additional_properties = 1;}
        out += _msg(25, b"".join(_msg(1, _str(1, k) + _msg(2, _schema(v))) for k, v in s["properties"].items()))
    out += _str(26, s.get("discriminator"))
    out += _bool(27, s.get("readOnly"))
    if "example" in s:
        out += _msg(30, _any(s["example"]))
    out += _extensions(31, s)
    return bytes(out)


def _non_body_parameter(p: Node) -> bytes:
    """NonBodyParameter: header = 1, formData = 2, query = 3, path = 4.

    The sub-schemas share field numbers up to ``name`` (required 1, in 2, description 3, name 4); query and
    formData then carry allow_empty_value = 5 and shift the rest by one.
    """
    where = p.get("in")
    base = _bool(1, p.get("required")) + _str(2, where) + _str(3, p.get("description")) + _str(4, p.get("name"))
    shift = 1 if where in ("query", "formData") else 0
    rest = (
        _str(5 + shift, p.get("type"))
        + _str(6 + shift, p.get("format"))
        + _str(8 + shift, p.get("collectionFormat"))
        + (_msg(9 + shift, _any(p["default"])) if "default" in p else b"")
        + _bool(19 + shift, p.get("uniqueItems"))
        + b"".join(_msg(20 + shift, _any(v)) for v in p.get("enum") or ())
        + _extensions(22 + shift, p)
    )
    if shift:
        base += _bool(5, p.get("allowEmptyValue"))
    number = {"header": 1, "formData": 2, "query": 3, "path": 4}[where]
    return _msg(number, base + rest)


def _parameter(p: Node) -> bytes:
    """Parameter {oneof {BodyParameter body_parameter = 1; NonBodyParameter non_body_parameter = 2;}}"""
    if p.get("in") == "body":
        body = (
            _str(1, p.get("description"))
            + _str(2, p.get("name"))
            + _str(3, "body")
            + _bool(4, p.get("required"))
            + (_msg(5, _schema(p["schema"])) if "schema" in p else b"")
            + _extensions(6, p)
        )
        return _msg(1, body)
    return _msg(2, _non_body_parameter(p))


def _parameters_item(p: Node) -> bytes:
    """ParametersItem {oneof {Parameter parameter = 1; JsonReference json_reference = 2;}}"""
    if "$ref" in p:
        return _msg(2, _str(1, p["$ref"]) + _str(2, p.get("description")))
    return _msg(1, _parameter(p))


def _response(r: Node) -> bytes:
    """Response {description = 1; SchemaItem schema = 2; ...; vendor_extension = 5}"""
    out = _str(1, r.get("description"))
    if "schema" in r:
        out += _msg(2, _msg(1, _schema(r["schema"])))  # SchemaItem {oneof {Schema schema = 1; ...}}
    return out + _extensions(5, r)


def _operation(op: Node) -> bytes:
    out = bytearray()
    out += _strings(1, op.get("tags"))
    out += _str(2, op.get("summary"))
    out += _str(3, op.get("description"))
    out += _str(5, op.get("operationId"))
    out += _strings(6, op.get("produces"))
    out += _strings(7, op.get("consumes"))
    for p in op.get("parameters") or ():
        out += _msg(8, _parameters_item(p))
    responses = b"".join(
        # NamedResponseValue {name = 1; ResponseValue value = 2}; ResponseValue {oneof {Response response = 1}}
        _msg(1, _str(1, code) + _msg(2, _msg(1, _response(r))))
        for code, r in (op.get("responses") or {}).items()
    )
    out += _msg(9, responses)
    out += _strings(10, op.get("schemes"))
    out += _bool(11, op.get("deprecated"))
    out += _extensions(13, op)
    return bytes(out)


_METHODS = {"get": 2, "put": 3, "post": 4, "delete": 5, "options": 6, "head": 7, "patch": 8}


def _path_item(item: Node) -> bytes:
    out = bytearray()
    out += _str(1, item.get("$ref"))
    for method, num in _METHODS.items():
        if method in item:
            out += _msg(num, _operation(item[method]))
    for p in item.get("parameters") or ():
        out += _msg(9, _parameters_item(p))
    out += _extensions(10, item)
    return bytes(out)


def _security_definitions(defs: Node) -> bytes:
    out = bytearray()
    for name, d in defs.items():
        if d.get("type") == "apiKey":
            # ApiKeySecurity {type = 1; name = 2; in = 3; description = 4}
            inner = _msg(2, _str(1, "apiKey") + _str(2, d.get("name")) + _str(3, d.get("in")) + _str(4, d.get("description")))
        elif d.get("type") == "basic":
            inner = _msg(1, _str(1, "basic") + _str(2, d.get("description")))
        else:
            continue
        out += _msg(1, _str(1, name) + _msg(2, inner))
    return bytes(out)


def document_to_protobuf(doc: Node) -> bytes:
    """Encode a Swagger 2.0 document (as produced by facade.openapi) as ``openapi.v2.Document``."""
    out = bytearray()
    out += _str(1, doc.get("swagger", "2.0"))
    info = doc.get("info") or {}
    out += _msg(2, _str(1, info.get("title")) + _str(2, info.get("version")) + _str(3, info.get("description")))
    out += _str(3, doc.get("host"))
    out += _str(4, doc.get("basePath"))
    out += _strings(5, doc.get("schemes"))
    out += _strings(6, doc.get("consumes"))
    out += _strings(7, doc.get("produces"))
    paths = doc.get("paths") or {}
    # Paths {vendor_extension = 1; repeated NamedPathItem path = 2}
    out += _msg(8, b"".join(_msg(2, _str(1, p) + _msg(2, _path_item(item))) for p, item in paths.items()))
    definitions = doc.get("definitions") or {}
    out += _msg(9, b"".join(_msg(1, _str(1, n) + _msg(2, _schema(s))) for n, s in definitions.items()))
    params = doc.get("parameters")
    if params:
        # ParameterDefinitions {repeated NamedParameter additional_properties = 1}
        out += _msg(10, b"".join(_msg(1, _str(1, n) + _msg(2, _parameter(p))) for n, p in params.items()))
    for req in doc.get("security") or ():
        # SecurityRequirement {repeated NamedStringArray additional_properties = 1}
        out += _msg(12, b"".join(_msg(1, _str(1, n) + _msg(2, _strings(1, v))) for n, v in req.items()))
    if doc.get("securityDefinitions"):
        out += _msg(13, _security_definitions(doc["securityDefinitions"]))
    out += _extensions(16, doc)
    return bytes(out)
