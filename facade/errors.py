"""Kubernetes ``Status`` errors with the codes, reasons, messages and details real Kubernetes returns.

Messages follow k8s.io/apimachinery/pkg/api/errors: ``configmaps "x" not found`` names the
*resource* (plural, with the group: ``deployments.apps``); ``ConfigMap "x" is invalid: ...`` names the
*kind*. Field errors follow k8s.io/apimachinery/pkg/util/validation/field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

_OMIT = object()


def go_quote(value: str) -> str:
    """Go's %q for the strings that appear in messages."""
    return orjson.dumps(value).decode()


def _go_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return go_quote(value)
    if value is None:
        return "null"
    return orjson.dumps(value).decode()


@dataclass
class FieldError:
    """One field error: ``field: Invalid value: "x": detail``."""

    type: str  # one of the FieldValue* reasons below
    field: str
    value: Any = _OMIT
    detail: str = ""

    _TYPE_TEXT = {
        "FieldValueNotFound": "Not found",
        "FieldValueRequired": "Required value",
        "FieldValueDuplicate": "Duplicate value",
        "FieldValueInvalid": "Invalid value",
        "FieldValueNotSupported": "Unsupported value",
        "FieldValueForbidden": "Forbidden",
        "FieldValueTooLong": "Too long",
        "FieldValueTooMany": "Too many",
        "InternalError": "Internal error",
        "FieldValueTypeInvalid": "Invalid value",
    }

    def body(self) -> str:
        text = self._TYPE_TEXT[self.type]
        if self.type in ("FieldValueRequired", "FieldValueForbidden", "FieldValueTooLong", "InternalError") or (
            self.value is _OMIT
        ):
            s = text
        else:
            s = f"{text}: {_go_value(self.value)}"
        if self.detail:
            s += f": {self.detail}"
        return s

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}" if self.field else self.body()

    def cause(self) -> dict[str, str]:
        return {"reason": self.type, "message": self.body(), "field": self.field}


def invalid(field: str, value: Any, detail: str = "") -> FieldError:
    return FieldError("FieldValueInvalid", field, value, detail)


def required(field: str, detail: str = "") -> FieldError:
    return FieldError("FieldValueRequired", field, _OMIT, detail)


def forbidden(field: str, detail: str) -> FieldError:
    return FieldError("FieldValueForbidden", field, _OMIT, detail)


def duplicate(field: str, value: Any) -> FieldError:
    return FieldError("FieldValueDuplicate", field, value)


def not_supported(field: str, value: Any, supported: list[str] | tuple[str, ...]) -> FieldError:
    detail = "supported values: " + ", ".join(go_quote(s) for s in supported) if supported else ""
    return FieldError("FieldValueNotSupported", field, value, detail)


def too_long(field: str, value: Any, max_length: int) -> FieldError:
    return FieldError("FieldValueTooLong", field, value, f"must have at most {max_length} bytes")


def too_many(field: str, actual: int, max_items: int) -> FieldError:
    return FieldError("FieldValueTooMany", field, actual, f"must have at most {max_items} items")


def not_found(field: str, value: Any) -> FieldError:
    return FieldError("FieldValueNotFound", field, value)


class APIError(Exception):
    """An error that becomes a ``Status`` response. Never lets a request end in a 500 traceback."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        list_continue: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}
        self.list_continue = list_continue

    def status(self) -> dict[str, Any]:
        meta: dict[str, Any] = {}
        if self.list_continue is not None:
            meta["continue"] = self.list_continue
        out: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": meta,
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            out["details"] = self.details
        if not self.reason:
            del out["reason"]
        return out


def qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def _details(name: str, group: str, kind: str) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if name:
        d["name"] = name
    if group:
        d["group"] = group
    d["kind"] = kind
    return d


def not_found_error(resource: str, group: str, name: str) -> APIError:
    if name:
        msg = f'{qualified(resource, group)} "{name}" not found'
    else:
        msg = f"{qualified(resource, group)} not found"
    return APIError(404, "NotFound", msg, _details(name, group, resource))


def already_exists(resource: str, group: str, name: str) -> APIError:
    return APIError(
        409, "AlreadyExists", f'{qualified(resource, group)} "{name}" already exists', _details(name, group, resource)
    )


def conflict(resource: str, group: str, name: str, why: str) -> APIError:
    return APIError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {qualified(resource, group)} "{name}": {why}',
        _details(name, group, resource),
    )


MODIFIED = "the object has been modified; please apply your changes to the latest version and try again"


def invalid_error(kind: str, group: str, name: str, errors: list[FieldError]) -> APIError:
    """422 Invalid: ``Kind "name" is invalid: field: Invalid value: ...`` (several: ``[a, b]``)."""
    texts = [str(e) for e in errors]
    agg = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    qkind = f"{kind}.{group}" if group else kind
    details = _details(name, group, kind)
    details["causes"] = [e.cause() for e in errors]
    return APIError(422, "Invalid", f'{qkind} "{name}" is invalid: {agg}', details)


def bad_request(message: str) -> APIError:
    return APIError(400, "BadRequest", message)


def forbidden_error(resource: str, group: str, name: str, why: str) -> APIError:
    subject = f'{qualified(resource, group)} "{name}"' if name else qualified(resource, group)
    return APIError(403, "Forbidden", f"{subject} is forbidden: {why}", _details(name, group, resource))


def method_not_allowed(verb: str, resource: str, group: str) -> APIError:
    return APIError(
        405,
        "MethodNotAllowed",
        f"{verb} is not supported on resources of kind {go_quote(qualified(resource, group))}",
        {"group": group, "kind": resource} if group else {"kind": resource},
    )


def gone(message: str, list_continue: str | None = None) -> APIError:
    return APIError(410, "Expired", message, list_continue=list_continue)


def unauthorized() -> APIError:
    return APIError(401, "Unauthorized", "Unauthorized")


def not_acceptable(accept: str) -> APIError:
    return APIError(406, "NotAcceptable", f"only the following media types are accepted: {accept}")


def unsupported_media_type(content_type: str) -> APIError:
    return APIError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - accepted media types include: {content_type}")


def too_large() -> APIError:
    return APIError(413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728")


def timeout(message: str, retry_after: int = 1) -> APIError:
    return APIError(504, "Timeout", message, {"retryAfterSeconds": retry_after})


def internal(message: str) -> APIError:
    return APIError(500, "InternalError", f"Internal error occurred: {message}", {"causes": [{"message": message}]})
