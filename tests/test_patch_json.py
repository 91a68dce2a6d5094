"""JSON patch (application/json-patch+json) as kube-apiserver 1.32 applies and rejects it."""

import copy

import orjson
import pytest

from facade.errors import APIError
from facade.patch import JSON_PATCH, apply_json_patch, apply_patch

CM = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "cm", "namespace": "default", "labels": {"app": "web"}},
    "data": {"a": "1"},
    "list": [1, 2, 3],
}
UNPROCESSABLE = "the server rejected our request due to an error in our request"


def patch(ops, obj=CM, **kw):
    return apply_patch(JSON_PATCH, obj, orjson.dumps(ops), None, **kw)


def raw(body: bytes, **kw):
    return apply_patch(JSON_PATCH, CM, body, None, **kw)


def test_add_replace_remove_apply_in_order():
    out = patch(
        [
            {"op": "add", "path": "/data/b", "value": "2"},
            {"op": "replace", "path": "/data/a", "value": "x"},
            {"op": "remove", "path": "/metadata/labels/app"},
        ]
    )
    assert out["data"] == {"a": "x", "b": "2"}
    assert out["metadata"]["labels"] == {}


def test_inputs_are_not_mutated():
    before = copy.deepcopy(CM)
    ops = [{"op": "add", "path": "/data/c", "value": {"n": [1]}}, {"op": "add", "path": "/data/c/n/-", "value": 2}]
    ops_before = copy.deepcopy(ops)
    out = apply_json_patch(CM, ops)
    assert out["data"]["c"] == {"n": [1, 2]}
    assert CM == before and ops == ops_before


def test_slash_in_key_is_escaped_as_tilde_one():
    out = patch([{"op": "add", "path": "/metadata/annotations", "value": {}},
                 {"op": "add", "path": "/metadata/annotations/example.com~1a~0b", "value": "v"}])
    assert out["metadata"]["annotations"] == {"example.com/a~b": "v"}


def test_array_indices_dash_and_negative_append_or_count_from_end():
    assert patch([{"op": "add", "path": "/list/-", "value": 4}])["list"] == [1, 2, 3, 4]
    assert patch([{"op": "add", "path": "/list/-1", "value": 9}])["list"] == [1, 2, 3, 9]
    assert patch([{"op": "add", "path": "/list/0", "value": 0}])["list"] == [0, 1, 2, 3]
    assert patch([{"op": "remove", "path": "/list/-1"}])["list"] == [1, 2]


def test_replace_of_missing_member_adds_it_like_kube_apiserver():
    assert patch([{"op": "replace", "path": "/data/new", "value": "v"}])["data"]["new"] == "v"


def test_move_and_copy():
    out = patch([{"op": "copy", "from": "/data/a", "path": "/data/b"}, {"op": "move", "from": "/data/a", "path": "/data/c"}])
    assert out["data"] == {"b": "1", "c": "1"}


def test_passing_test_operation_lets_the_patch_apply():
    out = patch([{"op": "test", "path": "/data/a", "value": "1"}, {"op": "add", "path": "/data/b", "value": "2"}])
    assert out["data"]["b"] == "2"


@pytest.mark.parametrize(
    "ops",
    [
        [{"op": "test", "path": "/data/a", "value": "2"}],
        [{"op": "test", "path": "/data/a", "value": 1}],  # types differ: "1" is not 1
        [{"op": "remove", "path": "/data/missing"}],
        [{"op": "add", "path": "/missing/child", "value": 1}],
        [{"op": "add", "path": "/list/9", "value": 1}],
        [{"op": "replace", "path": "/list/7", "value": 1}],
        [{"op": "move", "from": "/data/missing", "path": "/data/x"}],
        [{"op": "frobnicate", "path": "/data/a"}],
        [{"path": "/data/a"}],
        [{"op": "add", "value": 1}],
    ],
)
def test_operation_that_does_not_apply_is_422_with_the_generic_message(ops):
    with pytest.raises(APIError) as e:
        patch(ops)
    assert (e.value.code, e.value.reason, e.value.message) == (422, "Invalid", UNPROCESSABLE)


def test_body_that_is_an_object_is_400_naming_the_go_type():
    with pytest.raises(APIError) as e:
        raw(b'{"op": "add"}')
    assert (e.value.code, e.value.reason) == (400, "BadRequest")
    assert e.value.message == "error decoding patch: json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp"


def test_with_field_validation_ignore_the_lenient_decoder_words_it():
    with pytest.raises(APIError) as e:
        raw(b'{"op": "add"}', field_validation="Ignore")
    assert e.value.message == "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
    with pytest.raises(APIError) as e:
        raw(b"[1]", field_validation="Ignore")
    assert e.value.message == "json: cannot unmarshal number into Go value of type jsonpatch.Operation"


def test_operation_field_of_the_wrong_type_is_400():
    with pytest.raises(APIError) as e:
        raw(b'[{"op": "add", "path": 5, "value": 1}]')
    assert e.value.code == 400
    assert e.value.message == (
        "error decoding patch: json: cannot unmarshal number into Go struct field jsonPatchOp.path of type string"
    )


def test_invalid_json_is_400_with_go_syntax_message():
    with pytest.raises(APIError) as e:
        raw(b"[{op: 1}]")
    assert e.value.code == 400
    assert e.value.message == "error decoding patch: invalid character 'o' looking for beginning of object key string"
    with pytest.raises(APIError) as e:
        raw(b"")
    assert e.value.message == "error decoding patch: unexpected end of JSON input"


def test_null_body_is_an_empty_patch():
    assert raw(b"null") == CM


def test_unknown_operation_field_is_a_warning_by_default_and_422_when_strict():
    body = b'[{"op": "add", "path": "/data/b", "value": "2", "valeu": "3"}]'
    warnings: list[str] = []
    out = raw(body, warnings=warnings)
    assert out["data"]["b"] == "2"
    assert warnings == ['json patch unknown field "[0].valeu"']
    with pytest.raises(APIError) as e:
        raw(body, field_validation="Strict")
    assert e.value.code == 422
    assert e.value.message.startswith(' "" is invalid: patch: Invalid value: "{')
    assert e.value.message.endswith('": strict decoding error: json patch unknown field "[0].valeu"')
    assert raw(body, field_validation="Ignore", warnings=warnings)["data"]["b"] == "2"


def test_duplicate_operation_field_is_reported():
    warnings: list[str] = []
    raw(b'[{"op": "add", "op": "add", "path": "/data/b", "value": "2"}]', warnings=warnings)
    assert warnings == ['json patch duplicate field "[0].op"']


def test_more_than_10000_operations_is_413():
    ops = [{"op": "test", "path": "/data/a", "value": "1"}] * 10001
    with pytest.raises(APIError) as e:
        patch(ops)
    assert e.value.code == 413 and e.value.reason == "RequestEntityTooLarge"
    assert e.value.message == (
        "Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 10001"
    )


def test_replacing_the_document_with_an_array_cannot_be_decoded_into_a_kind():
    with pytest.raises(APIError) as e:
        patch([{"op": "replace", "path": "", "value": [1]}])
    assert e.value.code == 422 and e.value.reason == "Invalid"
    assert e.value.message.startswith(' "" is invalid: patch: Invalid value: "[1]": couldn\'t get version/kind;')
    assert e.value.details["causes"][0]["field"] == "patch"
