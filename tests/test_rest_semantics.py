"""REST semantics as a raw HTTP client sees them: codes, reasons, resourceVersion, watch, paging."""

from __future__ import annotations

import json
import ssl
import threading
import time
import urllib.request


def cm_body(name: str, **extra) -> bytes:
    return json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, **extra},
                       "data": {"k": "v"}}).encode()


def test_unauthenticated_requests_get_401_unauthorized(server):
    code, _, body = server.request("GET", "/api/v1/namespaces", token=None)
    assert code == 401
    assert json.loads(body)["reason"] == "Unauthorized"
    code, _, _ = server.request("GET", "/readyz", token=None)
    assert code == 200


def test_body_over_3_mib_gets_413(server, namespace):
    big = json.dumps({"metadata": {"name": "big"}, "data": {"k": "x" * (3 * 1024 * 1024 + 10)}}).encode()
    code, _, body = server.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", big)
    assert code == 413
    assert json.loads(body)["code"] == 413


def test_protobuf_only_accept_gets_406(server, namespace):
    code, _, body = server.request("GET", f"/api/v1/namespaces/{namespace}/configmaps",
                                   headers={"Accept": "application/vnd.kubernetes.protobuf"})
    assert code == 406
    assert json.loads(body)["reason"] == "NotAcceptable"


def test_yaml_output_when_asked(server, namespace):
    server.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", cm_body("y"))
    code, headers, body = server.request("GET", f"/api/v1/namespaces/{namespace}/configmaps/y",
                                         headers={"Accept": "application/yaml"})
    assert code == 200 and headers["content-type"].startswith("application/yaml")
    assert b"kind: ConfigMap" in body


def test_invalid_json_is_a_bad_request_never_a_500(server, namespace):
    for payload in (b"{", b"[]", b"null", b'"x"', b'{"metadata": 5}', b'{"metadata": {"name": 5}}'):
        code, _, body = server.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", payload)
        assert 400 <= code < 500, (payload, code, body)
        assert json.loads(body)["kind"] == "Status"


def test_dry_run_create_stores_nothing(server, namespace):
    code, _, body = server.request("POST", f"/api/v1/namespaces/{namespace}/configmaps?dryRun=All", cm_body("dry"))
    assert code == 201 and json.loads(body)["metadata"]["name"] == "dry"
    code, _, _ = server.request("GET", f"/api/v1/namespaces/{namespace}/configmaps/dry")
    assert code == 404


def test_generate_name_gets_a_five_character_suffix(server, namespace):
    body = json.dumps({"metadata": {"generateName": "gen-"}}).encode()
    code, _, out = server.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", body)
    name = json.loads(out)["metadata"]["name"]
    assert code == 201 and name.startswith("gen-") and len(name) == len("gen-") + 5


def test_finalizers_keep_an_object_marked_until_they_are_removed(server, namespace):
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    server.request("POST", path, cm_body("fin", finalizers=["example.com/hold"]))
    code, _, body = server.request("DELETE", f"{path}/fin")
    assert code == 200
    obj = json.loads(server.request("GET", f"{path}/fin")[2])
    assert obj["metadata"]["deletionTimestamp"]
    patch = json.dumps({"metadata": {"finalizers": None}}).encode()
    code, _, _ = server.request("PATCH", f"{path}/fin", patch, {"Content-Type": "application/merge-patch+json"})
    assert code == 200
    assert server.request("GET", f"{path}/fin")[0] == 404


def test_delete_precondition_on_uid_is_a_conflict(server, namespace):
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    server.request("POST", path, cm_body("pre"))
    opts = json.dumps({"preconditions": {"uid": "not-the-uid"}}).encode()
    code, _, body = server.request("DELETE", f"{path}/pre", opts)
    assert code == 409
    assert "Precondition failed: UID in precondition: not-the-uid" in json.loads(body)["message"]


