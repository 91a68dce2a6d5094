"""ConfigMaps and Secrets: key rules, the 1 MiB limit, Secret types, ``immutable: true``.

A Secret's ``stringData`` is write-only: kube-apiserver merges it into ``data`` (base64) while
decoding, so it never appears in what is stored or returned. ``data`` and ``binaryData`` values are
base64 on the wire; a value that is not valid base64 is a decode error (400), not a 422.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

import orjson

from facade.errors import APIError, FieldError, forbidden, invalid, required, too_long
from facade.kinds.core_fields import as_dict, config_key_errors, key
from facade.resource_table import Strategy

Obj = dict[str, Any]

MAX_SECRET_SIZE = 1024 * 1024
IMMUTABLE_MSG = "field is immutable when `immutable` is set"
SERVICE_ACCOUNT_NAME_KEY = "kubernetes.io/service-account.name"
_B64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")


def _decode_error(kind: str, detail: str) -> APIError:
    return APIError(400, "BadRequest", f'{kind} in version "v1" cannot be handled as a {kind}: {detail}')


def decode_b64(value: Any, kind: str) -> bytes:
    """Go's base64.StdEncoding.DecodeString, with its error text (``illegal base64 data at input byte N``)."""
    if not isinstance(value, str):
        raise _decode_error(kind, "json: cannot unmarshal into Go value of type []uint8")
    for i, ch in enumerate(value):
        if not (ch.isascii() and (ch.isalnum() or ch in "+/=")):
            raise _decode_error(kind, f"illegal base64 data at input byte {i}")
    if len(value) % 4:
        # Go reports the start of the incomplete final quantum
        raise _decode_error(kind, f"illegal base64 data at input byte {len(value) - len(value) % 4}")
    if not _B64.match(value):
        raise _decode_error(kind, f"illegal base64 data at input byte {value.find('=')}")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise _decode_error(kind, f"illegal base64 data at input byte {len(value)}") from None


def _total_size(values: Any, kind: str, b64: bool) -> int:
    total = 0
    for v in as_dict(values).values():
        if b64:
            total += len(decode_b64(v, kind))
        elif isinstance(v, str):
            total += len(v.encode())
    return total


def _json_error(raw: bytes) -> str | None:
    """The encoding/json error for unmarshalling ``raw`` into a map, or None when it is an object."""
    if not raw.strip():
        return "unexpected end of JSON input"
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        text = raw.decode(errors="replace").lstrip()
        ch = text[0] if text else ""
        if ch in "{[":
            return "unexpected end of JSON input"
        return f"invalid character '{ch}' looking for beginning of value"
    if not isinstance(value, dict):
        if value is None:
            return None
        name = "string" if isinstance(value, str) else _json_type(value)
        return f"json: cannot unmarshal {name} into Go value of type map[string]interface {{}}"
    return None


