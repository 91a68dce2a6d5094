"""kubectl describe (every built-in kind with a describer, Events listed), api-resources,
api-versions, explain, version, cluster-info and config commands."""

from __future__ import annotations

import json
import os

import pytest
import yaml

POD_SPEC = {"containers": [{"name": "c", "image": "nginx:1.25"}]}
TEMPLATE = {"metadata": {"labels": {"app": "d"}}, "spec": POD_SPEC}

#: (kubectl resource, manifest without metadata.name/namespace, a line describe prints for it)
DESCRIBED: list[tuple[str, dict, str]] = [
    ("pod", {"apiVersion": "v1", "kind": "Pod", "spec": POD_SPEC}, "Containers:"),
    ("configmap", {"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "v"}}, "Data"),
    ("service", {"apiVersion": "v1", "kind": "Service", "spec": {"ports": [{"port": 80}]}}, "Type:"),
    ("serviceaccount", {"apiVersion": "v1", "kind": "ServiceAccount"}, "Mountable secrets:"),
    ("endpoints", {"apiVersion": "v1", "kind": "Endpoints"}, "Subsets:"),
    ("persistentvolumeclaim", {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}, "Status:"),
    ("resourcequota", {"apiVersion": "v1", "kind": "ResourceQuota", "spec": {"hard": {"pods": "3"}}}, "Resource"),
    ("limitrange", {"apiVersion": "v1", "kind": "LimitRange", "spec": {"limits": [
        {"type": "Container", "default": {"cpu": "100m"}}]}}, "Type"),
    ("replicationcontroller", {"apiVersion": "v1", "kind": "ReplicationController", "spec": {
        "replicas": 0, "selector": {"app": "d"}, "template": TEMPLATE}}, "Replicas:"),
    ("deployment", {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {
        "replicas": 0, "selector": {"matchLabels": {"app": "d"}}, "template": TEMPLATE}}, "StrategyType:"),
    ("replicaset", {"apiVersion": "apps/v1", "kind": "ReplicaSet", "spec": {
        "replicas": 0, "selector": {"matchLabels": {"app": "d"}}, "template": TEMPLATE}}, "Replicas:"),
    ("statefulset", {"apiVersion": "apps/v1", "kind": "StatefulSet", "spec": {
        "replicas": 0, "serviceName": "x", "selector": {"matchLabels": {"app": "d"}}, "template": TEMPLATE}},
     "Update Strategy:"),
    ("daemonset", {"apiVersion": "apps/v1", "kind": "DaemonSet", "spec": {
        "selector": {"matchLabels": {"app": "d"}}, "template": TEMPLATE}}, "Desired Number of Nodes Scheduled:"),
    ("job", {"apiVersion": "batch/v1", "kind": "Job", "spec": {"suspend": True, "template": {
        "spec": {**POD_SPEC, "restartPolicy": "Never"}}}}, "Completions:"),
    ("cronjob", {"apiVersion": "batch/v1", "kind": "CronJob", "spec": {"schedule": "@daily", "suspend": True,
                                                                       "jobTemplate": {"spec": {"template": {
                                                                           "spec": {**POD_SPEC,
                                                                                    "restartPolicy": "Never"}}}}}},
     "Schedule:"),
    ("horizontalpodautoscaler", {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"}, "maxReplicas": 3}},
     "Reference:"),
    ("ingress", {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "spec": {"defaultBackend": {
        "service": {"name": "svc", "port": {"number": 80}}}}}, "Default backend:"),
    ("networkpolicy", {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "spec": {
        "podSelector": {}}}, "PodSelector:"),
    ("poddisruptionbudget", {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "spec": {
        "minAvailable": 1, "selector": {"matchLabels": {"app": "d"}}}}, "Min available:"),
    ("lease", {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "spec": {"holderIdentity": "me"}},
     "Holder Identity:"),
    ("endpointslice", {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
                       "endpoints": []}, "AddressType:"),
]
#: kinds whose describer prints no Events section (kubectl's own choice)
NO_EVENTS = {"lease", "resourcequota", "limitrange", "networkpolicy"}


@pytest.fixture(scope="module")
def described(server) -> str:
    """One object of each kind, and a core/v1 Event about each, as kubelet and controllers record them."""
    ns = "describe-" + os.urandom(3).hex()
    server.kubectl("create", "namespace", ns)
    docs = []
    for resource, manifest, _ in DESCRIBED:
        doc = json.loads(json.dumps(manifest))
        doc["metadata"] = {"name": f"d-{resource[:20]}", "namespace": ns}
        docs.append(doc)
    server.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs))
    events = []
    for doc in docs:
        got = json.loads(server.kubectl("get", f"{doc['kind']}.{doc['apiVersion'].split('/')[0]}"
                                        if "/" in doc["apiVersion"] else doc["kind"],
                                        doc["metadata"]["name"], "-n", ns, "-o", "json").stdout)
        events.append({"apiVersion": "v1", "kind": "Event",
                       "metadata": {"name": f"{doc['metadata']['name']}.e1", "namespace": ns},
                       "involvedObject": {"apiVersion": doc["apiVersion"], "kind": doc["kind"],
                                          "name": doc["metadata"]["name"], "namespace": ns,
                                          "uid": got["metadata"]["uid"]},
                       "reason": "Inspected", "message": f"looked at {doc['kind']}", "type": "Normal",
                       "source": {"component": "tester"}, "count": 2,
                       "firstTimestamp": "2024-01-01T00:00:00Z", "lastTimestamp": "2024-01-01T00:00:00Z"})
    server.kubectl("create", "-f", "-", input=yaml.safe_dump_all(events))
    return ns


@pytest.mark.parametrize("resource,marker", [(r, m) for r, _, m in DESCRIBED], ids=[r for r, _, _ in DESCRIBED])
def test_describe_prints_the_object_and_its_events(server, described, resource, marker):
    out = server.kubectl("describe", resource, f"d-{resource[:20]}", "-n", described).stdout
    assert out.splitlines()[0].split() == ["Name:", f"d-{resource[:20]}"]
    assert marker in out
    if resource not in NO_EVENTS:
        events = out[out.index("\nEvents:") + 1:].splitlines()
        assert events[1].split() == ["Type", "Reason", "Age", "From", "Message"]
        row = events[3].split()
        assert row[:2] == ["Normal", "Inspected"] and row[-3:] == ["looked", "at", row[-1]]
        assert "(x2 over" in events[3]


def test_describe_cluster_scoped_kinds(server):
    sfx = os.urandom(2).hex()
    docs = [
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"n-{sfx}"}},
        {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": f"pv-{sfx}"},
         "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/tmp/x"}}},
        {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": f"sc-{sfx}"},
         "provisioner": "example.com/x"},
        {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": f"ic-{sfx}"},
         "spec": {"controller": "example.com/ic"}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": f"cr-{sfx}"},
         "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]},
    ]
    server.kubectl("create", "-f", "-", input=yaml.safe_dump_all(docs))
    for args, marker in ((("namespace", "default"), "Status:       Active"),
                         (("priorityclass", "system-node-critical"), "Value:"),
                         (("namespace", "kube-system"), "No LimitRange resource."),
                         (("node", f"n-{sfx}"), "Unschedulable:      false"),
                         (("pv", f"pv-{sfx}"), "Reclaim Policy:  Retain"),
                         (("storageclass", f"sc-{sfx}"), "Provisioner:           example.com/x"),
                         (("ingressclass", f"ic-{sfx}"), "Controller:   example.com/ic"),
                         (("clusterrole", f"cr-{sfx}"), "  pods       []                 []              [get]")):
        out = server.kubectl("describe", *args).stdout
        assert out.startswith("Name:") and out.splitlines()[0].split()[1] == args[1]
        assert marker in out, out
    server.kubectl("delete", "-f", "-", "--wait=false", input=yaml.safe_dump_all(docs))


