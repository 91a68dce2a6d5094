"""apps/v1 and batch/v1 rows: READY "r/d", UP-TO-DATE, job STATUS/COMPLETIONS/DURATION, cronjob cells."""

from datetime import UTC, datetime

from facade.printers import printer_for, table

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
TEMPLATE = {
    "metadata": {"labels": {"app": "web"}},
    "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}, {"name": "log", "image": "busybox"}]},
}


def md(name, created="2024-05-01T09:00:00Z", **extra):
    return {"name": name, "namespace": "default", "uid": "u", "resourceVersion": "9", "creationTimestamp": created, **extra}


def row(group, kind, obj):
    return table(printer_for(group, kind), [obj], now=NOW)["rows"][0]["cells"]


def header(group, kind):
    return [(c.name, c.priority) for c in printer_for(group, kind).columns]


def test_deployment_row():
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": md("web", generation=2),
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE},
        "status": {"replicas": 3, "updatedReplicas": 3, "readyReplicas": 2, "availableReplicas": 2, "observedGeneration": 2},
    }
    assert header("apps", "Deployment") == [
        ("Name", 0), ("Ready", 0), ("Up-to-date", 0), ("Available", 0), ("Age", 0),
        ("Containers", 1), ("Images", 1), ("Selector", 1),
    ]
    assert row("apps", "Deployment", dep) == ["web", "2/3", 3, 2, "3h", "nginx,log", "nginx:1.27,busybox", "app=web"]
    dep["status"] = {}
    assert row("apps", "Deployment", dep)[1:4] == ["0/3", 0, 0]


def test_replica_set_row():
    rs = {
        "metadata": md("web-7d9c", created="2024-05-01T11:57:00Z"),
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web", "pod-template-hash": "7d9c"}},
            "template": TEMPLATE,
        },
        "status": {"replicas": 2, "readyReplicas": 1, "availableReplicas": 1},
    }
    assert row("apps", "ReplicaSet", rs) == [
        "web-7d9c", 2, 2, 1, "3m", "nginx,log", "nginx:1.27,busybox", "app=web,pod-template-hash=7d9c"
    ]


def test_stateful_set_row():
    sts = {"metadata": md("db"), "spec": {"replicas": 3, "template": TEMPLATE}, "status": {"replicas": 3, "readyReplicas": 3}}
    assert header("apps", "StatefulSet") == [("Name", 0), ("Ready", 0), ("Age", 0), ("Containers", 1), ("Images", 1)]
    assert row("apps", "StatefulSet", sts) == ["db", "3/3", "3h", "nginx,log", "nginx:1.27,busybox"]


def test_daemon_set_row():
    ds = {
        "metadata": md("agent"),
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {**TEMPLATE, "spec": {**TEMPLATE["spec"], "nodeSelector": {"kubernetes.io/os": "linux"}}},
        },
        "status": {
            "desiredNumberScheduled": 2,
            "currentNumberScheduled": 2,
            "numberReady": 1,
            "updatedNumberScheduled": 2,
            "numberAvailable": 1,
            "numberMisscheduled": 0,
        },
    }
    assert row("apps", "DaemonSet", ds) == [
        "agent", 2, 2, 1, 2, 1, "kubernetes.io/os=linux", "3h", "nginx,log", "nginx:1.27,busybox", "app=agent"
    ]


def test_controller_revision_row():
    cr = {
        "metadata": md(
            "agent-5f7d",
            ownerReferences=[
                {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent", "uid": "x", "controller": True}
            ],
        ),
        "data": {},
        "revision": 2,
    }
    assert row("apps", "ControllerRevision", cr) == ["agent-5f7d", "daemonset.apps/agent", 2, "3h"]
    cr["metadata"]["ownerReferences"] = []
    assert row("apps", "ControllerRevision", cr)[1] == "<none>"


def job(spec=None, status=None, **meta):
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": md("pi", **meta),
        "spec": {
            "completions": 1,
            "parallelism": 1,
            "backoffLimit": 6,
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "abc"}},
            "template": {"spec": {"containers": [{"name": "pi", "image": "perl:5.34"}], "restartPolicy": "Never"}},
            **(spec or {}),
        },
        "status": status or {},
    }


def test_job_complete_row():
    done = job(
        status={
            "startTime": "2024-05-01T09:00:00Z",
            "completionTime": "2024-05-01T09:00:42Z",
            "succeeded": 1,
            "conditions": [
                {"type": "SuccessCriteriaMet", "status": "True"},
                {"type": "Complete", "status": "True"},
            ],
        }
    )
    assert header("batch", "Job")[:5] == [("Name", 0), ("Status", 0), ("Completions", 0), ("Duration", 0), ("Age", 0)]
    assert row("batch", "Job", done) == [
        "pi", "Complete", "1/1", "42s", "3h", "pi", "perl:5.34", "batch.kubernetes.io/controller-uid=abc"
    ]


def test_job_status_branches_and_completions_forms():
    running = job(status={"startTime": "2024-05-01T11:55:00Z", "active": 1})
    assert row("batch", "Job", running)[1:4] == ["Running", "0/1", "5m"]
    assert row("batch", "Job", job())[1:4] == ["Running", "0/1", ""]
    failed = job(status={"conditions": [{"type": "Failed", "status": "True"}]})
    assert row("batch", "Job", failed)[1] == "Failed"
    suspended = job(status={"conditions": [{"type": "Suspended", "status": "True"}]})
    assert row("batch", "Job", suspended)[1] == "Suspended"
    target = job(status={"conditions": [{"type": "FailureTarget", "status": "True"}]})
    assert row("batch", "Job", target)[1] == "FailureTarget"
    deleting = job(status={"conditions": [{"type": "Suspended", "status": "True"}]}, deletionTimestamp="2024-05-01T11:59:00Z")
    assert row("batch", "Job", deleting)[1] == "Terminating"
    queue = job(spec={"completions": None, "parallelism": 4}, status={"succeeded": 2})
    assert row("batch", "Job", queue)[2] == "2/1 of 4"
    single = job(spec={"completions": None, "parallelism": 1})
    assert row("batch", "Job", single)[2] == "0/1"


def test_cron_job_row():
    cj = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": md("nightly"),
        "spec": {
            "schedule": "0 2 * * *",
            "suspend": False,
            "concurrencyPolicy": "Allow",
            "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "b", "image": "backup:1"}]}}}},
        },
        "status": {"active": [{"kind": "Job", "name": "nightly-1"}], "lastScheduleTime": "2024-05-01T11:00:00Z"},
    }
    assert [c.name for c in printer_for("batch", "CronJob").columns][:7] == [
        "Name", "Schedule", "Timezone", "Suspend", "Active", "Last Schedule", "Age"
    ]
    assert row("batch", "CronJob", cj) == ["nightly", "0 2 * * *", "<none>", "False", 1, "60m", "3h", "b", "backup:1", "<none>"]
    cj["spec"]["timeZone"] = "Etc/UTC"
    del cj["spec"]["suspend"]
    cj["status"] = {}
    assert row("batch", "CronJob", cj)[2:6] == ["Etc/UTC", "<unset>", 0, "<none>"]
