"""Choosing the patch type from Content-Type, as kube-apiserver's PATCH handler does."""

import pytest

from facade.errors import APIError
from facade.patch import (
    APPLY_PATCH,
    CUSTOM_RESOURCE_PATCH_TYPES,
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_MERGE_PATCH,
    apply_patch,
    patch_media_type,
)

OBJ = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}
BUILTIN_415 = (
    "the body of the request was in an unknown format - accepted media types include: "
    "application/json-patch+json, application/merge-patch+json, "
    "application/strategic-merge-patch+json, application/apply-patch+yaml"
)


def test_each_patch_type_is_dispatched():
    assert apply_patch(JSON_PATCH, OBJ, b'[{"op":"add","path":"/data/b","value":"2"}]', None)["data"] == {
        "a": "1",
        "b": "2",
    }
    assert apply_patch(MERGE_PATCH, OBJ, b'{"data":{"a":null}}', None)["data"] == {}
    assert apply_patch(STRATEGIC_MERGE_PATCH, OBJ, b'{"data":{"c":"3"}}', None)["data"] == {"a": "1", "c": "3"}


def test_charset_parameter_is_ignored():
    assert apply_patch(MERGE_PATCH + "; charset=utf-8", OBJ, b"{}", None) == OBJ


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "APPLICATION/MERGE-PATCH+JSON", ""])
def test_unknown_patch_type_is_415_listing_accepted_types(content_type):
    with pytest.raises(APIError) as e:
        apply_patch(content_type, OBJ, b"{}", None)
    assert (e.value.code, e.value.reason, e.value.message) == (415, "UnsupportedMediaType", BUILTIN_415)


def test_custom_resources_do_not_accept_strategic_merge_patch():
    with pytest.raises(APIError) as e:
        apply_patch(STRATEGIC_MERGE_PATCH, OBJ, b"{}", None, accepted=CUSTOM_RESOURCE_PATCH_TYPES)
    assert e.value.code == 415
    assert e.value.message.endswith(
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    )


def test_apply_patch_is_recognised_but_not_applied_here():
    assert patch_media_type(APPLY_PATCH) == APPLY_PATCH
    with pytest.raises(APIError) as e:
        apply_patch(APPLY_PATCH, OBJ, b"{}", None)
    assert e.value.code == 415
