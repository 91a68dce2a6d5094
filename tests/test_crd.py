"""CustomResourceDefinitions served: what kubectl and the Python client see once a CRD is created."""

from __future__ import annotations

import json
import os
import time

import pytest
import yaml

CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def _group() -> str:
    return f"t{os.urandom(3).hex()}.example.com"


def crontab_crd(group: str, **overrides) -> dict:
    """The CronTab CRD of the Kubernetes docs, with status/scale subresources, columns and rules."""
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "x-kubernetes-validations": [
                    {"rule": "self.replicas <= self.maxReplicas", "message": "replicas must not exceed maxReplicas"},
                ],
                "properties": {
                    "cronSpec": {"type": "string", "pattern": "^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$"},
                    "image": {"type": "string", "minLength": 1, "maxLength": 20},
                    "replicas": {"type": "integer", "minimum": 0, "maximum": 10, "default": 1},
                    "maxReplicas": {"type": "integer", "default": 5},
                    "count": {"type": "integer", "minimum": 0, "maximum": 10},
                    "color": {"type": "string", "enum": ["red", "green", "blue"]},
                    "ratio": {"type": "number", "exclusiveMinimum": True, "minimum": 0},
                    "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2, "minItems": 1,
                             "x-kubernetes-list-type": "set"},
                    "port": {"x-kubernetes-int-or-string": True},
                    "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                    "template": {"type": "object", "x-kubernetes-embedded-resource": True,
                                 "x-kubernetes-preserve-unknown-fields": True},
                    "note": {"type": "string", "nullable": True},
                    "immutable": {"type": "string",
                                  "x-kubernetes-validations": [{"rule": "self == oldSelf",
                                                                "message": "immutable is immutable"}]},
                },
                "required": ["cronSpec"],
            },
            "status": {"type": "object", "properties": {"replicas": {"type": "integer"},
                                                        "selector": {"type": "string"}}},
        },
    }
    name_plural = overrides.pop("plural", "crontabs")
    kind = overrides.pop("kind", "CronTab")
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{name_plural}.{group}"},
        "spec": {
            "group": group,
            "scope": overrides.pop("scope", "Namespaced"),
            "names": {"plural": name_plural, "singular": kind.lower(), "kind": kind,
                      "shortNames": overrides.pop("shortNames", ["ct"]), "categories": ["all", "testing"]},
            "versions": [{
                "name": "v1", "served": True, "storage": True,
                "schema": {"openAPIV3Schema": schema},
                "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                                                         "statusReplicasPath": ".status.replicas",
                                                         "labelSelectorPath": ".status.selector"}},
                "additionalPrinterColumns": [
                    {"name": "Spec", "type": "string", "jsonPath": ".spec.cronSpec"},
                    {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                ],
                "selectableFields": [{"jsonPath": ".spec.color"}],
            }],
        },
    }
    crd["spec"].update(overrides)
    return crd


def create_crd(server, crd: dict, wait: bool = True) -> dict:
    code, _, out = server.request("POST", CRD_PATH, json.dumps(crd).encode())
    assert code == 201, out
    if not wait:
        return json.loads(out)
    return wait_established(server, crd["metadata"]["name"])


def wait_established(server, name: str, timeout: float = 5) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        code, _, out = server.request("GET", f"{CRD_PATH}/{name}")
        obj = json.loads(out)
        conds = {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}
        if conds.get("Established", {}).get("status") == "True":
            return obj
        assert time.monotonic() < deadline, obj
        time.sleep(0.01)


def delete_crd(server, name: str) -> None:
    server.request("DELETE", f"{CRD_PATH}/{name}")


@pytest.fixture
def crontabs(server):
    """An established CronTab CRD in a group of its own; (group, plural path builder)."""
    group = _group()
    crd = crontab_crd(group)
    create_crd(server, crd)
    yield group
    delete_crd(server, crd["metadata"]["name"])


def cr_path(group: str, namespace: str, name: str = "", plural: str = "crontabs", version: str = "v1") -> str:
    base = f"/apis/{group}/{version}/namespaces/{namespace}/{plural}"
    return f"{base}/{name}" if name else base


