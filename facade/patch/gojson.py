"""What Go's encoding/json (and its sigs.k8s.io/json fork) says about a patch body, in Python.

kube-apiserver reports a malformed patch with the text of Go's JSON decoder: ``invalid character 'x'
looking for beginning of value``, ``json: cannot unmarshal array into Go value of type
map[string]interface {}``, ``duplicate field "a"``. Clients and users see those strings, so this module
reproduces them: a byte-level port of the decoder's syntax scanner (only run when orjson has already
refused the body), the names Go gives JSON values and Go types, Go's ``%v`` rendering of decoded
values (used in strategic-merge-patch error messages), and the "strict" duplicate-field paths.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import orjson

from facade.errors import bad_request

MAX_NESTING_DEPTH = 10000


class GoJSONError(Exception):
    """A body Go's decoder would refuse; ``str(err)`` is Go's message."""


# ---------------------------------------------------------------------------------------------------
# Syntax: a port of the scanner's state machine, so that the message and the byte it names match.


def _quote_char(c: int) -> str:
    if c == 0x27:
        return "'\\''"
    if c == 0x22:
        return "'\"'"
    ch = chr(c)
    escapes = {7: "\\a", 8: "\\b", 12: "\\f", 10: "\\n", 13: "\\r", 9: "\\t", 11: "\\v", 0x5C: "\\\\"}
    if c in escapes:
        return f"'{escapes[c]}'"
    if c < 0x20 or c == 0x7F:
        return f"'\\x{c:02x}'"
    if 0x80 <= c <= 0xA0 or c == 0xAD:  # not printable for Go's strconv.IsPrint
        return f"'\\u{c:04x}'"
    return f"'{ch}'"


class _Scanner:
    """States named after the Go scanner's; ``step`` returns an error message or None."""

    def __init__(self) -> None:
        self.stack: list[str] = []  # "key" / "value" (object) or "array"
        self.state = "begin_value"
        self.end_top = False
        self.err: str | None = None

    def error(self, c: int, context: str) -> str:
        self.state = "error"
        self.err = f"invalid character {_quote_char(c)} {context}"
        return self.err

    def push(self, c: int, kind: str) -> str | None:
        self.stack.append(kind)
        if len(self.stack) > MAX_NESTING_DEPTH:
            return self.error(c, "exceeded max depth")
        return None

    def pop(self) -> None:
        self.stack.pop()
        if not self.stack:
            self.state = "end_top"
            self.end_top = True
        else:
            self.state = "end_value"

    def step(self, c: int) -> str | None:  # noqa: C901 - a state machine reads best as one function
        st = self.state
        space = c in (0x20, 0x09, 0x0D, 0x0A)
        if st == "error":
            return self.err
        if st == "begin_value_or_empty":
            if space:
                return None
            if c == 0x5D:
                return self._end_value(c)
            st = "begin_value"
        if st == "begin_string_or_empty":
            if space:
                return None
            if c == 0x7D:
                self.stack[-1] = "value"
                return self._end_value(c)
            st = "begin_string"
        if st == "begin_value":
            if space:
                return None
            if c == 0x7B:
                self.state = "begin_string_or_empty"
                return self.push(c, "key")
            if c == 0x5B:
                self.state = "begin_value_or_empty"
                return self.push(c, "array")
            if c == 0x22:
                self.state = "in_string"
                return None
            if c == 0x2D:
                self.state = "neg"
                return None
            if c == 0x30:
                self.state = "zero"
                return None
            if 0x31 <= c <= 0x39:
                self.state = "one"
                return None
            if c in (0x74, 0x66, 0x6E):  # t f n
                self.state = {0x74: "t", 0x66: "f", 0x6E: "n"}[c]
                return None
            return self.error(c, "looking for beginning of value")
        if st == "begin_string":
            if space:
                return None
            if c == 0x22:
                self.state = "in_string"
                return None
            return self.error(c, "looking for beginning of object key string")
        if st == "end_value":
            return self._end_value(c)
        if st == "end_top":
            if not space:
                self.error(c, "after top-level value")
                return self.err
            return None
        if st == "in_string":
            if c == 0x22:
                self.state = "end_value"
            elif c == 0x5C:
                self.state = "esc"
            elif c < 0x20:
                return self.error(c, "in string literal")
            return None
        if st == "esc":
            if c in b'bfnrt\\/"':
                self.state = "in_string"
                return None
            if c == 0x75:
                self.state = "u0"
                return None
            return self.error(c, "in string escape code")
        if st in ("u0", "u1", "u2", "u3"):
            if chr(c) in "0123456789abcdefABCDEF":
                self.state = {"u0": "u1", "u1": "u2", "u2": "u3", "u3": "in_string"}[st]
                return None
            return self.error(c, "in \\u hexadecimal character escape")
        if st == "neg":
            if c == 0x30:
                self.state = "zero"
                return None
            if 0x31 <= c <= 0x39:
                self.state = "one"
                return None
            return self.error(c, "in numeric literal")
        if st == "one":
            if 0x30 <= c <= 0x39:
                return None
            st = "zero"
        if st == "zero":
            if c == 0x2E:
                self.state = "dot"
                return None
            if c in (0x65, 0x45):
                self.state = "e"
                return None
            return self._end_value(c)
        if st == "dot":
            if 0x30 <= c <= 0x39:
                self.state = "dot0"
                return None
            return self.error(c, "after decimal point in numeric literal")
        if st == "dot0":
            if 0x30 <= c <= 0x39:
                return None
            if c in (0x65, 0x45):
                self.state = "e"
                return None
            return self._end_value(c)
        if st == "e":
            if c in (0x2B, 0x2D):
                self.state = "esign"
                return None
            st = "esign"
        if st == "esign":
            if 0x30 <= c <= 0x39:
                self.state = "e0"
                return None
            return self.error(c, "in exponent of numeric literal")
        if st == "e0":
            if 0x30 <= c <= 0x39:
                return None
            return self._end_value(c)
        literal = _LITERAL_STATES.get(st)
        if literal is not None:
            expect, nxt, word = literal
            if c == ord(expect):
                self.state = nxt
                return None
            return self.error(c, f"in literal {word} (expecting '{expect}')")
        raise AssertionError(st)

    def _end_value(self, c: int) -> str | None:
        if not self.stack:
            self.state = "end_top"
            self.end_top = True
            return self.step(c)
        if c in (0x20, 0x09, 0x0D, 0x0A):
            self.state = "end_value"
            return None
        top = self.stack[-1]
        if top == "key":
            if c == 0x3A:
                self.stack[-1] = "value"
                self.state = "begin_value"
                return None
            return self.error(c, "after object key")
        if top == "value":
            if c == 0x2C:
                self.stack[-1] = "key"
                self.state = "begin_string"
                return None
            if c == 0x7D:
                self.pop()
                return None
            return self.error(c, "after object key:value pair")
        if c == 0x2C:
            self.state = "begin_value"
            return None
        if c == 0x5D:
            self.pop()
            return None
        return self.error(c, "after array element")


