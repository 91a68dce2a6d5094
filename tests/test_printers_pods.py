"""Pod rows: READY, STATUS (every branch of upstream's printPod), RESTARTS, AGE and the wide cells."""

from datetime import UTC, datetime

from facade.printers import printer_for, table

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def pod(containers=("app",), init=(), phase="Pending", statuses=None, init_statuses=None, conditions=None, **extra):
    obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web-0",
            "namespace": "default",
            "uid": "6f1f8a8e-0000-4000-8000-000000000001",
            "resourceVersion": "812",
            "creationTimestamp": "2024-05-01T11:00:00Z",
        },
        "spec": {
            "containers": [{"name": n, "image": "nginx:1.27"} for n in containers],
            "restartPolicy": "Always",
            "nodeName": extra.pop("node_name", ""),
        },
        "status": {"phase": phase},
    }
    if init:
        obj["spec"]["initContainers"] = [
            {"name": n, "image": "busybox", **({"restartPolicy": "Always"} if sidecar else {})} for n, sidecar in init
        ]
    if statuses is not None:
        obj["status"]["containerStatuses"] = statuses
    if init_statuses is not None:
        obj["status"]["initContainerStatuses"] = init_statuses
    if conditions is not None:
        obj["status"]["conditions"] = conditions
    for k, v in extra.items():
        if k in ("deletionTimestamp",):
            obj["metadata"][k] = v
        else:
            obj["status"][k] = v
    return obj


def running(name, ready=True, restarts=0, last_finished=None):
    cs = {
        "name": name,
        "ready": ready,
        "restartCount": restarts,
        "image": "nginx:1.27",
        "imageID": "docker.io/library/nginx@sha256:abc",
        "containerID": "containerd://1",
        "started": True,
        "state": {"running": {"startedAt": "2024-05-01T11:00:05Z"}},
    }
    if last_finished:
        cs["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": last_finished}}
    return cs


def waiting(name, reason, restarts=0, last_finished=None):
    cs = {"name": name, "ready": False, "restartCount": restarts, "started": False, "state": {"waiting": {"reason": reason}}}
    if last_finished:
        cs["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": last_finished}}
    return cs


def terminated(name, exit_code=0, reason="", signal=0):
    t = {"exitCode": exit_code, "finishedAt": "2024-05-01T11:30:00Z"}
    if reason:
        t["reason"] = reason
    if signal:
        t["signal"] = signal
    return {"name": name, "ready": False, "restartCount": 0, "started": False, "state": {"terminated": t}}


def cond(ctype, status="True", reason=None):
    c = {"type": ctype, "status": status, "lastTransitionTime": "2024-05-01T11:00:00Z"}
    if reason:
        c["reason"] = reason
    return c


def cells(obj):
    return table(printer_for("", "Pod"), [obj], now=NOW)["rows"][0]["cells"]


def status(obj):
    return cells(obj)[2]


def test_running_pod_row_with_wide_cells():
    obj = pod(
        containers=("app", "sidecar"),
        phase="Running",
        statuses=[running("app"), running("sidecar")],
        conditions=[cond("Initialized"), cond("Ready"), cond("ContainersReady"), cond("PodScheduled")],
        node_name="node-1",
        podIP="10.244.0.7",
        podIPs=[{"ip": "10.244.0.7"}, {"ip": "fd00::7"}],
    )
    assert cells(obj) == ["web-0", "2/2", "Running", "0", "60m", "10.244.0.7", "node-1", "<none>", "<none>"]


def test_pending_unscheduled_pod():
    obj = pod(conditions=[cond("PodScheduled", "False", "Unschedulable")])
    assert cells(obj) == ["web-0", "0/1", "Pending", "0", "60m", "<none>", "<none>", "<none>", "<none>"]


def test_scheduling_gated_pod():
    obj = pod(conditions=[cond("PodScheduled", "False", "SchedulingGated")])
    assert status(obj) == "SchedulingGated"