def crontab(group: str, name: str, **spec) -> dict:
    return {"apiVersion": f"{group}/v1", "kind": "CronTab", "metadata": {"name": name},
            "spec": {"cronSpec": "* * * * */5", **spec}}


def post(server, path: str, obj: dict) -> tuple[int, dict]:
    code, _, out = server.request("POST", path, json.dumps(obj).encode())
    return code, json.loads(out)


# ------------------------------------------------------------------------------- establishing


def test_crd_is_established_with_names_accepted(server):
    group = _group()
    crd = crontab_crd(group)
    create_crd(server, crd, wait=False)
    obj = wait_established(server, crd["metadata"]["name"], timeout=10)
    conds = {c["type"]: c for c in obj["status"]["conditions"]}
    assert [c["type"] for c in obj["status"]["conditions"]] == ["NamesAccepted", "Established"]
    assert conds["NamesAccepted"]["reason"] == "NoConflicts"
    assert conds["NamesAccepted"]["message"] == "no conflicts found"
    assert conds["Established"]["reason"] == "InitialNamesAccepted"
    assert conds["Established"]["message"] == "the initial names have been accepted"
    assert obj["status"]["acceptedNames"] == {"plural": "crontabs", "singular": "crontab", "kind": "CronTab",
                                              "listKind": "CronTabList", "shortNames": ["ct"],
                                              "categories": ["all", "testing"]}
    assert obj["status"]["storedVersions"] == ["v1"]
    code, _, out = server.request("GET", f"/apis/{group}/v1")
    assert code == 200
    resources = {r["name"]: r for r in json.loads(out)["resources"]}
    assert resources["crontabs"]["kind"] == "CronTab"
    assert resources["crontabs"]["shortNames"] == ["ct"]
    assert set(resources) == {"crontabs", "crontabs/status", "crontabs/scale"}
    delete_crd(server, crd["metadata"]["name"])


def test_crd_group_appears_in_aggregated_discovery_and_openapi(server, crontabs):
    accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    _, _, out = server.request("GET", "/apis", headers={"Accept": accept})
    groups = {g["metadata"]["name"]: g for g in json.loads(out)["items"]}
    resource = groups[crontabs]["versions"][0]["resources"][0]
    assert resource["resource"] == "crontabs"
    assert resource["scope"] == "Namespaced"
    assert {s["subresource"] for s in resource["subresources"]} == {"status", "scale"}
    code, _, out = server.request("GET", "/openapi/v3")
    assert f"apis/{crontabs}/v1" in json.loads(out)["paths"]
    code, _, out = server.request("GET", f"/openapi/v3/apis/{crontabs}/v1")
    assert code == 200
    schemas = json.loads(out)["components"]["schemas"]
    name = ".".join(reversed(crontabs.split("."))) + ".v1.CronTab"
    assert "cronSpec" in schemas[name]["properties"]["spec"]["properties"]


def test_kubectl_api_resources_and_explain_know_the_custom_resource(server, crontabs):
    out = server.kubectl("api-resources", f"--api-group={crontabs}").stdout.splitlines()
    assert out[0].split() == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    assert out[1].split() == ["crontabs", "ct", f"{crontabs}/v1", "true", "CronTab"]
    explained = server.kubectl("explain", f"crontabs.{crontabs}.spec").stdout
    assert "cronSpec" in explained and "replicas" in explained
    assert "<integer>" in explained


