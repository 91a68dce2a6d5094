"""kubectl's write commands: apply (prune, kustomize), diff, edit, patch, replace, delete, label,
annotate, scale, set, rollout and wait — what they print and what the server stores."""

from __future__ import annotations

import json
import os
import textwrap

import pytest
import yaml


@pytest.fixture(scope="module")
def ns(server) -> str:
    name = "write-" + os.urandom(3).hex()
    server.kubectl("create", "namespace", name)
    return name


def obj(server, ns: str, *what: str) -> dict:
    return json.loads(server.kubectl("get", *what, "-n", ns, "-o", "json").stdout)


def deployment(name: str, ns: str, image: str = "nginx:1.25", replicas: int = 1) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "main", "image": image}]}}}}


def test_apply_prune_with_a_selector_deletes_what_left_the_manifest(server, ns, tmp_path):
    both = tmp_path / "both.yaml"
    docs = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": n, "namespace": ns,
                                                                   "labels": {"set": "prune"}}} for n in ("pa", "pb")]
    both.write_text(yaml.safe_dump_all(docs))
    server.kubectl("apply", "-f", str(both))
    one = tmp_path / "one.yaml"
    one.write_text(yaml.safe_dump(docs[0]))
    out = server.kubectl("apply", "-f", str(one), "--prune", "-l", "set=prune", "-n", ns).stdout
    assert "configmap/pa unchanged" in out and "configmap/pb pruned" in out
    assert server.kubectl("get", "cm", "-l", "set=prune", "-n", ns, "-o", "name").stdout.split() == ["configmap/pa"]


def test_apply_kustomize_directory(server, ns, tmp_path):
    (tmp_path / "kustomization.yaml").write_text(textwrap.dedent(f"""
        namespace: {ns}
        labels:
        - pairs: {{app.kubernetes.io/part-of: shop}}
        configMapGenerator:
        - name: settings
          literals: [color=blue]
        resources: [cm.yaml]
    """))
    (tmp_path / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: plain}\ndata: {k: v}\n")
    out = server.kubectl("apply", "-k", str(tmp_path)).stdout.splitlines()
    assert out[0] == "configmap/plain created"
    assert out[1].startswith("configmap/settings-") and out[1].endswith(" created")
    names = server.kubectl("get", "cm", "-l", "app.kubernetes.io/part-of=shop", "-n", ns, "-o", "name").stdout
    assert "configmap/plain" in names and "configmap/settings-" in names


def test_diff_shows_the_server_side_dry_run_and_exits_1(server, ns, tmp_path):
    server.kubectl("create", "configmap", "diffed", "--from-literal=k=old", "-n", ns)
    f = tmp_path / "cm.yaml"
    f.write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: diffed, namespace: {ns}}}\ndata: {{k: new}}\n")
    proc = server.kubectl("diff", "-f", str(f), check=False)
    assert proc.returncode == 1, proc.stderr
    assert "-  k: old" in proc.stdout and "+  k: new" in proc.stdout
    assert "generation" not in proc.stdout
    assert obj(server, ns, "cm", "diffed")["data"] == {"k": "old"}
    f.write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: diffed, namespace: {ns}}}\ndata: {{k: old}}\n")
    assert server.kubectl("diff", "-f", str(f), check=False).returncode == 0


def test_edit_with_an_editor_script(server, ns, tmp_path):
    server.kubectl("create", "configmap", "edited", "--from-literal=a=b", "-n", ns)
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/^data:/data:\\n  added: \"yes\"/' \"$1\"\n")
    editor.chmod(0o755)
    env = {"KUBE_EDITOR": str(editor)}
    old = os.environ.copy()
    os.environ.update(env)
    try:
        out = server.kubectl("edit", "cm", "edited", "-n", ns).stdout
    finally:
        os.environ.clear()
        os.environ.update(old)
    assert out.strip() == "configmap/edited edited"
    assert obj(server, ns, "cm", "edited")["data"] == {"a": "b", "added": "yes"}


