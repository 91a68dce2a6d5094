"""core/v1 rows other than pods: the cells kube-apiserver 1.32 puts in its Table."""

from datetime import UTC, datetime

from facade.printers import default_printer, printer_for, table

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def md(name="x", namespace="default", created="2024-05-01T11:00:00Z", **extra):
    return {"name": name, "namespace": namespace, "uid": "u-1", "resourceVersion": "100", "creationTimestamp": created, **extra}


def row(kind, obj, group="", version="v1"):
    return table(printer_for(group, kind, version), [obj], now=NOW)["rows"][0]["cells"]


def header(kind, group=""):
    return [c.name for c in printer_for(group, kind).columns]


def svc(spec, status=None):
    return {"apiVersion": "v1", "kind": "Service", "metadata": md("web"), "spec": spec, "status": status or {"loadBalancer": {}}}


def test_cluster_ip_service():
    obj = svc(
        {
            "type": "ClusterIP",
            "clusterIP": "10.96.12.34",
            "clusterIPs": ["10.96.12.34"],
            "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080}],
            "selector": {"app": "web"},
            "sessionAffinity": "None",
        }
    )
    assert header("Service") == ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"]
    assert row("Service", obj) == ["web", "ClusterIP", "10.96.12.34", "<none>", "80/TCP", "60m", "app=web"]


def test_node_port_service_with_external_ips():
    obj = svc(
        {
            "type": "NodePort",
            "clusterIPs": ["10.96.0.20"],
            "externalIPs": ["1.2.3.4"],
            "ports": [{"protocol": "TCP", "port": 80, "targetPort": 80, "nodePort": 30080}],
        }
    )
    assert row("Service", obj) == ["web", "NodePort", "10.96.0.20", "1.2.3.4", "80:30080/TCP", "60m", "<none>"]


def test_load_balancer_service_pending_and_assigned():
    spec = {"type": "LoadBalancer", "clusterIPs": ["10.96.0.30"], "ports": [{"protocol": "TCP", "port": 443, "nodePort": 31443}]}
    assert row("Service", svc(spec))[3] == "<pending>"
    assigned = svc(spec, {"loadBalancer": {"ingress": [{"ip": "203.0.113.9"}, {"hostname": "a-very-long-lb-hostname.example.com"}]}})
    # the server renders the wide form: nothing is clipped at 16 characters
    assert row("Service", assigned)[3] == "203.0.113.9,a-very-long-lb-hostname.example.com"
    both = svc({**spec, "externalIPs": ["198.51.100.1"]}, {"loadBalancer": {"ingress": [{"ip": "203.0.113.9"}]}})
    assert row("Service", both)[3] == "203.0.113.9,198.51.100.1"


def test_external_name_and_headless_services():
    ext = svc({"type": "ExternalName", "externalName": "db.example.com"})
    assert row("Service", ext)[1:5] == ["ExternalName", "<none>", "db.example.com", "<none>"]
    headless = svc({"type": "ClusterIP", "clusterIP": "None", "clusterIPs": ["None"], "selector": {"app": "db"}})
    assert row("Service", headless)[1:5] == ["ClusterIP", "None", "<none>", "<none>"]


def test_endpoints_three_then_more():
    obj = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": md("web"),
        "subsets": [
            {
                "addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}, {"ip": "fd00::3"}, {"ip": "10.0.0.4"}],
                "ports": [{"port": 8080, "protocol": "TCP"}],
            }
        ],
    }
    assert row("Endpoints", obj) == ["web", "10.0.0.1:8080,10.0.0.2:8080,[fd00::3]:8080 + 1 more...", "60m"]
    assert row("Endpoints", {"metadata": md("empty")}) == ["empty", "<none>", "60m"]
    portless = {"metadata": md("h"), "subsets": [{"addresses": [{"ip": "10.0.0.9"}]}]}
    assert row("Endpoints", portless)[1] == "10.0.0.9"


