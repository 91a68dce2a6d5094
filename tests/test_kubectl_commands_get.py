"""`kubectl get` in every output format, with selectors, sorting, all namespaces and watches."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest
import yaml


@pytest.fixture(scope="module")
def ns(server) -> str:
    """Three labelled ConfigMaps, two Services and a Deployment, shared by the read-only tests here."""
    name = "get-fmt-" + os.urandom(3).hex()
    docs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}]
    for cm, tier, n in (("alpha", "web", 1), ("bravo", "db", 3), ("charlie", "web", 2)):
        docs.append({"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": cm, "namespace": name, "labels": {"tier": tier}},
                     "data": {f"k{i}": "v" for i in range(n)}})
    for svc, port in (("zeta", 9090), ("eta", 80)):
        docs.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": svc, "namespace": name},
                     "spec": {"selector": {"app": svc}, "ports": [{"port": port}]}})
    docs.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": name},
                 "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                          "template": {"metadata": {"labels": {"app": "web"}},
                                       "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}}}})
    server.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs))
    return name


def test_get_default_table_and_wide_columns(server, ns):
    lines = server.kubectl("get", "svc", "-n", ns).stdout.splitlines()
    assert lines[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    wide = server.kubectl("get", "deploy", "-n", ns, "-o", "wide").stdout.splitlines()
    assert wide[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    row = wide[1].split()
    assert row[0] == "web" and row[1].endswith("/2") and row[5:] == ["c", "nginx:1.25", "app=web"]


def test_get_yaml_and_json_carry_the_whole_object(server, ns):
    as_yaml = yaml.safe_load(server.kubectl("get", "cm", "bravo", "-n", ns, "-o", "yaml").stdout)
    as_json = json.loads(server.kubectl("get", "cm", "bravo", "-n", ns, "-o", "json").stdout)
    assert as_yaml == as_json
    assert as_json["kind"] == "ConfigMap" and as_json["data"] == {"k0": "v", "k1": "v", "k2": "v"}
    listed = json.loads(server.kubectl("get", "cm", "-l", "tier", "-n", ns, "-o", "json").stdout)
    assert listed["kind"] == "List" and [i["metadata"]["name"] for i in listed["items"]] == [
        "alpha", "bravo", "charlie"]


def test_get_jsonpath_and_custom_columns(server, ns):
    out = server.kubectl("get", "cm", "-l", "tier", "-n", ns, "-o",
                         'jsonpath={range .items[*]}{.metadata.name}={.metadata.labels.tier}{"\\n"}{end}').stdout
    assert out.splitlines() == ["alpha=web", "bravo=db", "charlie=web"]
    cols = server.kubectl("get", "cm", "-l", "tier", "-n", ns, "-o",
                          "custom-columns=NAME:.metadata.name,TIER:.metadata.labels.tier").stdout.splitlines()
    assert [c.split() for c in cols] == [["NAME", "TIER"], ["alpha", "web"], ["bravo", "db"], ["charlie", "web"]]


def test_get_name_show_labels_and_label_columns(server, ns):
    assert server.kubectl("get", "cm", "-l", "tier=web", "-n", ns, "-o", "name").stdout.split() == [
        "configmap/alpha", "configmap/charlie"]
    shown = server.kubectl("get", "cm", "alpha", "-n", ns, "--show-labels").stdout.splitlines()
    assert shown[0].split() == ["NAME", "DATA", "AGE", "LABELS"] and shown[1].split()[-1] == "tier=web"
    col = server.kubectl("get", "cm", "-l", "tier", "-n", ns, "-L", "tier").stdout.splitlines()
    assert col[0].split() == ["NAME", "DATA", "AGE", "TIER"]
    assert [r.split()[-1] for r in col[1:]] == ["web", "db", "web"]


def test_get_sort_by(server, ns):
    by_data = server.kubectl("get", "cm", "-l", "tier", "-n", ns, "--sort-by=.metadata.labels.tier",
                             "-o", "name").stdout.split()
    assert by_data[0] == "configmap/bravo"
    by_port = server.kubectl("get", "svc", "-n", ns, "--sort-by=.spec.ports[0].port").stdout.splitlines()
    assert [r.split()[0] for r in by_port[1:]] == ["eta", "zeta"]


def test_get_all_namespaces_adds_a_namespace_column(server, ns):
    lines = server.kubectl("get", "cm", "-A", "-l", "tier=db").stdout.splitlines()
    assert lines[0].split() == ["NAMESPACE", "NAME", "DATA", "AGE"]
    assert [line.split()[:3] for line in lines[1:]] == [[ns, "bravo", "3"]]


def test_get_all_lists_the_all_category(server, ns):
    out = server.kubectl("get", "all", "-n", ns).stdout
    assert "service/eta" in out and "service/zeta" in out and "deployment.apps/web" in out
    assert "configmap" not in out


def test_get_several_kinds_at_once(server, ns):
    out = server.kubectl("get", "cm/alpha", "svc/eta", "-n", ns, "-o", "name").stdout.split()
    assert out == ["configmap/alpha", "service/eta"]
    out = server.kubectl("get", "cm,svc", "-l", "tier=db", "-n", ns, "-o", "name").stdout.split()
    assert out == ["configmap/bravo"]


def _watch(server, *args: str) -> subprocess.Popen:
    env = dict(os.environ, KUBECONFIG=str(server.kubeconfig))
    return subprocess.Popen(["kubectl", *args, "--request-timeout=20s"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def _read_until(proc: subprocess.Popen, needle: str, timeout: float = 10) -> str:
    seen = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and needle not in seen:
        line = proc.stdout.readline()
        if not line:
            break
        seen += line
    return seen


def test_get_watch_only_prints_changes_but_not_the_initial_list(server, ns):
    watcher = _watch(server, "get", "cm", "-n", ns, "--watch-only", "-o", "name")
    try:
        time.sleep(1.0)
        server.kubectl("label", "cm", "alpha", "touched=yes", "-n", ns)
        seen = _read_until(watcher, "configmap/alpha")
        assert seen.splitlines() == ["configmap/alpha"]
    finally:
        watcher.kill()
        watcher.wait()
        server.kubectl("label", "cm", "alpha", "touched-", "-n", ns)


def test_get_watch_prints_the_list_then_deletions(server, ns):
    server.kubectl("create", "cm", "short-lived", "-n", ns)
    watcher = _watch(server, "get", "cm", "short-lived", "-n", ns, "--watch")
    try:
        first = _read_until(watcher, "short-lived")
        assert first.splitlines()[0].split() == ["NAME", "DATA", "AGE"]
        server.kubectl("delete", "cm", "short-lived", "-n", ns, "--wait=false")
        assert "short-lived" in _read_until(watcher, "short-lived")
    finally:
        watcher.kill()
        watcher.wait()


def test_get_missing_kind_is_reported_by_kubectl(server):
    proc = server.kubectl("get", "frobnicators", check=False)
    assert proc.returncode == 1
    assert 'error: the server doesn\'t have a resource type "frobnicators"' in proc.stderr
