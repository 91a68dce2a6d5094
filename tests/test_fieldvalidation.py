"""fieldValidation (Strict | Warn | Ignore): unknown and duplicate fields as kube-apiserver reports them."""

from __future__ import annotations

import json
import time

import orjson
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from facade import schemas
from facade.errors import APIError
from facade.fieldvalidation import (
    check_fields,
    find_duplicate_fields,
    find_unknown_fields,
    strict_patch_error,
)

DEPLOYMENT = schemas.definition("apps", "v1", "Deployment")
CONFIGMAP = schemas.definition("", "v1", "ConfigMap")


def deployment(**extra_container_fields):
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web", "example.com/any-key": "v"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "a", "image": "nginx", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}},
                        {"name": "b", "image": "nginx", **extra_container_fields},
                    ]
                },
            },
        },
    }


def run(body: bytes, schema, mode: str, kind: str = "Deployment", obj=None, **kw):
    if obj is None:
        obj = orjson.loads(body)
    return check_fields(body, obj, schema, mode, kind, "", "web", **kw)


# ------------------------------------------------------------------------------ unknown fields


def test_valid_deployment_has_no_unknown_fields():
    obj = deployment()
    assert find_unknown_fields(obj, DEPLOYMENT) == []
    assert run(orjson.dumps(obj), DEPLOYMENT, "Strict") == []


def test_unknown_field_deep_in_a_container_is_a_warning_by_default():
    body = orjson.dumps(deployment(imagePullPolicyy="Always"))
    assert find_unknown_fields(orjson.loads(body), DEPLOYMENT) == ["spec.template.spec.containers[1].imagePullPolicyy"]
    expected = ['unknown field "spec.template.spec.containers[1].imagePullPolicyy"']
    assert run(body, DEPLOYMENT, "") == expected
    assert run(body, DEPLOYMENT, "Warn") == expected


def test_unknown_fields_are_a_bad_request_in_strict_mode_in_document_order():
    obj = deployment(bogus=1)
    obj["spec"]["foo"] = {"bar": {"baz": 1}}  # after spec.template in the body
    with pytest.raises(APIError) as info:
        run(orjson.dumps(obj), DEPLOYMENT, "Strict")
    assert info.value.code == 400
    assert info.value.reason == "BadRequest"
    assert info.value.message == (
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: '
        'unknown field "spec.template.spec.containers[1].bogus", unknown field "spec.foo"'
    )


def test_ignore_mode_reports_nothing():
    assert run(orjson.dumps(deployment(bogus=1)), DEPLOYMENT, "Ignore") == []


def test_nothing_below_an_unknown_field_is_reported():
    obj = deployment()
    obj["spec"]["foo"] = {"bar": 1, "containers": [{"x": 1}]}
    assert find_unknown_fields(obj, DEPLOYMENT) == ["spec.foo"]


def test_field_names_are_case_sensitive():
    obj = deployment()
    obj["Spec"] = {}
    assert find_unknown_fields(obj, DEPLOYMENT) == ["Spec"]


def test_map_keys_labels_and_opaque_types_accept_anything():
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "c",
            "labels": {"anything/goes": "x"},
            "annotations": {"spec.foo": "y"},
            "managedFields": [{"manager": "m", "fieldsV1": {"f:data": {"f:x": {}}}}],
        },
        "data": {"weird key!": "1", "spec": "2"},
        "binaryData": {"k": "aGk="},
    }
    assert find_unknown_fields(obj, CONFIGMAP) == []
    revision = schemas.definition("apps", "v1", "ControllerRevision")
    assert find_unknown_fields({"data": {"any": {"thing": 1}}, "revision": 1}, revision) == []


def test_unknown_top_level_field_has_no_leading_dot():
    assert find_unknown_fields({"apiVersion": "v1", "kind": "ConfigMap", "extra": 1}, CONFIGMAP) == ["extra"]


def test_strict_errors_stop_at_one_hundred():
    obj = {"apiVersion": "v1", "kind": "ConfigMap", **{f"x{i}": i for i in range(150)}}
    warnings = run(orjson.dumps(obj), CONFIGMAP, "Warn", kind="ConfigMap")
    assert len(warnings) == 100
    assert warnings[0] == 'unknown field "x0"' and warnings[-1] == 'unknown field "x99"'


# ------------------------------------------------------------------------------ duplicate fields


def test_configmap_with_a_duplicate_data_key_warns_in_document_order():
    body = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","name":"d"},"data":{"x":"1","x":"2"},"extra":1}'
    assert run(body, CONFIGMAP, "Warn", kind="ConfigMap") == [
        'duplicate field "metadata.name"',
        'duplicate field "data.x"',
        'unknown field "extra"',
    ]
    with pytest.raises(APIError) as info:
        run(body, CONFIGMAP, "Strict", kind="ConfigMap")
    assert info.value.message == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: '
        'duplicate field "metadata.name", duplicate field "data.x", unknown field "extra"'
    )


def test_duplicate_labels_are_reported_under_metadata_labels():
    body = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","labels":{"app":"a","app":"b"}}}'
    assert run(body, CONFIGMAP, "Warn", kind="ConfigMap") == ['duplicate field "metadata.labels.app"']


def test_a_repeated_unknown_field_is_reported_once():
    body = b'{"apiVersion":"v1","kind":"ConfigMap","extra":1,"extra":2}'
    assert run(body, CONFIGMAP, "Warn", kind="ConfigMap") == ['unknown field "extra"']


