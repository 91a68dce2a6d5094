"""Strategic merge patch on real kinds, with merge keys and strategies from the 1.32 schemas."""

import copy

import orjson
import pytest

from facade import schemas
from facade.errors import APIError
from facade.patch import STRATEGIC_MERGE_PATCH, apply_patch, apply_strategic_merge_patch

DEPLOYMENT = schemas.definition("apps", "v1", "Deployment")
POD = schemas.definition("", "v1", "Pod")


def deployment():
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "labels": {"app": "web"},
            "finalizers": ["a.example.com/f", "b.example.com/f"],
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "ConfigMap", "name": "o1", "uid": "u1"},
                {"apiVersion": "v1", "kind": "ConfigMap", "name": "o2", "uid": "u2"},
            ],
        },
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "nginx:1",
                            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                            "ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 443, "protocol": "TCP"}],
                            "args": ["--x", "--y"],
                        },
                        {"name": "sidecar", "image": "envoy:1"},
                    ],
                    "volumes": [{"name": "data", "emptyDir": {}}, {"name": "conf", "configMap": {"name": "c"}}],
                    "tolerations": [{"key": "k1", "operator": "Exists"}, {"key": "k2", "operator": "Exists"}],
                },
            },
        },
    }


def smp(patch, obj=None, schema=DEPLOYMENT):
    return apply_strategic_merge_patch(deployment() if obj is None else obj, patch, schema)


def pod_spec(patch_spec):
    return smp({"spec": {"template": {"spec": patch_spec}}})["spec"]["template"]["spec"]


def containers(patch_containers, **extra):
    return pod_spec({"containers": patch_containers, **extra})["containers"]


def test_containers_merge_by_name():
    out = containers([{"name": "sidecar", "image": "envoy:2"}])
    assert [(c["name"], c["image"]) for c in out] == [("app", "nginx:1"), ("sidecar", "envoy:2")]
    assert out[0]["env"] == deployment()["spec"]["template"]["spec"]["containers"][0]["env"]


def test_new_container_is_placed_before_the_servers_remaining_items_like_upstream():
    out = containers([{"name": "new", "image": "busybox"}])
    assert [c["name"] for c in out] == ["new", "app", "sidecar"]


def test_set_element_order_places_new_items():
    out = pod_spec(
        {
            "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}, {"name": "new"}],
            "containers": [{"name": "new", "image": "busybox"}],
        }
    )["containers"]
    assert [c["name"] for c in out] == ["app", "sidecar", "new"]


