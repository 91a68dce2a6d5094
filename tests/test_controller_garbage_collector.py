"""The garbage collector as kubectl shows it: background, foreground and orphan cascades, dangling
owners, cluster-scoped owners of namespaced objects."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from conftest import Server, start_server, stop_server
from fake_nodes import wait_for


@pytest.fixture(scope="module")
def gc() -> Iterator[Server]:
    """No nodes: pods stay unscheduled, so deleting them needs no kubelet."""
    s = start_server("--no-node")
    yield s
    stop_server(s)


def ns(s: Server, name: str) -> str:
    code, _, out = s.request("POST", "/api/v1/namespaces", json.dumps(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}).encode())
    assert code == 201, out
    return name


def rs(name: str, replicas: int = 2) -> str:
    return json.dumps({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name},
                       "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                                "template": {"metadata": {"labels": {"app": name}},
                                             "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})


def pods(s: Server, n: str) -> list[dict]:
    code, _, out = s.request("GET", f"/api/v1/namespaces/{n}/pods")
    assert code == 200
    return json.loads(out)["items"]


def exists(s: Server, path: str) -> bool:
    return s.request("GET", path)[0] == 200


def test_background_cascade_deletes_the_pods(gc: Server) -> None:
    n = ns(gc, "gc-background")
    gc.kubectl("apply", "-n", n, "-f", "-", input=rs("web"))
    wait_for(lambda: len(pods(gc, n)) == 2)
    gc.kubectl("delete", "rs", "web", "-n", n)
    wait_for(lambda: not pods(gc, n))


def test_foreground_cascade_deletes_dependents_before_the_owner(gc: Server) -> None:
    n = ns(gc, "gc-foreground")
    gc.kubectl("apply", "-n", n, "-f", "-", input=rs("web"))
    wait_for(lambda: len(pods(gc, n)) == 2)
    # a finalizer on one pod holds the foreground deletion: the owner must wait with its finalizer
    victim = pods(gc, n)[0]["metadata"]["name"]
    gc.kubectl("patch", "pod", victim, "-n", n, "--type=merge", "-p", '{"metadata":{"finalizers":["test/hold"]}}')
    out = gc.kubectl("delete", "rs", "web", "-n", n, "--cascade=foreground", "--wait=false")
    assert out.stdout.strip() == 'replicaset.apps "web" deleted'
    owner = wait_for(lambda: json.loads(gc.kubectl("get", "rs", "web", "-n", n, "-o", "json").stdout)
                     if len(pods(gc, n)) == 1 else None)
    assert owner["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert owner["metadata"].get("deletionTimestamp")
    gc.kubectl("patch", "pod", victim, "-n", n, "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    wait_for(lambda: not exists(gc, f"/apis/apps/v1/namespaces/{n}/replicasets/web"))
    assert not pods(gc, n)


def test_foreground_delete_with_kubectl_wait(gc: Server) -> None:
    n = ns(gc, "gc-foreground-wait")
    gc.kubectl("apply", "-n", n, "-f", "-", input=rs("web", 3))
    wait_for(lambda: len(pods(gc, n)) == 3)
    gc.kubectl("delete", "rs", "web", "-n", n, "--cascade=foreground", timeout=30)
    assert not exists(gc, f"/apis/apps/v1/namespaces/{n}/replicasets/web")
    assert not pods(gc, n)


def test_orphan_cascade_keeps_the_pods_without_owner(gc: Server) -> None:
    n = ns(gc, "gc-orphan")
    gc.kubectl("apply", "-n", n, "-f", "-", input=rs("web"))
    wait_for(lambda: len(pods(gc, n)) == 2)
    gc.kubectl("delete", "rs", "web", "-n", n, "--cascade=orphan", timeout=30)
    assert not exists(gc, f"/apis/apps/v1/namespaces/{n}/replicasets/web")
    left = pods(gc, n)
    assert len(left) == 2
    assert all(not p["metadata"].get("ownerReferences") for p in left)


def test_dangling_owner_reference_is_collected(gc: Server) -> None:
    n = ns(gc, "gc-dangling")
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "orphaned", "ownerReferences": [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "never-was", "uid": "0f1e2d3c-0000-0000-0000-000000000000"}]}}
    gc.kubectl("apply", "-n", n, "-f", "-", input=json.dumps(cm))
    wait_for(lambda: not exists(gc, f"/api/v1/namespaces/{n}/configmaps/orphaned"))


def test_dangling_reference_beside_a_live_owner_is_removed(gc: Server) -> None:
    n = ns(gc, "gc-mixed")
    gc.kubectl("apply", "-n", n, "-f", "-", input=json.dumps(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner"}}))
    owner_uid = json.loads(gc.kubectl("get", "cm", "owner", "-n", n, "-o", "json").stdout)["metadata"]["uid"]
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dep", "ownerReferences": [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner_uid},
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "gone", "uid": "0f1e2d3c-0000-0000-0000-000000000001"}]}}
    gc.kubectl("apply", "-n", n, "-f", "-", input=json.dumps(cm))
    wait_for(lambda: [r["name"] for r in json.loads(gc.kubectl("get", "cm", "dep", "-n", n, "-o", "json").stdout)
                      ["metadata"]["ownerReferences"]] == ["owner"])


def test_cluster_scoped_owner_of_namespaced_dependent(gc: Server) -> None:
    n = ns(gc, "gc-cluster-owner")
    gc.kubectl("apply", "-f", "-", input=json.dumps(
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "gc-owner"},
         "rules": []}))
    uid = json.loads(gc.kubectl("get", "clusterrole", "gc-owner", "-o", "json").stdout)["metadata"]["uid"]
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owned", "ownerReferences": [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "name": "gc-owner", "uid": uid}]}}
    gc.kubectl("apply", "-n", n, "-f", "-", input=json.dumps(cm))
    assert exists(gc, f"/api/v1/namespaces/{n}/configmaps/owned")
    gc.kubectl("delete", "clusterrole", "gc-owner")
    wait_for(lambda: not exists(gc, f"/api/v1/namespaces/{n}/configmaps/owned"))


def test_deleting_a_deployment_removes_replicasets_and_pods(gc: Server) -> None:
    n = ns(gc, "gc-deploy")
    d = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
         "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                  "template": {"metadata": {"labels": {"app": "web"}},
                               "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
    gc.kubectl("apply", "-n", n, "-f", "-", input=json.dumps(d))
    wait_for(lambda: len(pods(gc, n)) == 2)
    gc.kubectl("delete", "deploy", "web", "-n", n, "--cascade=foreground", timeout=30)
    assert not pods(gc, n)
    code, _, out = gc.request("GET", f"/apis/apps/v1/namespaces/{n}/replicasets")
    assert json.loads(out)["items"] == []
