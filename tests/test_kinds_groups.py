"""Non-core API groups: defaults, validation messages and strategy hooks, as kube-apiserver 1.32 has them.

Each test drives a kind's Strategy the way the generic REST code does (defaults, prepare, validate)
and asserts what a user would see: the stored fields, or the ``Kind "name" is invalid: ...`` text.
"""

from __future__ import annotations

import copy
import importlib

import pytest

from facade.errors import invalid_error
from facade.kinds import (
    apiextensions,
    apiregistration,
    apps,
    autoscaling,
    batch,
    coordination,
    discovery,
    events,
    networking,
    policy,
    rbac,
    scheduling,
    storage_k8s_io,
)

MODULES = ["apps", "batch", "autoscaling", "coordination", "events", "discovery", "networking", "policy", "rbac",
           "storage_k8s_io", "scheduling", "apiextensions", "apiregistration"]


def info(module, kind, version=None):
    for r in module.RESOURCES:
        if r.kind == kind and (version is None or r.version == version):
            return r
    raise KeyError(kind)


def create(module, kind, obj, uid="11111111-2222-3333-4444-555555555555", version=None):
    """defaults -> uid -> prepare_for_create, as rest.create runs them; returns (obj, errors)."""
    r = info(module, kind, version)
    obj = copy.deepcopy(obj)
    obj.setdefault("metadata", {}).setdefault("name", "x")
    r.strategy.defaults(obj)
    obj["metadata"]["uid"] = uid
    r.strategy.prepare_for_create(obj)
    return obj, r.strategy.validate(obj)


def message(module, kind, obj, errs):
    r = info(module, kind)
    return invalid_error(r.kind, r.group, obj["metadata"]["name"], errs).message


def update(module, kind, new, old, version=None):
    r = info(module, kind, version)
    new = copy.deepcopy(new)
    r.strategy.defaults(new)
    r.strategy.prepare_for_update(new, old)
    return new, r.strategy.validate_update(new, old)


POD_TEMPLATE = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


def deployment(**spec):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": copy.deepcopy(POD_TEMPLATE), **spec}}


# ------------------------------------------------------------------------------------ resource table


@pytest.mark.parametrize("name", MODULES)
def test_every_group_module_exports_resources_with_a_strategy(name):
    module = importlib.import_module(f"facade.kinds.{name}")
    assert module.RESOURCES
    for r in module.RESOURCES:
        assert r.group and r.version and r.kind and r.plural and r.singular == r.kind.lower()
        assert r.verbs == ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@pytest.mark.parametrize(
    ("module", "kind", "short", "categories", "subresources", "namespaced"),
    [
        (apps, "Deployment", ("deploy",), ("all",), ("status", "scale"), True),
        (apps, "ReplicaSet", ("rs",), ("all",), ("status", "scale"), True),
        (apps, "StatefulSet", ("sts",), ("all",), ("status", "scale"), True),
        (apps, "DaemonSet", ("ds",), ("all",), ("status",), True),
        (apps, "ControllerRevision", (), (), (), True),
        (batch, "Job", (), ("all",), ("status",), True),
        (batch, "CronJob", ("cj",), ("all",), ("status",), True),
        (autoscaling, "HorizontalPodAutoscaler", ("hpa",), ("all",), ("status",), True),
        (networking, "Ingress", ("ing",), (), ("status",), True),
        (networking, "IngressClass", (), (), (), False),
        (networking, "NetworkPolicy", ("netpol",), (), (), True),
        (policy, "PodDisruptionBudget", ("pdb",), (), ("status",), True),
        (storage_k8s_io, "StorageClass", ("sc",), (), (), False),
        (scheduling, "PriorityClass", ("pc",), (), (), False),
        (apiextensions, "CustomResourceDefinition", ("crd", "crds"), ("api-extensions",), ("status",), False),
        (apiregistration, "APIService", (), ("api-extensions",), ("status",), False),
        (discovery, "EndpointSlice", (), (), (), True),
        (rbac, "ClusterRole", (), (), (), False),
        (rbac, "RoleBinding", (), (), (), True),
        (events, "Event", ("ev",), (), (), True),
        (coordination, "Lease", (), (), (), True),
    ],
)
def test_discovery_names_match_kube_apiserver(module, kind, short, categories, subresources, namespaced):
    r = info(module, kind)
    assert (r.short_names, r.categories, r.subresources, r.namespaced) == (short, categories, subresources, namespaced)


def test_hpa_is_served_as_v2_and_v1_from_one_storage_resource():
    v2, v1 = info(autoscaling, "HorizontalPodAutoscaler", "v2"), info(autoscaling, "HorizontalPodAutoscaler", "v1")
    assert v2.store_key == v1.store_key == "horizontalpodautoscalers.autoscaling"
    assert callable(v1.strategy.to_storage) and callable(v1.strategy.from_storage)


# ------------------------------------------------------------------------------------------- apps