def test_generation_follows_spec_changes_not_status():
    """On a server without controllers: the deployment controller would rewrite the status under test."""
    from conftest import start_server, stop_server

    server, namespace = start_server("--no-controllers", "--no-node"), "default"
    try:
        _generation_follows_spec_changes_not_status(server, namespace)
    finally:
        stop_server(server)


def _generation_follows_spec_changes_not_status(server, namespace):
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "g"},
            "spec": {"selector": {"matchLabels": {"a": "b"}},
                     "template": {"metadata": {"labels": {"a": "b"}},
                                  "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    code, _, out = server.request("POST", path, json.dumps(body).encode())
    assert code == 201, out
    assert json.loads(out)["metadata"]["generation"] == 1
    status = json.dumps({"status": {"replicas": 5}}).encode()
    code, _, out = server.request("PATCH", f"{path}/g/status", status,
                                  {"Content-Type": "application/merge-patch+json"})
    assert code == 200, out
    assert json.loads(out)["metadata"]["generation"] == 1
    assert json.loads(out)["status"]["replicas"] == 5
    spec = json.dumps({"spec": {"replicas": 3}, "status": {"replicas": 9}}).encode()
    code, _, out = server.request("PATCH", f"{path}/g", spec, {"Content-Type": "application/merge-patch+json"})
    obj = json.loads(out)
    assert obj["metadata"]["generation"] == 2
    assert obj["status"]["replicas"] == 5  # status is not written through the main resource


def test_continue_token_older_than_the_history_gets_410_with_a_fresh_token():
    from tests.conftest import start_server, stop_server

    small = start_server("--history-window", "5", "--no-controllers")
    try:
        path = "/api/v1/namespaces/default/configmaps"
        for i in range(3):
            small.request("POST", path, cm_body(f"e{i}"))
        token = json.loads(small.request("GET", f"{path}?limit=1")[2])["metadata"]["continue"]
        for i in range(20):  # the history window moves past the token's revision
            small.request("PATCH", f"{path}/e0", json.dumps({"data": {"i": str(i)}}).encode(),
                          {"Content-Type": "application/merge-patch+json"})
        code, _, body = small.request("GET", f"{path}?limit=1&continue={token}")
        status = json.loads(body)
        assert code == 410 and status["reason"] == "Expired"
        assert status["message"].startswith("The provided continue parameter is too old")
        fresh = status["metadata"]["continue"]
        code, _, body = small.request("GET", f"{path}?limit=5&continue={fresh}")
        assert code == 200
        assert [i["metadata"]["name"] for i in json.loads(body)["items"]] == ["e1", "e2"]
    finally:
        stop_server(small)


def test_watch_with_send_initial_events_ends_initial_state_with_a_bookmark(server, namespace):
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    server.request("POST", path, cm_body("init"))
    url = (f"{server.url}{path}?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan"
           f"&allowWatchBookmarks=true&timeoutSeconds=2")
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {server.token}"})
    with urllib.request.urlopen(req, context=server.ssl_context(), timeout=10) as resp:
        lines = [json.loads(line) for line in resp.read().splitlines() if line.strip()]
    added = [e["object"]["metadata"]["name"] for e in lines if e["type"] == "ADDED"]
    assert "init" in added
    assert [e["type"] for e in lines] == ["ADDED"] * len(added) + ["BOOKMARK"]
    assert lines[-1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_watch_from_an_expired_resource_version_sends_410_gone(server, namespace):
    url = f"{server.url}/api/v1/namespaces/{namespace}/configmaps?watch=1&resourceVersion=1&timeoutSeconds=2"
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {server.token}"})
    # rv 1 is the beginning of time: either still in history (no events for this namespace) or expired
    with urllib.request.urlopen(req, context=server.ssl_context(), timeout=10) as resp:
        body = resp.read()
    for line in body.splitlines():
        ev = json.loads(line)
        if ev["type"] == "ERROR":
            assert ev["object"]["code"] == 410


def test_watch_selector_transitions_arrive_as_added_and_deleted(server, namespace):
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    rv = json.loads(server.request("GET", path)[2])["metadata"]["resourceVersion"]
    url = f"{server.url}{path}?watch=1&labelSelector=app%3Dweb&resourceVersion={rv}&timeoutSeconds=3"
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {server.token}"})
    lines: list[dict] = []

    def read() -> None:
        with urllib.request.urlopen(req, context=server.ssl_context(), timeout=10) as resp:
            for line in resp:
                if line.strip():
                    lines.append(json.loads(line))

    t = threading.Thread(target=read)
    t.start()
    time.sleep(0.3)
    server.request("POST", path, cm_body("mover"))
    merge = {"Content-Type": "application/merge-patch+json"}
    server.request("PATCH", f"{path}/mover", b'{"metadata":{"labels":{"app":"web"}}}', merge)
    server.request("PATCH", f"{path}/mover", b'{"data":{"x":"1"}}', merge)
    server.request("PATCH", f"{path}/mover", b'{"metadata":{"labels":{"app":"db"}}}', merge)
    t.join(10)
    assert [e["type"] for e in lines] == ["ADDED", "MODIFIED", "DELETED"]


def test_many_concurrent_watchers_each_receive_the_event(server, namespace):
    import http.client

    path = f"/api/v1/namespaces/{namespace}/configmaps"
    rv = json.loads(server.request("GET", path)[2])["metadata"]["resourceVersion"]
    conns = []
    for _ in range(200):
        c = http.client.HTTPSConnection("127.0.0.1", server.port, context=server.ssl_context(), timeout=10)
        c.request("GET", f"{path}?watch=1&resourceVersion={rv}&timeoutSeconds=60",
                  headers={"Authorization": f"Bearer {server.token}"})
        conns.append(c)
    responses = [c.getresponse() for c in conns]
    server.request("POST", path, cm_body("broadcast"))
    got = 0
    for r in responses:
        line = r.readline()
        if b'"broadcast"' in line:
            got += 1
        r.close()
    for c in conns:
        c.close()
    assert got == 200


def test_discovery_documents(server):
    code, _, body = server.request("GET", "/apis")
    groups = {g["name"] for g in json.loads(body)["groups"]}
    assert {"apps", "batch", "rbac.authorization.k8s.io", "apiextensions.k8s.io"} <= groups
    code, headers, body = server.request(
        "GET", "/apis", headers={"Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"})
    assert code == 200 and headers["content-type"].startswith("application/json;g=apidiscovery.k8s.io;v=v2")
    doc = json.loads(body)
    assert doc["kind"] == "APIGroupDiscoveryList"
    apps = next(i for i in doc["items"] if i["metadata"]["name"] == "apps")
    deploy = next(r for r in apps["versions"][0]["resources"] if r["resource"] == "deployments")
    assert {s["subresource"] for s in deploy["subresources"]} >= {"scale", "status"}


def test_health_and_version_endpoints(server):
    for path in ("/healthz", "/livez", "/readyz"):
        code, _, body = server.request("GET", path, token=None)
        assert (code, body) == (200, b"ok")
    code, _, body = server.request("GET", "/version", token=None)
    assert json.loads(body)["gitVersion"].startswith("v1.32.")


def test_unknown_paths_are_404_status(server):
    code, _, body = server.request("GET", "/apis/nope.example.com/v1/things")
    assert code == 404 and json.loads(body)["kind"] == "Status"
    ctx = ssl.create_default_context(cafile=str(server.ca))
    assert ctx  # the CA the kubeconfig carries verifies the serving certificate


def test_paged_list_reports_the_remaining_item_count(server, namespace):
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    for i in range(5):
        server.request("POST", path, cm_body(f"r{i}"))
    total = len(json.loads(server.request("GET", path)[2])["items"])
    first = json.loads(server.request("GET", f"{path}?limit=2")[2])
    assert first["metadata"]["remainingItemCount"] == total - 2
    second = json.loads(server.request("GET", f"{path}?limit=2&continue={first['metadata']['continue']}")[2])
    assert second["metadata"]["remainingItemCount"] == total - 4
