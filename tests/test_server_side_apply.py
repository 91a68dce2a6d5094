"""Server-side apply as kube-apiserver 1.32 does it, seen through kubectl, raw HTTP and the Python client."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from conftest import Server

APPLY_CT = "application/apply-patch+yaml"


def apply(server: Server, path: str, body: dict[str, Any] | str, manager: str | None = "mgr",
          query: str = "") -> tuple[int, dict[str, Any]]:
    params = [f"fieldManager={manager}"] if manager else []
    if query:
        params.append(query)
    url = path + ("?" + "&".join(params) if params else "")
    raw = body if isinstance(body, str) else json.dumps(body)
    code, _, out = server.request("PATCH", url, raw.encode(), {"Content-Type": APPLY_CT})
    return code, json.loads(out)


def cm_path(ns: str, name: str = "cm") -> str:
    return f"/api/v1/namespaces/{ns}/configmaps/{name}"


def cm(ns: str, data: dict[str, str], name: str = "cm", **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns, **meta},
            "data": data}


def deployment(ns: str, containers: list[dict[str, Any]], name: str = "web", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
        "spec": {"selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": containers}}, **spec},
    }


def deploy_path(ns: str, name: str = "web") -> str:
    return f"/apis/apps/v1/namespaces/{ns}/deployments/{name}"


def entries(obj: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["manager"], e["operation"]): e for e in obj["metadata"].get("managedFields", [])}


# -- create, re-apply ------------------------------------------------------------------------------


def test_kubectl_apply_server_side_creates_with_an_apply_entry(server: Server, namespace: str, tmp_path) -> None:
    f = tmp_path / "d.yaml"
    f.write_text(yaml.safe_dump(deployment(namespace, [{"name": "nginx", "image": "nginx:1.25",
                                                         "ports": [{"containerPort": 80}]}], replicas=2)))
    out = server.kubectl("apply", "--server-side", "-f", str(f))
    assert out.stdout.strip() == "deployment.apps/web serverside-applied"
    obj = json.loads(server.kubectl("get", "deploy", "web", "-n", namespace, "-o", "json",
                                    "--show-managed-fields").stdout)
    entry = entries(obj)[("kubectl", "Apply")]
    assert entry["apiVersion"] == "apps/v1" and entry["fieldsType"] == "FieldsV1" and entry["time"]
    assert "subresource" not in entry
    assert entry["fieldsV1"] == {
        "f:spec": {
            "f:replicas": {},
            "f:selector": {},
            "f:template": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {"f:containers": {'k:{"name":"nginx"}': {
                    ".": {}, "f:image": {}, "f:name": {},
                    "f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}},
                }}},
            },
        },
    }
    assert obj["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"] == "TCP"  # defaults apply


def test_create_on_apply_is_201_and_reapply_unchanged_keeps_resource_version(server: Server, namespace: str) -> None:
    code, created = apply(server, cm_path(namespace), cm(namespace, {"a": "1"}))
    assert code == 201, created
    code, again = apply(server, cm_path(namespace), cm(namespace, {"a": "1"}))
    assert code == 200
    assert again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert again["metadata"]["managedFields"] == created["metadata"]["managedFields"]


def test_yaml_body_is_accepted(server: Server, namespace: str) -> None:
    body = f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: {namespace}\ndata:\n  k: v\n"
    code, obj = apply(server, cm_path(namespace), body)
    assert code == 201 and obj["data"] == {"k": "v"}


# -- request errors --------------------------------------------------------------------------------


def test_apply_without_field_manager_is_invalid_patch_options(server: Server, namespace: str) -> None:
    code, status = apply(server, cm_path(namespace), cm(namespace, {"a": "1"}), manager=None)
    assert code == 422
    assert status["reason"] == "Invalid"
    assert status["message"] == 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch'
    assert status["details"]["causes"] == [
        {"reason": "FieldValueRequired", "message": "Required value: is required for apply patch", "field": "fieldManager"}]


def test_apply_of_another_kind_is_bad_request(server: Server, namespace: str) -> None:
    body = cm(namespace, {"a": "1"})
    body["kind"] = "Secret"
    code, status = apply(server, cm_path(namespace), body)
    assert (code, status["reason"], status["message"]) == (400, "BadRequest", "invalid object type: /v1, Kind=Secret")


def test_apply_with_managed_fields_is_bad_request(server: Server, namespace: str) -> None:
    code, status = apply(server, cm_path(namespace), cm(namespace, {"a": "1"}, managedFields=[{"manager": "x"}]))
    assert (code, status["message"]) == (400, "metadata.managedFields must be nil")


def test_apply_of_an_undeclared_field_is_a_bad_request_with_upstreams_message(server: Server, namespace: str) -> None:
    body = cm(namespace, {"a": "1"})
    body["spec"] = {"x": 1}
    code, status = apply(server, cm_path(namespace), body)
    assert code == 400 and status["reason"] == "BadRequest"  # upstream: 500; never a 500 here
    assert status["message"] == (f"failed to create typed patch object ({namespace}/cm; /v1, Kind=ConfigMap): "
                                 ".spec: field not declared in schema")


# -- conflicts and force ---------------------------------------------------------------------------


def test_conflict_names_manager_and_field_with_causes(server: Server, namespace: str) -> None:
    apply(server, cm_path(namespace), cm(namespace, {"a": "1"}), manager="alice")
    code, status = apply(server, cm_path(namespace), cm(namespace, {"a": "2"}), manager="bob")
    assert code == 409
    assert status["reason"] == "Conflict"
    assert status["message"] == 'Apply failed with 1 conflict: conflict with "alice": .data.a'
    assert status["details"]["causes"] == [
        {"reason": "FieldManagerConflict", "message": 'conflict with "alice"', "field": ".data.a"}]


def test_several_conflicts_are_listed_per_manager(server: Server, namespace: str) -> None:
    apply(server, cm_path(namespace), cm(namespace, {"a": "1", "b": "1"}), manager="alice")
    code, status = apply(server, cm_path(namespace), cm(namespace, {"a": "2", "b": "2"}), manager="bob")
    assert code == 409
    assert status["message"] == 'Apply failed with 2 conflicts: conflicts with "alice":\n- .data.a\n- .data.b'
    assert [c["field"] for c in status["details"]["causes"]] == [".data.a", ".data.b"]


def test_conflict_with_an_update_manager_names_its_api_version(server: Server, namespace: str, tmp_path) -> None:
    f = tmp_path / "d.yaml"
    f.write_text(yaml.safe_dump(deployment(namespace, [{"name": "nginx", "image": "nginx"}], replicas=1)))
    server.kubectl("apply", "-f", str(f))  # client-side: manager kubectl-client-side-apply, operation Update
    f.write_text(yaml.safe_dump(deployment(namespace, [{"name": "nginx", "image": "nginx"}], replicas=3)))
    out = server.kubectl("apply", "--server-side", "--field-manager=ops", "-f", str(f), check=False)
    assert out.returncode != 0
    assert ('Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas'
            in out.stderr)


def test_same_value_is_shared_not_a_conflict(server: Server, namespace: str) -> None:
    apply(server, cm_path(namespace), cm(namespace, {"a": "1"}), manager="alice")
    code, obj = apply(server, cm_path(namespace), cm(namespace, {"a": "1"}), manager="bob")
    assert code == 200
    e = entries(obj)
    assert e[("alice", "Apply")]["fieldsV1"] == e[("bob", "Apply")]["fieldsV1"] == {"f:data": {"f:a": {}}}


def test_force_takes_ownership(server: Server, namespace: str) -> None:
    apply(server, cm_path(namespace), cm(namespace, {"a": "1", "b": "1"}), manager="alice")
    code, obj = apply(server, cm_path(namespace), cm(namespace, {"a": "2"}), manager="bob", query="force=true")
    assert code == 200 and obj["data"] == {"a": "2", "b": "1"}
    e = entries(obj)
    assert e[("alice", "Apply")]["fieldsV1"] == {"f:data": {"f:b": {}}}
    assert e[("bob", "Apply")]["fieldsV1"] == {"f:data": {"f:a": {}}}


def test_kubectl_force_conflicts(server: Server, namespace: str, tmp_path) -> None:
    f = tmp_path / "c.yaml"
    apply(server, cm_path(namespace), cm(namespace, {"a": "1"}), manager="alice")
    f.write_text(yaml.safe_dump(cm(namespace, {"a": "2"})))
    assert server.kubectl("apply", "--server-side", "-f", str(f), check=False).returncode != 0
    server.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(f))
    got = json.loads(server.kubectl("get", "cm", "cm", "-n", namespace, "-o", "json").stdout)
    assert got["data"] == {"a": "2"}


def test_update_takes_ownership_from_an_applier(server: Server, namespace: str) -> None:
    apply(server, cm_path(namespace), cm(namespace, {"a": "1", "b": "1"}), manager="alice")
    code, _, _ = server.request("PATCH", cm_path(namespace) + "?fieldManager=editor",
                                json.dumps({"data": {"a": "9"}}).encode(),
                                {"Content-Type": "application/merge-patch+json"})
    assert code == 200
    code, status = apply(server, cm_path(namespace), cm(namespace, {"a": "1", "b": "1"}), manager="alice")
    assert code == 409
    assert status["message"] == 'Apply failed with 1 conflict: conflict with "editor" using v1: .data.a'


# -- removal and merging ---------------------------------------------------------------------------


def test_fields_no_longer_applied_are_removed(server: Server, namespace: str) -> None:
    apply(server, cm_path(namespace), cm(namespace, {"a": "1", "b": "1"}, labels={"x": "1"}), manager="alice")
    code, obj = apply(server, cm_path(namespace), cm(namespace, {"a": "1"}), manager="alice")
    assert code == 200
    assert obj["data"] == {"a": "1"}
    assert "labels" not in obj["metadata"]


def test_fields_another_manager_owns_are_kept(server: Server, namespace: str) -> None:
    apply(server, cm_path(namespace), cm(namespace, {"a": "1", "b": "1"}), manager="alice")
    apply(server, cm_path(namespace), cm(namespace, {"b": "1"}), manager="bob")
    code, obj = apply(server, cm_path(namespace), cm(namespace, {"a": "1"}), manager="alice")
    assert code == 200 and obj["data"] == {"a": "1", "b": "1"}
    assert entries(obj)[("bob", "Apply")]["fieldsV1"] == {"f:data": {"f:b": {}}}


def test_containers_merge_by_name_and_ports_by_port_and_protocol(server: Server, namespace: str) -> None:
    web = {"name": "web", "image": "nginx", "ports": [{"containerPort": 80}]}
    code, _ = apply(server, deploy_path(namespace), deployment(namespace, [web]), manager="alice")
    assert code == 201
    sidecar = {"name": "sidecar", "image": "busybox"}
    web_udp = {"name": "web", "ports": [{"containerPort": 80, "protocol": "UDP"}]}
    code, obj = apply(server, deploy_path(namespace), deployment(namespace, [web_udp, sidecar]), manager="bob")
    assert code == 200, obj
    containers = obj["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["web", "sidecar"]
    assert [(p["containerPort"], p["protocol"]) for p in containers[0]["ports"]] == [(80, "TCP"), (80, "UDP")]
    assert containers[0]["image"] == "nginx"
    bob = entries(obj)[("bob", "Apply")]["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert set(bob) == {'k:{"name":"web"}', 'k:{"name":"sidecar"}'}
    assert 'k:{"containerPort":80,"protocol":"UDP"}' in bob['k:{"name":"web"}']["f:ports"]


def test_finalizers_merge_as_a_set(server: Server, namespace: str) -> None:
    apply(server, cm_path(namespace), cm(namespace, {}, finalizers=["example.com/a"]), manager="alice")
    code, obj = apply(server, cm_path(namespace), cm(namespace, {}, finalizers=["example.com/b"]), manager="bob")
    assert code == 200
    assert obj["metadata"]["finalizers"] == ["example.com/a", "example.com/b"]
    assert entries(obj)[("bob", "Apply")]["fieldsV1"]["f:metadata"] == {"f:finalizers": {'v:"example.com/b"': {}}}
    code, obj = apply(server, cm_path(namespace), cm(namespace, {}), manager="alice")
    assert obj["metadata"]["finalizers"] == ["example.com/b"]
    apply(server, cm_path(namespace), cm(namespace, {}), manager="bob")


def test_atomic_lists_are_replaced_whole(server: Server, namespace: str) -> None:
    c1 = {"name": "web", "image": "nginx", "args": ["a", "b"]}
    apply(server, deploy_path(namespace), deployment(namespace, [c1]), manager="alice")
    c2 = {"name": "web", "args": ["c"]}
    code, status = apply(server, deploy_path(namespace), deployment(namespace, [c2]), manager="bob")
    assert code == 409
    assert status["message"] == ('Apply failed with 1 conflict: conflict with "alice": '
                                 '.spec.template.spec.containers[name="web"].args')
    code, obj = apply(server, deploy_path(namespace), deployment(namespace, [c2]), manager="bob", query="force=true")
    assert obj["spec"]["template"]["spec"]["containers"][0]["args"] == ["c"]
    alice = entries(obj)[("alice", "Apply")]["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert "f:args" not in alice['k:{"name":"web"}']


# -- status, dry run -------------------------------------------------------------------------------


def test_apply_to_status_subresource(server: Server, namespace: str) -> None:
    apply(server, deploy_path(namespace), deployment(namespace, [{"name": "web", "image": "nginx"}]), manager="alice")
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 7}, "status": {"observedGeneration": 42}}
    code, obj = apply(server, deploy_path(namespace) + "/status", body, manager="status-writer", query="force=true")
    assert code == 200, obj
    assert obj["status"]["observedGeneration"] == 42
    assert obj["spec"]["replicas"] == 1  # the status endpoint leaves spec alone
    entry = entries(obj)[("status-writer", "Apply")]
    assert entry["subresource"] == "status"
    assert entry["fieldsV1"] == {"f:status": {"f:observedGeneration": {}}}


def test_apply_to_status_of_a_missing_object_is_not_found(server: Server, namespace: str) -> None:
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nope"}, "status": {"replicas": 1}}
    code, status = apply(server, deploy_path(namespace, "nope") + "/status", body)
    assert (code, status["reason"]) == (404, "NotFound")


def test_dry_run_apply_persists_nothing(server: Server, namespace: str) -> None:
    code, obj = apply(server, cm_path(namespace), cm(namespace, {"a": "1"}), query="dryRun=All")
    assert code == 201 and obj["data"] == {"a": "1"}
    assert server.request("GET", cm_path(namespace))[0] == 404
    apply(server, cm_path(namespace), cm(namespace, {"a": "1"}))
    code, obj = apply(server, cm_path(namespace), cm(namespace, {"a": "2"}), query="dryRun=All")
    assert code == 200 and obj["data"] == {"a": "2"}
    _, _, raw = server.request("GET", cm_path(namespace))
    assert json.loads(raw)["data"] == {"a": "1"}


# -- kubectl client-side apply migration -----------------------------------------------------------


def test_client_side_apply_migrates_to_server_side(server: Server, namespace: str, tmp_path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text(yaml.safe_dump(cm(namespace, {"a": "1", "b": "2"})))
    server.kubectl("apply", "-f", str(f))
    f.write_text(yaml.safe_dump(cm(namespace, {"b": "3"})))
    out = server.kubectl("apply", "--server-side", "-f", str(f))
    assert out.stdout.strip() == "configmap/cm serverside-applied"
    obj = json.loads(server.kubectl("get", "cm", "cm", "-n", namespace, "-o", "json", "--show-managed-fields").stdout)
    assert obj["data"] == {"b": "3"}  # "a" was kubectl's through client-side apply, and it stopped applying it
    managers = entries(obj)
    assert ("kubectl-client-side-apply", "Update") not in managers
    assert managers[("kubectl", "Apply")]["fieldsV1"] == {"f:data": {"f:b": {}}}
    last = json.loads(obj["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
    assert last["data"] == {"b": "3"}
    f.write_text(yaml.safe_dump(cm(namespace, {"b": "4"})))
    server.kubectl("apply", "-f", str(f))  # client-side apply keeps working afterwards
    got = json.loads(server.kubectl("get", "cm", "cm", "-n", namespace, "-o", "json").stdout)
    assert got["data"] == {"b": "4"}


def test_server_side_apply_allows_fields_client_side_apply_set(server: Server, namespace: str, tmp_path) -> None:
    f = tmp_path / "d.yaml"
    f.write_text(yaml.safe_dump(deployment(namespace, [{"name": "nginx", "image": "nginx"}], replicas=1)))
    server.kubectl("apply", "-f", str(f))
    f.write_text(yaml.safe_dump(deployment(namespace, [{"name": "nginx", "image": "nginx"}], replicas=3)))
    server.kubectl("apply", "--server-side", "-f", str(f))
    got = json.loads(server.kubectl("get", "deploy", "web", "-n", namespace, "-o", "json").stdout)
    assert got["spec"]["replicas"] == 3


# -- the Python client -----------------------------------------------------------------------------


def test_python_dynamic_client_server_side_apply(api: Any, namespace: str) -> None:
    from kubernetes.dynamic import DynamicClient
    from kubernetes.dynamic.exceptions import ConflictError

    dyn = DynamicClient(api)
    cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
    created = cms.server_side_apply(body=cm(namespace, {"a": "1"}), namespace=namespace, field_manager="py")
    assert created.data.a == "1"
    assert [(e.manager, e.operation) for e in created.metadata.managedFields] == [("py", "Apply")]
    with pytest.raises(ConflictError) as err:
        cms.server_side_apply(body=cm(namespace, {"a": "2"}), namespace=namespace, field_manager="other")
    assert json.loads(err.value.body)["message"] == 'Apply failed with 1 conflict: conflict with "py": .data.a'
    forced = cms.server_side_apply(body=cm(namespace, {"a": "2"}), namespace=namespace, field_manager="other",
                                   force_conflicts=True)
    assert forced.data.a == "2"


# -- custom resources ------------------------------------------------------------------------------


def test_custom_resources_merge_with_their_crd_schema(server: Server, namespace: str) -> None:
    from test_crd import _group, create_crd, crontab_crd, delete_crd

    group = _group()
    crd = crontab_crd(group)
    create_crd(server, crd)
    try:
        path = f"/apis/{group}/v1/namespaces/{namespace}/crontabs/ct"

        def ct(**spec: Any) -> dict[str, Any]:
            return {"apiVersion": f"{group}/v1", "kind": "CronTab", "metadata": {"name": "ct"},
                    "spec": {"cronSpec": "* * * * */5", **spec}}

        code, obj = apply(server, path, ct(tags=["a"], image="nginx"), manager="alice")
        assert code == 201, obj
        assert obj["spec"]["replicas"] == 1  # the schema default still applies
        code, obj = apply(server, path, {"apiVersion": f"{group}/v1", "kind": "CronTab", "metadata": {"name": "ct"},
                                         "spec": {"tags": ["b"]}}, manager="bob")
        assert code == 200, obj
        assert obj["spec"]["tags"] == ["a", "b"]  # x-kubernetes-list-type: set
        code, status = apply(server, path, ct(image="redis"), manager="bob")
        assert code == 409
        assert status["message"] == 'Apply failed with 1 conflict: conflict with "alice": .spec.image'  # same cronSpec: shared
    finally:
        delete_crd(server, crd["metadata"]["name"])


def test_force_on_a_non_apply_patch_is_invalid(server: Server, namespace: str) -> None:
    apply(server, cm_path(namespace), cm(namespace, {"a": "1"}))
    code, _, out = server.request("PATCH", cm_path(namespace) + "?force=true", b'{"data":{"a":"2"}}',
                                  {"Content-Type": "application/merge-patch+json"})
    status = json.loads(out)
    assert code == 422
    assert status["message"] == ('PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified '
                                 "for non-apply patch")


def test_strict_field_validation_refuses_duplicate_keys(server: Server, namespace: str) -> None:
    body = f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: {namespace}\ndata:\n  a: x\n  a: y\n"
    code, status = apply(server, cm_path(namespace), body, query="fieldValidation=Strict")
    assert code == 400
    assert status["message"] == 'error strict decoding YAML: yaml: unmarshal errors:\n  line 8: key "a" already set in map'
    code, headers, _ = server.request("PATCH", cm_path(namespace) + "?fieldManager=m&fieldValidation=Warn", body.encode(),
                                {"Content-Type": APPLY_CT})
    assert code == 201
    assert {k.lower(): v for k, v in headers.items()}["warning"] == '299 - "line 8: key \\"a\\" already set in map"'