def test_deployment_defaults_match_apps_v1():
    obj, errs = create(apps, "Deployment", deployment())
    assert errs == []
    spec = obj["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert spec["revisionHistoryLimit"] == 10 and spec["progressDeadlineSeconds"] == 600
    assert spec["template"]["metadata"]["creationTimestamp"] is None
    assert spec["template"]["spec"]["restartPolicy"] == "Always"
    assert spec["template"]["spec"]["dnsPolicy"] == "ClusterFirst"
    assert obj["status"] == {}


def test_deployment_recreate_strategy_gets_no_rolling_update_defaults():
    obj, errs = create(apps, "Deployment", deployment(strategy={"type": "Recreate"}))
    assert errs == [] and obj["spec"]["strategy"] == {"type": "Recreate"}


def test_deployment_without_selector_reports_required_and_mismatch():
    d = deployment()
    del d["spec"]["selector"]
    obj, errs = create(apps, "Deployment", d)
    assert message(apps, "Deployment", obj, errs) == (
        'Deployment.apps "web" is invalid: [spec.selector: Required value, spec.template.metadata.labels: '
        'Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`]'
    )


def test_deployment_selector_is_immutable():
    old, _ = create(apps, "Deployment", deployment())
    new = copy.deepcopy(old)
    new["spec"]["selector"] = {"matchLabels": {"app": "web", "tier": "fe"}}
    new["spec"]["template"]["metadata"]["labels"]["tier"] = "fe"
    _, errs = update(apps, "Deployment", new, old)
    assert [str(e) for e in errs] == [
        'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web", "tier":"fe"}, '
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"
    ]


def test_deployment_rolling_update_cannot_have_both_zero():
    obj, errs = create(apps, "Deployment", deployment(
        strategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "0%"}}))
    assert [str(e) for e in errs] == [
        'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:""}: '
        "may not be 0 when `maxSurge` is 0"
    ]


def test_deployment_rejects_bad_percent_and_negative_replicas():
    _, errs = create(apps, "Deployment", deployment(
        replicas=-1, strategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "110%", "maxSurge": "x"}}))
    texts = [str(e) for e in errs]
    assert "spec.replicas: Invalid value: -1: must be greater than or equal to 0" in texts
    assert ('spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, '
            'StrVal:"110%"}: must not be greater than 100%') in texts
    assert any(t.startswith('spec.strategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:1, IntVal:0, '
                            'StrVal:"x"}: a valid percent string must be') for t in texts)


def test_deployment_template_must_restart_always():
    d = deployment()
    d["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    _, errs = create(apps, "Deployment", d)
    assert 'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"' in [
        str(e) for e in errs]


def test_deployment_generation_follows_spec_and_annotations_not_status():
    s = info(apps, "Deployment").strategy
    old, _ = create(apps, "Deployment", deployment())
    status_only = copy.deepcopy(old)
    status_only["status"] = {"replicas": 3}
    assert s.tracks_generation and not s.generation_changed(status_only, old)
    scaled = copy.deepcopy(old)
    scaled["spec"]["replicas"] = 3
    assert s.generation_changed(scaled, old)
    annotated = copy.deepcopy(old)
    annotated["metadata"]["annotations"] = {"a": "b"}
    assert s.generation_changed(annotated, old)


def test_deployment_update_keeps_status():
    old, _ = create(apps, "Deployment", deployment())
    old["status"] = {"replicas": 1, "readyReplicas": 1}
    new = copy.deepcopy(old)
    new["status"] = {"replicas": 99}
    new, _ = update(apps, "Deployment", new, old)
    assert new["status"] == {"replicas": 1, "readyReplicas": 1}


def test_deployment_status_update_checks_counts():
    old, _ = create(apps, "Deployment", deployment())
    new = copy.deepcopy(old)
    new["status"] = {"replicas": 1, "readyReplicas": 2, "availableReplicas": 1}
    errs = info(apps, "Deployment").strategy.validate_status_update(new, old)
    assert [str(e) for e in errs] == ["status.readyReplicas: Invalid value: 2: cannot be greater than status.replicas"]


def test_replicaset_defaults_status_and_selectable_fields():
    rs = deployment()
    rs["kind"] = "ReplicaSet"
    obj, errs = create(apps, "ReplicaSet", rs)
    assert errs == [] and obj["spec"]["replicas"] == 1 and obj["status"] == {"replicas": 0}
    assert info(apps, "ReplicaSet").strategy.selectable_fields(obj) == {"status.replicas": "0"}


def test_empty_selector_is_invalid_for_replicaset():
    rs = deployment(selector={})
    obj, errs = create(apps, "ReplicaSet", rs)
    assert [str(e) for e in errs] == [
        "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"
    ]


def test_selector_expressions_are_validated_and_matched():
    sel = {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "api"]},
                                {"key": "tier", "operator": "DoesNotExist"}]}
    _, errs = create(apps, "Deployment", deployment(selector=sel))
    assert errs == []
    bad = {"matchExpressions": [{"key": "app", "operator": "In"}]}
    _, errs = create(apps, "Deployment", deployment(selector=bad))
    assert [str(e) for e in errs][0] == (
        "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'")


def statefulset(**spec):
    return {"metadata": {"name": "db", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "serviceName": "db",
                     "template": copy.deepcopy(POD_TEMPLATE), **spec}}


