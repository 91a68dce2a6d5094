"""JSON patch (RFC 6902, ``application/json-patch+json``) as kube-apiserver applies it.

kube-apiserver 1.32 applies JSON patches with gopkg.in/evanphx/json-patch.v4, whose behaviour differs
from RFC 6902 (and from the Python ``jsonpatch`` library) in ways clients can observe, so the
operations are implemented here rather than delegated:

- ``replace`` of a missing object member adds it; ``copy`` from a missing member copies ``null``;
- ``test`` of a missing member passes when the value is ``null``;
- negative array indices count from the end (``-1`` in ``add`` appends);
- the first path segment is not checked to be empty (``a/b`` means ``/b``);
- ``replace`` of the whole document (path ``""``) with a scalar does nothing.

Errors are reported as kube-apiserver reports them (k8s.io/apiserver .../handlers/patch.go): a body
that is not a list of operations is 400 BadRequest with Go's decoder message; an operation that does
not apply is 422 Invalid with a fixed generic message (the library's own text is not shown); more
than 10000 operations is 413.
"""

from __future__ import annotations

import re
from typing import Any

from facade.errors import APIError, bad_request
from facade.patch import gojson

MAX_OPERATIONS = 10000
_UNPROCESSABLE = "the server rejected our request due to an error in our request"
_OP_FIELDS = ("op", "path", "from", "value")
_INT = re.compile(r"[+-]?[0-9]+")
_INT64 = 1 << 63


class _OpFailed(Exception):
    """An operation that does not apply; kube-apiserver hides the reason behind a generic 422."""


def apply_json_patch(
    obj: dict,
    patch: Any,
    *,
    field_validation: str = "Warn",
    warnings: list[str] | None = None,
    duplicates: list[str] | None = None,
) -> dict:
    """Apply a decoded JSON patch (a list of operations) to ``obj``; return a new object.

    ``field_validation`` is the request's fieldValidation (Ignore, Warn — the default — or Strict): it
    changes how a malformed body is described, and whether unknown or duplicate operation fields are
    warnings (appended to ``warnings``) or a 422. ``duplicates`` are the body's duplicate-field errors
    (``gojson.duplicate_fields``), which only the caller holding the bytes can find.
    """
    strict = field_validation != "Ignore"
    if strict:
        _check_strict_types(patch)
    else:
        _check_types(patch)
    ops = patch or []
    if len(ops) > MAX_OPERATIONS:
        raise APIError(
            413,
            "RequestEntityTooLarge",
            "Request entity too large: The allowed maximum operations in a JSON patch is "
            f"{MAX_OPERATIONS}, got {len(ops)}",
        )
    try:
        doc: Any = gojson.deep_copy(obj)
        for op in ops:
            doc = _apply_op(doc, op if isinstance(op, dict) else {})
    except _OpFailed:
        raise APIError(422, "Invalid", _UNPROCESSABLE) from None
    strict_errors = _strict_errors(patch) + ["json patch " + d for d in duplicates or ()] if strict else []
    return finish(doc, strict_errors, field_validation, warnings)


def finish(doc: Any, strict_errors: list[str], field_validation: str, warnings: list[str] | None) -> dict:
    """Turn a patched document into the object kube-apiserver would go on with.

    A document that is not a JSON object cannot be decoded into a kind (422 naming ``patch``); strict
    decoding errors of the patch body are warnings under Warn and a 422 under Strict.
    """
    if not isinstance(doc, dict):
        raise invalid_patch(
            gojson.marshal(doc),
            "couldn't get version/kind; json parse error: "
            + gojson.type_error(
                doc,
                'struct { APIVersion string "json:\\"apiVersion,omitempty\\""; '
                'Kind string "json:\\"kind,omitempty\\"" }',
            ),
        )
    if strict_errors:
        if field_validation == "Strict":
            raise invalid_patch(gojson.marshal(doc), "strict decoding error: " + ", ".join(strict_errors))
        if warnings is not None:
            warnings.extend(strict_errors)
    return doc


def invalid_patch(value: str, detail: str) -> APIError:
    """``NewInvalid(GroupKind{}, "", patch: Invalid value: ...)``: the kind and name are left empty."""
    body = f"Invalid value: {gojson.orjson.dumps(value).decode()}: {detail}"
    return APIError(
        422,
        "Invalid",
        f' "" is invalid: patch: {body}',
        {"causes": [{"reason": "FieldValueInvalid", "message": body, "field": "patch"}]},
    )


def _check_strict_types(patch: Any) -> None:
    """Decoding into ``[]handlers.jsonPatchOp`` (fieldValidation Warn/Strict): Go's first type error."""
    if patch is None:
        return
    if not isinstance(patch, list):
        raise bad_request("error decoding patch: " + gojson.type_error(patch, "[]handlers.jsonPatchOp"))
    for op in patch:
        if op is None:
            continue
        if not isinstance(op, dict):
            raise bad_request("error decoding patch: " + gojson.type_error(op, "handlers.jsonPatchOp"))
        for key, value in op.items():
            if key in ("op", "path", "from") and value is not None and not isinstance(value, str):
                raise bad_request(
                    "error decoding patch: " + gojson.field_type_error(value, "jsonPatchOp", key, "string")
                )