def test_describe_by_label_describes_each_match(server, described):
    server.kubectl("label", "cm", "d-configmap", "pick=me", "-n", described)
    out = server.kubectl("describe", "cm", "-l", "pick=me", "-n", described).stdout
    assert out.count("Name:") == 1 and "d-configmap" in out


def test_events_command_lists_the_recorded_events(server, described):
    lines = server.kubectl("events", "-n", described).stdout.splitlines()
    assert lines[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert any("Inspected" in line and "ConfigMap/d-configmap" in line for line in lines)
    got = server.kubectl("get", "events", "-n", described, "--field-selector",
                         "involvedObject.kind=ConfigMap", "-o", "name").stdout.split()
    assert got == ["event/d-configmap.e1"]


def test_api_resources_wide_namespaced_and_verbs(server):
    wide = server.kubectl("api-resources", "-o", "wide").stdout.splitlines()
    assert wide[0].split() == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND", "VERBS", "CATEGORIES"]
    rows = {line.split()[0]: line for line in reversed(wide[1:])}  # core rows win over metrics.k8s.io pods/nodes
    assert rows["pods"].split()[:6] == ["pods", "po", "v1", "true", "Pod",
                                        "create,delete,deletecollection,get,list,patch,update,watch"]
    assert rows["selfsubjectaccessreviews"].split()[-1] == "create"
    cluster = server.kubectl("api-resources", "--namespaced=false", "-o", "name").stdout.split()
    assert "nodes" in cluster and "namespaces" in cluster and "pods" not in cluster
    listable = server.kubectl("api-resources", "--verbs=list", "-o", "name").stdout.split()
    assert "pods" in listable and "tokenreviews.authentication.k8s.io" not in listable
    creatable = server.kubectl("api-resources", "--verbs=create", "--api-group=authorization.k8s.io",
                               "-o", "name").stdout.split()
    assert creatable == ["localsubjectaccessreviews.authorization.k8s.io",
                         "selfsubjectaccessreviews.authorization.k8s.io",
                         "selfsubjectrulesreviews.authorization.k8s.io",
                         "subjectaccessreviews.authorization.k8s.io"]


def test_api_versions_lists_every_served_group_version(server):
    versions = server.kubectl("api-versions").stdout.split()
    for gv in ("v1", "apps/v1", "batch/v1", "authentication.k8s.io/v1", "authorization.k8s.io/v1",
               "rbac.authorization.k8s.io/v1", "networking.k8s.io/v1", "autoscaling/v2"):
        assert gv in versions
    assert versions == sorted(versions)


def test_explain_a_field_and_recursively(server):
    out = server.kubectl("explain", "deployment.spec.strategy").stdout
    assert out.splitlines()[:3] == ["GROUP:      apps", "KIND:       Deployment", "VERSION:    v1"]
    assert "FIELD: strategy <DeploymentStrategy>" in out and "rollingUpdate\t<RollingUpdateDeployment>" in out
    rec = server.kubectl("explain", "pods.spec.containers", "--recursive").stdout
    assert "livenessProbe\t<Probe>" in rec and "      port\t<IntOrString> -required-" in rec
    missing = server.kubectl("explain", "pods.spec.nope", check=False)
    assert missing.returncode == 1 and 'field "nope" does not exist' in missing.stderr


def test_version_cluster_info_and_config_commands(server):
    version = json.loads(server.kubectl("version", "-o", "json").stdout)["serverVersion"]
    assert version["gitVersion"].startswith("v1.32.") and version["platform"]
    assert server.kubectl("cluster-info").stdout.splitlines()[0] == \
        f"Kubernetes control plane is running at {server.url}"
    assert server.kubectl("config", "current-context").stdout.strip() == "kubefacade"
    contexts = server.kubectl("config", "get-contexts").stdout.splitlines()
    assert contexts[1].split()[:4] == ["*", "kubefacade", "kubefacade", "kubefacade-admin"]
    view = yaml.safe_load(server.kubectl("config", "view", "--minify").stdout)
    assert view["clusters"][0]["cluster"]["server"] == server.url
    assert view["users"][0]["user"]["token"] == "REDACTED"
    raw = yaml.safe_load(server.kubectl("config", "view", "--raw", "--minify").stdout)
    assert raw["users"][0]["user"]["token"] == server.token