def _json_type(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    return {list: "array", dict: "object"}.get(type(v), "value")


def _key_errors(values: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for k in sorted(as_dict(values)):
        errs += [invalid(key(path, k), k, m) for m in config_key_errors(k)]
    return errs


# -- ConfigMap --------------------------------------------------------------------------------------


def validate_config_map(cm: Obj) -> list[FieldError]:
    data, binary = as_dict(cm.get("data")), as_dict(cm.get("binaryData"))
    errs: list[FieldError] = []
    for k in sorted(data):
        errs += [invalid(key("data", k), k, m) for m in config_key_errors(k)]
        if k in binary:
            errs.append(invalid(key("data", k), k, "duplicate of key present in binaryData"))
    errs += _key_errors(binary, "binaryData")
    size = _total_size(data, "ConfigMap", False) + _total_size(binary, "ConfigMap", True)
    if size > MAX_SECRET_SIZE:
        errs.append(too_long("[]", "", MAX_SECRET_SIZE))
    return errs


class ConfigMapStrategy(Strategy):
    """ConfigMaps: no spec, no status; ``immutable: true`` freezes data and binaryData."""

    def defaults(self, obj: Obj) -> None:
        for v in as_dict(obj.get("binaryData")).values():
            decode_b64(v, "ConfigMap")
        for v in as_dict(obj.get("data")).values():
            if not isinstance(v, str):
                raise _decode_error(
                    "ConfigMap", f"json: cannot unmarshal {_json_type(v)} into Go struct field ConfigMap.data of type string"
                )

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_config_map(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        if old.get("immutable") is True:
            if new.get("immutable") is not True:
                errs.append(forbidden("immutable", IMMUTABLE_MSG))
            if (new.get("data") or {}) != (old.get("data") or {}):
                errs.append(forbidden("data", IMMUTABLE_MSG))
            if (new.get("binaryData") or {}) != (old.get("binaryData") or {}):
                errs.append(forbidden("binaryData", IMMUTABLE_MSG))
        return errs + validate_config_map(new)


# -- Secret -----------------------------------------------------------------------------------------


def merge_string_data(secret: Obj) -> None:
    """Convert_v1_Secret_To_core_Secret: ``stringData`` entries overwrite ``data`` (base64-encoded)."""
    string_data = secret.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = secret.get("data") if isinstance(secret.get("data"), dict) else {}
        for k, v in string_data.items():
            data[k] = base64.b64encode(str(v).encode()).decode()
        secret["data"] = data


def validate_secret(secret: Obj) -> list[FieldError]:
    data = as_dict(secret.get("data"))
    errs = _key_errors(data, "data")
    decoded = {k: decode_b64(v, "Secret") for k, v in data.items()}
    if sum(len(v) for v in decoded.values()) > MAX_SECRET_SIZE:
        errs.append(too_long("data", "", MAX_SECRET_SIZE))
    stype = secret.get("type") or ""
    annotations = as_dict(as_dict(secret.get("metadata")).get("annotations"))
    if stype == "kubernetes.io/service-account-token":
        if not annotations.get(SERVICE_ACCOUNT_NAME_KEY):
            errs.append(required(key("metadata.annotations", SERVICE_ACCOUNT_NAME_KEY), ""))
    elif stype in ("kubernetes.io/dockercfg", "kubernetes.io/dockerconfigjson"):
        k = ".dockercfg" if stype == "kubernetes.io/dockercfg" else ".dockerconfigjson"
        if k not in decoded:
            errs.append(required(key("data", k), ""))
        else:
            msg = _json_error(decoded[k])
            if msg:
                errs.append(invalid(key("data", k), "<secret contents redacted>", msg))
    elif stype == "kubernetes.io/basic-auth":
        if "username" not in decoded and "password" not in decoded:
            errs.append(required(key("data", "username"), ""))
            errs.append(required(key("data", "password"), ""))
    elif stype == "kubernetes.io/ssh-auth":
        if not decoded.get("ssh-privatekey"):
            errs.append(required(key("data", "ssh-privatekey"), ""))
    elif stype == "kubernetes.io/tls":
        if "tls.crt" not in decoded:
            errs.append(required(key("data", "tls.crt"), ""))
        if "tls.key" not in decoded:
            errs.append(required(key("data", "tls.key"), ""))
    return errs


class SecretStrategy(Strategy):
    """Secrets: type Opaque by default, type-specific keys, type and ``immutable`` data fixed."""

    def defaults(self, obj: Obj) -> None:
        merge_string_data(obj)
        if not obj.get("type"):
            obj["type"] = "Opaque"

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_secret(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        if new.get("type") != old.get("type"):
            errs.append(invalid("type", new.get("type") or "", "field is immutable"))
        if old.get("immutable") is True:
            if new.get("immutable") is not True:
                errs.append(forbidden("immutable", IMMUTABLE_MSG))
            if (new.get("data") or {}) != (old.get("data") or {}):
                errs.append(forbidden("data", IMMUTABLE_MSG))
        return errs + validate_secret(new)

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        return {"type": obj.get("type") or ""}
