"""JSON merge patch (application/merge-patch+json) as kube-apiserver 1.32 applies and rejects it."""

import copy

import orjson
import pytest

from facade.errors import APIError
from facade.patch import MERGE_PATCH, apply_merge_patch, apply_patch

DEPLOY = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"app": "web", "tier": "front"}},
    "spec": {
        "replicas": 1,
        "template": {"spec": {"containers": [{"name": "a", "image": "nginx"}, {"name": "b", "image": "redis"}]}},
    },
}


def raw(body: bytes, **kw):
    return apply_patch(MERGE_PATCH, DEPLOY, body, None, **kw)


def test_objects_merge_and_null_deletes():
    out = apply_merge_patch(DEPLOY, {"metadata": {"labels": {"tier": None, "new": "x"}}, "spec": {"replicas": 3}})
    assert out["metadata"]["labels"] == {"app": "web", "new": "x"}
    assert out["spec"]["replicas"] == 3
    assert out["spec"]["template"] == DEPLOY["spec"]["template"]


def test_lists_are_replaced_whole():
    out = apply_merge_patch(DEPLOY, {"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "x"}]}}}})
    assert out["spec"]["template"]["spec"]["containers"] == [{"name": "a", "image": "x"}]


def test_nulls_inside_a_new_object_are_dropped():
    out = apply_merge_patch(DEPLOY, {"spec": {"strategy": {"type": "Recreate", "rollingUpdate": None}}})
    assert out["spec"]["strategy"] == {"type": "Recreate"}


def test_null_for_a_missing_member_is_ignored():
    assert apply_merge_patch(DEPLOY, {"status": None}) == DEPLOY


def test_inputs_are_not_mutated():
    before = copy.deepcopy(DEPLOY)
    p = {"metadata": {"labels": {"app": None}}}
    out = apply_merge_patch(DEPLOY, p)
    assert DEPLOY == before and p == {"metadata": {"labels": {"app": None}}}
    assert "app" not in out["metadata"]["labels"]


def test_array_body_is_400_by_default():
    with pytest.raises(APIError) as e:
        raw(b"[1]")
    assert (e.value.code, e.value.reason) == (400, "BadRequest")
    assert e.value.message == "error decoding patch: json: cannot unmarshal array into Go value of type map[string]interface {}"


def test_null_or_scalar_body_is_invalid_json_patch():
    for body in (b"null", b'"x"'):
        with pytest.raises(APIError) as e:
            raw(body, field_validation="Ignore")
        assert (e.value.code, e.value.message) == (400, "Invalid JSON Patch")
    with pytest.raises(APIError) as e:
        raw(b"null")
    assert e.value.message == "Invalid JSON Patch"


def test_invalid_json_body():
    with pytest.raises(APIError) as e:
        raw(b'{"spec": }')
    assert e.value.message == "error decoding patch: invalid character '}' looking for beginning of value"
    with pytest.raises(APIError) as e:
        raw(b'{"spec": }', field_validation="Ignore")
    assert e.value.message == "Invalid JSON Patch"


def test_array_body_under_ignore_replaces_the_document_and_fails_decoding():
    with pytest.raises(APIError) as e:
        raw(b"[1]", field_validation="Ignore")
    assert e.value.code == 422
    assert e.value.message.startswith(' "" is invalid: patch: Invalid value: "[1]"')


def test_duplicate_fields_warn_by_default_and_fail_when_strict():
    body = orjson.dumps({"metadata": {"labels": {"a": "1"}}})[:-3] + b',"a":"2"}}}'
    warnings: list[str] = []
    out = raw(body, warnings=warnings)
    assert out["metadata"]["labels"]["a"] == "2"
    assert warnings == ['duplicate field "metadata.labels.a"']
    with pytest.raises(APIError) as e:
        raw(body, field_validation="Strict")
    assert e.value.code == 422
    assert e.value.message.endswith('strict decoding error: duplicate field "metadata.labels.a"')
