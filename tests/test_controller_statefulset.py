"""The StatefulSet controller: ordered, stable pods and claims, revisions and rolling updates."""

from __future__ import annotations

from conftest import Server
from controller_helpers import api_get, api_patch, api_send, pods, set_pod_status, wait_default_sa, wait_for


def sts(name: str, replicas: int, **spec: object) -> dict:
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name},
            "spec": {"replicas": replicas, "serviceName": name, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"schedulerName": "manual",
                                           "containers": [{"name": "c", "image": "nginx:1"}]}}, **spec}}


def get_sts(s: Server, ns: str, name: str) -> dict:
    out = api_get(s, f"/apis/apps/v1/namespaces/{ns}/statefulsets/{name}")
    assert out is not None
    return out


def pod_names(s: Server, ns: str) -> list[str]:
    return [p["metadata"]["name"] for p in pods(s, ns) if not p["metadata"].get("deletionTimestamp")]


def make_ready(s: Server, ns: str, name: str) -> None:
    wait_for(lambda: name in pod_names(s, ns), what=name)
    set_pod_status(s, ns, name, "Running", ready=True, pod_ip="10.9.0.1")


def test_ordered_ready_creates_pods_one_by_one_with_stable_identity_and_claims(server: Server, namespace: str) -> None:
    ns = namespace
    wait_default_sa(server, ns)
    claim = {"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"],
                                                    "resources": {"requests": {"storage": "1Gi"}}}}
    api_send(server, "POST", f"/apis/apps/v1/namespaces/{ns}/statefulsets", sts("web", 3, volumeClaimTemplates=[claim]))
    wait_for(lambda: pod_names(server, ns) == ["web-0"], what="web-0 alone")
    p0 = pods(server, ns)[0]
    assert p0["spec"]["hostname"] == "web-0" and p0["spec"]["subdomain"] == "web"
    labels = p0["metadata"]["labels"]
    assert labels["statefulset.kubernetes.io/pod-name"] == "web-0"
    assert labels["apps.kubernetes.io/pod-index"] == "0"
    assert labels["controller-revision-hash"].startswith("web-")
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "data-web-0"}} in p0["spec"]["volumes"]
    pvc = api_get(server, f"/api/v1/namespaces/{ns}/persistentvolumeclaims/data-web-0")
    assert pvc is not None and pvc["metadata"]["labels"]["app"] == "web"
    # web-1 waits until web-0 is Running and Ready
    assert pod_names(server, ns) == ["web-0"]
    make_ready(server, ns, "web-0")
    make_ready(server, ns, "web-1")
    make_ready(server, ns, "web-2")
    st = wait_for(lambda: (lambda x: x["status"] if x["status"].get("readyReplicas") == 3 else None)(
        get_sts(server, ns, "web")), what="3 ready")
    assert st["replicas"] == 3 and st["currentReplicas"] == 3 and st["updatedReplicas"] == 3
    assert st["currentRevision"] == st["updateRevision"] == labels["controller-revision-hash"]
    assert st["observedGeneration"] == 1
    revs = api_get(server, f"/apis/apps/v1/namespaces/{ns}/controllerrevisions")
    assert revs is not None and [r["metadata"]["name"] for r in revs["items"]] == [st["updateRevision"]]
    assert revs["items"][0]["revision"] == 1
    out = server.kubectl("get", "statefulset", "web", "-n", ns).stdout
    assert "3/3" in out
    rollout = server.kubectl("rollout", "status", "statefulset/web", "-n", ns, "--timeout=10s").stdout
    # partition defaults to 0, so kubectl reports a partitioned roll-out, as against a real cluster
    assert "partitioned roll out complete: 3 new pods have been updated..." in rollout
    # scale down removes the highest ordinal first
    api_patch(server, f"/apis/apps/v1/namespaces/{ns}/statefulsets/web", {"spec": {"replicas": 1}})
    wait_for(lambda: pod_names(server, ns) == ["web-0"], what="scaled to web-0")
    assert api_get(server, f"/api/v1/namespaces/{ns}/persistentvolumeclaims/data-web-2") is not None  # Retain


def test_rolling_update_with_partition_updates_only_ordinals_at_or_above_it(server: Server, namespace: str) -> None:
    ns = namespace
    wait_default_sa(server, ns)
    api_send(server, "POST", f"/apis/apps/v1/namespaces/{ns}/statefulsets",
             sts("db", 3, podManagementPolicy="Parallel",
                 updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}))
    wait_for(lambda: pod_names(server, ns) == ["db-0", "db-1", "db-2"], what="3 pods at once (Parallel)")
    for n in ("db-0", "db-1", "db-2"):
        make_ready(server, ns, n)
    first = wait_for(lambda: get_sts(server, ns, "db")["status"].get("readyReplicas") == 3 and
                     get_sts(server, ns, "db")["status"]["updateRevision"], what="ready")
    api_patch(server, f"/apis/apps/v1/namespaces/{ns}/statefulsets/db",
              {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}}})

    def images() -> dict[str, str]:
        return {p["metadata"]["name"]: p["spec"]["containers"][0]["image"] for p in pods(server, ns)
                if not p["metadata"].get("deletionTimestamp")}

    wait_for(lambda: images().get("db-2") == "nginx:2", what="db-2 updated")
    make_ready(server, ns, "db-2")
    wait_for(lambda: images().get("db-1") == "nginx:2", what="db-1 updated")
    make_ready(server, ns, "db-1")
    st = wait_for(lambda: (lambda x: x if x.get("updatedReplicas") == 2 and x.get("readyReplicas") == 3 else None)(
        get_sts(server, ns, "db")["status"]), what="2 updated")
    assert images()["db-0"] == "nginx:1"
    assert st["currentRevision"] == first and st["updateRevision"] != first
    assert st["currentReplicas"] == 1
    revs = api_get(server, f"/apis/apps/v1/namespaces/{ns}/controllerrevisions")
    assert revs is not None and sorted(r["revision"] for r in revs["items"]) == [1, 2]
    history = server.kubectl("rollout", "history", "statefulset/db", "-n", ns).stdout
    assert [line.split()[0] for line in history.strip().splitlines()[2:]] == ["1", "2"]


def test_when_scaled_delete_policy_removes_claims_of_removed_pods(server: Server, namespace: str) -> None:
    ns = namespace
    wait_default_sa(server, ns)
    claim = {"metadata": {"name": "d"}, "spec": {"accessModes": ["ReadWriteOnce"],
                                                 "resources": {"requests": {"storage": "1Gi"}}}}
    api_send(server, "POST", f"/apis/apps/v1/namespaces/{ns}/statefulsets",
             sts("kv", 2, podManagementPolicy="Parallel", volumeClaimTemplates=[claim],
                 persistentVolumeClaimRetentionPolicy={"whenDeleted": "Delete", "whenScaled": "Delete"}))
    wait_for(lambda: pod_names(server, ns) == ["kv-0", "kv-1"], what="2 pods")
    pvc = api_get(server, f"/api/v1/namespaces/{ns}/persistentvolumeclaims/d-kv-0")
    assert pvc is not None and pvc["metadata"]["ownerReferences"][0]["kind"] == "StatefulSet"
    api_patch(server, f"/apis/apps/v1/namespaces/{ns}/statefulsets/kv", {"spec": {"replicas": 1}})
    wait_for(lambda: api_get(server, f"/api/v1/namespaces/{ns}/persistentvolumeclaims/d-kv-1") is None,
             what="claim of kv-1 removed")
    assert api_get(server, f"/api/v1/namespaces/{ns}/persistentvolumeclaims/d-kv-0") is not None