def test_node_ready_roles_and_wide_cells():
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": md(
            "cp-1",
            namespace=None,
            created="2024-04-01T12:00:00Z",
            labels={"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "master", "kubernetes.io/os": "linux"},
        ),
        "spec": {"unschedulable": True},
        "status": {
            "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
            "addresses": [{"type": "InternalIP", "address": "172.18.0.2"}, {"type": "Hostname", "address": "cp-1"}],
            "nodeInfo": {
                "kubeletVersion": "v1.32.0",
                "osImage": "Debian GNU/Linux 12 (bookworm)",
                "kernelVersion": "6.8.0",
                "containerRuntimeVersion": "containerd://1.7.24",
            },
        },
    }
    assert row("Node", node) == [
        "cp-1",
        "Ready,SchedulingDisabled",
        "control-plane,master",
        "30d",
        "v1.32.0",
        "172.18.0.2",
        "<none>",
        "Debian GNU/Linux 12 (bookworm)",
        "6.8.0",
        "containerd://1.7.24",
    ]
    bare = {"metadata": md("n2", namespace=None), "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}
    assert row("Node", bare)[1:5] == ["NotReady", "<none>", "60m", ""]
    assert row("Node", {"metadata": md("n3")})[1] == "Unknown"
    assert row("Node", {"metadata": md("n3")})[7:] == ["<unknown>", "<unknown>", "<unknown>"]


def event(**kw):
    base = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": md("web-0.17c8a3"),
        "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web-0", "fieldPath": "spec.containers{app}"},
        "reason": "Pulled",
        "message": "Successfully pulled image \"nginx\"\n",
        "source": {"component": "kubelet", "host": "node-1"},
        "firstTimestamp": "2024-05-01T11:50:00Z",
        "lastTimestamp": "2024-05-01T11:58:00Z",
        "count": 3,
        "type": "Normal",
        "reportingComponent": "kubelet",
        "reportingInstance": "node-1",
    }
    base.update(kw)
    return base


def test_core_event_row():
    assert header("Event") == [
        "Last Seen", "Type", "Reason", "Object", "Subobject", "Source", "Message", "First Seen", "Count", "Name"
    ]
    assert row("Event", event()) == [
        "2m", "Normal", "Pulled", "pod/web-0", "spec.containers{app}", "kubelet, node-1",
        'Successfully pulled image "nginx"', "10m", 3, "web-0.17c8a3",
    ]


def test_new_style_event_uses_event_time_series_and_reporting_controller():
    obj = event(firstTimestamp=None, lastTimestamp=None, count=None, source={}, eventTime="2024-05-01T11:40:00.000000Z")
    obj["reportingComponent"] = "default-scheduler"
    obj["reportingInstance"] = ""
    cells = row("Event", obj)
    assert cells[0] == "20m" and cells[7] == "20m" and cells[8] == 1
    assert cells[5] == "default-scheduler"
    obj["series"] = {"count": 7, "lastObservedTime": "2024-05-01T11:59:00.000000Z"}
    cells = row("Event", obj)
    assert cells[0] == "60s" and cells[8] == 7


def test_events_k8s_io_event_prints_like_core_event():
    obj = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": md("web-0.17c8a3"),
        "eventTime": None,
        "reportingController": "",
        "reportingInstance": "",
        "regarding": {"kind": "Pod", "namespace": "default", "name": "web-0", "fieldPath": "spec.containers{app}"},
        "reason": "Pulled",
        "note": "Successfully pulled image \"nginx\"",
        "type": "Normal",
        "deprecatedSource": {"component": "kubelet", "host": "node-1"},
        "deprecatedFirstTimestamp": "2024-05-01T11:50:00Z",
        "deprecatedLastTimestamp": "2024-05-01T11:58:00Z",
        "deprecatedCount": 3,
    }
    assert row("Event", obj, "events.k8s.io") == row("Event", event())
    # a store that keeps the core/v1 shape for both groups prints the same row
    assert row("Event", event(), "events.k8s.io") == row("Event", event())