def test_plural_shortname_and_kind_conflicts_are_reported_as_upstream(server, crontabs):
    other = crontab_crd(crontabs, plural="crontabz", kind="CronTab", shortNames=["ct2"])
    obj = create_crd(server, other, wait=False)
    deadline = time.monotonic() + 3
    while True:
        _, _, out = server.request("GET", f"{CRD_PATH}/{obj['metadata']['name']}")
        obj = json.loads(out)
        conds = {c["type"]: c for c in obj["status"].get("conditions") or []}
        if "NamesAccepted" in conds:
            break
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert conds["NamesAccepted"]["status"] == "False"
    assert conds["NamesAccepted"]["reason"] == "ListKindConflict"
    assert conds["NamesAccepted"]["message"] == '"CronTabList" is already in use'
    assert conds["Established"] == {**conds["Established"], "status": "False", "reason": "NotAccepted",
                                    "message": "not all names are accepted"}
    assert obj["status"]["acceptedNames"]["plural"] == "crontabz"
    assert "kind" not in obj["status"]["acceptedNames"] or obj["status"]["acceptedNames"]["kind"] == ""
    code, _, _ = server.request("GET", f"/apis/{crontabs}/v1/crontabz")
    assert code == 404
    delete_crd(server, obj["metadata"]["name"])


# --------------------------------------------------------------------------------- every verb


def test_kubectl_applies_gets_and_deletes_custom_resources_with_printer_columns(server, crontabs, namespace,
                                                                               tmp_path):
    manifest = tmp_path / "ct.yaml"
    manifest.write_text(yaml.safe_dump(crontab(crontabs, "nightly", replicas=3)))
    out = server.kubectl("apply", "-f", str(manifest), "-n", namespace).stdout
    assert out.strip() == f"crontab.{crontabs}/nightly created"
    lines = server.kubectl("get", "ct", "-n", namespace).stdout.splitlines()
    assert lines[0].split() == ["NAME", "SPEC", "REPLICAS", "AGE"]
    assert lines[1].split()[:6] == ["nightly", "*", "*", "*", "*", "*/5"]
    assert lines[1].split()[6] == "3"
    obj = json.loads(server.kubectl("get", f"crontabs.{crontabs}", "nightly", "-n", namespace, "-o",
                                    "json").stdout)
    assert obj["metadata"]["generation"] == 1
    assert obj["spec"]["maxReplicas"] == 5  # schema default
    out = server.kubectl("delete", "ct", "nightly", "-n", namespace).stdout
    assert out.strip() == f'crontab.{crontabs} "nightly" deleted'
    proc = server.kubectl("get", "ct", "nightly", "-n", namespace, check=False)
    assert f'crontabs.{crontabs} "nightly" not found' in proc.stderr


def test_default_columns_are_name_and_age(server, namespace):
    group = _group()
    crd = crontab_crd(group)
    del crd["spec"]["versions"][0]["additionalPrinterColumns"]
    create_crd(server, crd)
    try:
        assert post(server, cr_path(group, namespace), crontab(group, "a"))[0] == 201
        lines = server.kubectl("get", f"crontabs.{group}", "-n", namespace).stdout.splitlines()
        assert lines[0].split() == ["NAME", "AGE"]
        assert lines[1].split()[0] == "a"
    finally:
        delete_crd(server, crd["metadata"]["name"])


def test_dynamic_client_crud_watch_and_selectors(api, server, crontabs, namespace):
    from kubernetes import dynamic

    dyn = dynamic.DynamicClient(api)
    res = dyn.resources.get(api_version=f"{crontabs}/v1", kind="CronTab")
    for name, color in (("a", "red"), ("b", "green"), ("c", "red")):
        body = crontab(crontabs, name, color=color)
        body["metadata"]["labels"] = {"tier": "web" if name != "b" else "db"}
        res.create(body=body, namespace=namespace)
    names = sorted(i.metadata.name for i in res.get(namespace=namespace, label_selector="tier=web").items)
    assert names == ["a", "c"]
    names = sorted(i.metadata.name for i in res.get(namespace=namespace, field_selector="spec.color=red").items)
    assert names == ["a", "c"]
    names = [i.metadata.name for i in res.get(namespace=namespace, field_selector="metadata.name=b").items]
    assert names == ["b"]
    code, _, out = server.request("GET", cr_path(crontabs, namespace) + "?fieldSelector=spec.image%3Dx")
    assert code == 400
    assert json.loads(out)["message"] == 'field label not supported: spec.image'
    listed = res.get(namespace=namespace)
    rv = listed.metadata.resourceVersion
    res.patch(name="a", namespace=namespace, body={"spec": {"replicas": 2}},
              content_type="application/merge-patch+json")
    events = []
    for ev in dyn.watch(res, namespace=namespace, resource_version=rv, timeout=2):
        events.append((ev["type"], ev["object"].metadata.name, ev["object"].spec.replicas))
        break
    assert events == [("MODIFIED", "a", 2)]
    res.delete(name="b", namespace=namespace)
    assert sorted(i.metadata.name for i in res.get(namespace=namespace).items) == ["a", "c"]