def test_set_element_order_reorders_existing_items():
    out = pod_spec({"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}]})["containers"]
    assert [c["name"] for c in out] == ["sidecar", "app"]


def test_env_merges_by_name_and_ports_by_container_port():
    out = containers(
        [
            {
                "name": "app",
                "env": [{"name": "B", "value": "two"}, {"name": "C", "value": "3"}],
                "ports": [{"containerPort": 443, "name": "https"}],
            }
        ]
    )[0]
    assert {e["name"]: e["value"] for e in out["env"]} == {"A": "1", "B": "two", "C": "3"}
    assert out["ports"] == [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 443, "protocol": "TCP", "name": "https"}]


def test_args_without_a_strategy_are_replaced():
    assert containers([{"name": "app", "args": ["--z"]}])[0]["args"] == ["--z"]


def test_tolerations_are_an_atomic_list_and_replaced():
    out = pod_spec({"tolerations": [{"key": "k3", "operator": "Exists"}]})
    assert out["tolerations"] == [{"key": "k3", "operator": "Exists"}]


def test_delete_directive_removes_list_item_by_merge_key():
    out = containers([{"name": "sidecar", "$patch": "delete"}])
    assert [c["name"] for c in out] == ["app"]
    out = containers([{"name": "app", "env": [{"name": "A", "$patch": "delete"}]}])
    assert out[0]["env"] == [{"name": "B", "value": "2"}]


def test_replace_directive_in_a_list_makes_the_patch_items_the_list():
    out = containers([{"name": "only", "image": "x"}, {"$patch": "replace"}])
    assert out == [{"name": "only", "image": "x"}]


def test_replace_directive_on_a_map_replaces_it():
    out = smp({"metadata": {"labels": {"$patch": "replace", "other": "x"}}})
    assert out["metadata"]["labels"] == {"other": "x"}


def test_delete_directive_on_a_map_empties_it():
    out = smp({"spec": {"strategy": {"$patch": "delete"}}})
    assert out["spec"]["strategy"] == {}


def test_null_deletes_map_entries():
    out = smp({"metadata": {"labels": {"app": None}}, "spec": {"replicas": None}})
    assert out["metadata"]["labels"] == {}
    assert "replicas" not in out["spec"]


def test_finalizers_are_a_merged_primitive_list():
    out = smp({"metadata": {"finalizers": ["c.example.com/f", "a.example.com/f"]}})
    assert out["metadata"]["finalizers"] == ["c.example.com/f", "a.example.com/f", "b.example.com/f"]


def test_delete_from_primitive_list():
    out = smp({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a.example.com/f"]}})
    assert out["metadata"]["finalizers"] == ["b.example.com/f"]


def test_owner_references_merge_by_uid():
    out = smp({"metadata": {"ownerReferences": [{"uid": "u2", "name": "renamed", "apiVersion": "v1", "kind": "ConfigMap"}]}})
    assert [(r["uid"], r["name"]) for r in out["metadata"]["ownerReferences"]] == [("u1", "o1"), ("u2", "renamed")]


def test_retain_keys_switches_the_deployment_strategy_as_kubectl_apply_sends_it():
    out = smp({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": None}}})
    assert out["spec"]["strategy"] == {"type": "Recreate"}


def test_retain_keys_changes_a_volume_source():
    out = pod_spec(
        {
            "$setElementOrder/volumes": [{"name": "data"}, {"name": "conf"}],
            "volumes": [{"$retainKeys": ["name", "secret"], "name": "data", "secret": {"secretName": "s"}}],
        }
    )
    assert out["volumes"] == [{"name": "data", "secret": {"secretName": "s"}}, {"name": "conf", "configMap": {"name": "c"}}]


def test_without_retain_keys_both_volume_sources_are_kept():
    out = pod_spec({"volumes": [{"name": "data", "secret": {"secretName": "s"}}]})
    assert out["volumes"][0] == {"name": "data", "emptyDir": {}, "secret": {"secretName": "s"}}


def test_no_directive_is_left_in_the_result():
    out = pod_spec({"containers": [{"name": "new", "env": [{"name": "X", "$patch": "delete"}], "$retainKeys": ["name"]}]})
    assert "$" not in orjson.dumps(out).decode()


def test_empty_patch_is_the_identity_and_inputs_are_not_mutated():
    obj = deployment()
    p = {"spec": {"template": {"spec": {"containers": [{"name": "app", "$patch": "delete"}]}}}}
    p_before = copy.deepcopy(p)
    assert apply_strategic_merge_patch(obj, {}, DEPLOYMENT) == deployment()
    apply_strategic_merge_patch(obj, p, DEPLOYMENT)
    assert obj == deployment() and p == p_before


def test_without_schema_lists_are_replaced_and_maps_merged():
    out = smp({"metadata": {"labels": {"x": "1"}, "finalizers": ["z"]}}, schema=None)
    assert out["metadata"]["labels"] == {"app": "web", "x": "1"}
    assert out["metadata"]["finalizers"] == ["z"]


def test_pod_schema_works_for_pods():
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "a", "image": "x"}]}}
    out = apply_strategic_merge_patch(pod, {"spec": {"containers": [{"name": "a", "image": "y"}]}}, POD)
    assert out["spec"]["containers"] == [{"name": "a", "image": "y"}]


# --- errors, with kube-apiserver's codes and texts -------------------------------------------------


def error_of(patch, schema=DEPLOYMENT):
    with pytest.raises(APIError) as e:
        smp(patch, schema=schema)
    return e.value.code, e.value.reason, e.value.message


def test_missing_merge_key_is_the_go_error_as_a_500():
    assert error_of({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}) == (
        500,
        "",
        "map: map[image:x] does not contain declared merge key: name",
    )


def test_unknown_patch_directive_is_rejected():
    assert error_of({"metadata": {"labels": {"$patch": "frob"}}}) == (
        500,
        "",
        "unknown patch type: frob in map: map[$patch:frob]",
    )
    code, _, message = error_of({"spec": {"template": {"spec": {"containers": [{"name": "app", "$patch": 1}]}}}})
    assert (code, message) == (500, "unknown patch type: %!s(int64=1) in map: map[$patch:1 name:app]")


def test_merge_directive_is_not_supported():
    assert error_of({"spec": {"template": {"spec": {"containers": [{"$patch": "merge"}]}}}})[2] == (
        "merging lists cannot yet be specified in the patch"
    )
    assert error_of({"metadata": {"labels": {"$patch": "merge"}}})[2] == "unknown patch type: merge in map: map[$patch:merge]"


def test_malformed_parallel_list_keys_are_400():
    assert error_of({"metadata": {"$deleteFromPrimitiveListfinalizers": ["a"]}}) == (
        400,
        "BadRequest",
        "invalid patch format of primitive list",
    )
    assert error_of({"spec": {"template": {"spec": {"$setElementOrderX": []}}}}) == (
        400,
        "BadRequest",
        "invalid patch format of setElementOrder list",
    )


def test_retain_keys_must_list_every_patched_field():
    assert error_of({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {"maxSurge": 1}}}}) == (
        400,
        "BadRequest",
        "invalid patch format of retainKeys",
    )
    assert error_of({"spec": {"strategy": {"$retainKeys": "type"}}})[:2] == (400, "BadRequest")


def test_set_element_order_must_match_the_patch_list_order():
    code, _, message = error_of(
        {
            "spec": {
                "template": {
                    "spec": {
                        "$setElementOrder/containers": [{"name": "app"}],
                        "containers": [{"name": "sidecar", "image": "x"}],
                    }
                }
            }
        }
    )
    assert code == 500 and message.startswith("The order in patch list:\n[map[image:x name:sidecar]]\n doesn't match")


def test_list_of_lists_is_422():
    obj = {"metadata": {"finalizers": [["a"]]}}
    with pytest.raises(APIError) as e:
        apply_strategic_merge_patch(obj, {"metadata": {"finalizers": [["b"]]}}, DEPLOYMENT)
    assert (e.value.code, e.value.reason) == (422, "Invalid")


def test_mixed_element_types_are_rejected():
    assert error_of({"metadata": {"finalizers": [1]}}) == (
        500,
        "",
        "list element types are not identical: [[a.example.com/f b.example.com/f] [1]]",
    )


def test_body_decoding_errors_have_no_prefix():
    for body, message in [
        (b"[]", "json: cannot unmarshal array into Go value of type map[string]interface {}"),
        (b"{'a': 1}", "invalid character '\\'' looking for beginning of object key string"),
    ]:
        with pytest.raises(APIError) as e:
            apply_patch(STRATEGIC_MERGE_PATCH, deployment(), body, DEPLOYMENT)
        assert (e.value.code, e.value.message) == (400, message)


def test_null_body_is_an_empty_patch():
    assert apply_patch(STRATEGIC_MERGE_PATCH, deployment(), b"null", DEPLOYMENT) == deployment()