def test_container_creating_and_image_pull_reasons():
    assert status(pod(statuses=[waiting("app", "ContainerCreating")])) == "ContainerCreating"
    assert status(pod(statuses=[waiting("app", "ErrImagePull")])) == "ErrImagePull"
    assert status(pod(statuses=[waiting("app", "ImagePullBackOff")])) == "ImagePullBackOff"


def test_crash_loop_back_off_with_restarts_ago():
    obj = pod(
        phase="Running",
        statuses=[waiting("app", "CrashLoopBackOff", restarts=3, last_finished="2024-05-01T11:55:00Z")],
        conditions=[cond("Initialized"), cond("Ready", "False")],
    )
    row = cells(obj)
    assert row[1:4] == ["0/1", "CrashLoopBackOff", "3 (5m ago)"]


def test_restarts_without_last_termination_time_are_a_bare_count():
    obj = pod(phase="Running", statuses=[running("app", restarts=2)], conditions=[cond("Ready")])
    assert cells(obj)[3] == "2"


def test_restarts_take_latest_termination_across_containers():
    obj = pod(
        containers=("a", "b"),
        phase="Running",
        statuses=[
            running("a", restarts=1, last_finished="2024-05-01T10:00:00Z"),
            running("b", restarts=4, last_finished="2024-05-01T11:58:00Z"),
        ],
        conditions=[cond("Ready")],
    )
    assert cells(obj)[1:4] == ["2/2", "Running", "5 (2m ago)"]


def test_completed_pod_and_its_row_condition():
    obj = pod(phase="Succeeded", statuses=[terminated("app", 0, "Completed")])
    t = table(printer_for("", "Pod"), [obj], now=NOW)
    assert t["rows"][0]["cells"][1:3] == ["0/1", "Completed"]
    assert t["rows"][0]["conditions"] == [
        {"type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."}
    ]


def test_failed_pod_row_condition_and_error_reason():
    obj = pod(phase="Failed", statuses=[terminated("app", 1, "Error")])
    t = table(printer_for("", "Pod"), [obj], now=NOW)
    assert t["rows"][0]["cells"][2] == "Error"
    assert t["rows"][0]["conditions"][0]["reason"] == "Failed"
    assert t["rows"][0]["conditions"][0]["message"] == "The pod failed."


def test_running_pod_has_no_row_conditions_key():
    obj = pod(phase="Running", statuses=[running("app")], conditions=[cond("Ready")])
    assert "conditions" not in table(printer_for("", "Pod"), [obj], now=NOW)["rows"][0]


def test_terminated_without_reason_shows_exit_code_or_signal():
    assert status(pod(phase="Failed", statuses=[terminated("app", 137)])) == "ExitCode:137"
    assert status(pod(phase="Failed", statuses=[terminated("app", 137, signal=9)])) == "Signal:9"


def test_completed_container_with_another_running_is_running_or_not_ready():
    statuses = [running("a"), terminated("b", 0, "Completed")]
    ready = pod(containers=("a", "b"), phase="Running", statuses=statuses, conditions=[cond("Ready")])
    assert cells(ready)[1:3] == ["1/2", "Running"]
    not_ready = pod(containers=("a", "b"), phase="Running", statuses=statuses, conditions=[cond("Ready", "False")])
    assert cells(not_ready)[1:3] == ["1/2", "NotReady"]


def test_first_container_status_wins_because_statuses_are_walked_backwards():
    obj = pod(
        containers=("a", "b"),
        statuses=[waiting("a", "ImagePullBackOff"), waiting("b", "ContainerCreating")],
    )
    assert status(obj) == "ImagePullBackOff"


def test_init_containers_progress():
    obj = pod(
        init=(("migrate", False), ("seed", False)),
        init_statuses=[terminated("migrate", 0, "Completed"), waiting("seed", "PodInitializing")],
        statuses=[waiting("app", "PodInitializing")],
        conditions=[cond("Initialized", "False")],
    )
    assert cells(obj)[1:3] == ["0/1", "Init:1/2"]


