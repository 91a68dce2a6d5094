"""Decode ``application/vnd.kubernetes.protobuf`` bodies into the dict a JSON client would have sent.

Why our own decoder: the server runs without the ``protobuf`` package, and what we need is not a
protobuf message but the JSON form kube-apiserver would produce from it. The wire is plain protobuf
(varints, length-delimited fields); ``fields.json`` says, per message, which number is which JSON
field and how Go would render it:

- a *pointer* field (``replicas``, ``parallelism``, ``immutable``...) is on the wire only when set,
  so whatever arrives is kept, zero included;
- a non-pointer scalar is always on the wire (gogo marshals it even when zero); it is dropped when
  zero if the Go field is ``omitempty``, as encoding/json would;
- a non-pointer struct is always rendered (``resources: {}``, ``strategy: {}``), as encoding/json does;
- empty lists and maps are dropped (Go would print ``null`` for the few without ``omitempty``);
- ``inline`` fields (``Volume.volumeSource``, ``Probe.handler``) are merged into their parent.

The few apimachinery types with their own JSON form (Time, MicroTime, Duration, Quantity,
IntOrString, RawExtension, FieldsV1, and slice types such as ``Verbs``) are converted here.
"""

from __future__ import annotations

import base64
import datetime
import functools
import struct
from pathlib import Path
from typing import Any

import orjson

from facade import errors

MAGIC = b"k8s\x00"

REPEATED, POINTER, OMITEMPTY, INLINE, MAP = 1, 2, 4, 8, 16  # same bits as extract.py

_META = "k8s.io.apimachinery.pkg.apis.meta.v1."
_TIME = _META + "Time"
_MICROTIME = _META + "MicroTime"
_DURATION = _META + "Duration"
_FIELDSV1 = _META + "FieldsV1"
_QUANTITY = "k8s.io.apimachinery.pkg.api.resource.Quantity"
_INTORSTRING = "k8s.io.apimachinery.pkg.util.intstr.IntOrString"
_RAWEXTENSION = "k8s.io.apimachinery.pkg.runtime.RawExtension"
_UNKNOWN = "k8s.io.apimachinery.pkg.runtime.Unknown"

# Kinds every group version serves from meta/v1 (registered with AddToGroupVersion and metav1).
_META_KINDS = {"DeleteOptions", "ListOptions", "GetOptions", "CreateOptions", "UpdateOptions", "PatchOptions",
               "Status", "WatchEvent", "Table", "PartialObjectMetadata", "PartialObjectMetadataList"}
# API groups whose proto package is not k8s.io.api.<first label of the group>.
_GROUP_PACKAGES = {"": "k8s.io.api.core", "internal.apiserver.k8s.io": "k8s.io.api.apiserverinternal",
                   "metrics.k8s.io": "k8s.io.metrics.pkg.apis.metrics", "meta.k8s.io": _META[:-4]}

_VARINT_TYPES = {"int32", "int64", "uint32", "uint64", "sint32", "sint64", "bool", "enum"}
_ZERO_SECONDS = -62135596800  # Go's zero time.Time as Unix seconds


class WireError(Exception):
    """Malformed protobuf; the text is what gogo-generated Go code would have said."""


Row = tuple[int, str, str, str, int]


class _Table:
    def __init__(self, raw: dict[str, Any]) -> None:
        self.rows: dict[str, tuple[Row, ...]] = {k: tuple(tuple(r) for r in v) for k, v in raw["messages"].items()}
        self.by_number: dict[str, dict[int, Row]] = {k: {r[0]: r for r in v} for k, v in self.rows.items()}
        self.lists: frozenset[str] = frozenset(raw["lists"])
        self.kinds: dict[str, str] = raw["kinds"]


@functools.cache
def _table() -> _Table:
    return _Table(orjson.loads(Path(__file__).with_name("fields.json").read_bytes()))


