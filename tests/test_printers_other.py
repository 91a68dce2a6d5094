"""Rows for HPAs (v1 and v2), leases, endpoint slices, ingresses, network policies, PDBs, RBAC,
storage classes, priority classes, APIServices, and the kinds served by the default convertor."""

from datetime import UTC, datetime

import pytest

from facade.printers import printer_for, table

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def md(name, created="2024-05-01T11:00:00Z", **extra):
    return {"name": name, "uid": "u", "resourceVersion": "5", "creationTimestamp": created, **extra}


def row(group, kind, obj, version=""):
    return table(printer_for(group, kind, version), [obj], now=NOW)["rows"][0]["cells"]


def hpa_v2(metrics, current=None, min_replicas=1):
    spec = {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "maxReplicas": 10, "metrics": metrics}
    if min_replicas is not None:
        spec["minReplicas"] = min_replicas
    return {"metadata": md("web"), "spec": spec, "status": {"currentReplicas": 2, "desiredReplicas": 2, "currentMetrics": current or []}}


CPU80 = {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}


def test_hpa_v2_resource_utilization_known_and_unknown():
    cur = [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 34, "averageValue": "68m"}}}]
    assert row("autoscaling", "HorizontalPodAutoscaler", hpa_v2([CPU80], cur), "v2") == [
        "web", "Deployment/web", "cpu: 34%/80%", "1", 10, 2, "60m"
    ]
    assert row("autoscaling", "HorizontalPodAutoscaler", hpa_v2([CPU80], None, None), "v2")[2:4] == [
        "cpu: <unknown>/80%", "<unset>"
    ]


def test_hpa_v2_other_metric_kinds_and_more():
    metrics = [
        {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "1Gi"}}},
        {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "10"}}},
        {"type": "External", "external": {"metric": {"name": "queue"}, "target": {"type": "Value", "value": "30"}}},
    ]
    current = [
        {"type": "Resource", "resource": {"name": "memory", "current": {"averageValue": "512Mi"}}},
        {"type": "Pods", "pods": {"metric": {"name": "qps"}, "current": {"averageValue": "1500m"}}},
    ]
    assert row("autoscaling", "HorizontalPodAutoscaler", hpa_v2(metrics, current), "v2")[2] == (
        "memory: 512Mi/1Gi, 1500m/10 + 1 more..."
    )
    obj_avg = [{"type": "Object", "object": {"metric": {"name": "rps"}, "describedObject": {}, "target": {"type": "AverageValue", "averageValue": "2k"}}}]
    assert row("autoscaling", "HorizontalPodAutoscaler", hpa_v2(obj_avg), "v2")[2] == "<unknown>/2k (avg)"
    ext = [{"type": "External", "external": {"metric": {"name": "q"}, "target": {"type": "Value", "value": "30"}}}]
    ext_cur = [{"type": "External", "external": {"metric": {"name": "q"}, "current": {"value": "12"}}}]
    assert row("autoscaling", "HorizontalPodAutoscaler", hpa_v2(ext, ext_cur), "v2")[2] == "12/30"
    assert row("autoscaling", "HorizontalPodAutoscaler", hpa_v2([]), "v2")[2] == "<none>"


def test_hpa_v1_reads_cpu_percentages():
    v1 = {
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": md("web"),
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 2, "maxReplicas": 5, "targetCPUUtilizationPercentage": 50},
        "status": {"currentReplicas": 2, "desiredReplicas": 2, "currentCPUUtilizationPercentage": 12},
    }
    assert row("autoscaling", "HorizontalPodAutoscaler", v1, "v1") == ["web", "Deployment/web", "cpu: 12%/50%", "2", 5, 2, "60m"]
    del v1["spec"]["targetCPUUtilizationPercentage"]
    del v1["status"]["currentCPUUtilizationPercentage"]
    assert row("autoscaling", "HorizontalPodAutoscaler", v1, "v1")[2] == "cpu: <unknown>/80%"


def test_hpa_v1_printer_accepts_objects_already_in_v2_shape():
    cur = [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 34}}}]
    v2 = hpa_v2([CPU80], cur)
    assert row("autoscaling", "HorizontalPodAutoscaler", v2, "v1")[2] == "cpu: 34%/80%"


def test_lease_row():
    lease = {"metadata": md("kube-scheduler"), "spec": {"holderIdentity": "cp-1_5b0d", "leaseDurationSeconds": 15}}
    assert row("coordination.k8s.io", "Lease", lease) == ["kube-scheduler", "cp-1_5b0d", "60m"]
    assert row("coordination.k8s.io", "Lease", {"metadata": md("free"), "spec": {}})[1] == ""


def test_endpoint_slice_row():
    es = {
        "metadata": md("web-abc12"),
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "metrics", "protocol": "TCP"}, {}],
        "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2", "10.0.0.3"]}, {"addresses": ["10.0.0.4"]}],
    }
    assert row("discovery.k8s.io", "EndpointSlice", es) == [
        "web-abc12", "IPv4", "8080,metrics,*", "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...", "60m"
    ]
    empty = {"metadata": md("e"), "addressType": "IPv6", "endpoints": None}
    assert row("discovery.k8s.io", "EndpointSlice", empty)[2:4] == ["<unset>", "<unset>"]


