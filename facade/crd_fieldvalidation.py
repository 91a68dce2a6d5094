"""``fieldValidation`` for custom resources: unknown fields are what schema pruning would drop.

Built-in kinds find unknown fields by decoding into the Go type; custom resources find them by pruning
against the CRD's structural schema (apiextensions' schemaCoercingDecoder with ReturnPruned). Duplicate
keys are found in the raw body as for any kind. The messages, warnings and the Strict 400 are the
same as for built-in kinds (``unknown field "spec.foo"``).
"""

from __future__ import annotations

import copy
from typing import Any

import orjson

from facade import crd_schema
from facade.fieldvalidation import (
    IGNORE,
    WARN,
    strict_error,
    strict_errors,
    strict_patch_error,
    strict_warnings,
    validate_mode,
)
from facade.resource_table import ResourceInfo


def unknown_field_errors(info: ResourceInfo, obj: dict[str, Any]) -> list[str]:
    """``unknown field "<path>"`` for every field the CRD version's schema would prune from ``obj``."""
    schema = info.crd
    if schema is None:
        return []
    probe = copy.deepcopy(obj)
    crd_schema.drop_nulls(probe, schema)
    return [f'unknown field "{p}"' for p in crd_schema.prune(probe, schema)]


def check_custom_fields(info: ResourceInfo, body: bytes, obj: dict[str, Any], mode: str,
                        options_kind: str = "CreateOptions") -> list[str]:
    """Warnings for Warn (and ""), nothing for Ignore, the upstream 400 for Strict."""
    directive = validate_mode(mode, options_kind)
    if directive == IGNORE:
        return []
    errors = strict_errors(body, obj, None) + unknown_field_errors(info, obj)
    if not errors:
        return []
    if directive == WARN:
        return strict_warnings(errors)
    raise strict_error(info.kind, info.version, errors)


def check_patched_fields(info: ResourceInfo, patched: dict[str, Any], directive: str, warnings: list[str]) -> None:
    """A JSON or merge patch's result: unknown fields are warnings (Warn) or the patch 422 (Strict)."""
    errors = unknown_field_errors(info, patched)
    if not errors:
        return
    if directive == WARN:
        warnings.extend(errors)
        return
    raise strict_patch_error(orjson.dumps(patched).decode(), errors)