def test_patch_merge_json_and_strategic_print_patched(server, ns):
    server.kubectl("apply", "-f", "-", input=json.dumps(deployment("patched", ns)))
    assert server.kubectl("patch", "deploy", "patched", "-n", ns, "--type=merge",
                          "-p", '{"spec":{"replicas":2}}').stdout.strip() == "deployment.apps/patched patched"
    server.kubectl("patch", "deploy", "patched", "-n", ns, "--type=json",
                   "-p", '[{"op":"add","path":"/metadata/labels","value":{"x":"y"}}]')
    server.kubectl("patch", "deploy", "patched", "-n", ns, "-p",
                   '{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"busybox"}]}}}}')
    d = obj(server, ns, "deploy", "patched")
    assert d["spec"]["replicas"] == 2 and d["metadata"]["labels"] == {"x": "y"}
    assert [c["name"] for c in d["spec"]["template"]["spec"]["containers"]] == ["side", "main"]
    same = server.kubectl("patch", "deploy", "patched", "-n", ns, "--type=merge", "-p", '{"spec":{"replicas":2}}')
    assert same.stdout.strip() == "deployment.apps/patched patched (no change)"
    bad = server.kubectl("patch", "deploy", "patched", "-n", ns, "--type=json",
                         "-p", '[{"op":"replace","path":"/spec/nope/x","value":1}]', check=False)
    assert bad.returncode == 1
    assert bad.stderr.strip() == \
        "The request is invalid: the server rejected our request due to an error in our request"


def test_replace_and_replace_force(server, ns, tmp_path):
    server.kubectl("create", "configmap", "replaced", "--from-literal=a=1", "-n", ns)
    current = obj(server, ns, "cm", "replaced")
    uid = current["metadata"]["uid"]
    current["data"] = {"a": "2"}
    f = tmp_path / "cm.json"
    f.write_text(json.dumps(current))
    assert server.kubectl("replace", "-f", str(f)).stdout.strip() == "configmap/replaced replaced"
    stale = server.kubectl("replace", "-f", str(f), check=False)
    assert stale.returncode == 1
    assert 'Operation cannot be fulfilled on configmaps "replaced": the object has been modified' in stale.stderr
    out = server.kubectl("replace", "--force", "-f", str(f)).stdout.splitlines()
    assert out == ['configmap "replaced" deleted', "configmap/replaced replaced"]
    again = obj(server, ns, "cm", "replaced")
    assert again["metadata"]["uid"] != uid and again["data"] == {"a": "2"}


def test_delete_by_name_label_all_and_file(server, ns, tmp_path):
    for n in ("d1", "d2", "d3"):
        server.kubectl("create", "configmap", n, "-n", ns)
    server.kubectl("label", "cm", "d2", "doomed=yes", "-n", ns)
    assert server.kubectl("delete", "cm", "d1", "-n", ns).stdout.strip() == 'configmap "d1" deleted'
    assert server.kubectl("delete", "cm", "-l", "doomed=yes", "-n", ns).stdout.strip() == 'configmap "d2" deleted'
    f = tmp_path / "d3.yaml"
    f.write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: d3, namespace: {ns}}}\n")
    assert server.kubectl("delete", "-f", str(f)).stdout.strip() == 'configmap "d3" deleted'
    missing = server.kubectl("delete", "cm", "d3", "-n", ns, check=False)
    assert 'Error from server (NotFound): configmaps "d3" not found' in missing.stderr
    assert server.kubectl("delete", "cm", "d3", "-n", ns, "--ignore-not-found").stdout == ""
    other = "delete-all-" + os.urandom(2).hex()
    server.kubectl("create", "namespace", other)
    server.kubectl("create", "configmap", "x1", "-n", other)
    server.kubectl("create", "configmap", "x2", "-n", other)
    out = server.kubectl("delete", "cm", "--all", "-n", other).stdout
    assert 'configmap "x1" deleted' in out and 'configmap "x2" deleted' in out


def test_delete_cascade_policies_mark_the_owner_as_upstream_does(server, ns):
    for name in ("orphaned", "foreground"):
        server.kubectl("apply", "-f", "-", input=json.dumps(deployment(name, ns)))
    server.kubectl("delete", "deploy", "orphaned", "-n", ns, "--cascade=orphan", "--wait=false")
    server.kubectl("delete", "deploy", "foreground", "-n", ns, "--cascade=foreground", "--wait=false")
    # the garbage collector finishes these deletions; until it does the owners show the finalizer asked for
    for name, finalizer in (("orphaned", "orphan"), ("foreground", "foregroundDeletion")):
        proc = server.kubectl("get", "deploy", name, "-n", ns, "-o", "json", check=False)
        if proc.returncode == 0:
            meta = json.loads(proc.stdout)["metadata"]
            assert meta["deletionTimestamp"] and finalizer in meta["finalizers"]
    server.kubectl("apply", "-f", "-", input=json.dumps(deployment("background", ns)))
    out = server.kubectl("delete", "deploy", "background", "-n", ns, "--cascade=background", "--wait").stdout
    assert out.strip() == 'deployment.apps "background" deleted'
    assert server.kubectl("get", "deploy", "background", "-n", ns, check=False).returncode == 1