_LITERAL_STATES = {
    "t": ("r", "tr", "true"),
    "tr": ("u", "tru", "true"),
    "tru": ("e", "end_value", "true"),
    "f": ("a", "fa", "false"),
    "fa": ("l", "fal", "false"),
    "fal": ("s", "fals", "false"),
    "fals": ("e", "end_value", "false"),
    "n": ("u", "nu", "null"),
    "nu": ("l", "nul", "null"),
    "nul": ("l", "end_value", "null"),
}


def syntax_error(data: bytes) -> str | None:
    """Go's ``SyntaxError`` text for ``data``, or None when Go's scanner accepts it."""
    s = _Scanner()
    for c in data:
        err = s.step(c)
        if err is not None:
            return err
    if s.end_top:
        return None
    err = s.step(0x20)
    if err is not None:
        return err
    if s.end_top:
        return None
    return "unexpected end of JSON input"


@contextmanager
def depth_guard() -> Iterator[None]:
    """Turn Python running out of stack on an absurdly nested body into a 400, never a traceback."""
    try:
        yield
    except RecursionError:
        raise bad_request("error decoding patch: exceeded max depth") from None


def decode(data: bytes) -> Any:
    """Parse a body as Go would accept it; raise GoJSONError with Go's message otherwise."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    else:
        if data.count(b"{") + data.count(b"[") <= MAX_NESTING_DEPTH:
            return value
        err = syntax_error(data)  # Go refuses nesting deeper than 10000
        if err is None:
            return value
        raise GoJSONError(err)
    err = syntax_error(data)
    if err is not None:
        raise GoJSONError(err)
    # Valid for Go but not for orjson (invalid UTF-8, lone surrogates, huge numbers): be lenient.
    try:
        return json.loads(data.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError) as e:  # nesting deeper than Python parses
        raise GoJSONError("exceeded max depth" if isinstance(e, RecursionError) else str(e)) from None


# ---------------------------------------------------------------------------------------------------
# Names Go gives values and types.


def json_kind(value: Any) -> str:
    """The JSON value name in ``json: cannot unmarshal <kind> into ...``."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "null"