def test_update_bumps_generation_and_json_patch_works_but_strategic_merge_is_refused(server, crontabs, namespace):
    code, obj = post(server, cr_path(crontabs, namespace), crontab(crontabs, "p"))
    assert code == 201
    obj["spec"]["image"] = "nginx"
    code, _, out = server.request("PUT", cr_path(crontabs, namespace, "p"), json.dumps(obj).encode())
    assert code == 200
    assert json.loads(out)["metadata"]["generation"] == 2
    code, _, out = server.request("PATCH", cr_path(crontabs, namespace, "p"),
                                  b'[{"op":"replace","path":"/spec/replicas","value":4}]',
                                  {"Content-Type": "application/json-patch+json"})
    assert code == 200 and json.loads(out)["spec"]["replicas"] == 4
    code, _, out = server.request("PATCH", cr_path(crontabs, namespace, "p"), b'{"spec":{"replicas":2}}',
                                  {"Content-Type": "application/strategic-merge-patch+json"})
    assert code == 415
    assert json.loads(out)["reason"] == "UnsupportedMediaType"


# ------------------------------------------------------------------------------- subresources


def test_status_subresource_owns_status(server, crontabs, namespace):
    body = crontab(crontabs, "s")
    body["status"] = {"replicas": 9}
    code, obj = post(server, cr_path(crontabs, namespace), body)
    assert code == 201 and "status" not in obj
    obj["status"] = {"replicas": 2}
    code, _, out = server.request("PUT", cr_path(crontabs, namespace, "s") + "/status", json.dumps(obj).encode())
    assert code == 200
    obj = json.loads(out)
    assert obj["status"] == {"replicas": 2}
    assert obj["metadata"]["generation"] == 1
    obj["status"] = {"replicas": 7}
    obj["spec"]["image"] = "busybox"
    code, _, out = server.request("PUT", cr_path(crontabs, namespace, "s"), json.dumps(obj).encode())
    obj = json.loads(out)
    assert obj["status"] == {"replicas": 2}
    assert obj["spec"]["image"] == "busybox"
    assert obj["metadata"]["generation"] == 2


def test_kubectl_scale_uses_the_scale_subresource(server, crontabs, namespace):
    assert post(server, cr_path(crontabs, namespace), crontab(crontabs, "sc", replicas=1))[0] == 201
    out = server.kubectl("scale", f"crontabs.{crontabs}/sc", "--replicas=4", "-n", namespace).stdout
    assert out.strip() == f"crontab.{crontabs}/sc scaled"
    code, _, out = server.request("GET", cr_path(crontabs, namespace, "sc") + "/scale")
    scale = json.loads(out)
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"] == {"replicas": 4}
    assert scale["status"] == {"replicas": 0}
    proc = server.kubectl("scale", f"crontabs.{crontabs}/sc", "--replicas=3", "--current-replicas=2",
                          "-n", namespace, check=False)
    assert proc.returncode != 0