def test_statefulset_defaults_and_status():
    obj, errs = create(apps, "StatefulSet", statefulset(volumeClaimTemplates=[
        {"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}]))
    assert errs == []
    spec = obj["spec"]
    assert spec["podManagementPolicy"] == "OrderedReady"
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert spec["replicas"] == 1 and spec["revisionHistoryLimit"] == 10
    pvc = spec["volumeClaimTemplates"][0]
    assert pvc["apiVersion"] == "v1" and pvc["kind"] == "PersistentVolumeClaim"
    assert pvc["spec"]["volumeMode"] == "Filesystem" and pvc["status"] == {"phase": "Pending"}
    assert obj["status"] == {"replicas": 0, "availableReplicas": 0}
    assert info(apps, "StatefulSet").strategy.name_rule == "label"


def test_statefulset_forbids_updates_outside_the_mutable_fields():
    old, _ = create(apps, "StatefulSet", statefulset())
    new = copy.deepcopy(old)
    new["spec"]["serviceName"] = "other"
    new["spec"]["replicas"] = 5
    _, errs = update(apps, "StatefulSet", new, old)
    assert [str(e) for e in errs] == [
        "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
        "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
    ]


def test_statefulset_pod_management_policy_values():
    _, errs = create(apps, "StatefulSet", statefulset(podManagementPolicy="Sometimes"))
    assert [str(e) for e in errs] == [
        "spec.podManagementPolicy: Invalid value: \"Sometimes\": must be 'OrderedReady' or 'Parallel'"]


def daemonset(**spec):
    return {"metadata": {"name": "agent", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": copy.deepcopy(POD_TEMPLATE), **spec}}


def test_daemonset_defaults_status_and_template_generation():
    obj, errs = create(apps, "DaemonSet", daemonset())
    assert errs == []
    assert obj["spec"]["updateStrategy"] == {"type": "RollingUpdate",
                                             "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    assert obj["spec"]["revisionHistoryLimit"] == 10
    assert obj["metadata"]["annotations"] == {"deprecated.daemonset.template.generation": "1"}
    assert obj["status"] == {"currentNumberScheduled": 0, "desiredNumberScheduled": 0, "numberMisscheduled": 0,
                             "numberReady": 0}
    relabeled = copy.deepcopy(obj)
    relabeled["metadata"]["labels"] = {"x": "y"}
    same, _ = update(apps, "DaemonSet", relabeled, obj)
    assert same["metadata"]["annotations"]["deprecated.daemonset.template.generation"] == "1"
    changed = copy.deepcopy(obj)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    changed, errs = update(apps, "DaemonSet", changed, obj)
    assert errs == [] and changed["metadata"]["annotations"]["deprecated.daemonset.template.generation"] == "2"


def test_daemonset_rolling_update_needs_exactly_one_nonzero():
    _, errs = create(apps, "DaemonSet", daemonset(
        updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 1}}))
    assert [str(e) for e in errs] == [
        "spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:0, IntVal:1, StrVal:\"\"}: "
        "may not be set when maxUnavailable is non-zero"]
    _, errs = create(apps, "DaemonSet", daemonset(
        updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}}))
    assert [str(e) for e in errs] == [
        "spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0"]


def test_controllerrevision_requires_data_and_keeps_it():
    obj, errs = create(apps, "ControllerRevision", {"metadata": {"name": "r1"}, "revision": 1})
    assert [str(e) for e in errs] == ["data: Required value: data is mandatory"]
    old, _ = create(apps, "ControllerRevision", {"metadata": {"name": "r1"}, "revision": 1, "data": {"a": 1}})
    new = copy.deepcopy(old)
    new["data"] = {"a": 2}
    _, errs = update(apps, "ControllerRevision", new, old)
    assert [e.field for e in errs] == ["data"] and str(errs[0]).endswith("field is immutable")


# ------------------------------------------------------------------------------------------ batch

JOB_UID = "0b6f2d0a-7f3e-4a2b-9a51-2c1f2d0a7f3e"


def job(restart="Never", **spec):
    template = {"spec": {"containers": [{"name": "pi", "image": "perl"}], "restartPolicy": restart}}
    return {"metadata": {"name": "pi", "namespace": "default"}, "spec": {"template": template, **spec}}


def test_job_defaults_and_generated_selector():
    obj, errs = create(batch, "Job", job(), uid=JOB_UID)
    assert errs == []
    spec = obj["spec"]
    assert (spec["completions"], spec["parallelism"], spec["backoffLimit"]) == (1, 1, 6)
    assert spec["completionMode"] == "NonIndexed" and spec["suspend"] is False and spec["manualSelector"] is False
    assert spec["podReplacementPolicy"] == "TerminatingOrFailed"
    assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": JOB_UID}}
    expected_labels = {"batch.kubernetes.io/controller-uid": JOB_UID, "batch.kubernetes.io/job-name": "pi",
                       "controller-uid": JOB_UID, "job-name": "pi"}
    assert spec["template"]["metadata"]["labels"] == expected_labels
    assert obj["metadata"]["labels"] == expected_labels
    assert obj["status"] == {}


def test_job_parallelism_alone_leaves_completions_unset():
    obj, _ = create(batch, "Job", job(parallelism=3))
    assert obj["spec"]["parallelism"] == 3 and "completions" not in obj["spec"]


def test_job_keeps_its_own_labels():
    j = job()
    j["metadata"]["labels"] = {"team": "a"}
    obj, _ = create(batch, "Job", j)
    assert obj["metadata"]["labels"] == {"team": "a"}


def test_job_restart_policy_must_be_never_or_onfailure():
    j = job()
    del j["spec"]["template"]["spec"]["restartPolicy"]
    obj, errs = create(batch, "Job", j)
    assert message(batch, "Job", obj, errs) == (
        'Job.batch "pi" is invalid: spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"')


def test_job_template_is_immutable_but_parallelism_is_not():
    old, _ = create(batch, "Job", job(), uid=JOB_UID)
    scaled = copy.deepcopy(old)
    scaled["spec"]["parallelism"] = 4
    _, errs = update(batch, "Job", scaled, old)
    assert errs == []
    changed = copy.deepcopy(old)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "perl:2"
    _, errs = update(batch, "Job", changed, old)
    assert [e.field for e in errs] == ["spec.template"]
    assert str(errs[0]).startswith("spec.template: Invalid value: core.PodTemplateSpec{")
    assert str(errs[0]).endswith(": field is immutable")


def test_job_completions_are_immutable_for_nonindexed_jobs():
    old, _ = create(batch, "Job", job(), uid=JOB_UID)
    new = copy.deepcopy(old)
    new["spec"]["completions"] = 5
    _, errs = update(batch, "Job", new, old)
    assert [str(e) for e in errs] == ["spec.completions: Invalid value: 5: field is immutable"]


def test_job_manual_selector_must_match_template():
    j = job(manualSelector=True, selector={"matchLabels": {"app": "a"}})
    j["spec"]["template"]["metadata"] = {"labels": {"app": "b"}}
    obj, errs = create(batch, "Job", j)
    assert [str(e) for e in errs] == [
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"b"}: '
        "`selector` does not match template `labels`"]
    assert "controller-uid" not in obj["spec"]["template"]["metadata"]["labels"]


def test_job_conflicting_generated_label_is_rejected():
    j = job()
    j["spec"]["template"]["metadata"] = {"labels": {"job-name": "other"}}
    _, errs = create(batch, "Job", j, uid=JOB_UID)
    texts = [str(e) for e in errs]
    assert any(t.startswith("spec.template.metadata.labels[job-name]: Invalid value: map[string]string{") and
               t.endswith(": must be 'pi'") for t in texts)


def test_job_selectable_fields_include_status_successful():
    obj, _ = create(batch, "Job", job())
    obj["status"] = {"succeeded": 2}
    assert info(batch, "Job").strategy.selectable_fields(obj) == {"status.successful": "2"}


def cronjob(schedule="*/1 * * * *", name="hello", **spec):
    jt = {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}],
                                         "restartPolicy": "OnFailure"}}}}
    return {"metadata": {"name": name, "namespace": "default"},
            "spec": {"schedule": schedule, "jobTemplate": jt, **spec}}