def test_ingress_row():
    ing = {
        "metadata": md("web"),
        "spec": {
            "ingressClassName": "nginx",
            "rules": [{"host": "a.example.com"}, {}, {"host": "b.example.com"}, {"host": "c.example.com"}, {"host": "d.example.com"}],
            "tls": [{"hosts": ["a.example.com"], "secretName": "tls"}],
        },
        "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.10"}, {"hostname": "lb.example.com"}]}},
    }
    assert row("networking.k8s.io", "Ingress", ing) == [
        "web", "nginx", "a.example.com,b.example.com,c.example.com + 2 more...", "203.0.113.10,lb.example.com", "80, 443", "60m"
    ]
    bare = {"metadata": md("bare"), "spec": {"defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}}, "status": {}}
    assert row("networking.k8s.io", "Ingress", bare) == ["bare", "<none>", "*", "", "80", "60m"]


def test_ingress_class_and_network_policy():
    ic = {"metadata": md("nginx"), "spec": {"controller": "k8s.io/ingress-nginx", "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "p"}}}
    assert row("networking.k8s.io", "IngressClass", ic) == ["nginx", "k8s.io/ingress-nginx", "IngressParameters.k8s.example.com/p", "60m"]
    ic["spec"] = {"controller": "c"}
    assert row("networking.k8s.io", "IngressClass", ic)[2] == "<none>"
    np = {"metadata": md("deny"), "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}
    assert row("networking.k8s.io", "NetworkPolicy", np) == ["deny", "<none>", "60m"]
    np["spec"]["podSelector"] = {"matchLabels": {"role": "db"}}
    assert row("networking.k8s.io", "NetworkPolicy", np)[1] == "role=db"


def test_pod_disruption_budget_row():
    pdb = {"metadata": md("web"), "spec": {"minAvailable": "50%", "selector": {"matchLabels": {"app": "web"}}}, "status": {"disruptionsAllowed": 1}}
    assert row("policy", "PodDisruptionBudget", pdb) == ["web", "50%", "N/A", 1, "60m"]
    pdb["spec"] = {"maxUnavailable": 1}
    pdb["status"] = {}
    assert row("policy", "PodDisruptionBudget", pdb) == ["web", "N/A", "1", 0, "60m"]


def test_role_bindings_with_subjects():
    rb = {
        "metadata": md("admins"),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
        "subjects": [
            {"kind": "User", "name": "alice"},
            {"kind": "User", "name": "bob"},
            {"kind": "Group", "name": "ops"},
            {"kind": "ServiceAccount", "name": "ci", "namespace": "build"},
        ],
    }
    assert row("rbac.authorization.k8s.io", "RoleBinding", rb) == ["admins", "ClusterRole/admin", "60m", "alice, bob", "ops", "build/ci"]
    crb = {"metadata": md("view"), "roleRef": {"kind": "ClusterRole", "name": "view"}}
    assert row("rbac.authorization.k8s.io", "ClusterRoleBinding", crb) == ["view", "ClusterRole/view", "60m", "", "", ""]
    assert printer_for("rbac.authorization.k8s.io", "ClusterRoleBinding").columns[3].description == "Users in the clusterRoleBinding"


def test_storage_class_row():
    sc = {
        "metadata": md("standard", annotations={"storageclass.kubernetes.io/is-default-class": "true"}),
        "provisioner": "rancher.io/local-path",
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
    }
    assert row("storage.k8s.io", "StorageClass", sc) == [
        "standard (default)", "rancher.io/local-path", "Delete", "WaitForFirstConsumer", False, "60m"
    ]


def test_priority_class_row():
    pc = {"metadata": md("system-cluster-critical"), "value": 2000000000, "preemptionPolicy": "PreemptLowerPriority"}
    assert row("scheduling.k8s.io", "PriorityClass", pc) == ["system-cluster-critical", 2000000000, False, "60m", "PreemptLowerPriority"]


def test_api_service_rows():
    local = {"metadata": md("v1.apps"), "spec": {"group": "apps", "version": "v1", "groupPriorityMinimum": 17800, "versionPriority": 15},
             "status": {"conditions": [{"type": "Available", "status": "True", "reason": "Local"}]}}
    assert row("apiregistration.k8s.io", "APIService", local) == ["v1.apps", "Local", "True", "60m"]
    remote = {"metadata": md("v1beta1.metrics.k8s.io"), "spec": {"service": {"namespace": "kube-system", "name": "metrics-server", "port": 443}},
              "status": {"conditions": [{"type": "Available", "status": "False", "reason": "MissingEndpoints"}]}}
    assert row("apiregistration.k8s.io", "APIService", remote) == [
        "v1beta1.metrics.k8s.io", "kube-system/metrics-server", "False (MissingEndpoints)", "60m"
    ]
    assert row("apiregistration.k8s.io", "APIService", {"metadata": md("x"), "spec": {}})[2] == "Unknown"


@pytest.mark.parametrize(
    ("group", "kind"),
    [
        ("rbac.authorization.k8s.io", "Role"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("", "LimitRange"),
    ],
)
def test_kinds_without_printers_get_name_and_created_at(group, kind):
    obj = {"metadata": md("thing", created="2024-04-30T08:15:00Z")}
    t = table(printer_for(group, kind), [obj], now=NOW)
    assert [(c["name"], c["type"], c["format"]) for c in t["columnDefinitions"]] == [
        ("Name", "string", "name"),
        ("Created At", "date", ""),
    ]
    assert t["rows"][0]["cells"] == ["thing", "2024-04-30T08:15:00Z"]


def test_unknown_kind_has_no_printer():
    assert printer_for("example.com", "Widget") is None