# --------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(("spec", "message"), [
    ({"count": "two"},
     'spec.count: Invalid value: "string": spec.count in body must be of type integer: "string"'),
    ({"count": 11}, "spec.count: Invalid value: 11: spec.count in body should be less than or equal to 10"),
    ({"count": -1}, "spec.count: Invalid value: -1: spec.count in body should be greater than or equal to 0"),
    ({"ratio": 0}, "spec.ratio: Invalid value: 0: spec.ratio in body should be greater than 0"),
    ({"color": "pink"}, 'spec.color: Unsupported value: "pink": supported values: "red", "green", "blue"'),
    ({"cronSpec": "bad"},
     'spec.cronSpec: Invalid value: "bad": spec.cronSpec in body should match '
     "'^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$'"),
    ({"image": ""}, 'spec.image: Invalid value: "": spec.image in body should be at least 1 chars long'),
    ({"image": "x" * 21}, "spec.image: Too long: may not be more than 20 bytes"),
    ({"tags": []}, "spec.tags: Invalid value: 0: spec.tags in body should have at least 1 items"),
    ({"tags": ["a", "b", "c"]}, "spec.tags: Too many: 3: must have at most 2 items"),
    ({"tags": ["a", "a"]}, 'spec.tags[1]: Duplicate value: "a"'),
    ({"port": True}, 'spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: '
                     '"boolean"'),
    ({"template": {"kind": "Pod", "metadata": {}}}, "spec.template.apiVersion: Required value: must not be empty"),
    ({"replicas": 6, "maxReplicas": 5}, 'spec: Invalid value: "object": replicas must not exceed maxReplicas'),
    ({"replicas": -1}, ".spec.replicas: Invalid value: -1: should be a non-negative integer"),
])
def test_schema_violations_are_reported_as_upstream(server, crontabs, namespace, spec, message):
    code, status = post(server, cr_path(crontabs, namespace), crontab(crontabs, "bad", **spec))
    assert code == 422, status
    assert status["reason"] == "Invalid"
    prefix = f'CronTab.{crontabs} "bad" is invalid: '
    assert status["message"] == prefix + message or status["message"].startswith(prefix + "[") and (
        message in status["message"]), status["message"]
    causes = {(c["field"], c["reason"]) for c in status["details"]["causes"]}
    assert message.split(": ")[0] in {f for f, _ in causes}


def test_errors_are_listed_together_and_blocking_ones_skip_cel(server, crontabs, namespace):
    code, status = post(server, cr_path(crontabs, namespace), crontab(crontabs, "two", count=11, color="pink"))
    assert code == 422
    assert status["message"] == (
        f'CronTab.{crontabs} "two" is invalid: [spec.count: Invalid value: 11: spec.count in body should be less '
        'than or equal to 10, spec.color: Unsupported value: "pink": supported values: "red", "green", "blue", '
        '<nil>: Invalid value: "null": some validation rules were not checked because the object was invalid; '
        "correct the existing errors to complete validation]")


def test_scale_paths_must_hold_integers(server, crontabs, namespace):
    code, status = post(server, cr_path(crontabs, namespace), crontab(crontabs, "bad", replicas="two"))
    assert code == 422
    assert (".spec.replicas: Invalid value: 0: .spec.replicas accessor error: two is of the type string, "
            "expected int64") in status["message"]


def test_missing_required_field_and_blocking_errors_skip_cel(server, crontabs, namespace):
    body = crontab(crontabs, "req", replicas="x", maxReplicas=0)
    del body["spec"]["cronSpec"]
    code, status = post(server, cr_path(crontabs, namespace), body)
    assert code == 422
    assert "spec.cronSpec: Required value" in status["message"]
    assert ('<nil>: Invalid value: "null": some validation rules were not checked because the object was '
            "invalid; correct the existing errors to complete validation") in status["message"]


def test_pruning_defaults_nulls_and_preserved_fields(server, crontabs, namespace):
    body = crontab(crontabs, "prune", note=None, port="http", replicas=None)
    body["spec"]["unknown"] = {"a": 1}
    body["spec"]["extra"] = {"anything": {"goes": [1, 2]}}
    body["spec"]["template"] = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, "spec": {"a": 1}}
    body["topLevelUnknown"] = True
    code, obj = post(server, cr_path(crontabs, namespace), body)
    assert code == 201, obj
    assert "unknown" not in obj["spec"]
    assert "topLevelUnknown" not in obj
    assert obj["spec"]["note"] is None  # nullable keeps its null
    assert obj["spec"]["replicas"] == 1  # null of a non-nullable field with a default is defaulted
    assert obj["spec"]["port"] == "http"
    assert obj["spec"]["extra"] == {"anything": {"goes": [1, 2]}}
    assert obj["spec"]["template"]["kind"] == "Pod" and obj["spec"]["template"]["spec"] == {"a": 1}


