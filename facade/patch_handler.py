"""PATCH: decode the patch by its content type, apply it to the stored object, write with retries."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from facade import errors
from facade.fieldvalidation import validate_mode
from facade.patch import (
    APPLY_PATCH,
    BUILTIN_PATCH_TYPES,
    CUSTOM_RESOURCE_PATCH_TYPES,
    apply_patch,
    patch_media_type,
)
from facade.request import Target
from facade.rest import WriteOptions
from storage.interface import Stored

if TYPE_CHECKING:
    from facade.handlers import ResourceHandler


async def patch_object(
    handler: ResourceHandler, request: Request, t: Target, body: bytes, opts: WriteOptions
) -> tuple[Stored | dict[str, Any], int, list[str]]:
    """Apply the request's patch to the object ``t`` names; (result, HTTP status, warnings)."""
    info = t.info
    rest = handler.rest
    raw_type = request.headers.get("content-type", "")
    accepted = CUSTOM_RESOURCE_PATCH_TYPES if info.crd is not None else BUILTIN_PATCH_TYPES
    if patch_media_type(raw_type, accepted) == APPLY_PATCH:
        from facade.apply import server_side_apply

        return await server_side_apply(handler, request, t, body, opts)
    if "force" in request.query_params:  # ValidatePatchOptions: force belongs to apply only
        raise errors.invalid_error("PatchOptions", "meta.k8s.io", "", [
            errors.forbidden("force", "may not be specified for non-apply patch")])
    schema = rest.schema_for(info)
    warnings: list[str] = []
    directive = validate_mode(request.query_params.get("fieldValidation", ""), "PatchOptions") or "Warn"

    def mutate(obj: dict[str, Any]) -> dict[str, Any]:
        warnings.clear()
        try:
            patched = apply_patch(raw_type, obj, body, schema, field_validation=directive, warnings=warnings,
                                  accepted=accepted, in_place=True)  # obj: guaranteed_update's fresh copy
            if info.crd is not None and directive != "Ignore":  # unknown = what the CRD schema prunes
                from facade.crd_fieldvalidation import check_patched_fields

                check_patched_fields(info, patched, directive, warnings)
            return patched
        except errors.APIError as e:
            if e.code >= 500:  # Go's plain errors (e.g. a missing merge key) are bad input, not our failure
                raise errors.bad_request(e.message) from None
            raise

    out = await rest.guaranteed_update(info, t.namespace, t.name, mutate, opts)
    return out, 200, warnings
