"""The OpenAPI v2/v3 documents: their structure as kube-apiserver 1.32 serves it, and real kubectl reading them."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import orjson
import pytest

from facade import openapi
from facade.openapi_paths import group_camel
from facade.resource_table import ResourceInfo, ResourceTable

CRD_SCHEMA = {
    "openAPIV3Schema": {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {"cronSpec": {"type": "string"}, "replicas": {"type": "integer"}},
                "required": ["cronSpec"],
            }
        },
    }
}


def make_table() -> ResourceTable:
    t = ResourceTable()
    t.add(ResourceInfo("", "v1", "Pod", "pods", "pod", True, ("po",),
                       subresources=("status", "log", "exec", "attach", "portforward", "binding", "eviction")))
    t.add(ResourceInfo("", "v1", "Namespace", "namespaces", "namespace", False, ("ns",),
                       verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
                       subresources=("status", "finalize")))
    t.add(ResourceInfo("", "v1", "ConfigMap", "configmaps", "configmap", True, ("cm",)))
    t.add(ResourceInfo("", "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", True, ("sa",),
                       subresources=("token",)))
    t.add(ResourceInfo("apps", "v1", "Deployment", "deployments", "deployment", True, ("deploy",),
                       subresources=("status", "scale")))
    return t


def add_crd(t: ResourceTable) -> None:
    t.add(ResourceInfo("stable.example.com", "v1", "CronTab", "crontabs", "crontab", True, ("ct",),
                       subresources=("status",), crd=CRD_SCHEMA))


def v3(t: ResourceTable, gv: str) -> dict:
    data = openapi.openapi_v3_document(t, gv)
    assert data is not None
    return orjson.loads(data)


def all_refs(node, out=None) -> set[str]:
    out = set() if out is None else out
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                out.add(v)
            elif k == "properties" and isinstance(v, dict):
                for prop in v.values():  # field names (JSONSchemaProps has a field called "$ref")
                    all_refs(prop, out)
            else:
                all_refs(v, out)
    elif isinstance(node, list):
        for v in node:
            all_refs(v, out)
    return out


# ------------------------------------------------------------------------------------ v3


def test_v3_index_lists_each_group_version_with_the_hash_of_its_document():
    t = make_table()
    index = orjson.loads(openapi.openapi_v3_index(t))["paths"]
    assert {"api/v1", "apis/apps/v1", "api", "apis", "apis/apps", "version"} <= set(index)
    url = index["apis/apps/v1"]["serverRelativeURL"]
    assert url.startswith("/openapi/v3/apis/apps/v1?hash=")
    doc = openapi.openapi_v3_document(t, "apis/apps/v1")
    assert url.split("hash=")[1] == hashlib.sha512(doc).hexdigest().upper()
    assert openapi.openapi_v3_etag(t, "apis/apps/v1") == url.split("hash=")[1]


def test_v3_unknown_group_version_has_no_document():
    t = make_table()
    assert openapi.openapi_v3_document(t, "apis/nope.example.com/v1") is None
    assert openapi.openapi_v3_document(t, "apis/apps/v9") is None


def test_v3_patch_operation_declares_field_validation_so_kubectl_uses_server_side_validation():
    doc = v3(make_table(), "apis/apps/v1")
    assert doc["openapi"] == "3.0.0"
    item = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]
    patch = item["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {"group": "apps", "kind": "Deployment", "version": "v1"}
    assert patch["x-kubernetes-action"] == "patch"
    assert patch["operationId"] == "patchAppsV1NamespacedDeployment"
    names = [(p["name"], p["in"]) for p in patch["parameters"]]
    assert names == [("dryRun", "query"), ("fieldManager", "query"), ("fieldValidation", "query"), ("force", "query")]
    assert set(patch["requestBody"]["content"]) == {
        "application/json-patch+json", "application/merge-patch+json",
        "application/strategic-merge-patch+json", "application/apply-patch+yaml",
    }
    # parameters every operation shares sit on the path, as kube-openapi hoists them
    assert [p["name"] for p in item["parameters"]] == ["name", "namespace", "pretty"]
    assert item["parameters"][0]["description"] == "name of the Deployment"
    assert item["parameters"][0]["required"] is True


def test_v3_operations_are_named_like_the_apiserver_names_them():
    t = make_table()
    apps = v3(t, "apis/apps/v1")["paths"]
    core = v3(t, "api/v1")["paths"]
    assert apps["/apis/apps/v1/namespaces/{namespace}/deployments"]["get"]["operationId"] == "listAppsV1NamespacedDeployment"
    assert apps["/apis/apps/v1/namespaces/{namespace}/deployments"]["delete"]["operationId"] == \
        "deleteAppsV1CollectionNamespacedDeployment"
    assert apps["/apis/apps/v1/deployments"]["get"]["operationId"] == "listAppsV1DeploymentForAllNamespaces"
    assert apps["/apis/apps/v1/watch/namespaces/{namespace}/deployments/{name}"]["get"]["x-kubernetes-action"] == "watch"
    scale = apps["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]
    assert scale["get"]["operationId"] == "readAppsV1NamespacedDeploymentScale"
    assert scale["put"]["x-kubernetes-group-version-kind"] == {"group": "autoscaling", "kind": "Scale", "version": "v1"}
    assert core["/api/v1/namespaces"]["get"]["operationId"] == "listCoreV1Namespace"
    assert core["/api/v1/namespaces/{name}/finalize"]["put"]["operationId"] == "replaceCoreV1NamespaceFinalize"
    assert core["/api/v1/namespaces/{namespace}/pods/{name}/exec"]["get"]["operationId"] == \
        "connectCoreV1GetNamespacedPodExec"
    assert core["/api/v1/namespaces/{namespace}/pods/{name}/eviction"]["post"]["operationId"] == \
        "createCoreV1NamespacedPodEviction"
    assert core["/api/v1/namespaces/{namespace}/pods/{name}/log"]["get"]["responses"]["200"]["content"]["text/plain"] \
        == {"schema": {"type": "string"}}
    assert core["/api/v1/namespaces/{namespace}/configmaps"]["post"]["description"] == "create a ConfigMap"
    assert "/apis/apps/v1/" in apps and apps["/apis/apps/v1/"]["get"]["operationId"] == "getAppsV1APIResources"


def test_group_names_become_operation_prefixes():
    assert group_camel("") == "Core"
    assert group_camel("rbac.authorization.k8s.io") == "RbacAuthorization"
    assert group_camel("flowcontrol.apiserver.k8s.io") == "FlowcontrolApiserver"
    assert group_camel("stable.example.com") == "StableExampleCom"


def test_v3_components_use_allof_refs_and_value_defaults_like_kube_openapi():
    schemas = v3(make_table(), "apis/apps/v1")["components"]["schemas"]
    dep = schemas["io.k8s.api.apps.v1.Deployment"]
    assert dep["type"] == "object"
    assert dep["x-kubernetes-group-version-kind"] == [{"group": "apps", "kind": "Deployment", "version": "v1"}]
    assert dep["properties"]["apiVersion"] == {
        "description": dep["properties"]["apiVersion"]["description"], "type": "string"}  # no enum pinned
    assert dep["properties"]["metadata"]["allOf"] == [
        {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}]
    assert dep["properties"]["metadata"]["default"] == {}
    strategy = schemas["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"]
    assert strategy["x-kubernetes-patch-strategy"] == "retainKeys"
    assert strategy["allOf"] == [{"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentStrategy"}]
    containers = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["items"] == {"allOf": [{"$ref": "#/components/schemas/io.k8s.api.core.v1.Container"}],
                                   "default": {}}
    assert schemas["io.k8s.api.core.v1.Container"]["properties"]["name"]["default"] == ""
    assert schemas["io.k8s.api.core.v1.Container"]["properties"]["name"]["type"] == "string"
    assert schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"] == "int-or-string"


def test_v3_document_is_closed_under_its_refs():
    t = make_table()
    add_crd(t)
    for gv in ("api/v1", "apis/apps/v1", "apis/stable.example.com/v1", "apis/apps", "api", "version"):
        doc = v3(t, gv)
        names = set(doc["components"]["schemas"])
        for ref in all_refs(doc):
            assert ref.startswith("#/components/schemas/"), ref
            assert ref.removeprefix("#/components/schemas/") in names, (gv, ref)
        text = orjson.dumps(doc).decode()
        assert '"null"' not in text


def test_custom_resource_is_published_without_strategic_merge_patch():
    t = make_table()
    add_crd(t)
    doc = v3(t, "apis/stable.example.com/v1")
    patch = doc["paths"]["/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}"]["patch"]
    assert "application/strategic-merge-patch+json" not in patch["requestBody"]["content"]
    assert "application/merge-patch+json" in patch["requestBody"]["content"]
    assert patch["operationId"] == "patchStableExampleComV1NamespacedCronTab"
    assert any(p["name"] == "fieldValidation" for p in patch["parameters"])
    schema = doc["components"]["schemas"]["com.example.stable.v1.CronTab"]
    assert schema["x-kubernetes-group-version-kind"] == [
        {"group": "stable.example.com", "kind": "CronTab", "version": "v1"}]
    assert schema["properties"]["spec"]["required"] == ["cronSpec"]
    assert "default" not in schema["properties"]["spec"]["properties"]["cronSpec"]
    assert "com.example.stable.v1.CronTabList" in doc["components"]["schemas"]


def test_documents_are_cached_and_rebuilt_only_when_their_group_version_changes():
    t = make_table()
    apps = openapi.openapi_v3_document(t, "apis/apps/v1")
    assert openapi.openapi_v3_document(t, "apis/apps/v1") is apps
    v2 = openapi.openapi_v2(t)
    assert openapi.openapi_v2(t) is v2
    index = openapi.openapi_v3_index(t)
    add_crd(t)
    assert openapi.openapi_v3_document(t, "apis/apps/v1") is apps  # untouched group-version: same bytes
    assert openapi.openapi_v2(t) is not v2
    new_index = orjson.loads(openapi.openapi_v3_index(t))["paths"]
    assert "apis/stable.example.com/v1" in new_index and new_index != orjson.loads(index)["paths"]
    t.remove("stable.example.com", "v1", "crontabs")
    assert "apis/stable.example.com/v1" not in orjson.loads(openapi.openapi_v3_index(t))["paths"]
    assert openapi.openapi_v3_document(t, "apis/stable.example.com/v1") is None


def test_every_document_of_the_builtin_table_is_closed_under_its_refs():
    from facade.kinds import builtin_table

    t = builtin_table()
    t.add(ResourceInfo("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions",
                       "customresourcedefinition", False, ("crd",), subresources=("status",)))
    v2 = orjson.loads(openapi.openapi_v2(t))
    # JSONSchemaProps has fields named "default" and "enum" whose schemas refer to JSON
    assert "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON" in v2["definitions"]
    for ref in all_refs(v2):
        section, _, name = ref.removeprefix("#/").partition("/")
        assert name in v2[section], ref
    for gv in orjson.loads(openapi.openapi_v3_index(t))["paths"]:
        doc = v3(t, gv)
        for ref in all_refs(doc):
            assert ref.removeprefix("#/components/schemas/") in doc["components"]["schemas"], (gv, ref)


# ------------------------------------------------------------------------------------ v2

_SWAGGER_SCHEMA_KEYS = {
    "$ref", "format", "title", "description", "default", "multipleOf", "maximum", "exclusiveMaximum", "minimum",
    "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems",
    "maxProperties", "minProperties", "required", "enum", "additionalProperties", "type", "items", "allOf",
    "properties", "discriminator", "readOnly", "xml", "externalDocs", "example",
}


def _check_swagger_schema(node: dict, where: str) -> None:
    for k, v in node.items():
        assert k in _SWAGGER_SCHEMA_KEYS or k.startswith("x-"), f"{where}: {k}"
        if k == "type":
            assert isinstance(v, str) and v != "null", where
    for name, prop in (node.get("properties") or {}).items():
        _check_swagger_schema(prop, f"{where}.{name}")
    for k in ("items", "additionalProperties"):
        if isinstance(node.get(k), dict):
            _check_swagger_schema(node[k], f"{where}[{k}]")


def test_v2_is_a_swagger_document_gnostic_can_read():
    t = make_table()
    add_crd(t)
    doc = orjson.loads(openapi.openapi_v2(t))
    assert doc["swagger"] == "2.0"
    assert doc["info"] == {"title": "Kubernetes", "version": "v1.32.0"}
    assert doc["securityDefinitions"]["BearerToken"]["type"] == "apiKey"
    defs = doc["definitions"]
    for name, node in defs.items():
        _check_swagger_schema(node, name)
    for ref in all_refs(doc):
        if ref.startswith("#/definitions/"):
            assert ref.removeprefix("#/definitions/") in defs, ref
        else:
            assert ref.removeprefix("#/parameters/") in doc["parameters"], ref
    assert defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["type"] == "string"
    assert defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"] == "int-or-string"
    assert defs["io.k8s.apimachinery.pkg.api.resource.Quantity"]["type"] == "string"
    assert defs["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"] == {
        "$ref": "#/definitions/io.k8s.api.apps.v1.DeploymentStrategy",
        "description": "The deployment strategy to use to replace existing pods with new ones.",
        "x-kubernetes-patch-strategy": "retainKeys",
    }
    assert "com.example.stable.v1.CronTab" in defs


def test_v2_patch_operation_lists_field_validation_and_its_patch_types():
    doc = orjson.loads(openapi.openapi_v2(make_table()))
    item = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]
    patch = item["patch"]

    def resolve(p):
        return doc["parameters"][p["$ref"].removeprefix("#/parameters/")] if "$ref" in p else p

    params = [resolve(p) for p in patch["parameters"]]
    assert params[0] == {"in": "body", "name": "body", "required": True,
                         "schema": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"}}
    assert {"fieldValidation", "fieldManager", "dryRun", "force"} <= {p["name"] for p in params}
    assert "application/strategic-merge-patch+json" in patch["consumes"]
    assert patch["schemes"] == ["https"]
    assert patch["x-kubernetes-group-version-kind"] == {"group": "apps", "kind": "Deployment", "version": "v1"}
    assert [resolve(p)["name"] for p in item["parameters"]] == ["name", "namespace", "pretty"]


def _wire_fields(data: bytes) -> list[tuple[int, int, object]]:
    """A minimal protobuf wire-format reader: (field number, wire type, value) of one message."""
    out, i = [], 0
    while i < len(data):
        key, i = _read_varint(data, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _read_varint(data, i)
        elif wire == 2:
            n, i = _read_varint(data, i)
            value, i = data[i:i + n], i + n
        elif wire == 1:
            value, i = data[i:i + 8], i + 8
        else:
            raise AssertionError(f"unexpected wire type {wire}")
        out.append((num, wire, value))
    return out


def _read_varint(data: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def test_v2_protobuf_is_a_gnostic_document_with_every_definition():
    t = make_table()
    doc = orjson.loads(openapi.openapi_v2(t))
    fields = _wire_fields(openapi.openapi_v2_protobuf(t))
    top = {num: value for num, _, value in fields}
    assert top[1] == b"2.0"  # swagger
    info = dict((n, v) for n, _, v in _wire_fields(top[2]))
    assert info == {1: b"Kubernetes", 2: b"v1.32.0"}
    definitions = _wire_fields(top[9])
    names = [dict((n, v) for n, _, v in _wire_fields(entry))[1].decode() for _, _, entry in definitions]
    assert names == sorted(doc["definitions"])
    paths = [dict((n, v) for n, _, v in _wire_fields(entry))[1].decode() for _, _, entry in _wire_fields(top[8])]
    assert names and "/apis/apps/v1/namespaces/{namespace}/deployments/{name}" in paths
    # the Deployment definition carries its GVK extension as YAML text, which kubectl parses
    dep = next(entry for _, _, entry in definitions
               if dict((n, v) for n, _, v in _wire_fields(entry))[1] == b"io.k8s.api.apps.v1.Deployment")
    schema = dict((n, v) for n, _, v in _wire_fields(dep))[2]
    extensions = [dict((n, v) for n, _, v in _wire_fields(v)) for n, _, v in _wire_fields(schema) if n == 31]
    assert extensions[0][1] == b"x-kubernetes-group-version-kind"
    yaml_text = dict((n, v) for n, _, v in _wire_fields(extensions[0][2]))[2].decode()
    import yaml

    assert yaml.safe_load(yaml_text) == [{"group": "apps", "kind": "Deployment", "version": "v1"}]


def test_v2_content_negotiation_follows_kube_openapi():
    t = make_table()
    body, ctype, tag = openapi.openapi_v2_for_accept(
        t, "application/com.github.proto-openapi.spec.v2@v1.0+protobuf")
    assert ctype == "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    assert body == openapi.openapi_v2_protobuf(t)
    assert tag == hashlib.sha512(body).hexdigest().upper()
    assert openapi.openapi_v2_for_accept(t, "application/json")[1] == "application/json"
    assert openapi.openapi_v2_for_accept(t, None)[1] == "application/json"
    assert openapi.openapi_v2_for_accept(t, "text/html") is None
    assert openapi.openapi_v2_for_accept(
        t, "application/json;q=0.5, application/com.github.proto-openapi.spec.v2.v1.0+protobuf")[1] \
        == "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"


def test_v3_document_with_a_stale_hash_redirects_and_a_current_one_is_immutable():
    t = make_table()
    index = orjson.loads(openapi.openapi_v3_index(t))["paths"]
    current = index["apis/apps/v1"]["serverRelativeURL"].split("hash=")[1]
    stale = openapi.openapi_response(t, "/openapi/v3/apis/apps/v1", query_hash="ABC")
    assert stale.status == 301
    assert stale.headers["Location"] == f"/openapi/v3/apis/apps/v1?hash={current}"
    fresh = openapi.openapi_response(t, "/openapi/v3/apis/apps/v1", query_hash=current)
    assert fresh.status == 200
    assert fresh.headers["Cache-Control"] == "public, immutable"
    assert fresh.headers["Etag"] == f'"{current}"'
    assert fresh.body == openapi.openapi_v3_document(t, "apis/apps/v1")
    again = openapi.openapi_response(t, "/openapi/v3/apis/apps/v1", if_none_match=f'"{current}"')
    assert again.status == 304 and again.body == b""
    assert openapi.openapi_response(t, "/openapi/v3/apis/nope/v1") is None


def test_openapi_v2_route_answers_406_when_no_format_is_acceptable():
    t = make_table()
    assert openapi.openapi_response(t, "/openapi/v2", accept="text/html").status == 406
    proto = openapi.openapi_response(t, "/openapi/v2",
                                     accept="application/com.github.proto-openapi.spec.v2@v1.0+protobuf")
    assert proto.status == 200
    assert proto.headers["Content-Type"] == "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    index = openapi.openapi_response(t, "/openapi/v3")
    assert index.headers["Content-Type"] == "application/json"
    assert orjson.loads(index.body)["paths"]


# ------------------------------------------------------------------------------------ real kubectl


def test_kubectl_explain_reads_the_v3_document(server):
    out = server.kubectl("explain", "deployment.spec.strategy").stdout
    assert "GROUP:      apps" in out
    assert "KIND:       Deployment" in out
    assert "FIELD: strategy <DeploymentStrategy>" in out
    assert "rollingUpdate\t<RollingUpdateDeployment>" in out
    assert "type\t<string>" in out


def test_kubectl_explain_walks_into_arrays_and_reports_required_fields(server):
    out = server.kubectl("explain", "deployment.spec.template.spec.containers").stdout
    assert "FIELD: containers <[]Container>" in out
    assert "name\t<string> -required-" in out
    missing = server.kubectl("explain", "deployment.spec.nosuchfield", check=False)
    assert missing.returncode != 0
    assert 'field "nosuchfield" does not exist' in missing.stderr


_V2_SERVER = textwrap.dedent("""
    # The real app behind a shim that answers /openapi/* through facade.openapi.openapi_response, so these
    # tests pin down the documents and their HTTP semantics whatever the routes in facade/app.py do.
    import asyncio, sys
    from pathlib import Path
    from urllib.parse import parse_qs
    import uvicorn
    from facade import openapi
    from facade.server import ServeOptions, build

    class OpenAPIShim:
        def __init__(self, app, table):
            self.app, self.table = app, table

        async def __call__(self, scope, receive, send):
            if scope["type"] == "http" and scope["path"].startswith("/openapi/"):
                headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
                query = parse_qs(scope["query_string"].decode())
                r = openapi.openapi_response(self.table, scope["path"], query_hash=query.get("hash", [None])[0],
                                             accept=headers.get("accept"),
                                             if_none_match=headers.get("if-none-match"))
                if r is None:
                    r = openapi.OpenAPIResponse(404, {"Content-Type": "text/plain"}, b"404 page not found")
                await send({"type": "http.response.start", "status": r.status,
                            "headers": [(k.lower().encode(), v.encode()) for k, v in r.headers.items()]})
                await send({"type": "http.response.body", "body": r.body})
                return
            await self.app(scope, receive, send)

    async def main(port, data_dir):
        app, rest, kubeconfig = await build(ServeOptions(port=port, data_dir=Path(data_dir)))
        config = uvicorn.Config(OpenAPIShim(app, rest.table), host="127.0.0.1", port=port, lifespan="off",
                                ssl_certfile=f"{data_dir}/server.crt", ssl_keyfile=f"{data_dir}/server.key",
                                log_level="warning")
        await uvicorn.Server(config).serve()

    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