def test_transition_rule_uses_old_self_only_on_update(server, crontabs, namespace):
    code, obj = post(server, cr_path(crontabs, namespace), crontab(crontabs, "imm", immutable="one"))
    assert code == 201
    obj["spec"]["immutable"] = "two"
    code, _, out = server.request("PUT", cr_path(crontabs, namespace, "imm"), json.dumps(obj).encode())
    assert code == 422
    assert json.loads(out)["message"] == (
        f'CronTab.{crontabs} "imm" is invalid: spec.immutable: Invalid value: "string": immutable is immutable')


def test_cel_rule_without_message_reports_the_rule_and_reason_and_field_path(server, namespace):
    group = _group()
    crd = crontab_crd(group)
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec["x-kubernetes-validations"] = [
        {"rule": "self.replicas != 3"},
        {"rule": "!has(self.color) || self.color != 'blue'", "messageExpression": "'no ' + self.color",
         "reason": "FieldValueForbidden", "fieldPath": ".color"},
    ]
    create_crd(server, crd)
    try:
        code, status = post(server, cr_path(group, namespace), crontab(group, "x", replicas=3, color="blue"))
        assert code == 422
        assert status["message"] == (f'CronTab.{group} "x" is invalid: [spec: Invalid value: "object": failed rule: '
                                     "self.replicas != 3, spec.color: Forbidden: no blue]")
    finally:
        delete_crd(server, crd["metadata"]["name"])


def test_crd_with_a_rule_that_does_not_compile_is_invalid(server):
    group = _group()
    crd = crontab_crd(group)
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["x-kubernetes-validations"] = [
        {"rule": "self.replicas >"}]
    code, _, out = server.request("POST", CRD_PATH, json.dumps(crd).encode())
    assert code == 422
    status = json.loads(out)
    assert status["details"]["causes"][0]["field"] == (
        "spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule")
    assert "compilation failed" in status["message"]


# ------------------------------------------------------------------- versions, scope, deletion


def test_two_versions_with_conversion_none_rewrite_api_version(server, namespace):
    group = _group()
    crd = crontab_crd(group)
    v1 = crd["spec"]["versions"][0]
    v2 = json.loads(json.dumps(v1))
    v2["name"], v2["storage"] = "v2", False
    crd["spec"]["versions"] = [v1, v2]
    create_crd(server, crd)
    try:
        code, obj = post(server, cr_path(group, namespace), crontab(group, "multi"))
        assert code == 201 and obj["apiVersion"] == f"{group}/v1"
        code, _, out = server.request("GET", cr_path(group, namespace, "multi", version="v2"))
        assert code == 200 and json.loads(out)["apiVersion"] == f"{group}/v2"
        code, _, out = server.request("GET", cr_path(group, namespace, version="v2"))
        listed = json.loads(out)
        assert listed["apiVersion"] == f"{group}/v2"
        assert [i["apiVersion"] for i in listed["items"]] == [f"{group}/v2"]
        _, _, out = server.request("GET", f"/apis/{group}")
        assert [v["version"] for v in json.loads(out)["versions"]] == ["v2", "v1"]
    finally:
        delete_crd(server, crd["metadata"]["name"])


def test_cluster_scoped_custom_resources(server):
    group = _group()
    crd = crontab_crd(group, scope="Cluster")
    create_crd(server, crd)
    try:
        code, obj = post(server, f"/apis/{group}/v1/crontabs", crontab(group, "global"))
        assert code == 201 and "namespace" not in obj["metadata"]
        out = server.kubectl("get", f"crontabs.{group}", "-o", "name").stdout
        assert out.strip() == f"crontab.{group}/global"
        code, _, _ = server.request("GET", f"/apis/{group}/v1/namespaces/default/crontabs")
        assert code == 404
    finally:
        delete_crd(server, crd["metadata"]["name"])


