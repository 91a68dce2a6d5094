"""The three client-side patch types of PATCH requests, applied as kube-apiserver 1.32 applies them.

``apply_patch`` is what a PATCH handler calls with the request's Content-Type and raw body; the three
``apply_*`` functions take an already decoded patch. None of them changes its inputs, and every
failure is an ``APIError`` with the code, reason and message kube-apiserver gives. Server-side apply
(``application/apply-patch+yaml``) is not handled here.
"""

from __future__ import annotations

from collections.abc import Sequence

from facade.errors import APIError, bad_request, unsupported_media_type
from facade.patch import gojson
from facade.patch.json_patch import apply_json_patch
from facade.patch.merge_patch import apply_merge_patch
from facade.patch.strategic import apply_strategic_merge_patch

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

BUILTIN_PATCH_TYPES: tuple[str, ...] = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH)
"""What kube-apiserver accepts for built-in kinds, in the order its 415 message lists them."""

CUSTOM_RESOURCE_PATCH_TYPES: tuple[str, ...] = (JSON_PATCH, MERGE_PATCH, APPLY_PATCH)
"""Custom resources have no strategic merge patch."""

__all__ = [
    "APPLY_PATCH",
    "BUILTIN_PATCH_TYPES",
    "CUSTOM_RESOURCE_PATCH_TYPES",
    "JSON_PATCH",
    "MERGE_PATCH",
    "STRATEGIC_MERGE_PATCH",
    "apply_json_patch",
    "apply_merge_patch",
    "apply_patch",
    "apply_strategic_merge_patch",
    "patch_media_type",
]


def patch_media_type(content_type: str, accepted: Sequence[str] = BUILTIN_PATCH_TYPES) -> str:
    """The patch type of a Content-Type header (parameters such as charset dropped), or 415.

    kube-apiserver compares the header up to its first ``;`` exactly (no case folding, no trimming).
    """
    idx = content_type.find(";")
    media = content_type[:idx] if idx > 0 else content_type
    if media not in accepted:
        raise unsupported_media_type(", ".join(accepted))
    return media


def apply_patch(
    content_type: str,
    obj: dict,
    patch_body: bytes,
    schema: dict | None,
    *,
    field_validation: str = "Warn",
    warnings: list[str] | None = None,
    accepted: Sequence[str] = BUILTIN_PATCH_TYPES,
    in_place: bool = False,
) -> dict:
    """Apply a PATCH request body of the given Content-Type to ``obj``; return the patched object.

    ``schema`` is the kind's schema node (``facade.schemas.definition``), used by strategic merge
    patch. ``field_validation`` is the request's fieldValidation query parameter (Warn when absent):
    it picks Go's lenient or strict decoder, whose messages differ, and decides whether duplicate or
    unknown fields in the body are ``warnings`` (appended to the list given) or a 422. ``accepted``
    lists the patch types the resource serves (``CUSTOM_RESOURCE_PATCH_TYPES`` for custom
    resources); a type outside it, or apply-patch (not handled here), is 415. ``in_place``: ``obj`` is
    the caller's own fresh copy, which a merge patch may change instead of copying it first.
    """
    media = patch_media_type(content_type, accepted)
    if media not in (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH):
        raise unsupported_media_type(", ".join(accepted))
    strict = field_validation != "Ignore"
    try:
        patch = gojson.decode(patch_body)
    except gojson.GoJSONError as e:
        raise _decode_error(media, str(e), strict) from None
    with gojson.depth_guard():
        duplicates = gojson.duplicate_fields(patch_body) if strict else []
        options = {"field_validation": field_validation, "warnings": warnings, "duplicates": duplicates}
        if media == JSON_PATCH:
            return apply_json_patch(obj, patch, **options)
        if media == MERGE_PATCH:
            return apply_merge_patch(obj, patch, in_place=in_place, **options)
        return apply_strategic_merge_patch(obj, patch, schema, **options)


def _decode_error(media: str, message: str, strict: bool) -> APIError:
    """The 400 for a body that is not JSON: each patch type words it its own way."""
    if media == STRATEGIC_MERGE_PATCH:
        return bad_request(message)
    if strict:
        return bad_request(f"error decoding patch: {message}")
    if media == MERGE_PATCH:
        return bad_request("Invalid JSON Patch")
    return bad_request(message)