def _check_types(patch: Any) -> None:
    """Decoding into ``jsonpatch.Patch`` (fieldValidation=Ignore)."""
    if patch is None:
        return
    if not isinstance(patch, list):
        raise bad_request(gojson.type_error(patch, "jsonpatch.Patch"))
    for op in patch:
        if op is not None and not isinstance(op, dict):
            raise bad_request(gojson.type_error(op, "jsonpatch.Operation"))


def _strict_errors(patch: Any) -> list[str]:
    """Unknown operation fields, as ``json patch unknown field "[0].foo"``."""
    out: list[str] = []
    for i, op in enumerate(patch or []):
        if isinstance(op, dict):
            for key in op:
                if key not in _OP_FIELDS:
                    out.append(f'json patch unknown field "[{i}].{key}"')
    return out


# ---------------------------------------------------------------------------------------------------
# The operations, with evanphx/json-patch v4 semantics.


def _atoi(text: str) -> int | None:
    """Go's strconv.Atoi: optional sign, ASCII digits, within int64."""
    if not _INT.fullmatch(text):
        return None
    value = int(text)
    return value if -_INT64 <= value < _INT64 else None


def _decode_key(part: str) -> str:
    return part.replace("~1", "/").replace("~0", "~")


def _child(container: Any, key: str) -> Any:
    """``container.get(key)`` for path traversal; None when there is nothing there."""
    if isinstance(container, dict):
        return container.get(key)
    idx = _atoi(key)
    if idx is None:
        return None
    if idx < 0:
        if idx < -len(container):
            return None
        idx += len(container)
    return container[idx] if idx < len(container) else None


def _find(doc: Any, path: str) -> tuple[Any, str] | None:
    """The container that holds the last path segment, and that segment decoded."""
    split = path.split("/")
    if len(split) < 2:
        return None
    container = doc
    for part in split[1:-1]:
        nxt = _child(container, _decode_key(part))
        if not isinstance(nxt, (dict, list)):
            return None
        container = nxt
    return container, _decode_key(split[-1])


def _get(container: Any, key: str) -> Any:
    if isinstance(container, dict):
        return container.get(key)
    idx = _atoi(key)
    if idx is None:
        raise _OpFailed
    if idx < 0:
        if idx < -len(container):
            raise _OpFailed
        idx += len(container)
    if idx >= len(container):
        raise _OpFailed
    return container[idx]


def _add(container: Any, key: str, value: Any) -> None:
    if isinstance(container, dict):
        container[key] = value
        return
    if key == "-":
        container.append(value)
        return
    idx = _atoi(key)
    size = len(container) + 1
    if idx is None or idx >= size or idx < -size:
        raise _OpFailed
    if idx < 0:
        idx += size
    container.insert(idx, value)


def _set(container: Any, key: str, value: Any) -> None:
    if isinstance(container, dict):
        container[key] = value
        return
    idx = _atoi(key)
    if idx is None or idx < -len(container) or idx >= len(container):
        raise _OpFailed
    container[idx] = value


def _remove(container: Any, key: str) -> None:
    if isinstance(container, dict):
        if key not in container:
            raise _OpFailed
        del container[key]
        return
    idx = _atoi(key)
    if idx is None or idx >= len(container) or idx < -len(container):
        raise _OpFailed
    del container[idx]


def _string_field(op: dict, name: str) -> str:
    value = op.get(name)
    if not isinstance(value, str):
        raise _OpFailed
    return value


def _locate(doc: Any, path: str) -> tuple[Any, str]:
    found = _find(doc, path)
    if found is None:
        raise _OpFailed
    return found


def _apply_op(doc: Any, op: dict) -> Any:
    kind = op.get("op")
    if kind == "add":
        container, key = _locate(doc, _string_field(op, "path"))
        _add(container, key, gojson.deep_copy(op.get("value")))
    elif kind == "remove":
        container, key = _locate(doc, _string_field(op, "path"))
        _remove(container, key)
    elif kind == "replace":
        path = _string_field(op, "path")
        if path == "":
            if "value" not in op:
                raise _OpFailed
            value = op["value"]
            return gojson.deep_copy(value) if isinstance(value, (dict, list)) else doc
        container, key = _locate(doc, path)
        _get(container, key)
        _set(container, key, gojson.deep_copy(op.get("value")))
    elif kind == "move":
        container, key = _locate(doc, _string_field(op, "from"))
        value = _get(container, key)
        _remove(container, key)
        container, key = _locate(doc, _string_field(op, "path"))
        _add(container, key, value)
    elif kind == "copy":
        container, key = _locate(doc, _string_field(op, "from"))
        value = _get(container, key)
        path = _string_field(op, "path")
        container, key = _locate(doc, path)
        _add(container, key, gojson.deep_copy(value))
    elif kind == "test":
        _test(doc, op)
    else:
        raise _OpFailed
    return doc


def _test(doc: Any, op: dict) -> None:
    path = _string_field(op, "path")
    if "value" not in op:
        raise _OpFailed
    expected = op["value"]
    if path == "":
        if not gojson.json_equal(doc, expected):
            raise _OpFailed
        return
    container, key = _locate(doc, path)
    actual = _get(container, key)
    if actual is None:
        if expected is not None:
            raise _OpFailed
        return
    if not gojson.json_equal(actual, expected):
        raise _OpFailed