def test_deleting_the_crd_deletes_its_objects_and_waits_for_their_finalizers(server, namespace):
    group = _group()
    crd = crontab_crd(group)
    name = crd["metadata"]["name"]
    create_crd(server, crd)
    post(server, cr_path(group, namespace), crontab(group, "plain"))
    held = crontab(group, "held")
    held["metadata"]["finalizers"] = ["example.com/hold"]
    post(server, cr_path(group, namespace), held)
    code, _, out = server.request("DELETE", f"{CRD_PATH}/{name}")
    assert code == 200
    deleted = json.loads(out)
    assert "customresourcecleanup.apiextensions.k8s.io" in deleted["metadata"]["finalizers"]
    deadline = time.monotonic() + 3
    while True:
        code, _, out = server.request("GET", cr_path(group, namespace, "plain"))
        if code == 404:
            break
        assert time.monotonic() < deadline
        time.sleep(0.02)
    code, _, out = server.request("GET", f"{CRD_PATH}/{name}")
    assert code == 200
    conds = {c["type"]: c for c in json.loads(out)["status"]["conditions"]}
    assert conds["Terminating"]["status"] == "True"
    code, status = post(server, cr_path(group, namespace), crontab(group, "late"))
    assert code == 405
    assert status["message"] == "create not allowed while custom resource definition is terminating"
    code, _, out = server.request("PATCH", cr_path(group, namespace, "held"), b'{"metadata":{"finalizers":null}}',
                                  {"Content-Type": "application/merge-patch+json"})
    assert code == 200, out
    deadline = time.monotonic() + 3
    while server.request("GET", f"{CRD_PATH}/{name}")[0] != 404:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    deadline = time.monotonic() + 5
    while server.request("GET", f"/apis/{group}/v1")[0] != 404:
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_unknown_fields_are_refused_by_kubectl_strict_and_warned_otherwise(server, crontabs, namespace, tmp_path):
    body = crontab(crontabs, "strict")
    body["spec"]["unknown"] = 1
    manifest = tmp_path / "ct.yaml"
    manifest.write_text(yaml.safe_dump(body))
    proc = server.kubectl("apply", "-f", str(manifest), "-n", namespace, check=False)
    assert proc.returncode != 0
    assert ('CronTab in version "v1" cannot be handled as a CronTab: strict decoding error: unknown field '
            '"spec.unknown"') in proc.stderr
    code, headers, out = server.request("POST", cr_path(crontabs, namespace) + "?fieldValidation=Warn",
                                        json.dumps(body).encode())
    assert code == 201
    warning = {k.lower(): v for k, v in headers.items()}["warning"]
    assert warning == '299 - "unknown field \\"spec.unknown\\""'
    assert "unknown" not in json.loads(out)["spec"]


def test_merge_patch_with_an_unknown_field_warns_or_is_refused_under_strict(server, crontabs, namespace):
    assert post(server, cr_path(crontabs, namespace), crontab(crontabs, "mp"))[0] == 201
    proc = server.kubectl("patch", f"crontabs.{crontabs}", "mp", "-n", namespace, "--type=merge",
                          "-p", '{"spec":{"bogus":1}}')  # kubectl patch sends no fieldValidation: Warn
    assert proc.stdout.strip() == f"crontab.{crontabs}/mp patched (no change)"
    assert proc.stderr.strip() == 'Warning: unknown field "spec.bogus"'
    code, _, out = server.request("PATCH", cr_path(crontabs, namespace, "mp") + "?fieldValidation=Strict",
                                  b'{"spec":{"bogus":1}}', {"Content-Type": "application/merge-patch+json"})
    assert code == 422
    status = json.loads(out)
    assert status["details"]["causes"][0]["field"] == "patch"
    assert status["message"].endswith('strict decoding error: unknown field "spec.bogus"')