def message_for(api_version: str, kind: str) -> str | None:
    """The proto message name of a kind: ``apps/v1`` + ``Deployment`` -> ``k8s.io.api.apps.v1.Deployment``."""
    group, _, version = api_version.rpartition("/")
    table = _table()
    name = table.kinds.get(f"{group}/{version}/{kind}")
    if name:
        return name
    if kind in _META_KINDS and _META + kind in table.rows:
        return _META + kind
    package = _GROUP_PACKAGES.get(group, "k8s.io.api." + group.split(".", 1)[0])
    name = f"{package}.{version}.{kind}"
    return name if name in table.rows else None


# --- wire reading ---------------------------------------------------------------------------------


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if shift >= 64:
            raise WireError("proto: integer overflow")
        if i >= len(buf):
            raise WireError("unexpected EOF")
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value & 0xFFFFFFFFFFFFFFFF, i
        shift += 7


def _fields(buf: bytes, message: str) -> dict[int, list[tuple[int, Any]]]:
    """Every field of one message: number -> [(wire type, int or bytes)], in wire order."""
    out: dict[int, list[tuple[int, Any]]] = {}
    i, n = 0, len(buf)
    while i < n:
        key = buf[i]  # one-byte keys and lengths are the common case: no call for them
        if key < 0x80:
            i += 1
        else:
            key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if number <= 0 or wire == 4:
            short = message.rsplit(".", 1)[-1]
            if wire == 4:
                raise WireError(f"proto: {short}: wiretype end group for non-group")
            raise WireError(f"proto: {short}: illegal tag {number} (wire type {wire})")
        if wire == 2:
            length = buf[i] if i < n else 0x80
            if length < 0x80:
                i += 1
            else:
                length, i = _varint(buf, i)
                if length > 0x7FFFFFFFFFFFFFFF:
                    raise WireError("proto: negative length found during unmarshaling")
            if i + length > n:
                raise WireError("unexpected EOF")
            value: Any = buf[i:i + length]
            i += length
        elif wire == 0:
            value, i = _varint(buf, i)
        elif wire == 1 or wire == 5:
            size = 8 if wire == 1 else 4
            if i + size > n:
                raise WireError("unexpected EOF")
            value, i = buf[i:i + size], i + size
        elif wire == 3:
            i = _skip_group(buf, i, number)
            continue
        else:
            raise WireError(f"proto: illegal wireType {wire}")
        if number in out:
            out[number].append((wire, value))
        else:
            out[number] = [(wire, value)]
    return out


def _skip_group(buf: bytes, i: int, number: int) -> int:
    depth = 1
    while depth:
        key, i = _varint(buf, i)
        wire = key & 7
        if wire == 0:
            _, i = _varint(buf, i)
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        elif wire == 2:
            length, i = _varint(buf, i)
            i += length
        elif wire == 3:
            depth += 1
        elif wire == 4:
            depth -= 1
        else:
            raise WireError(f"proto: illegal wireType {wire}")
        if i > len(buf):
            raise WireError("unexpected EOF")
    return i


# --- values ---------------------------------------------------------------------------------------


def _signed(v: int, bits: int) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def _scalar(ptype: str, wire: int, value: Any) -> Any:
    if ptype in ("int32", "enum"):
        return _signed(value, 32)
    if ptype == "int64":
        return _signed(value, 64)
    if ptype == "uint32":
        return value & 0xFFFFFFFF
    if ptype == "uint64":
        return value
    if ptype == "bool":
        return value != 0
    if ptype in ("sint32", "sint64"):
        return (value >> 1) ^ -(value & 1)
    if ptype == "string":
        return bytes(value).decode("utf-8", "replace")
    if ptype == "bytes":
        return base64.b64encode(value).decode()
    fmt = {"double": "<d", "float": "<f", "fixed64": "<Q", "sfixed64": "<q", "fixed32": "<I", "sfixed32": "<i"}
    return struct.unpack(fmt[ptype], value)[0]


