"""Binding pods to nodes as a custom scheduler does: pods/binding and the bindings collection, through
the official Python client, with upstream's answers (Success Status, 409 when bound, 404, 422)."""

from __future__ import annotations

import json

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException


def _pending_pod(v1: client.CoreV1Api, namespace: str, name: str) -> None:
    # a scheduler nobody runs: the pod stays Pending until the test binds it
    v1.create_namespaced_pod(namespace, {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"schedulerName": "my-scheduler", "containers": [{"name": "c", "image": "busybox"}]}})


def _binding(name: str, node: str, annotations: dict[str, str] | None = None) -> client.V1Binding:
    return client.V1Binding(metadata=client.V1ObjectMeta(name=name, annotations=annotations),
                            target=client.V1ObjectReference(kind="Node", name=node))


def test_pod_binding_sets_node_condition_and_annotations_without_a_managed_fields_entry(api, namespace):
    v1 = client.CoreV1Api(api)
    _pending_pod(v1, namespace, "p")
    resp = v1.create_namespaced_pod_binding(
        "p", namespace, _binding("p", "node-a", {"example.com/placed-by": "test"}), _preload_content=False)
    assert resp.status == 201
    body = json.loads(resp.data)
    assert (body["kind"], body["status"], body["code"]) == ("Status", "Success", 201)
    pod = v1.read_namespaced_pod("p", namespace)
    assert pod.spec.node_name == "node-a"
    assert pod.metadata.annotations == {"example.com/placed-by": "test"}
    scheduled = [c for c in pod.status.conditions if c.type == "PodScheduled"]
    assert [(c.status, c.last_transition_time is not None) for c in scheduled] == [("True", True)]
    # kube-apiserver binds through its storage layer directly: no field manager runs
    managers = {(m.manager, m.subresource) for m in pod.metadata.managed_fields}
    assert all(sub != "binding" for _, sub in managers), managers


def test_binding_a_bound_pod_is_a_conflict_and_changes_nothing(api, namespace):
    v1 = client.CoreV1Api(api)
    _pending_pod(v1, namespace, "p")
    v1.create_namespaced_pod_binding("p", namespace, _binding("p", "node-a"), _preload_content=False)
    before = v1.read_namespaced_pod("p", namespace)
    with pytest.raises(ApiException) as e:
        v1.create_namespaced_pod_binding("p", namespace, _binding("p", "node-b"), _preload_content=False)
    assert e.value.status == 409
    err = json.loads(e.value.body)
    assert err["reason"] == "Conflict"
    assert err["message"] == ('Operation cannot be fulfilled on pods/binding "p": '
                              'pod p is already assigned to node "node-a"')
    after = v1.read_namespaced_pod("p", namespace)
    assert after.spec.node_name == "node-a"
    assert after.metadata.resource_version == before.metadata.resource_version


def test_binding_a_missing_pod_is_not_found(api, namespace):
    v1 = client.CoreV1Api(api)
    with pytest.raises(ApiException) as e:
        v1.create_namespaced_pod_binding("nope", namespace, _binding("nope", "node-a"), _preload_content=False)
    assert e.value.status == 404
    assert json.loads(e.value.body)["reason"] == "NotFound"


def test_binding_without_a_target_is_invalid(api, namespace, server):
    v1 = client.CoreV1Api(api)
    _pending_pod(v1, namespace, "p")
    body = json.dumps({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"}, "target": {}}).encode()
    code, _, out = server.request("POST", f"/api/v1/namespaces/{namespace}/pods/p/binding", body)
    assert code == 422
    err = json.loads(out)
    assert err["reason"] == "Invalid"
    assert [c["field"] for c in err["details"]["causes"]] == ["target.name"]
    assert v1.read_namespaced_pod("p", namespace).spec.node_name is None


def test_the_bindings_collection_binds_the_named_pod_and_stores_no_binding(api, namespace, server):
    v1 = client.CoreV1Api(api)
    _pending_pod(v1, namespace, "p")
    body = json.dumps({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"},
                       "target": {"kind": "Node", "name": "node-c"}}).encode()
    code, _, out = server.request("POST", f"/api/v1/namespaces/{namespace}/bindings", body)
    assert code == 201, out
    assert json.loads(out)["status"] == "Success"
    assert v1.read_namespaced_pod("p", namespace).spec.node_name == "node-c"
