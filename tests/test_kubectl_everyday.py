"""The issue's user story, typed into real kubectl 1.32 against a running `kubefacade serve`."""

from __future__ import annotations

import json
import os
import subprocess
import time

import yaml


def test_get_namespaces_lists_the_four_system_namespaces(server):
    out = server.kubectl("get", "ns", "-o", "name").stdout.split()
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
        assert f"namespace/{ns}" in out


def test_get_namespaces_prints_the_real_columns(server):
    lines = server.kubectl("get", "ns").stdout.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "AGE"]
    assert any(line.split()[:2] == ["default", "Active"] for line in lines[1:])


def test_kubernetes_service_exists_at_the_first_service_ip(server):
    svc = json.loads(server.kubectl("get", "svc", "kubernetes", "-n", "default", "-o", "json").stdout)
    assert svc["spec"]["clusterIP"] == "10.96.0.1"
    assert svc["spec"]["ports"][0]["port"] == 443


def test_create_deployment_is_stored_with_kubernetes_defaults(server, namespace):
    out = server.kubectl("create", "deployment", "web", "--image=busybox", "--replicas=2", "-n", namespace,
                         "--", "sh", "-c", "sleep 3600").stdout
    assert out.strip() == "deployment.apps/web created"
    d = yaml.safe_load(server.kubectl("get", "deploy", "web", "-n", namespace, "-o", "yaml",
                                      "--show-managed-fields").stdout)
    assert d["spec"]["replicas"] == 2
    assert d["spec"]["strategy"] == {"type": "RollingUpdate",
                                     "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}
    assert d["spec"]["revisionHistoryLimit"] == 10
    assert d["spec"]["progressDeadlineSeconds"] == 600
    c = d["spec"]["template"]["spec"]["containers"][0]
    assert c["command"] == ["sh", "-c", "sleep 3600"]
    assert c["imagePullPolicy"] == "Always"  # no tag means :latest
    assert c["terminationMessagePath"] == "/dev/termination-log"
    assert d["spec"]["template"]["spec"]["restartPolicy"] == "Always"
    assert d["spec"]["template"]["spec"]["dnsPolicy"] == "ClusterFirst"
    assert d["spec"]["template"]["spec"]["schedulerName"] == "default-scheduler"
    assert d["metadata"]["generation"] == 1
    assert d["metadata"]["managedFields"][0]["manager"] == "kubectl-create"


def test_apply_twice_says_created_then_unchanged(server, namespace, tmp_path):
    manifest = tmp_path / "app.yaml"
    manifest.write_text(f"""
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: {namespace}
data:
  color: blue
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  namespace: {namespace}
  labels: {{app: app}}
spec:
  replicas: 1
  selector:
    matchLabels: {{app: app}}
  template:
    metadata:
      labels: {{app: app}}
    spec:
      containers:
      - name: app
        image: busybox:1.36
        command: ["sleep", "3600"]
        ports:
        - containerPort: 8080
""")
    first = server.kubectl("apply", "-f", str(manifest)).stdout
    assert "configmap/settings created" in first
    assert "deployment.apps/app created" in first
    second = server.kubectl("apply", "-f", str(manifest)).stdout
    assert "configmap/settings unchanged" in second
    assert "deployment.apps/app unchanged" in second
    manifest.write_text(manifest.read_text().replace("color: blue", "color: green"))
    third = server.kubectl("apply", "-f", str(manifest)).stdout
    assert "configmap/settings configured" in third
    got = server.kubectl("get", "cm", "settings", "-n", namespace, "-o", "jsonpath={.data.color}").stdout
    assert got == "green"


def test_get_configmaps_watch_prints_new_objects_as_they_arrive(server, namespace):
    env = dict(os.environ, KUBECONFIG=str(server.kubeconfig))
    watcher = subprocess.Popen(["kubectl", "get", "cm", "-w", "-n", namespace, "--request-timeout=20s"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        time.sleep(1.5)
        server.kubectl("create", "configmap", "watched", "--from-literal=a=b", "-n", namespace)
        deadline = time.monotonic() + 10
        seen = ""
        while time.monotonic() < deadline:
            line = watcher.stdout.readline()
            seen += line
            if line.startswith("watched"):
                break
        assert "watched" in seen
        assert seen.splitlines()[0].split() == ["NAME", "DATA", "AGE"]
    finally:
        watcher.kill()
        watcher.wait()


def test_get_missing_object_prints_the_real_not_found_error(server, namespace):
    proc = server.kubectl("get", "cm", "nope", "-n", namespace, check=False)
    assert proc.returncode == 1
    assert 'Error from server (NotFound): configmaps "nope" not found' in proc.stderr


def test_create_existing_object_prints_already_exists(server, namespace, tmp_path):
    server.kubectl("create", "cm", "twice", "-n", namespace)
    proc = server.kubectl("create", "cm", "twice", "-n", namespace, check=False)
    assert proc.stderr.strip() == 'error: failed to create configmap: configmaps "twice" already exists'
    manifest = tmp_path / "cm.yaml"
    manifest.write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: twice\n  namespace: {namespace}\n")
    proc = server.kubectl("create", "-f", str(manifest), check=False)
    assert 'Error from server (AlreadyExists): error when creating' in proc.stderr
    assert 'configmaps "twice" already exists' in proc.stderr


def test_invalid_name_prints_the_real_invalid_message(server, namespace):
    proc = server.kubectl("create", "cm", "Bad_Name", "-n", namespace, check=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith(
        'error: failed to create configmap: ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: '
        '"Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters')


def test_create_in_a_missing_namespace_is_not_found(server):
    proc = server.kubectl("create", "cm", "x", "-n", "no-such-namespace", check=False)
    assert 'namespaces "no-such-namespace" not found' in proc.stderr


def test_label_selectors_filter_kubectl_get(server, namespace):
    for name, tier in (("a", "web"), ("b", "db"), ("c", "web")):
        server.kubectl("create", "cm", name, "-n", namespace)
        server.kubectl("label", "cm", name, f"tier={tier}", "-n", namespace)
    assert server.kubectl("get", "cm", "-l", "tier=web", "-n", namespace, "-o", "name").stdout.split() == [
        "configmap/a", "configmap/c"]
    # notin also matches objects without the label, such as the namespace's kube-root-ca.crt
    assert server.kubectl("get", "cm", "-l", "tier notin (web)", "-n", namespace, "-o", "name").stdout.split() == [
        "configmap/b", "configmap/kube-root-ca.crt"]
    assert server.kubectl("get", "cm", "-l", "!tier", "-n", namespace, "-o", "name").stdout.split() == [
        "configmap/kube-root-ca.crt"]


def test_field_selector_on_metadata_name(server, namespace):
    server.kubectl("create", "cm", "one", "-n", namespace)
    server.kubectl("create", "cm", "two", "-n", namespace)
    out = server.kubectl("get", "cm", "--field-selector", "metadata.name=two", "-n", namespace, "-o", "name").stdout
    assert out.split() == ["configmap/two"]


def test_unsupported_field_selector_is_a_bad_request(server, namespace):
    proc = server.kubectl("get", "cm", "--field-selector", "spec.foo=bar", "-n", namespace, check=False)
    assert proc.returncode == 1
    assert '"spec.foo" is not a known field selector: only "metadata.name", "metadata.namespace"' in proc.stderr


def test_delete_by_name_and_by_label(server, namespace):
    server.kubectl("create", "cm", "gone", "-n", namespace)
    assert server.kubectl("delete", "cm", "gone", "-n", namespace).stdout.strip() == 'configmap "gone" deleted'
    server.kubectl("create", "cm", "l1", "-n", namespace)
    server.kubectl("label", "cm", "l1", "x=y", "-n", namespace)
    out = server.kubectl("delete", "cm", "-l", "x=y", "-n", namespace).stdout
    assert 'configmap "l1" deleted' in out
    assert server.kubectl("get", "cm", "l1", "-n", namespace, check=False).returncode == 1


def test_patch_merge_json_and_strategic(server, namespace):
    server.kubectl("create", "deployment", "p", "--image=busybox:1.36", "-n", namespace)
    server.kubectl("patch", "deploy", "p", "-n", namespace, "--type=merge", "-p", '{"spec":{"replicas":3}}')
    server.kubectl("patch", "deploy", "p", "-n", namespace, "--type=json",
                   "-p", '[{"op":"replace","path":"/spec/minReadySeconds","value":5}]')
    server.kubectl("patch", "deploy", "p", "-n", namespace, "-p",
                   '{"spec":{"template":{"spec":{"containers":[{"name":"busybox","env":[{"name":"A","value":"1"}]}]}}}}')
    d = json.loads(server.kubectl("get", "deploy", "p", "-n", namespace, "-o", "json").stdout)
    assert d["spec"]["replicas"] == 3
    assert d["spec"]["minReadySeconds"] == 5
    c = d["spec"]["template"]["spec"]["containers"]
    assert len(c) == 1 and c[0]["image"] == "busybox:1.36" and c[0]["env"] == [{"name": "A", "value": "1"}]
    assert d["metadata"]["generation"] == 4


def test_scale_subresource(server, namespace):
    server.kubectl("create", "deployment", "s", "--image=busybox", "-n", namespace)
    assert server.kubectl("scale", "deploy", "s", "--replicas=4", "-n", namespace).stdout.strip() == \
        "deployment.apps/s scaled"
    assert server.kubectl("get", "deploy", "s", "-n", namespace, "-o", "jsonpath={.spec.replicas}").stdout == "4"


def test_api_resources_lists_built_in_kinds_with_short_names(server):
    out = server.kubectl("api-resources").stdout
    lines = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert lines["deployments"][1] == "deploy"
    assert lines["configmaps"][1] == "cm"
    assert "pods" in lines and "services" in lines and "namespaces" in lines


def test_get_all_shows_the_kubernetes_service(server):
    out = server.kubectl("get", "all", "-n", "default").stdout
    assert "service/kubernetes" in out


def test_version_reports_a_1_32_server(server):
    out = json.loads(server.kubectl("version", "-o", "json").stdout)
    assert out["serverVersion"]["major"] == "1" and out["serverVersion"]["minor"] == "32"