def test_cronjob_defaults():
    obj, errs = create(batch, "CronJob", cronjob())
    assert errs == []
    spec = obj["spec"]
    assert (spec["concurrencyPolicy"], spec["suspend"]) == ("Allow", False)
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 1)
    assert spec["jobTemplate"]["metadata"] == {"creationTimestamp": None}
    assert "parallelism" not in spec["jobTemplate"]["spec"]
    assert obj["status"] == {}


@pytest.mark.parametrize(
    ("schedule", "detail"),
    [
        ("x", "expected exactly 5 fields, found 1: [x]"),
        ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
        ("60 * * * *", "end of range (60) above maximum (59): 60"),
        ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
        ("5-2 * * * *", "beginning of range (5) beyond end of range (2): 5-2"),
        ("*/0 * * * *", "step of range should be a positive number: */0"),
        ("a * * * *", 'failed to parse int from a: strconv.Atoi: parsing "a": invalid syntax'),
        ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
        ("@every 1d", 'failed to parse duration @every 1d: time: unknown unit "d" in duration "1d"'),
        ("@sometimes", "unrecognized descriptor: @sometimes"),
    ],
)
def test_cronjob_schedule_errors_read_as_robfig_cron_reports_them(schedule, detail):
    obj, errs = create(batch, "CronJob", cronjob(schedule))
    assert message(batch, "CronJob", obj, errs) == (
        f'CronJob.batch "hello" is invalid: spec.schedule: Invalid value: "{schedule}": {detail}')


@pytest.mark.parametrize("schedule", ["*/5 * * * *", "0 0 1 jan,jul MON-FRI", "@hourly", "@every 1h30m", "0 */2 * * ?",
                                      "15,45 8-18/2 * * 1-5"])
def test_cronjob_accepts_standard_schedules(schedule):
    assert create(batch, "CronJob", cronjob(schedule))[1] == []


def test_cronjob_rejects_tz_in_schedule_and_long_names():
    _, errs = create(batch, "CronJob", cronjob("TZ=UTC 0 * * * *"))
    assert [str(e) for e in errs] == [
        'spec.schedule: Invalid value: "TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field '
        "instead"]
    _, errs = create(batch, "CronJob", cronjob(name="a" * 53))
    assert [str(e) for e in errs] == [f'metadata.name: Invalid value: "{"a" * 53}": must be no more than 52 characters']


def test_cronjob_time_zone_must_exist():
    _, errs = create(batch, "CronJob", cronjob(timeZone="Mars/Olympus"))
    assert [str(e) for e in errs] == ['spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus']
    assert create(batch, "CronJob", cronjob(timeZone="Europe/Paris"))[1] == []


def test_cronjob_job_template_selector_is_generated_later():
    c = cronjob()
    c["spec"]["jobTemplate"]["spec"]["selector"] = {"matchLabels": {"a": "b"}}
    _, errs = create(batch, "CronJob", c)
    assert [str(e) for e in errs] == [
        'spec.jobTemplate.spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"a":"b"}, '
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: `selector` will be auto-generated"]


# ------------------------------------------------------------------------------------ autoscaling


def hpa_v2(**spec):
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                     "maxReplicas": 5, **spec}}


def test_hpa_v2_defaults_cpu_metric_and_fills_given_behavior():
    obj, errs = create(autoscaling, "HorizontalPodAutoscaler", hpa_v2(behavior={"scaleDown": {
        "stabilizationWindowSeconds": 60}}), version="v2")
    assert errs == []
    assert obj["spec"]["minReplicas"] == 1
    assert obj["spec"]["metrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]
    assert obj["spec"]["behavior"] == {
        "scaleDown": {"stabilizationWindowSeconds": 60, "selectPolicy": "Max",
                      "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]},
        "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                    "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                                 {"type": "Percent", "value": 100, "periodSeconds": 15}]},
    }


def test_hpa_v2_without_behavior_gets_none():
    obj, _ = create(autoscaling, "HorizontalPodAutoscaler", hpa_v2(), version="v2")
    assert "behavior" not in obj["spec"]


