"""One stored object, served in each version's own shape (autoscaling v1 and v2 HPAs)."""

from __future__ import annotations

import json


def test_hpa_created_through_v1_reads_back_in_v1_and_v2_shapes(server, namespace):
    v1 = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
          "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                   "minReplicas": 2, "maxReplicas": 5, "targetCPUUtilizationPercentage": 70}}
    code, _, body = server.request("POST", f"/apis/autoscaling/v1/namespaces/{namespace}/horizontalpodautoscalers",
                                   json.dumps(v1).encode())
    assert code == 201, body
    assert json.loads(body)["spec"]["targetCPUUtilizationPercentage"] == 70
    code, _, body = server.request("GET", f"/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers/web")
    v2 = json.loads(body)
    assert v2["apiVersion"] == "autoscaling/v2"
    assert v2["spec"]["metrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]
    code, _, body = server.request("GET", f"/apis/autoscaling/v1/namespaces/{namespace}/horizontalpodautoscalers")
    items = json.loads(body)["items"]
    assert items[0]["apiVersion"] == "autoscaling/v1"
    assert items[0]["spec"]["targetCPUUtilizationPercentage"] == 70
    patch = json.dumps({"spec": {"targetCPUUtilizationPercentage": 50}}).encode()
    code, _, body = server.request("PATCH", f"/apis/autoscaling/v1/namespaces/{namespace}/horizontalpodautoscalers/web",
                                   patch, {"Content-Type": "application/merge-patch+json"})
    assert code == 200, body
    code, _, body = server.request("GET", f"/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers/web")
    assert json.loads(body)["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 50


def test_kubectl_get_hpa_prints_targets(server, namespace):
    v2 = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "api"},
          "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"},
                   "maxReplicas": 3}}
    server.request("POST", f"/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers",
                   json.dumps(v2).encode())
    out = server.kubectl("get", "hpa", "-n", namespace).stdout.splitlines()
    assert out[0].split() == ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"]
    assert out[1].split()[:2] == ["api", "Deployment/api"]