""")


@pytest.fixture(scope="module")
def v2_kubeconfig(tmp_path_factory):
    from conftest import free_port

    data_dir = tmp_path_factory.mktemp("openapi-v2")
    script = data_dir / "serve_v2.py"
    script.write_text(_V2_SERVER)
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    proc = subprocess.Popen([sys.executable, str(script), str(port), str(data_dir)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        kubeconfig = data_dir / "kubeconfig"
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(proc.stderr.read())
            ok = kubeconfig.exists() and subprocess.run(
                ["kubectl", "--kubeconfig", str(kubeconfig), "get", "--raw", "/readyz"],
                capture_output=True).returncode == 0
            if ok:
                break
            time.sleep(0.2)
        else:
            raise RuntimeError("v2 test server did not start")
        yield kubeconfig
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _kubectl(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), *args], capture_output=True, text=True,
                          timeout=60)


def test_kubectl_explain_openapiv2_output_reads_the_protobuf_document(v2_kubeconfig):
    out = _kubectl(v2_kubeconfig, "explain", "deployment.spec.strategy", "--output=plaintext-openapiv2")
    assert out.returncode == 0, out.stderr
    assert "KIND:     Deployment" in out.stdout
    assert "VERSION:  apps/v1" in out.stdout
    assert "RESOURCE: strategy <Object>" in out.stdout
    assert "rollingUpdate\t<Object>" in out.stdout


def test_kubectl_validates_a_list_client_side_against_the_v2_document(v2_kubeconfig, tmp_path):
    # kubectl cannot ask the server to validate a kind: List, so it validates each item against /openapi/v2.
    manifest = tmp_path / "list.yaml"
    manifest.write_text(textwrap.dedent("""
        apiVersion: v1
        kind: List
        items:
        - apiVersion: apps/v1
          kind: Deployment
          metadata: {name: listed, namespace: default}
          spec:
            selector: {matchLabels: {app: listed}}
            template:
              metadata: {labels: {app: listed}}
              spec: {containers: [{name: c, image: busybox, bogus: 1}]}
    """))
    out = _kubectl(v2_kubeconfig, "apply", "-f", str(manifest))
    assert out.returncode == 1
    assert ('error validating data: ValidationError(Deployment.spec.template.spec.containers[0]): '
            'unknown field "bogus" in io.k8s.api.core.v1.Container') in out.stderr