def test_hpa_validation_messages():
    _, errs = create(autoscaling, "HorizontalPodAutoscaler", hpa_v2(minReplicas=3, maxReplicas=2), version="v2")
    assert [str(e) for e in errs] == ["spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`"]
    _, errs = create(autoscaling, "HorizontalPodAutoscaler", hpa_v2(metrics=[
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization"}}}]), version="v2")
    assert [str(e) for e in errs] == [
        "spec.metrics[0].resource.target.averageUtilization: Required value: must set either a target raw value or a "
        "target utilization"]
    ref_missing = hpa_v2()
    ref_missing["spec"]["scaleTargetRef"] = {}
    _, errs = create(autoscaling, "HorizontalPodAutoscaler", ref_missing, version="v2")
    assert [str(e) for e in errs] == ["spec.scaleTargetRef.kind: Required value",
                                      "spec.scaleTargetRef.name: Required value"]


def test_hpa_v1_target_cpu_is_the_v2_cpu_utilization_metric():
    v1 = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
          "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 4,
                   "targetCPUUtilizationPercentage": 50}}
    obj, errs = create(autoscaling, "HorizontalPodAutoscaler", v1, version="v1")
    assert errs == [] and obj["status"] == {"currentReplicas": 0, "desiredReplicas": 0}
    stored = autoscaling.to_storage(obj)
    assert stored["apiVersion"] == "autoscaling/v2"
    assert stored["spec"]["minReplicas"] == 1
    assert stored["spec"]["metrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]
    back = autoscaling.from_storage(stored)
    assert back["spec"] == obj["spec"] and back["apiVersion"] == "autoscaling/v1"
    assert "annotations" not in back["metadata"]


def test_hpa_v1_without_target_reads_back_the_default_80_percent():
    v1 = {"metadata": {"name": "web"}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"},
                                                "maxReplicas": 4}}
    obj, _ = create(autoscaling, "HorizontalPodAutoscaler", v1, version="v1")
    assert autoscaling.from_storage(autoscaling.to_storage(obj))["spec"]["targetCPUUtilizationPercentage"] == 80


def test_hpa_v2_only_fields_round_trip_through_v1_annotations():
    v2, _ = create(autoscaling, "HorizontalPodAutoscaler", hpa_v2(
        metrics=[{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                             "averageUtilization": 60}}},
                 {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue",
                                                                                "averageValue": "100Mi"}}}],
        behavior={"scaleUp": {"selectPolicy": "Min"}}), version="v2")
    v2["status"] = {"currentReplicas": 2, "desiredReplicas": 3, "currentMetrics": [
        {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 42, "averageValue": "120m"}}}],
        "conditions": [{"type": "AbleToScale", "status": "True"}]}
    v1 = autoscaling.from_storage(v2)
    ann = v1["metadata"]["annotations"]
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 60
    assert v1["status"] == {"currentReplicas": 2, "desiredReplicas": 3, "currentCPUUtilizationPercentage": 42}
    assert ann["autoscaling.alpha.kubernetes.io/metrics"] == (
        '[{"type":"Resource","resource":{"name":"memory","targetAverageValue":"100Mi"}}]')
    assert '"SelectPolicy":"Min"' in ann["autoscaling.alpha.kubernetes.io/behavior"]
    again = autoscaling.to_storage(v1)
    assert again["spec"] == v2["spec"]
    assert again["status"]["currentMetrics"] == v2["status"]["currentMetrics"]
    assert again["status"]["conditions"] == v2["status"]["conditions"]
    assert "annotations" not in again["metadata"]


# ------------------------------------------------------------------------------------- networking


def ingress(**spec):
    return {"metadata": {"name": "web", "namespace": "default"}, "spec": spec}


def test_ingress_needs_rules_or_default_backend():
    obj, errs = create(networking, "Ingress", ingress())
    assert message(networking, "Ingress", obj, errs) == (
        'Ingress.networking.k8s.io "web" is invalid: spec: Invalid value: []networking.IngressRule(nil): either '
        "`defaultBackend` or `rules` must be specified")
    assert obj["status"] == {"loadBalancer": {}}


def test_ingress_path_rules():
    backend = {"service": {"name": "web", "port": {"number": 80}}}
    _, errs = create(networking, "Ingress", ingress(rules=[{"host": "example.com", "http": {"paths": [
        {"path": "/", "backend": backend},
        {"path": "api", "pathType": "Prefix", "backend": backend},
        {"path": "/x", "pathType": "Exact", "backend": {"service": {"name": "web", "port": {}}}},
    ]}}]))
    assert [str(e) for e in errs] == [
        "spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified",
        'spec.rules[0].http.paths[1].path: Invalid value: "api": must be an absolute path',
        "spec.rules[0].http.paths[2].backend: Required value: port name or number is required",
    ]