def test_init_container_running_counts_as_progress():
    obj = pod(
        init=(("migrate", False),),
        init_statuses=[running("migrate", ready=False)],
        conditions=[cond("Initialized", "False")],
    )
    assert status(obj) == "Init:0/1"


def test_init_container_waiting_reason_and_failures():
    crash = pod(
        init=(("migrate", False),),
        init_statuses=[waiting("migrate", "CrashLoopBackOff", restarts=4, last_finished="2024-05-01T11:59:00Z")],
        conditions=[cond("Initialized", "False")],
    )
    assert cells(crash)[2:4] == ["Init:CrashLoopBackOff", "4 (60s ago)"]
    errored = pod(init=(("migrate", False),), init_statuses=[terminated("migrate", 2, "Error")])
    assert status(errored) == "Init:Error"
    assert status(pod(init=(("m", False),), init_statuses=[terminated("m", 3)])) == "Init:ExitCode:3"
    assert status(pod(init=(("m", False),), init_statuses=[terminated("m", 143, signal=15)])) == "Init:Signal:15"


def test_pod_initializing_once_init_containers_are_done():
    obj = pod(
        init=(("migrate", False),),
        init_statuses=[terminated("migrate", 0, "Completed")],
        statuses=[waiting("app", "PodInitializing")],
        conditions=[cond("Initialized")],
    )
    assert status(obj) == "PodInitializing"


def test_sidecar_init_container_counts_in_ready_and_restarts():
    sidecar = running("proxy", restarts=2, last_finished="2024-05-01T11:50:00Z")
    obj = pod(
        init=(("proxy", True),),
        phase="Running",
        init_statuses=[sidecar],
        statuses=[running("app")],
        conditions=[cond("Initialized"), cond("Ready")],
    )
    assert cells(obj)[1:4] == ["2/2", "Running", "2 (10m ago)"]


def test_terminating_pod_and_node_lost_pod():
    deleting = pod(
        phase="Running",
        statuses=[running("app")],
        conditions=[cond("Ready")],
        deletionTimestamp="2024-05-01T11:59:30Z",
    )
    assert status(deleting) == "Terminating"
    lost = pod(phase="Running", statuses=[running("app")], reason="NodeLost", deletionTimestamp="2024-05-01T11:59:30Z")
    assert status(lost) == "Unknown"
    finished = pod(phase="Succeeded", statuses=[terminated("app", 0, "Completed")], deletionTimestamp="2024-05-01T11:59:30Z")
    assert status(finished) == "Completed"


def test_status_reason_overrides_phase():
    evicted = pod(phase="Failed", reason="Evicted", message="The node was low on resource: memory.")
    assert status(evicted) == "Evicted"


def test_readiness_gates_and_nominated_node():
    obj = pod(
        phase="Running",
        statuses=[running("app")],
        conditions=[cond("Ready"), cond("example.com/lb", "True"), cond("example.com/dns", "False")],
        nominatedNodeName="node-2",
    )
    obj["spec"]["readinessGates"] = [
        {"conditionType": "example.com/lb"},
        {"conditionType": "example.com/dns"},
        {"conditionType": "example.com/missing"},
    ]
    assert cells(obj)[7:] == ["node-2", "1/3"]


def test_pod_columns_as_upstream():
    cols = printer_for("", "Pod").columns
    assert [(c.name, c.type, c.format, c.priority) for c in cols] == [
        ("Name", "string", "name", 0),
        ("Ready", "string", "", 0),
        ("Status", "string", "", 0),
        ("Restarts", "string", "", 0),
        ("Age", "string", "", 0),
        ("IP", "string", "", 1),
        ("Node", "string", "", 1),
        ("Nominated Node", "string", "", 1),
        ("Readiness Gates", "string", "", 1),
    ]
    assert cols[1].description == "The aggregate readiness state of this pod for accepting traffic."
    assert cols[5].description.startswith("podIP address allocated to the pod")
