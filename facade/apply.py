"""Server-side apply (``application/apply-patch+yaml``).

Not served yet: the field-ownership merge of structured-merge-diff is the next issue's work. Until
then an apply patch is refused as a media type this server does not accept, which makes kubectl
report it clearly instead of pretending to apply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from facade import errors
from facade.request import Target
from facade.rest import WriteOptions
from storage.interface import Stored

if TYPE_CHECKING:
    from facade.handlers import ResourceHandler


async def server_side_apply(
    handler: ResourceHandler, request: Request, t: Target, body: bytes, opts: WriteOptions
) -> tuple[Stored | dict[str, Any], int, list[str]]:
    raise errors.unsupported_media_type(
        "application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json"
    )