def type_error(value: Any, go_type: str) -> str:
    return f"json: cannot unmarshal {json_kind(value)} into Go value of type {go_type}"


def field_type_error(value: Any, struct: str, field: str, go_type: str) -> str:
    return f"json: cannot unmarshal {json_kind(value)} into Go struct field {struct}.{field} of type {go_type}"


def go_type(value: Any) -> str | None:
    """``reflect.TypeOf`` of a value decoded into ``interface{}`` (with PreserveInts); None for nil."""
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    return None


def format_float(f: float) -> str:
    """Go's ``%v`` of a float64 (strconv 'g' with the shortest digits, exponent from the 7th digit)."""
    if f != f:
        return "NaN"
    if f in (float("inf"), float("-inf")):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "-0" if str(f).startswith("-") else "0"
    sign, digits, exp = Decimal(repr(f)).normalize().as_tuple()
    ds = "".join(map(str, digits))
    x = len(ds) + int(exp) - 1  # decimal exponent of the first digit
    neg = "-" if sign else ""
    if x < -4 or x >= 6:
        mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
        return f"{neg}{mant}e{'+' if x >= 0 else '-'}{abs(x):02d}"
    if x >= len(ds) - 1:
        return neg + ds + "0" * (x - len(ds) + 1)
    if x >= 0:
        return neg + ds[: x + 1] + "." + ds[x + 1:]
    return neg + "0." + "0" * (-x - 1) + ds


def go_format(value: Any, verb: str = "v") -> str:
    """Go's fmt rendering of a decoded JSON value with ``%v`` or ``%s`` (maps print sorted by key)."""
    if isinstance(value, dict):
        inner = " ".join(f"{k}:{go_format(value[k], verb)}" for k in sorted(value))
        return f"map[{inner}]"
    if isinstance(value, list):
        return "[" + " ".join(go_format(v, verb) for v in value) + "]"
    if isinstance(value, str):
        return value
    if value is None:
        return "%!s(<nil>)" if verb == "s" else "<nil>"
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int):
        text = str(value)
    else:
        text = format_float(value)
    if verb == "s":
        return f"%!s({go_type(value)}={text})"
    return text


def marshal(value: Any) -> str:
    """Go's ``json.Marshal`` text of a decoded value: compact, map keys sorted, HTML characters escaped."""
    text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


# ---------------------------------------------------------------------------------------------------
# Strict decoding: duplicate fields, with the paths sigs.k8s.io/json reports.


class _Pairs:
    __slots__ = ("pairs",)

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        self.pairs = pairs


def duplicate_fields(data: bytes, limit: int = 100) -> list[str]:
    """``duplicate field "a.b"`` errors for every repeated object key, in document order.

    orjson keeps the last of repeated keys silently; Go's strict decoder reports each repeat (once per
    path), which kube-apiserver turns into warnings (fieldValidation=Warn) or a 422 (Strict).
    """
    try:
        tree = json.loads(data, object_pairs_hook=_Pairs)
    except (ValueError, RecursionError):
        return []
    errors: list[str] = []
    seen_errors: set[str] = set()

    def walk(node: Any, path: str) -> None:
        if isinstance(node, _Pairs):
            seen: set[str] = set()
            for key, value in node.pairs:
                child = f"{path}.{key}" if path else key
                if key in seen:
                    msg = f"duplicate field {orjson.dumps(child).decode()}"
                    if msg not in seen_errors and len(errors) < limit:
                        seen_errors.add(msg)
                        errors.append(msg)
                seen.add(key)
                walk(value, child)
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}[{i}]")

    walk(tree, "")
    return errors


def deep_copy(value: Any) -> Any:
    """A copy of a JSON value (dicts and lists copied, scalars shared)."""
    if isinstance(value, dict):
        return {k: deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [deep_copy(v) for v in value]
    return value


def go_equal(a: Any, b: Any) -> bool:
    """Go's ``==`` on interface values holding decoded JSON scalars: type and value must both match.

    Python's ``1 == 1.0 == True`` would merge values Go keeps apart (int64, float64, bool).
    """
    if type(a) is not type(b):
        return False
    if isinstance(a, (dict, list)):
        return False  # Go panics comparing maps/slices; never equal here
    return a == b


def json_equal(a: Any, b: Any) -> bool:
    """Deep equality of JSON values that keeps ints, floats and booleans apart."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return a == b