def test_delete_grace_period_and_force(server, ns):
    server.kubectl("create", "configmap", "graceful", "-n", ns)
    assert server.kubectl("delete", "cm", "graceful", "-n", ns, "--grace-period=5").stdout.strip() == \
        'configmap "graceful" deleted'
    server.kubectl("create", "configmap", "forced", "-n", ns)
    proc = server.kubectl("delete", "cm", "forced", "-n", ns, "--grace-period=0", "--force")
    assert proc.stdout.strip() == 'configmap "forced" force deleted'
    assert "Immediate deletion does not wait for confirmation" in proc.stderr


def test_label_and_annotate_overwrite_and_remove(server, ns):
    server.kubectl("create", "configmap", "tagged", "-n", ns)
    assert server.kubectl("label", "cm", "tagged", "tier=web", "-n", ns).stdout.strip() == "configmap/tagged labeled"
    clash = server.kubectl("label", "cm", "tagged", "tier=db", "-n", ns, check=False)
    assert clash.returncode == 1
    assert "'tier' already has a value (web), and --overwrite is false" in clash.stderr
    server.kubectl("label", "cm", "tagged", "tier=db", "--overwrite", "-n", ns)
    assert obj(server, ns, "cm", "tagged")["metadata"]["labels"] == {"tier": "db"}
    assert server.kubectl("label", "cm", "tagged", "tier-", "-n", ns).stdout.strip() == "configmap/tagged unlabeled"
    assert "labels" not in obj(server, ns, "cm", "tagged")["metadata"]
    assert server.kubectl("annotate", "cm", "tagged", "note=hi", "-n", ns).stdout.strip() == \
        "configmap/tagged annotated"
    server.kubectl("annotate", "cm", "tagged", "note=ho", "--overwrite", "-n", ns)
    assert obj(server, ns, "cm", "tagged")["metadata"]["annotations"] == {"note": "ho"}
    server.kubectl("annotate", "cm", "tagged", "note-", "-n", ns)
    assert "annotations" not in obj(server, ns, "cm", "tagged")["metadata"]


def test_scale_with_current_replicas_precondition(server, ns):
    server.kubectl("apply", "-f", "-", input=json.dumps(deployment("scaled", ns, replicas=2)))
    assert server.kubectl("scale", "deploy", "scaled", "--replicas=3", "--current-replicas=2",
                          "-n", ns).stdout.strip() == "deployment.apps/scaled scaled"
    wrong = server.kubectl("scale", "deploy", "scaled", "--replicas=5", "--current-replicas=2", "-n", ns,
                           check=False)
    assert wrong.returncode == 1 and "error: Expected replicas to be 2, was 3" in wrong.stderr
    scale = json.loads(server.request("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/scaled/scale")[2])
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 3 and scale["status"]["selector"] == "app=scaled"


def test_set_image_env_and_resources(server, ns):
    server.kubectl("apply", "-f", "-", input=json.dumps(deployment("setme", ns)))
    assert server.kubectl("set", "image", "deploy/setme", "main=nginx:1.27", "-n", ns).stdout.strip() == \
        "deployment.apps/setme image updated"
    assert server.kubectl("set", "env", "deploy/setme", "MODE=prod", "-n", ns).stdout.strip() == \
        "deployment.apps/setme env updated"
    assert server.kubectl("set", "resources", "deploy/setme", "--limits=cpu=200m,memory=256Mi",
                          "--requests=cpu=100m", "-n", ns).stdout.strip() == \
        "deployment.apps/setme resource requirements updated"
    d = obj(server, ns, "deploy", "setme")
    c = d["spec"]["template"]["spec"]["containers"][0]
    assert c["image"] == "nginx:1.27" and c["env"] == [{"name": "MODE", "value": "prod"}]
    assert c["resources"] == {"limits": {"cpu": "200m", "memory": "256Mi"}, "requests": {"cpu": "100m"}}
    assert d["metadata"]["generation"] == 4
    listed = server.kubectl("set", "env", "deploy/setme", "--list", "-n", ns).stdout
    assert "MODE=prod" in listed


