"""JSON merge patch (RFC 7386, ``application/merge-patch+json``) as kube-apiserver applies it.

``null`` deletes a member, objects merge recursively, anything else replaces. The details follow
evanphx/json-patch v4's ``MergePatch``, which kube-apiserver uses: ``null`` members inside a value that
is added where nothing (or a non-object) was are dropped, but a non-object value that replaces an
object is taken as it is; a patch that is not an object replaces the whole document.
"""

from __future__ import annotations

from typing import Any

from facade.errors import bad_request
from facade.patch import gojson
from facade.patch.json_patch import finish


def apply_merge_patch(
    obj: dict,
    patch: Any,
    *,
    field_validation: str = "Warn",
    warnings: list[str] | None = None,
    duplicates: list[str] | None = None,
    in_place: bool = False,
) -> dict:
    """Apply a decoded merge patch to ``obj``; return a new object (inputs are not changed, unless
    ``in_place``: then ``obj``, a fresh copy the caller gives away, becomes the result).

    Under fieldValidation Warn (the default) or Strict the body must decode into a map, as Go's strict
    decoder checks first; ``duplicates`` are the body's duplicate-field errors, reported as warnings
    (Warn) or a 422 (Strict).
    """
    strict = field_validation != "Ignore"
    if strict and patch is not None and not isinstance(patch, dict):
        raise bad_request("error decoding patch: " + gojson.type_error(patch, "map[string]interface {}"))
    if patch is None or isinstance(patch, (str, int, float, bool)):
        raise bad_request("Invalid JSON Patch")
    if isinstance(patch, list):
        doc: Any = [_pruned(v) for v in patch]
    else:
        doc = obj if in_place else gojson.deep_copy(obj)
        _merge_docs(doc, patch)
    return finish(doc, list(duplicates or ()) if strict else [], field_validation, warnings)


def _merge_docs(doc: dict, patch: dict) -> None:
    for key, value in patch.items():
        if value is None:
            doc.pop(key, None)
            continue
        cur = doc.get(key)
        if cur is None:
            doc[key] = _pruned(value)
        elif isinstance(cur, dict) and isinstance(value, dict):
            _merge_docs(cur, value)
        elif isinstance(cur, dict):
            doc[key] = gojson.deep_copy(value)  # a non-object replacing an object is kept as sent
        else:
            doc[key] = _pruned(value)


def _pruned(value: Any) -> Any:
    """A copy without ``null`` object members, at any depth (``null`` array items stay)."""
    if isinstance(value, dict):
        return {k: _pruned(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value