def _wire_type(ptype: str) -> int:
    if ptype in _VARINT_TYPES:
        return 0
    if ptype in ("double", "fixed64", "sfixed64"):
        return 1
    if ptype in ("float", "fixed32", "sfixed32"):
        return 5
    return 2


def _packed(ptype: str, buf: bytes) -> list[Any]:
    wire, out, i = _wire_type(ptype), [], 0
    while i < len(buf):
        if wire == 0:
            v, i = _varint(buf, i)
        else:
            size = 8 if wire == 1 else 4
            if i + size > len(buf):
                raise WireError("unexpected EOF")
            v, i = buf[i:i + size], i + size
        out.append(_scalar(ptype, wire, v))
    return out


def _go_name(json_name: str) -> str:
    return json_name[:1].upper() + json_name[1:]


def _values(row: Row, occurrences: list[tuple[int, Any]]) -> list[Any]:
    """Every value of one field, decoded (a repeated field may mix packed and unpacked)."""
    _, json_name, ptype, type_name, _ = row
    expected = _wire_type(ptype)
    out: list[Any] = []
    for wire, value in occurrences:
        if wire == 2 and expected != 2:
            out += _packed(ptype, value)
        elif wire != expected:
            raise WireError(f"proto: wrong wireType = {wire} for field {_go_name(json_name)}")
        elif ptype == "message":
            out.append(value)
        else:
            out.append(_scalar(ptype, wire, value))
    return out


_ZEROS: dict[str, Any] = {"string": "", "bool": False, "bytes": ""}
_SKIP, _ZERO_SCALAR, _ZERO_MESSAGE = 0, 1, 2  # what an absent field becomes


@functools.cache
def _plan(name: str) -> tuple[tuple[Row, int, int], ...]:
    """Per field: the row, its wire type, and what its absence means (Go zero value, rendered or not)."""
    out = []
    for row in _table().rows[name]:
        _, _, ptype, _, flags = row
        if flags & (POINTER | REPEATED | MAP) or ptype == "bytes":
            absent = _SKIP
        elif ptype == "message":
            absent = _ZERO_MESSAGE
        else:
            absent = _SKIP if flags & OMITEMPTY else _ZERO_SCALAR
        out.append((row, _wire_type(ptype), absent))
    return tuple(out)


@functools.cache
def _zero_message(name: str) -> Any:
    return _message(name, b"")


def _zero(name: str) -> Any:
    """A fresh copy of a message's zero value (callers may change what they get)."""
    value = _zero_message(name)
    return orjson.loads(orjson.dumps(value)) if isinstance(value, (dict, list)) and value else (
        type(value)() if isinstance(value, (dict, list)) else value)


def _message(name: str, buf: bytes) -> Any:
    """One message's JSON form."""
    special = _SPECIAL.get(name)
    if special is not None:
        return special(name, buf)
    table = _table()
    if name in table.lists:
        rows = table.rows[name]
        return _values(rows[0], _fields(buf, name).get(rows[0][0], [])) if rows else []
    if name not in table.rows:
        raise WireError(f"no message {name} is known")
    wire = _fields(buf, name) if buf else {}
    out: dict[str, Any] = {}
    for row, expected, absent in _plan(name):
        number, json_name, ptype, type_name, flags = row
        occurrences = wire.get(number)
        if occurrences is None:
            if absent == _SKIP:
                continue
            if absent == _ZERO_SCALAR:
                out[json_name] = _ZEROS.get(ptype, 0)
                continue
            value: Any = _zero(type_name)
        elif flags & MAP:
            entries = {}
            for entry in _values(row, occurrences):
                key, item = _map_entry(type_name, entry)
                entries[key] = item
            if entries:
                out[json_name] = entries
            continue
        elif flags & REPEATED:
            items = _values(row, occurrences)
            if ptype == "message":
                items = [_message(type_name, item) for item in items]
            if items:
                out[json_name] = items
            continue
        else:
            for w, _ in occurrences:
                if w != expected:
                    raise WireError(f"proto: wrong wireType = {w} for field {_go_name(json_name)}")
            if ptype == "message":
                # several occurrences of one message merge, which is what concatenating them means
                raw = occurrences[0][1] if len(occurrences) == 1 else b"".join(v for _, v in occurrences)
                value = _message(type_name, raw)
            else:
                value = _scalar(ptype, expected, occurrences[-1][1])
        if flags & INLINE and isinstance(value, dict):
            out.update(value)
            continue
        if not flags & POINTER and _omitted(value, ptype, flags):
            continue
        out[json_name] = value
    return out