def test_ingress_host_may_not_be_an_ip_and_wildcards_are_checked():
    backend = {"service": {"name": "web", "port": {"name": "http"}}}
    rule = {"http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]}}
    _, errs = create(networking, "Ingress", ingress(rules=[{**rule, "host": "*.example.com"}]))
    assert errs == []
    _, errs = create(networking, "Ingress", ingress(rules=[{**rule, "host": "10.0.0.1"}]))
    assert 'spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address' in [str(e) for e in errs]


def test_networkpolicy_defaults_policy_types_and_port_protocol():
    np = {"metadata": {"name": "deny", "namespace": "default"},
          "spec": {"podSelector": {}, "egress": [{"ports": [{"port": 53}]}]}}
    obj, errs = create(networking, "NetworkPolicy", np)
    assert errs == []
    assert obj["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert obj["spec"]["egress"][0]["ports"][0]["protocol"] == "TCP"


def test_networkpolicy_peer_and_ipblock_validation():
    np = {"metadata": {"name": "p", "namespace": "default"}, "spec": {"podSelector": {}, "ingress": [{"from": [
        {}, {"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.1.0.0/24"]}},
        {"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}]}]}}
    _, errs = create(networking, "NetworkPolicy", np)
    assert [str(e) for e in errs] == [
        "spec.ingress[0].from[0]: Required value: must specify a peer",
        'spec.ingress[0].from[1].ipBlock.except[0]: Invalid value: "10.1.0.0/24": must be a strict subset of `cidr`',
        "spec.ingress[0].from[2]: Forbidden: may not specify both ipBlock and another peer",
    ]


def test_ingressclass_controller_is_a_domain_prefixed_path_and_immutable():
    _, errs = create(networking, "IngressClass", {"metadata": {"name": "nginx"}, "spec": {"controller": "nginx"}})
    assert [str(e) for e in errs] == [
        'spec.controller: Invalid value: "nginx": must be a domain-prefixed path (such as "acme.io/foo")']
    old, errs = create(networking, "IngressClass", {"metadata": {"name": "nginx"}, "spec": {
        "controller": "k8s.io/ingress-nginx", "parameters": {"kind": "P", "name": "p"}}})
    assert errs == [] and old["spec"]["parameters"]["scope"] == "Cluster"
    new = copy.deepcopy(old)
    new["spec"]["controller"] = "example.com/other"
    _, errs = update(networking, "IngressClass", new, old)
    assert [str(e) for e in errs] == ['spec.controller: Invalid value: "example.com/other": field is immutable']


# ---------------------------------------------------------------------------- policy, rbac, others


def test_pdb_min_and_max_are_exclusive_and_status_starts_at_zero():
    obj, errs = create(policy, "PodDisruptionBudget", {"metadata": {"name": "p", "namespace": "default"}, "spec": {
        "minAvailable": "50%", "selector": {"matchLabels": {"app": "web"}}}})
    assert errs == []
    assert obj["status"] == {"currentHealthy": 0, "desiredHealthy": 0, "disruptionsAllowed": 0, "expectedPods": 0}
    _, errs = create(policy, "PodDisruptionBudget", {"metadata": {"name": "p"}, "spec": {
        "minAvailable": 1, "maxUnavailable": "150%"}})
    texts = [str(e) for e in errs]
    assert texts[0].startswith("spec: Invalid value: policy.PodDisruptionBudgetSpec{")
    assert texts[0].endswith(": minAvailable and maxUnavailable cannot be both set")
    assert texts[1] == ('spec.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"150%"}: '
                        "must not be greater than 100%")


def test_rbac_rules_need_verbs_groups_and_resources():
    obj, errs = create(rbac, "Role", {"metadata": {"name": "r", "namespace": "default"}, "rules": [{}]})
    assert message(rbac, "Role", obj, errs) == (
        'Role.rbac.authorization.k8s.io "r" is invalid: [rules[0].verbs: Required value: verbs must contain at least '
        "one value, rules[0].apiGroups: Required value: resource rules must supply at least one api group, "
        "rules[0].resources: Required value: resource rules must supply at least one resource]")
    _, errs = create(rbac, "Role", {"metadata": {"name": "r"}, "rules": [{"verbs": ["get"], "nonResourceURLs": ["/x"]}]})
    assert [str(e) for e in errs] == [
        'rules[0].nonResourceURLs: Invalid value: []string{"/x"}: namespaced rules cannot apply to non-resource URLs']
    assert info(rbac, "ClusterRole").strategy.name_rule == "path"


def test_rbac_binding_defaults_and_immutable_role_ref():
    rb = {"metadata": {"name": "b", "namespace": "default"}, "roleRef": {"kind": "Role", "name": "r"},
          "subjects": [{"kind": "User", "name": "alice"}, {"kind": "ServiceAccount", "name": "sa"}]}
    old, errs = create(rbac, "RoleBinding", rb)
    assert errs == []
    assert old["roleRef"]["apiGroup"] == "rbac.authorization.k8s.io"
    assert old["subjects"][0]["apiGroup"] == "rbac.authorization.k8s.io" and "apiGroup" not in old["subjects"][1]
    new = copy.deepcopy(old)
    new["roleRef"]["name"] = "other"
    _, errs = update(rbac, "RoleBinding", new, old)
    assert [str(e) for e in errs] == [
        'roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"Role", Name:"other"}: '
        "cannot change roleRef"]
    _, errs = create(rbac, "ClusterRoleBinding", {**rb, "roleRef": {"kind": "Role", "name": "r"}})
    assert [str(e) for e in errs] == [
        'roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"',
        "subjects[1].namespace: Required value"]


def test_storageclass_defaults_and_frozen_fields():
    old, errs = create(storage_k8s_io, "StorageClass", {"metadata": {"name": "fast"}, "provisioner": "example.com/x"})
    assert errs == [] and (old["reclaimPolicy"], old["volumeBindingMode"]) == ("Delete", "Immediate")
    new = copy.deepcopy(old)
    new["parameters"] = {"type": "ssd"}
    new["reclaimPolicy"] = "Retain"
    _, errs = update(storage_k8s_io, "StorageClass", new, old)
    assert [str(e) for e in errs] == ["parameters: Forbidden: updates to parameters are forbidden.",
                                      "reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden."]


def test_priorityclass_defaults_and_limits():
    obj, errs = create(scheduling, "PriorityClass", {"metadata": {"name": "high"}, "value": 1000})
    assert errs == [] and obj["preemptionPolicy"] == "PreemptLowerPriority"
    _, errs = create(scheduling, "PriorityClass", {"metadata": {"name": "huge"}, "value": 1_000_000_001})
    assert [str(e) for e in errs] == ["value: Forbidden: maximum allowed value of a user defined priority is 1000000000"]
    _, errs = create(scheduling, "PriorityClass", {"metadata": {"name": "system-mine"}, "value": 1})
    assert [str(e) for e in errs] == [
        "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. "
        "error: system-mine is not a known system priority class"]
    new = copy.deepcopy(obj)
    new["value"] = 5
    _, errs = update(scheduling, "PriorityClass", new, obj)
    assert [str(e) for e in errs] == ["value: Forbidden: may not be changed in an update."]


def test_lease_durations():
    _, errs = create(coordination, "Lease", {"metadata": {"name": "l"}, "spec": {"leaseDurationSeconds": 0,
                                                                                 "leaseTransitions": -1}})
    assert [str(e) for e in errs] == ["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
                                      "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0"]


def test_endpointslice_defaults_ports_and_checks_addresses():
    obj, errs = create(discovery, "EndpointSlice", {
        "metadata": {"name": "web-abc", "namespace": "default"}, "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.1.2.3"]}, {"addresses": ["127.0.0.1"]}, {"addresses": []}],
        "ports": [{"port": 80}]})
    assert obj["ports"] == [{"port": 80, "name": "", "protocol": "TCP"}]
    assert [str(e) for e in errs] == [
        'endpoints[1].addresses[0]: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)',
        "endpoints[2].addresses: Required value: must contain at least 1 address",
    ]
    _, errs = create(discovery, "EndpointSlice", {"metadata": {"name": "e"}, "addressType": "IP"})
    assert [str(e) for e in errs] == ['addressType: Unsupported value: "IP": supported values: "FQDN", "IPv4", "IPv6"']


def test_events_k8s_io_requires_the_new_fields():
    obj, errs = create(events, "Event", {"metadata": {"name": "e.1", "namespace": "default"},
                                         "eventTime": "2024-01-01T00:00:00.000000Z", "type": "Sideways",
                                         "regarding": {"kind": "Pod", "name": "p", "namespace": "default"}})
    texts = [str(e) for e in errs]
    assert texts[0] == "reportingController: Required value"
    assert texts[0:1] + [t for t in texts if not t.startswith("reportingController: Invalid")][1:] == [
        "reportingController: Required value",
        "reportingInstance: Required value",
        "action: Required value",
        "reason: Required value",
        'type: Invalid value: "": has invalid value: Sideways',
    ]
    assert events.from_core_event(events.to_core_event(obj))["regarding"] == obj["regarding"]


# ------------------------------------------------------------------------------------------- CRDs


def crd(name="widgets.example.com", group="example.com", versions=None, **names):
    schema = {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object"}}}}
    return {"metadata": {"name": name}, "spec": {
        "group": group, "scope": "Namespaced",
        "names": {"plural": "widgets", "kind": "Widget", **names},
        "versions": versions if versions is not None else [
            {"name": "v1", "served": True, "storage": True, "schema": schema}]}}


def test_crd_defaults_and_initial_status():
    obj, errs = create(apiextensions, "CustomResourceDefinition", crd())
    assert errs == []
    assert obj["spec"]["names"]["singular"] == "widget" and obj["spec"]["names"]["listKind"] == "WidgetList"
    assert obj["spec"]["conversion"] == {"strategy": "None"}
    assert obj["status"] == {"acceptedNames": {"kind": "", "plural": ""}, "storedVersions": ["v1"]}


def test_crd_name_must_be_plural_dot_group_and_group_needs_a_dot():
    obj, errs = create(apiextensions, "CustomResourceDefinition", crd(name="widgets.example", group="example"))
    assert [str(e) for e in errs] == [
        'spec.group: Invalid value: "example": should be a domain with at least one dot']
    obj, errs = create(apiextensions, "CustomResourceDefinition", crd(name="gadgets.example.com"))
    assert message(apiextensions, "CustomResourceDefinition", obj, errs) == (
        'CustomResourceDefinition.apiextensions.k8s.io "gadgets.example.com" is invalid: metadata.name: Invalid value: '
        '"gadgets.example.com": must be spec.names.plural+"."+spec.group')


def test_crd_needs_exactly_one_storage_version_and_schemas():
    obj, errs = create(apiextensions, "CustomResourceDefinition", crd(versions=[
        {"name": "v1", "served": True, "storage": False}]))
    assert [str(e) for e in errs] == [
        "spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required",
        'spec.versions: Invalid value: []apiextensions.CustomResourceDefinitionVersion{apiextensions.'
        'CustomResourceDefinitionVersion{Name:"v1", Served:true, Storage:false}}: must have exactly one version marked '
        "as storage version",
        "status.storedVersions: Invalid value: []string(nil): must have at least one stored version",
    ]


def test_crd_schema_must_be_structural():
    schema = {"openAPIV3Schema": {"properties": {"spec": {"properties": {"size": {"type": "integer"}}},
                                                 "tags": {"type": "array"}}}}
    _, errs = create(apiextensions, "CustomResourceDefinition", crd(versions=[
        {"name": "v1", "served": True, "storage": True, "schema": schema}]))
    assert [str(e) for e in errs] == [
        "spec.versions[0].schema.openAPIV3Schema.type: Required value: must not be empty at the root",
        "spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified "
        "object fields",
        "spec.versions[0].schema.openAPIV3Schema.properties[tags].items: Required value: must be specified",
    ]


def test_crd_kube_groups_need_api_approval_and_names_are_checked():
    _, errs = create(apiextensions, "CustomResourceDefinition", crd(name="widgets.x.k8s.io", group="x.k8s.io"))
    assert [str(e) for e in errs] == [
        'metadata.annotations[api-approved.kubernetes.io]: Required value: protected groups must have approval '
        'annotation "api-approved.kubernetes.io", see https://github.com/kubernetes/enhancements/pull/1111']
    _, errs = create(apiextensions, "CustomResourceDefinition", crd(listKind="Widget"))
    assert [str(e) for e in errs] == ['spec.names.listKind: Invalid value: "Widget": kind and listKind may not be the same']


def test_crd_update_records_new_storage_version_and_bumps_generation():
    old, _ = create(apiextensions, "CustomResourceDefinition", crd())
    schema = old["spec"]["versions"][0]["schema"]
    new = copy.deepcopy(old)
    new["spec"]["versions"] = [{"name": "v1", "served": True, "storage": False, "schema": schema},
                               {"name": "v2", "served": True, "storage": True, "schema": schema}]
    new, errs = update(apiextensions, "CustomResourceDefinition", new, old)
    assert errs == [] and new["status"]["storedVersions"] == ["v1", "v2"]
    assert info(apiextensions, "CustomResourceDefinition").strategy.generation_changed(new, old)


def test_apiservice_name_must_be_version_dot_group():
    obj, errs = create(apiregistration, "APIService", {"metadata": {"name": "v1.wrong.io"}, "spec": {
        "group": "metrics.k8s.io", "version": "v1beta1", "groupPriorityMinimum": 100, "versionPriority": 100,
        "service": {"namespace": "kube-system", "name": "metrics-server"}}})
    assert [str(e) for e in errs] == [
        'metadata.name: Invalid value: "v1.wrong.io": must be `spec.version+"."+spec.group`: "v1beta1.metrics.k8s.io"']
    assert obj["spec"]["service"]["port"] == 443 and obj["status"] == {}


# ----------------------------------------------------------------------------------- more edges


def test_daemonset_without_selector_reports_the_template_mismatch():
    ds = daemonset()
    del ds["spec"]["selector"]
    _, errs = create(apps, "DaemonSet", ds)
    assert [str(e) for e in errs] == [
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: '
        "`selector` does not match template `labels`"]


def test_indexed_job_needs_completions_and_a_dns_label_hostname():
    _, errs = create(batch, "Job", job(completionMode="Indexed", parallelism=2))
    assert "spec.completions: Required value: when completion mode is Indexed" in [str(e) for e in errs]
    j = job(completionMode="Indexed", completions=3)
    j["metadata"]["name"] = "a" * 62
    _, errs = create(batch, "Job", j)
    assert [str(e) for e in errs] == [
        f'metadata.name: Invalid value: "{"a" * 62}": will not able to create pod with invalid DNS label: {"a" * 62}-2']


def test_job_update_validates_new_labels_only_when_the_old_job_had_them():
    old, _ = create(batch, "Job", job(), uid=JOB_UID)
    legacy = copy.deepcopy(old)
    for key in ("batch.kubernetes.io/job-name", "batch.kubernetes.io/controller-uid"):
        del legacy["spec"]["template"]["metadata"]["labels"][key]
    legacy["spec"]["selector"] = {"matchLabels": {"controller-uid": JOB_UID}}
    new = copy.deepcopy(legacy)
    new["spec"]["suspend"] = True
    _, errs = update(batch, "Job", new, legacy)
    assert errs == []


def test_hpa_v1_is_validated_on_its_v2_form():
    v1 = {"metadata": {"name": "web"}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"},
                                                "maxReplicas": 2, "targetCPUUtilizationPercentage": 0}}
    _, errs = create(autoscaling, "HorizontalPodAutoscaler", v1, version="v1")
    assert [str(e) for e in errs] == [
        "spec.metrics[0].resource.target.averageUtilization: Invalid value: 0: must be greater than 0"]


def test_hpa_behavior_policies_are_checked():
    _, errs = create(autoscaling, "HorizontalPodAutoscaler", hpa_v2(behavior={"scaleUp": {
        "selectPolicy": "Most", "policies": [{"type": "Pods", "value": 0, "periodSeconds": 1801}]}}), version="v2")
    assert [str(e) for e in errs] == [
        'spec.behavior.scaleUp.selectPolicy: Unsupported value: "Most": supported values: "Disabled", "Max", "Min"',
        "spec.behavior.scaleUp.policies[0].value: Invalid value: 0: must be greater than zero",
        "spec.behavior.scaleUp.policies[0].periodSeconds: Invalid value: 1801: must be less than or equal to 1800",
    ]


def test_events_k8s_io_note_and_reason_cannot_change():
    ev = {"metadata": {"name": "e.1", "namespace": "default"}, "eventTime": "2024-01-01T00:00:00.000000Z",
          "type": "Normal", "reportingController": "example.com/c", "reportingInstance": "i", "action": "A",
          "reason": "R", "note": "hello", "regarding": {"kind": "Pod", "name": "p", "namespace": "default"}}
    old, errs = create(events, "Event", ev)
    assert errs == []
    new = copy.deepcopy(old)
    new["note"] = "changed"
    _, errs = update(events, "Event", new, old)
    assert [str(e) for e in errs] == ['message: Invalid value: "changed": field is immutable']


def test_endpointslice_address_type_is_immutable_and_generation_tracks_endpoints():
    old, _ = create(discovery, "EndpointSlice", {"metadata": {"name": "e"}, "addressType": "IPv4", "endpoints": []})
    new = copy.deepcopy(old)
    new["addressType"] = "IPv6"
    _, errs = update(discovery, "EndpointSlice", new, old)
    assert [str(e) for e in errs] == ['addressType: Invalid value: "IPv6": field is immutable']
    moved = copy.deepcopy(old)
    moved["endpoints"] = [{"addresses": ["10.0.0.9"]}]
    assert info(discovery, "EndpointSlice").strategy.generation_changed(moved, old)


def test_cleared_immutable_field_prints_null_as_upstream():
    old, _ = create(networking, "IngressClass", {"metadata": {"name": "c"}, "spec": {"controller": "k8s.io/x"}})
    new = copy.deepcopy(old)
    del new["spec"]["controller"]
    _, errs = update(networking, "IngressClass", new, old)
    assert 'spec.controller: Invalid value: "null": field is immutable' in [str(e) for e in errs]