def _replicaset(ns: str, d: dict, revision: int, image: str) -> dict:
    """A ReplicaSet as the deployment controller writes one (owner, revision, pod-template-hash)."""
    h = f"h{revision}abc"
    template = json.loads(json.dumps(d["spec"]["template"]))
    template["metadata"]["labels"]["pod-template-hash"] = h
    template["spec"]["containers"][0]["image"] = image
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": f"{d['metadata']['name']}-{h}", "namespace": ns,
                         "labels": {**d["spec"]["selector"]["matchLabels"], "pod-template-hash": h},
                         "annotations": {"deployment.kubernetes.io/revision": str(revision)},
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                              "name": d["metadata"]["name"], "uid": d["metadata"]["uid"],
                                              "controller": True, "blockOwnerDeletion": True}]},
            "spec": {"replicas": 0, "selector": {"matchLabels": {**d["spec"]["selector"]["matchLabels"],
                                                                 "pod-template-hash": h}},
                     "template": template}}


def test_rollout_history_pause_resume_restart_undo_api_side(server, ns):
    server.kubectl("apply", "-f", "-", input=json.dumps(deployment("rolled", ns, image="nginx:1.26")))
    d = obj(server, ns, "deploy", "rolled")
    for rev, image in ((1, "nginx:1.25"), (2, "nginx:1.26")):
        rs = _replicaset(ns, d, rev, image)
        code, _, body = server.request("POST", f"/apis/apps/v1/namespaces/{ns}/replicasets", json.dumps(rs).encode())
        assert code in (201, 409), body
    history = server.kubectl("rollout", "history", "deploy/rolled", "-n", ns).stdout.splitlines()
    assert history[0].strip() == "deployment.apps/rolled"
    assert history[1].split() == ["REVISION", "CHANGE-CAUSE"]
    assert {"1", "2"} <= {h.split()[0] for h in history[2:] if h.strip()}
    detail = server.kubectl("rollout", "history", "deploy/rolled", "--revision=1", "-n", ns).stdout
    assert "Image:" in detail and "nginx:1.25" in detail

    assert server.kubectl("rollout", "pause", "deploy/rolled", "-n", ns).stdout.strip() == \
        "deployment.apps/rolled paused"
    assert obj(server, ns, "deploy", "rolled")["spec"]["paused"] is True
    again = server.kubectl("rollout", "pause", "deploy/rolled", "-n", ns, check=False)
    assert again.stderr.strip() == 'error: deployments.apps "rolled" is already paused'
    assert server.kubectl("rollout", "resume", "deploy/rolled", "-n", ns).stdout.strip() == \
        "deployment.apps/rolled resumed"
    assert not obj(server, ns, "deploy", "rolled")["spec"].get("paused")

    assert server.kubectl("rollout", "restart", "deploy/rolled", "-n", ns).stdout.strip() == \
        "deployment.apps/rolled restarted"
    annotations = obj(server, ns, "deploy", "rolled")["spec"]["template"]["metadata"]["annotations"]
    assert "kubectl.kubernetes.io/restartedAt" in annotations

    out = server.kubectl("rollout", "undo", "deploy/rolled", "--to-revision=1", "-n", ns).stdout
    assert out.strip() == "deployment.apps/rolled rolled back"
    rolled = obj(server, ns, "deploy", "rolled")
    assert rolled["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"
    assert "pod-template-hash" not in rolled["spec"]["template"]["metadata"]["labels"]


def test_wait_for_condition_jsonpath_and_delete(server, ns):
    server.kubectl("create", "configmap", "waited", "--from-literal=ready=yes", "-n", ns)
    out = server.kubectl("wait", "--for=jsonpath={.data.ready}=yes", "cm/waited", "-n", ns, "--timeout=10s").stdout
    assert out.strip() == "configmap/waited condition met"
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "wait-node-" + os.urandom(2).hex()}}
    server.kubectl("create", "-f", "-", input=json.dumps(node))
    name = node["metadata"]["name"]
    status = {"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                         "message": "ok", "lastHeartbeatTime": "2024-01-01T00:00:00Z",
                                         "lastTransitionTime": "2024-01-01T00:00:00Z"}]}}
    server.kubectl("patch", "node", name, "--subresource=status", "--type=merge", "-p", json.dumps(status))
    assert server.kubectl("wait", "--for=condition=Ready", f"node/{name}", "--timeout=10s").stdout.strip() == \
        f"node/{name} condition met"
    timed_out = server.kubectl("wait", "--for=condition=Ready=False", f"node/{name}", "--timeout=1s", check=False)
    assert timed_out.returncode == 1
    assert f"error: timed out waiting for the condition on nodes/{name}" in timed_out.stderr
    server.kubectl("delete", "node", name, "--wait=false")
    assert server.kubectl("wait", "--for=delete", f"node/{name}", "--timeout=10s").returncode == 0