def test_namespace_secret_configmap_serviceaccount():
    ns = {"metadata": md("team-a", namespace=None), "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}
    assert row("Namespace", ns) == ["team-a", "Active", "60m"]
    secret = {"metadata": md("tls"), "type": "kubernetes.io/tls", "data": {"tls.crt": "YQ==", "tls.key": "Yg=="}}
    assert row("Secret", secret) == ["tls", "kubernetes.io/tls", 2, "60m"]
    cm = {"metadata": md("cfg"), "data": {"a": "1"}, "binaryData": {"b": "AA=="}}
    assert row("ConfigMap", cm) == ["cfg", 2, "60m"]
    assert row("ConfigMap", {"metadata": md("empty")}) == ["empty", 0, "60m"]
    sa = {"metadata": md("default"), "secrets": [{"name": "default-token"}]}
    assert row("ServiceAccount", sa) == ["default", 1, "60m"]


def test_replication_controller_and_pod_template():
    rc = {
        "metadata": md("rc"),
        "spec": {
            "replicas": 3,
            "selector": {"app": "rc"},
            "template": {"metadata": {"labels": {"app": "rc"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
        },
        "status": {"replicas": 3, "readyReplicas": 2},
    }
    assert row("ReplicationController", rc) == ["rc", 3, 3, 2, "60m", "c", "nginx", "app=rc"]
    pt = {"metadata": md("pt"), "template": rc["spec"]["template"]}
    assert row("PodTemplate", pt) == ["pt", "c", "nginx", "app=rc"]


def test_persistent_volume_row():
    pv = {
        "metadata": md("pv-1", namespace=None),
        "spec": {
            "capacity": {"storage": "10Gi"},
            "accessModes": ["ReadWriteMany", "ReadWriteOnce", "ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "claimRef": {"kind": "PersistentVolumeClaim", "namespace": "default", "name": "data"},
            "storageClassName": "standard",
            "volumeMode": "Filesystem",
            "hostPath": {"path": "/data"},
        },
        "status": {"phase": "Bound"},
    }
    assert header("PersistentVolume") == [
        "Name", "Capacity", "Access Modes", "Reclaim Policy", "Status", "Claim", "StorageClass",
        "VolumeAttributesClass", "Reason", "Age", "VolumeMode",
    ]
    assert row("PersistentVolume", pv) == [
        "pv-1", "10Gi", "RWO,RWX", "Retain", "Bound", "default/data", "standard", "<unset>", "", "60m", "Filesystem"
    ]
    pv["metadata"]["deletionTimestamp"] = "2024-05-01T11:59:00Z"
    pv["metadata"]["annotations"] = {"volume.beta.kubernetes.io/storage-class": "legacy"}
    assert row("PersistentVolume", pv)[4:7] == ["Terminating", "default/data", "legacy"]


def test_persistent_volume_claim_pending_and_bound():
    pvc = {
        "metadata": md("data"),
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}},
            "storageClassName": "standard",
            "volumeMode": "Filesystem",
        },
        "status": {"phase": "Pending"},
    }
    assert row("PersistentVolumeClaim", pvc) == ["data", "Pending", "", "", "", "standard", "<unset>", "60m", "Filesystem"]
    pvc["spec"]["volumeName"] = "pv-1"
    pvc["status"] = {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1024Mi"}}
    assert row("PersistentVolumeClaim", pvc) == ["data", "Bound", "pv-1", "1Gi", "RWO", "standard", "<unset>", "60m", "Filesystem"]


def test_resource_quota_request_and_limit_columns():
    rq = {
        "metadata": md("quota"),
        "spec": {"hard": {"pods": "10", "requests.cpu": "1", "limits.memory": "2Gi"}},
        "status": {
            "hard": {"pods": "10", "requests.cpu": "1", "limits.memory": "2Gi", "limits.cpu": "2"},
            "used": {"pods": "3", "requests.cpu": "500m", "limits.memory": "512Mi"},
        },
    }
    assert row("ResourceQuota", rq) == [
        "quota",
        "pods: 3/10, requests.cpu: 500m/1",
        "limits.cpu: 0/2, limits.memory: 512Mi/2Gi",
        "60m",
    ]


def test_limit_range_uses_default_convertor_columns():
    lr = {"metadata": md("limits"), "spec": {"limits": [{"type": "Container", "default": {"cpu": "500m"}}]}}
    t = table(printer_for("", "LimitRange"), [lr], now=NOW)
    assert [c["name"] for c in t["columnDefinitions"]] == ["Name", "Created At"]
    assert t["columnDefinitions"][1]["type"] == "date"
    assert t["rows"][0]["cells"] == ["limits", "2024-05-01T11:00:00Z"]
    assert [c.name for c in default_printer().columns] == ["Name", "Created At"]