def _omitted(value: Any, ptype: str, flags: int) -> bool:
    """Would encoding/json leave this non-pointer field out (or print the null we do not keep)?"""
    if isinstance(value, list):
        return not value
    if ptype == "message":
        return False  # structs are always rendered, omitempty or not
    if ptype == "bytes":
        return value == ""
    return bool(flags & OMITEMPTY) and not value


def _map_entry(entry: str, buf: bytes) -> tuple[Any, Any]:
    rows = _table().by_number[entry]
    wire = _fields(buf, entry)
    out = []
    for number in (1, 2):
        row = rows[number]
        values = _values(row, wire.get(number, []))
        if row[2] == "message":
            out.append(_message(row[3], values[-1] if values else b""))
        elif values:
            out.append(values[-1])
        else:
            out.append(_ZEROS.get(row[2], 0))
    return out[0], out[1]


# --- types with their own JSON form ---------------------------------------------------------------


def _ints(name: str, buf: bytes) -> dict[int, int]:
    out = {}
    for number, occurrences in _fields(buf, name).items():
        wire, value = occurrences[-1]
        if wire != 0:
            raise WireError(f"proto: wrong wireType = {wire} for field {name.rsplit('.', 1)[-1]}")
        out[number] = _signed(value, 64)
    return out


def _time(name: str, buf: bytes) -> str | None:
    f = _ints(name, buf)
    if not f:
        return None
    seconds, nanos = f.get(1, 0), _signed(f.get(2, 0), 32)
    if seconds == _ZERO_SECONDS and nanos == 0:
        return None
    try:
        t = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(seconds=seconds)
    except OverflowError:
        raise WireError(f"Time.MarshalJSON: year outside of range [0,9999]: {seconds}") from None
    text = f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
    if name == _MICROTIME:
        text += f".{max(nanos, 0) // 1000:06d}"
    return text + "Z"


def go_duration(ns: int) -> str:
    """Go's ``time.Duration.String``: ``0s``, ``1.5s``, ``1m0s``, ``2h45m0s``, ``300ms``, ``1µs``."""
    if ns == 0:
        return "0s"
    sign, u = ("-" if ns < 0 else ""), abs(ns)

    def frac(v: int, digits: int) -> str:
        whole, rest = divmod(v, 10**digits)
        return f"{whole}.{str(rest).rjust(digits, '0').rstrip('0')}" if rest else str(whole)

    if u < 1_000:
        return f"{sign}{u}ns"
    if u < 1_000_000:
        return f"{sign}{frac(u, 3)}µs"
    if u < 1_000_000_000:
        return f"{sign}{frac(u, 6)}ms"
    text = frac(u % 60_000_000_000, 9) + "s"
    minutes = u // 60_000_000_000
    if minutes:
        hours, minutes = divmod(minutes, 60)
        text = f"{minutes}m{text}"
        if hours:
            text = f"{hours}h{text}"
    return sign + text


def _duration(name: str, buf: bytes) -> str:
    return go_duration(_ints(name, buf).get(1, 0))


def _quantity(name: str, buf: bytes) -> str:
    values = _values((1, "string", "string", "", 0), _fields(buf, name).get(1, []))
    return values[-1] if values and values[-1] else "0"