def test_duplicates_inside_opaque_values_are_not_reported():
    body = b'{"apiVersion":"apps/v1","kind":"ControllerRevision","data":{"a":1,"a":2},"revision":1}'
    revision = schemas.definition("apps", "v1", "ControllerRevision")
    assert run(body, revision, "Warn", kind="ControllerRevision") == []


def test_pretty_printed_json_and_quoted_colons_are_not_mistaken_for_duplicates():
    obj = deployment()
    obj["metadata"]["annotations"] = {
        "kubectl.kubernetes.io/last-applied-configuration": json.dumps({"a": {"b": "c"}}),
        "note": ': "x" : y',
    }
    body = json.dumps(obj, indent=2).replace('": ', '" : ').encode()
    assert run(body, DEPLOYMENT, "Strict") == []
    assert find_duplicate_fields(body) == []


def test_duplicates_are_found_behind_escaped_backslashes():
    body = b'{"a\\\\":1,"a\\\\":2,"b":"\\\\"}'
    assert find_duplicate_fields(body) == ["a\\"]


def test_schema_less_bodies_check_duplicates_everywhere():
    body = b'{"apiVersion":"x/v1","kind":"W","spec":{"list":[{"k":1,"k":2}]}}'
    assert run(body, None, "Warn", kind="W") == ['duplicate field "spec.list[0].k"']


def test_yaml_duplicate_keys_come_first_with_their_line():
    body = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: '1'\n  a: '2'\nextra: 1\n"
    obj = yaml.safe_load(body)
    assert run(body, CONFIGMAP, "Warn", kind="ConfigMap", obj=obj) == [
        'line 7: key "a" already set in map',
        'unknown field "extra"',
    ]
    with pytest.raises(APIError) as info:
        run(body, CONFIGMAP, "Strict", kind="ConfigMap", obj=obj)
    assert info.value.message == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: '
        'yaml: unmarshal errors:\n  line 7: key "a" already set in map, unknown field "extra"'
    )


# ------------------------------------------------------------------------------ the mode itself


def test_an_unknown_mode_is_rejected_as_an_invalid_options_object():
    body = orjson.dumps(deployment())
    with pytest.raises(APIError) as info:
        run(body, DEPLOYMENT, "strict")
    assert info.value.code == 422
    assert info.value.reason == "Invalid"
    assert info.value.message == (
        'CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "strict": '
        'supported values: "", "Ignore", "Strict", "Warn"'
    )
    assert info.value.details["causes"] == [
        {
            "reason": "FieldValueNotSupported",
            "message": 'Unsupported value: "strict": supported values: "", "Ignore", "Strict", "Warn"',
            "field": "fieldValidation",
        }
    ]
    with pytest.raises(APIError) as info:
        run(body, DEPLOYMENT, "Nope", options_kind="UpdateOptions")
    assert info.value.message.startswith('UpdateOptions.meta.k8s.io "" is invalid: ')


def test_strict_patch_error_names_the_patched_object():
    err = strict_patch_error('{"a":1}', ['unknown field "a"'])
    assert err.code == 422
    assert err.message == ' "" is invalid: patch: Invalid value: "{\\"a\\":1}": strict decoding error: unknown field "a"'


def test_checking_a_typical_deployment_is_cheap():
    body = orjson.dumps(deployment())
    obj = orjson.loads(body)
    run(body, DEPLOYMENT, "Warn")  # warm the schema shape cache
    start = time.perf_counter()
    for _ in range(1000):
        check_fields(body, obj, DEPLOYMENT, "Warn", "Deployment", "apps", "web")
    per_call = (time.perf_counter() - start) / 1000
    assert per_call < 0.001, per_call


# ------------------------------------------------------------------------------ property: duplicates

_keys = st.sampled_from(["a", "b", 'q"', "c\\", "d:"])
_strings = st.text(alphabet='ab":\\ ', max_size=5)
_json = st.recursive(
    st.one_of(st.integers(0, 9), _strings),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.lists(st.tuples(_keys, inner), max_size=4).map(tuple)),
    max_leaves=12,
)


def _render(value, ws: str) -> str:
    """JSON text of a value in which tuples are objects given as (key, value) pairs, duplicates allowed."""
    if isinstance(value, tuple):
        return "{" + ",".join(f"{json.dumps(k)}{ws}:{ws}{_render(v, ws)}" for k, v in value) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_render(v, ws) for v in value) + "]"
    return json.dumps(value)


def _model_duplicates(value, path: str, out: list[str]) -> None:
    if isinstance(value, tuple):
        seen = set()
        for k, v in value:
            child = f"{path}.{k}" if path else k
            if k in seen and child not in out:
                out.append(child)
            seen.add(k)
            _model_duplicates(v, child, out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _model_duplicates(v, f"{path}[{i}]", out)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(_keys, _json), max_size=5).map(tuple), st.sampled_from(["", " ", "\n  "]))
def test_duplicate_detection_never_misses_and_never_invents(doc, ws):
    body = _render(doc, ws).encode()
    expected: list[str] = []
    _model_duplicates(doc, "", expected)
    assert find_duplicate_fields(body) == expected


def test_duplicate_field_inside_a_container_names_its_index():
    body = orjson.dumps(deployment()).replace(b'{"name":"b",', b'{"name":"b","name":"c",')
    assert run(body, DEPLOYMENT, "Warn") == ['duplicate field "spec.template.spec.containers[1].name"']
