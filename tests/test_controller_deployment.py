"""Deployments as a user sees them through kubectl: rollout status, history and undo, rolling and
Recreate updates, pause/resume, restart, proportional scaling, the progress deadline on the fake clock."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from conftest import Server, start_server, stop_server
from fake_nodes import FakeKubelet, advance, make_node, wait_for

ROLLOUT_LINE = re.compile(
    r'^(Waiting for deployment "web" rollout to finish: (\d+ out of \d+ new replicas have been updated|'
    r"\d+ old replicas are pending termination|\d+ of \d+ updated replicas are available)\.\.\.|"
    r"Waiting for deployment spec update to be observed\.\.\.|"
    r'deployment "web" successfully rolled out)$')


@pytest.fixture(scope="module")
def fc() -> Iterator[Server]:
    s = start_server("--no-node", "--fake-clock")
    for i in range(3):
        make_node(s, f"n{i}", cpu="16", memory="64Gi")
    yield s
    stop_server(s)


def ns(s: Server, name: str) -> str:
    code, _, out = s.request("POST", "/api/v1/namespaces", json.dumps(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}).encode())
    assert code == 201, out
    return name


def deployment(replicas: int = 3, image: str = "nginx:1.25", **spec: object) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "web", "image": image}]}}, **spec}}


def get(s: Server, path: str) -> dict:
    code, _, out = s.request("GET", path)
    assert code == 200, out
    return json.loads(out)


def dep(s: Server, n: str) -> dict:
    return get(s, f"/apis/apps/v1/namespaces/{n}/deployments/web")


def rss(s: Server, n: str) -> list[dict]:
    return sorted(get(s, f"/apis/apps/v1/namespaces/{n}/replicasets")["items"],
                  key=lambda r: int(r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]))


def cond(d: dict, ctype: str) -> dict:
    return next(c for c in d["status"]["conditions"] if c["type"] == ctype)


def rollout_status(s: Server, n: str) -> list[str]:
    out = s.kubectl("rollout", "status", "deploy/web", "-n", n, "--timeout=60s").stdout
    lines = [line for line in out.splitlines() if line]
    assert lines and all(ROLLOUT_LINE.match(line) for line in lines), out
    assert lines[-1] == 'deployment "web" successfully rolled out'
    return lines


def events(s: Server, n: str, reason: str) -> list[str]:
    items = get(s, f"/api/v1/namespaces/{n}/events")["items"]
    return [e["message"] for e in sorted(items, key=lambda e: e["metadata"]["creationTimestamp"]) if e["reason"] == reason]


def test_rollout_then_update_then_undo(fc: Server) -> None:
    n = ns(fc, "dep-rollout")
    with FakeKubelet(fc, n):
        fc.kubectl("apply", "-n", n, "-f", "-", input=json.dumps(deployment()))
        rollout_status(fc, n)
        d = dep(fc, n)
        first = rss(fc, n)[0]
        hash1 = first["metadata"]["labels"]["pod-template-hash"]
        assert first["metadata"]["name"] == f"web-{hash1}"
        assert re.fullmatch(r"[bcdfghjklmnpqrstvwxz2456789]{6,10}", hash1)
        assert first["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": hash1}
        assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
        assert d["status"]["replicas"] == d["status"]["updatedReplicas"] == d["status"]["availableReplicas"] == 3
        assert d["status"]["observedGeneration"] == 1
        assert [c["type"] for c in d["status"]["conditions"]] == ["Available", "Progressing"]
        assert cond(d, "Available")["reason"] == "MinimumReplicasAvailable"
        assert cond(d, "Available")["message"] == "Deployment has minimum availability."
        assert cond(d, "Progressing")["reason"] == "NewReplicaSetAvailable"
        assert cond(d, "Progressing")["message"] == f'ReplicaSet "web-{hash1}" has successfully progressed.'
        assert events(fc, n, "ScalingReplicaSet") == [f"Scaled up replica set web-{hash1} from 0 to 3"]

        fc.kubectl("set", "image", "deploy/web", "-n", n, "web=nginx:1.26")
        rollout_status(fc, n)
        second = rss(fc, n)[1]
        hash2 = second["metadata"]["labels"]["pod-template-hash"]
        assert hash2 != hash1
        assert [r["spec"]["replicas"] for r in rss(fc, n)] == [0, 3]
        scaling = events(fc, n, "ScalingReplicaSet")
        assert scaling[1] == f"Scaled up replica set web-{hash2} from 0 to 1"
        assert f"Scaled down replica set web-{hash1} from 3 to 2" in scaling
        assert scaling[-1].startswith(f"Scaled down replica set web-{hash1} from ") and scaling[-1].endswith(" to 0")
        history = fc.kubectl("rollout", "history", "deploy/web", "-n", n).stdout
        assert re.search(r"^1\s+<none>$", history, re.M) and re.search(r"^2\s+<none>$", history, re.M)

        assert fc.kubectl("rollout", "undo", "deploy/web", "-n", n).stdout.strip() == "deployment.apps/web rolled back"
        rollout_status(fc, n)
        d = dep(fc, n)
        assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"
        back = get(fc, f"/apis/apps/v1/namespaces/{n}/replicasets/web-{hash1}")
        assert back["spec"]["replicas"] == 3
        assert back["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
        assert back["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
        assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
        assert len(rss(fc, n)) == 2


def test_rolling_update_respects_max_surge_and_unavailable(fc: Server) -> None:
    n = ns(fc, "dep-surge")
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 2, "maxUnavailable": 0}}
    with FakeKubelet(fc, n) as kubelet:
        fc.kubectl("apply", "-n", n, "-f", "-", input=json.dumps(deployment(4, strategy=strategy)))
        rollout_status(fc, n)
        kubelet.__exit__()
    fc.kubectl("set", "image", "deploy/web", "-n", n, "web=nginx:1.26")
    # nothing becomes ready: the new ReplicaSet may only surge by 2, no old pod may go
    wait_for(lambda: [r["spec"]["replicas"] for r in rss(fc, n)] == [4, 2])
    d = dep(fc, n)
    wait_for(lambda: dep(fc, n)["status"].get("updatedReplicas") == 2)
    d = dep(fc, n)
    assert d["status"]["replicas"] == 6 and d["status"]["availableReplicas"] == 4
    assert cond(d, "Progressing")["reason"] == "ReplicaSetUpdated"
    assert cond(d, "Progressing")["message"] == f'ReplicaSet "{rss(fc, n)[1]["metadata"]["name"]}" is progressing.'
    with FakeKubelet(fc, n):
        rollout_status(fc, n)


def test_percentages_and_recreate(fc: Server) -> None:
    n = ns(fc, "dep-recreate")
    with FakeKubelet(fc, n):
        fc.kubectl("apply", "-n", n, "-f", "-", input=json.dumps(deployment(2, strategy={"type": "Recreate"})))
        rollout_status(fc, n)
        fc.kubectl("set", "image", "deploy/web", "-n", n, "web=nginx:1.26")
        rollout_status(fc, n)
    scaling = events(fc, n, "ScalingReplicaSet")
    old, new = (r["metadata"]["name"] for r in rss(fc, n))
    assert scaling == [f"Scaled up replica set {old} from 0 to 2", f"Scaled down replica set {old} from 2 to 0",
                       f"Scaled up replica set {new} from 0 to 2"]


def test_pause_resume_and_restart(fc: Server) -> None:
    n = ns(fc, "dep-pause")
    with FakeKubelet(fc, n):
        fc.kubectl("apply", "-n", n, "-f", "-", input=json.dumps(deployment(2)))
        rollout_status(fc, n)
        fc.kubectl("rollout", "pause", "deploy/web", "-n", n)
        wait_for(lambda: cond(dep(fc, n), "Progressing")["reason"] == "DeploymentPaused")
        c = cond(dep(fc, n), "Progressing")
        assert (c["status"], c["message"]) == ("Unknown", "Deployment is paused")
        fc.kubectl("set", "image", "deploy/web", "-n", n, "web=nginx:1.26")
        wait_for(lambda: dep(fc, n)["status"].get("observedGeneration") == dep(fc, n)["metadata"]["generation"])
        assert len(rss(fc, n)) == 1
        fc.kubectl("scale", "deploy/web", "-n", n, "--replicas=3")
        wait_for(lambda: rss(fc, n)[0]["spec"]["replicas"] == 3)
        fc.kubectl("rollout", "resume", "deploy/web", "-n", n)
        rollout_status(fc, n)
        assert len(rss(fc, n)) == 2
        fc.kubectl("rollout", "restart", "deploy/web", "-n", n)
        rollout_status(fc, n)
        latest = rss(fc, n)[-1]
        assert "kubectl.kubernetes.io/restartedAt" in latest["spec"]["template"]["metadata"]["annotations"]
        assert latest["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"


def test_proportional_scaling_during_a_rollout(fc: Server) -> None:
    n = ns(fc, "dep-proportional")
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 3, "maxUnavailable": 2}}
    with FakeKubelet(fc, n) as kubelet:
        fc.kubectl("apply", "-n", n, "-f", "-", input=json.dumps(deployment(10, strategy=strategy)))
        rollout_status(fc, n)
        kubelet.__exit__()
    fc.kubectl("set", "image", "deploy/web", "-n", n, "web=nginx:never-ready")
    wait_for(lambda: [r["spec"]["replicas"] for r in rss(fc, n)] == [8, 5])
    fc.kubectl("scale", "deploy/web", "-n", n, "--replicas=20")
    # 13 replicas grow to 23 (20 + maxSurge 3), shared 8:5 as upstream's proportions do
    wait_for(lambda: [r["spec"]["replicas"] for r in rss(fc, n)] == [14, 9])


def test_progress_deadline_exceeded(fc: Server) -> None:
    n = ns(fc, "dep-deadline")
    with FakeKubelet(fc, n):
        fc.kubectl("apply", "-n", n, "-f", "-",
                   input=json.dumps(deployment(1, image="nginx:never-ready", progressDeadlineSeconds=60)))
        wait_for(lambda: dep(fc, n)["status"].get("updatedReplicas") == 1)
        advance(fc, 61)
        wait_for(lambda: cond(dep(fc, n), "Progressing")["reason"] == "ProgressDeadlineExceeded")
        c = cond(dep(fc, n), "Progressing")
        assert c["status"] == "False"
        assert c["message"] == f'ReplicaSet "{rss(fc, n)[0]["metadata"]["name"]}" has timed out progressing.'
        out = fc.kubectl("rollout", "status", "deploy/web", "-n", n, check=False)
        assert out.returncode == 1
        assert out.stderr.strip() == 'error: deployment "web" exceeded its progress deadline'


def test_revision_history_limit_deletes_old_replicasets(fc: Server) -> None:
    n = ns(fc, "dep-history")
    with FakeKubelet(fc, n):
        fc.kubectl("apply", "-n", n, "-f", "-", input=json.dumps(deployment(1, revisionHistoryLimit=1)))
        rollout_status(fc, n)
        for tag in ("1.26", "1.27", "1.28"):
            fc.kubectl("set", "image", "deploy/web", "-n", n, f"web=nginx:{tag}")
            rollout_status(fc, n)
        wait_for(lambda: len(rss(fc, n)) == 2)
    assert [r["metadata"]["annotations"]["deployment.kubernetes.io/revision"] for r in rss(fc, n)] == ["3", "4"]


def test_an_orphan_replicaset_is_adopted_and_one_relabelled_away_is_released(fc: Server) -> None:
    n = ns(fc, "adoption")
    orphan = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web-orphan", "labels": {"app": "web"}},
              "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
                       "template": {"metadata": {"labels": {"app": "web"}},
                                    "spec": {"containers": [{"name": "web", "image": "nginx:1.24"}]}}}}
    code, _, out = fc.request("POST", f"/apis/apps/v1/namespaces/{n}/replicasets", json.dumps(orphan).encode())
    assert code == 201, out
    code, _, out = fc.request("POST", f"/apis/apps/v1/namespaces/{n}/deployments", json.dumps(deployment(1)).encode())
    assert code == 201, out
    uid = json.loads(out)["metadata"]["uid"]
    path = f"/apis/apps/v1/namespaces/{n}/replicasets/web-orphan"

    def controller() -> str | None:
        refs = get(fc, path)["metadata"].get("ownerReferences") or []
        return next((r["uid"] for r in refs if r.get("controller")), None)

    wait_for(lambda: controller() == uid)
    patch = {"metadata": {"labels": {"app": "elsewhere"}}}
    code, _, out = fc.request("PATCH", path, json.dumps(patch).encode(),
                              headers={"Content-Type": "application/merge-patch+json"})
    assert code == 200, out
    wait_for(lambda: controller() is None)