def _int_or_string(name: str, buf: bytes) -> int | str:
    wire = _fields(buf, name)
    rows = _table().by_number.get(name) or {1: (1, "type", "int64", "", 0), 2: (2, "intVal", "int32", "", 0),
                                            3: (3, "strVal", "string", "", 0)}
    kind = (_values(rows[1], wire.get(1, [])) or [0])[-1]
    if kind == 1:
        return (_values(rows[3], wire.get(3, [])) or [""])[-1]
    return (_values(rows[2], wire.get(2, [])) or [0])[-1]


def _raw_json(name: str, buf: bytes) -> Any:
    values = _values((1, "raw", "string", "", 0), _fields(buf, name).get(1, []))
    raw = values[-1] if values else ""
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise WireError(f"error decoding {name.rsplit('.', 1)[-1]} as JSON: {e}") from None


_SPECIAL = {_TIME: _time, _MICROTIME: _time, _DURATION: _duration, _QUANTITY: _quantity,
            _INTORSTRING: _int_or_string, _RAWEXTENSION: _raw_json, _FIELDSV1: _raw_json}


# --- the envelope ---------------------------------------------------------------------------------


def _unknown(body: bytes) -> tuple[str, str, bytes]:
    """``runtime.Unknown``: (apiVersion, kind, raw)."""
    wire = _fields(body, _UNKNOWN)
    api_version = kind = ""
    raw = b""
    for number, occurrences in wire.items():
        w, value = occurrences[-1]
        if number in (1, 2, 3, 4) and w != 2:
            raise WireError(f"proto: wrong wireType = {w} for field {('TypeMeta', 'Raw', 'ContentEncoding', 'ContentType')[number - 1]}")
        if number == 1:
            meta = _fields(b"".join(v for _, v in occurrences), "k8s.io.apimachinery.pkg.runtime.TypeMeta")
            for n, occ in meta.items():
                mw, mv = occ[-1]
                if n in (1, 2) and mw != 2:
                    raise WireError(f"proto: wrong wireType = {mw} for field {('APIVersion', 'Kind')[n - 1]}")
                if n == 1:
                    api_version = bytes(mv).decode("utf-8", "replace")
                elif n == 2:
                    kind = bytes(mv).decode("utf-8", "replace")
        elif number == 2:
            raw = value
    return api_version, kind, raw


def decode_kubernetes_protobuf(body: bytes) -> dict[str, Any]:
    """A ``k8s\\x00``-prefixed ``runtime.Unknown`` body -> the object as a JSON-shaped dict.

    Raises ``APIError`` 400 BadRequest, with kube-apiserver's wording, for anything malformed.
    """
    if not body:
        raise errors.bad_request("empty data")
    if not body.startswith(MAGIC):
        raise errors.bad_request(
            "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]")
    if len(body) == len(MAGIC):
        raise errors.bad_request("empty body")
    try:
        api_version, kind, raw = _unknown(body[len(MAGIC):])
    except WireError as e:
        raise errors.bad_request(str(e)) from None
    type_meta = f'runtime.TypeMeta{{APIVersion:"{api_version}", Kind:"{kind}"}}'
    if not kind:
        raise errors.bad_request(f"Object 'Kind' is missing in '{type_meta}'")
    if not api_version:
        raise errors.bad_request(f"Object 'apiVersion' is missing in '{type_meta}'")
    version = api_version.rpartition("/")[2]
    name = message_for(api_version, kind)
    if name is None:
        raise errors.bad_request(
            f'no kind "{kind}" is registered for version "{api_version}" in scheme '
            '"pkg/runtime/scheme.go:100"')
    try:
        obj = _message(name, raw)
    except (WireError, RecursionError) as e:
        message = str(e) if isinstance(e, WireError) else "proto: message nested too deeply"
        raise errors.bad_request(f'{kind} in version "{version}" cannot be handled as a {kind}: {message}') from None
    if not isinstance(obj, dict):
        raise errors.bad_request(f'{kind} in version "{version}" cannot be handled as a {kind}: not an object')
    return {"apiVersion": api_version, "kind": kind, **obj}
