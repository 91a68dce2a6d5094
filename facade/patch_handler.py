"""PATCH: decode the patch by its content type, apply it to the stored object, write with retries."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from facade import errors
from facade.request import Target
from facade.rest import WriteOptions
from storage.interface import Stored

if TYPE_CHECKING:
    from facade.handlers import ResourceHandler

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
APPLY_PATCH_CBOR = "application/apply-patch+cbor"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH)


async def patch_object(
    handler: ResourceHandler, request: Request, t: Target, body: bytes, opts: WriteOptions
) -> tuple[Stored | dict[str, Any], int, list[str]]:
    """Apply the request's patch to the object ``t`` names; (result, HTTP status, warnings)."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type not in PATCH_TYPES:
        raise errors.unsupported_media_type(", ".join(PATCH_TYPES))
    info = t.info
    rest = handler.rest
    if content_type == APPLY_PATCH:
        from facade.apply import server_side_apply

        return await server_side_apply(handler, request, t, body, opts)
    if content_type == STRATEGIC_PATCH and info.crd is not None:
        raise errors.unsupported_media_type(", ".join((JSON_PATCH, MERGE_PATCH, APPLY_PATCH)))
    from facade.patch import apply_patch

    schema = rest.schema_for(info)
    warnings: list[str] = []
    mode = request.query_params.get("fieldValidation", "")

    def mutate(obj: dict[str, Any]) -> dict[str, Any]:
        patched = apply_patch(content_type, obj, body, schema)
        warnings[:] = _check_patched(handler, t, patched, mode)
        return patched

    out = await rest.guaranteed_update(info, t.namespace, t.name, mutate, opts)
    return out, 200, warnings


def _check_patched(handler: ResourceHandler, t: Target, patched: dict[str, Any], mode: str) -> list[str]:
    from facade.handlers import check_fields

    if mode in ("", "Ignore"):
        mode = "Warn" if mode == "" else mode
    return check_fields(handler.rest, t.info, b"", patched, mode)
