"""core/v1 strategies called directly: the defaults, messages and allocations a real cluster shows."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest

from facade.errors import APIError
from facade.kinds import core_quantity
from facade.kinds.core import RESOURCES
from facade.kinds.core_cluster import NamespaceStrategy, NodeStrategy
from facade.kinds.core_config import ConfigMapStrategy, SecretStrategy
from facade.kinds.core_misc import BindingStrategy, EventStrategy, LimitRangeStrategy, apply_binding
from facade.kinds.core_pod import default_pod_spec, pod_qos_class, validate_pod_spec
from facade.kinds.core_pod_strategy import PodStrategy
from facade.kinds.core_service import ServiceStrategy
from facade.kinds.core_volumes import PersistentVolumeClaimStrategy, PersistentVolumeStrategy
from facade.kinds.core_workloads import PodTemplateStrategy, ReplicationControllerStrategy


class FakeStore:
    """The ``ctx`` a strategy receives: ``list_all(store_key)`` over plain dicts."""

    def __init__(self, **items: list[dict]) -> None:
        self.items: dict[str, list[dict]] = {k.replace("_", "."): v for k, v in items.items()}

    async def list_all(self, store_key: str) -> list[dict]:
        await asyncio.sleep(0)  # a real store awaits; let racing creates interleave here
        return copy.deepcopy(self.items.get(store_key, []))


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def messages(errs: list) -> list[str]:
    return [str(e) for e in errs]


def pod(spec: dict | None = None, name: str = "p", **meta: Any) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default", **meta},
            "spec": spec if spec is not None else {"containers": [{"name": "c", "image": "nginx"}]}}


def created_pod(spec: dict | None = None) -> dict:
    s = PodStrategy()
    p = pod(spec)
    s.defaults(p)
    s.prepare_for_create(p)
    return p


def service(spec: dict, name: str = "web") -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"}, "spec": spec}


# -- the table ----------------------------------------------------------------------------------------


def test_core_resources_have_upstream_names_short_names_and_scope():
    by_plural = {r.plural: r for r in RESOURCES}
    assert by_plural["pods"].short_names == ("po",) and by_plural["pods"].categories == ("all",)
    assert by_plural["services"].short_names == ("svc",)
    assert by_plural["persistentvolumeclaims"].short_names == ("pvc",)
    assert by_plural["resourcequotas"].short_names == ("quota",)
    assert by_plural["limitranges"].short_names == ("limits",)
    assert not by_plural["namespaces"].namespaced and not by_plural["nodes"].namespaced
    assert not by_plural["persistentvolumes"].namespaced
    assert "deletecollection" not in by_plural["namespaces"].verbs
    assert "deletecollection" not in by_plural["services"].verbs
    assert by_plural["bindings"].verbs == ("create",)
    assert "finalize" in by_plural["namespaces"].subresources
    assert {"binding", "eviction", "log", "exec"} <= set(by_plural["pods"].subresources)
    assert [r.plural for r in RESOURCES] == sorted(r.plural for r in RESOURCES)


# -- quantities ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw,canonical",
    [("0.5", "500m"), ("1000m", "1"), ("1024Mi", "1Gi"), ("1.5Gi", "1536Mi"), ("2000", "2k"), ("100Mi", "100Mi"),
     ("0.5Ki", "512"), ("1e3", "1e3"), ("128974848", "128974848"), (1, "1"), (0.25, "250m"), ("0", "0")],
)
def test_quantities_are_written_back_canonically(raw, canonical):
    assert core_quantity.canonicalize(raw) == canonical


def test_resource_lists_round_up_to_milli():
    res = {"cpu": "0.0001", "memory": "1.5"}
    core_quantity.canonicalize_list(res)
    assert res == {"cpu": "1m", "memory": "1500m"}


def test_an_invalid_quantity_reports_upstreams_regex():
    errs = PodStrategy().validate(created_pod({"containers": [
        {"name": "c", "image": "nginx", "resources": {"limits": {"cpu": "abc"}}}]}))
    assert "spec.containers[0].resources.limits[cpu]: Invalid value: \"abc\": quantities must match the regular " \
           "expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'" in messages(errs)


# -- pod defaults ---------------------------------------------------------------------------------------


def test_pod_spec_defaults_match_a_real_cluster():
    p = created_pod()
    spec = p["spec"]
    assert spec["restartPolicy"] == "Always"
    assert spec["dnsPolicy"] == "ClusterFirst"
    assert spec["schedulerName"] == "default-scheduler"
    assert spec["terminationGracePeriodSeconds"] == 30
    assert spec["securityContext"] == {}
    assert spec["enableServiceLinks"] is True
    c = spec["containers"][0]
    assert c["imagePullPolicy"] == "Always"
    assert c["terminationMessagePath"] == "/dev/termination-log"
    assert c["terminationMessagePolicy"] == "File"
    assert c["resources"] == {}
    assert p["status"] == {"phase": "Pending", "qosClass": "BestEffort"}


@pytest.mark.parametrize(
    "image,policy",
    [("nginx", "Always"), ("nginx:latest", "Always"), ("nginx:1.27", "IfNotPresent"),
     ("localhost:5000/app", "Always"), ("localhost:5000/app:v1", "IfNotPresent"),
     ("nginx@sha256:" + "a" * 64, "IfNotPresent")],
)
def test_image_pull_policy_follows_the_tag(image, policy):
    spec = {"containers": [{"name": "c", "image": image}]}
    default_pod_spec(spec)
    assert spec["containers"][0]["imagePullPolicy"] == policy


def test_nested_defaults_of_ports_env_probes_and_volumes():
    spec = {
        "containers": [{
            "name": "c", "image": "nginx:1",
            "ports": [{"containerPort": 80}],
            "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
            "readinessProbe": {"httpGet": {"port": 80}},
            "livenessProbe": {"grpc": {"port": 9000}},
        }],
        "volumes": [{"name": "cm", "configMap": {"name": "x"}}, {"name": "scratch"},
                    {"name": "host", "hostPath": {"path": "/tmp"}},
                    {"name": "tok", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}}],
    }
    default_pod_spec(spec)
    c = spec["containers"][0]
    assert c["ports"][0]["protocol"] == "TCP"
    assert c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"] == "v1"
    assert c["readinessProbe"] == {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
                                   "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}
    assert c["livenessProbe"]["grpc"]["service"] == ""
    vols = {v["name"]: v for v in spec["volumes"]}
    assert vols["cm"]["configMap"]["defaultMode"] == 420
    assert vols["scratch"]["emptyDir"] == {}
    assert vols["host"]["hostPath"]["type"] == ""
    assert vols["tok"]["projected"]["defaultMode"] == 420
    assert vols["tok"]["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"] == 3600


def test_pods_copy_limits_into_requests_but_templates_do_not():
    limits = {"cpu": "0.5", "memory": "128Mi"}
    p = created_pod({"containers": [{"name": "c", "image": "nginx", "resources": {"limits": dict(limits)}}]})
    assert p["spec"]["containers"][0]["resources"] == {"limits": {"cpu": "500m", "memory": "128Mi"},
                                                       "requests": {"cpu": "500m", "memory": "128Mi"}}
    assert p["status"]["qosClass"] == "Guaranteed"
    template_spec = {"containers": [{"name": "c", "image": "nginx", "resources": {"limits": dict(limits)}}]}
    default_pod_spec(template_spec)
    assert "requests" not in template_spec["containers"][0]["resources"]
    assert "enableServiceLinks" not in template_spec


def test_qos_class_is_burstable_with_requests_only():
    assert pod_qos_class({"containers": [{"resources": {"requests": {"memory": "1Gi"}}}]}) == "Burstable"


def test_create_adds_default_tolerations_and_the_service_account_token_volume():
    p = created_pod()
    spec = p["spec"]
    assert spec["tolerations"] == [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
    ]
    assert spec["serviceAccountName"] == "default" and spec["serviceAccount"] == "default"
    vol = spec["volumes"][0]
    assert vol["name"].startswith("kube-api-access-") and len(vol["name"]) == len("kube-api-access-") + 5
    assert vol["projected"]["sources"][0] == {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}
    assert spec["containers"][0]["volumeMounts"] == [
        {"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "name": vol["name"], "readOnly": True}]


def test_automount_false_on_the_pod_adds_no_token_volume():
    p = created_pod({"automountServiceAccountToken": False, "containers": [{"name": "c", "image": "nginx"}]})
    assert "volumes" not in p["spec"]


def test_an_existing_toleration_for_not_ready_is_kept_and_not_duplicated():
    p = created_pod({"containers": [{"name": "c", "image": "nginx"}],
                     "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}]})
    keys = [t["key"] for t in p["spec"]["tolerations"]]
    assert keys == ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"]


def test_priority_admission_sets_priority_zero_and_preemption_policy():
    p = created_pod()
    run(PodStrategy().before_create(p, FakeStore()))
    assert p["spec"]["priority"] == 0
    assert p["spec"]["preemptionPolicy"] == "PreemptLowerPriority"


def test_an_unknown_priority_class_is_forbidden():
    p = created_pod({"priorityClassName": "nope", "containers": [{"name": "c", "image": "nginx"}]})
    with pytest.raises(APIError) as e:
        run(PodStrategy().before_create(p, FakeStore()))
    assert e.value.code == 403
    assert e.value.message == 'pods "p" is forbidden: no PriorityClass with name nope was found'


def test_system_priority_classes_are_known():
    p = created_pod({"priorityClassName": "system-node-critical", "containers": [{"name": "c", "image": "nginx"}]})
    run(PodStrategy().before_create(p, FakeStore()))
    assert p["spec"]["priority"] == 2000001000


def test_a_missing_service_account_is_forbidden_when_accounts_exist():
    sa = {"metadata": {"name": "default", "namespace": "default"}}
    p = created_pod({"serviceAccountName": "robot", "containers": [{"name": "c", "image": "nginx"}]})
    with pytest.raises(APIError) as e:
        run(PodStrategy().before_create(p, FakeStore(serviceaccounts=[sa])))
    assert e.value.message == ('pods "p" is forbidden: error looking up service account default/robot: '
                               'serviceaccount "robot" not found')


def test_a_service_account_opting_out_of_automount_removes_the_token_volume():
    sa = {"metadata": {"name": "default", "namespace": "default"}, "automountServiceAccountToken": False}
    p = created_pod()
    run(PodStrategy().before_create(p, FakeStore(serviceaccounts=[sa])))
    assert "volumes" not in p["spec"] and "volumeMounts" not in p["spec"]["containers"][0]


# -- pod validation -------------------------------------------------------------------------------------


def validate_pod(spec: dict) -> list[str]:
    return messages(PodStrategy().validate(created_pod(spec)))


def test_pod_without_containers_is_invalid():
    assert validate_pod({"containers": []}) == ["spec.containers: Required value"]


def test_container_name_rules():
    errs = validate_pod({"containers": [{"name": "Web", "image": "nginx"}, {"name": "a", "image": "x"},
                                        {"name": "a", "image": "y"}, {"image": "z"}]})
    assert errs[0].startswith('spec.containers[0].name: Invalid value: "Web": a lowercase RFC 1123 label must consist')
    assert 'spec.containers[2].name: Duplicate value: "a"' in errs
    assert "spec.containers[3].name: Required value" in errs


def test_image_is_required():
    assert "spec.containers[0].image: Required value" in validate_pod({"containers": [{"name": "c"}]})


def test_port_range_and_protocol():
    errs = validate_pod({"containers": [{"name": "c", "image": "x", "ports": [
        {"containerPort": 70000}, {"containerPort": 80, "protocol": "HTTP"}, {"containerPort": 81, "name": "BAD"}]}]})
    assert "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive" in errs
    assert ('spec.containers[0].ports[1].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"'
            in errs)
    assert ('spec.containers[0].ports[2].name: Invalid value: "BAD": must contain only alpha-numeric characters '
            "(a-z, 0-9), and hyphens (-)") in errs


def test_restart_dns_and_pull_policy_values():
    errs = validate_pod({"restartPolicy": "Sometimes", "dnsPolicy": "Fast",
                         "containers": [{"name": "c", "image": "x", "imagePullPolicy": "Maybe"}]})
    assert ('spec.containers[0].imagePullPolicy: Unsupported value: "Maybe": supported values: "Always", '
            '"IfNotPresent", "Never"') in errs
    assert 'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"' in errs
    assert ('spec.dnsPolicy: Unsupported value: "Fast": supported values: "ClusterFirstWithHostNet", '
            '"ClusterFirst", "Default", "None"') in errs


def test_env_names_and_sources():
    errs = validate_pod({"containers": [{"name": "c", "image": "x", "env": [
        {"name": "A=B"}, {"name": ""},
        {"name": "X", "value": "v", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}}]}]})
    assert ('spec.containers[0].env[0].name: Invalid value: "A=B": a valid environment variable name must consist '
            "only of printable ASCII characters other than '='") in errs
    assert "spec.containers[0].env[1].name: Required value" in errs
    assert 'spec.containers[0].env[2].valueFrom: Invalid value: "": may not be specified when `value` is not empty' in errs


def test_requests_may_not_exceed_limits():
    errs = validate_pod({"containers": [{"name": "c", "image": "x", "resources": {
        "limits": {"cpu": "1"}, "requests": {"cpu": "2", "gpu": "1"}}}]})
    assert 'spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1' in errs
    assert ('spec.containers[0].resources.requests[gpu]: Invalid value: "gpu": must be a standard resource type or '
            "fully qualified") in errs


def test_volume_names_unique_and_mounts_must_exist():
    errs = validate_pod({"volumes": [{"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}},
                                     {"name": "w", "emptyDir": {}, "configMap": {"name": "c"}}],
                         "containers": [{"name": "c", "image": "x", "volumeMounts": [
                             {"name": "missing", "mountPath": "/a"}]}]})
    assert 'spec.volumes[1].name: Duplicate value: "v"' in errs
    assert "spec.volumes[2].configMap: Forbidden: may not specify more than 1 volume type" in errs
    assert 'spec.containers[0].volumeMounts[0].name: Not found: "missing"' in errs


def test_probe_needs_a_handler_and_liveness_success_threshold_one():
    errs = validate_pod({"containers": [{"name": "c", "image": "x", "livenessProbe": {"successThreshold": 2},
                                         "readinessProbe": {"exec": {}}}]})
    assert "spec.containers[0].livenessProbe: Required value: must specify a handler type" in errs
    assert "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1" in errs
    assert "spec.containers[0].readinessProbe.exec.command: Required value" in errs


def test_validate_pod_spec_uses_the_given_path_for_templates():
    spec = {"containers": [{"name": "c"}]}
    default_pod_spec(spec)
    assert messages(validate_pod_spec(spec, "spec.template.spec")) == ["spec.template.spec.containers[0].image: Required value"]


def test_toleration_rules():
    errs = validate_pod({"containers": [{"name": "c", "image": "x"}], "tolerations": [
        {"key": "k", "operator": "Exists", "value": "v"}, {"operator": "Equal", "value": "v"},
        {"key": "k", "effect": "NoSchedule", "tolerationSeconds": 5}]})
    assert "spec.tolerations[0].operator: Invalid value: \"v\": value must be empty when `operator` is 'Exists'" in errs
    assert ('spec.tolerations[1].operator: Invalid value: "Equal": operator must be Exists when `key` is empty, '
            'which means "match all values and all keys"') in errs
    assert ("spec.tolerations[2].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when "
            "`tolerationSeconds` is set") in errs


# -- pod update -------------------------------------------------------------------------------------------


def test_pod_update_may_change_the_image():
    old = created_pod()
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "nginx:1.27"
    assert PodStrategy().validate_update(new, old) == []


def test_pod_update_of_other_fields_is_forbidden_with_upstreams_message():
    old = created_pod()
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "protocol": "TCP"}]
    errs = messages(PodStrategy().validate_update(new, old))
    assert len(errs) == 1
    assert errs[0].startswith(
        "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing "
        "tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n")


def test_pod_update_may_not_add_containers_or_remove_tolerations():
    old = created_pod()
    new = copy.deepcopy(old)
    new["spec"]["containers"].append({"name": "d", "image": "x"})
    assert messages(PodStrategy().validate_update(new, old))[-1] == \
        "spec.containers: Forbidden: pod updates may not add or remove containers"
    new = copy.deepcopy(old)
    new["spec"]["tolerations"] = new["spec"]["tolerations"][:1]
    assert "spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds" in \
        messages(PodStrategy().validate_update(new, old))


def test_pod_update_keeps_status():
    s = PodStrategy()
    old = created_pod()
    old["status"]["phase"] = "Running"
    new = copy.deepcopy(old)
    new["status"] = {"phase": "Failed"}
    s.prepare_for_update(new, old)
    assert new["status"]["phase"] == "Running"


def test_pod_selectable_fields():
    p = created_pod()
    p["spec"]["nodeName"] = "n1"
    p["status"]["podIPs"] = [{"ip": "10.244.0.5"}]
    f = PodStrategy().selectable_fields(p)
    assert f["spec.nodeName"] == "n1" and f["status.podIP"] == "10.244.0.5" and f["spec.hostNetwork"] == "false"
    assert f["status.phase"] == "Pending" and f["spec.serviceAccountName"] == "default"
    assert f["spec.restartPolicy"] == "Always" and f["spec.schedulerName"] == "default-scheduler"
    assert f["status.nominatedNodeName"] == ""


def test_pod_deletion_grace_is_immediate_until_scheduled():
    s = PodStrategy()
    p = created_pod()
    assert s.deletion_grace(p, None) == 0
    p["spec"]["nodeName"] = "n1"
    assert s.deletion_grace(p, None) == 30
    assert s.deletion_grace(p, 5) == 5
    p["status"]["phase"] = "Succeeded"
    assert s.deletion_grace(p, None) == 0


# -- services ---------------------------------------------------------------------------------------------


def create_service(strategy: ServiceStrategy, store: FakeStore, svc: dict) -> dict:
    strategy.defaults(svc)
    strategy.prepare_for_create(svc)
    errs = strategy.validate(svc)
    assert errs == [], messages(errs)
    run(strategy.before_create(svc, store))
    store.items.setdefault("services", []).append(copy.deepcopy(svc))
    return svc


def test_service_defaults_and_cluster_ip_allocation():
    svc = create_service(ServiceStrategy(), FakeStore(), service({"selector": {"app": "web"}, "ports": [{"port": 80}]}))
    spec = svc["spec"]
    assert spec["type"] == "ClusterIP" and spec["sessionAffinity"] == "None"
    assert spec["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    assert spec["internalTrafficPolicy"] == "Cluster" and "externalTrafficPolicy" not in spec
    assert spec["ipFamilies"] == ["IPv4"] and spec["ipFamilyPolicy"] == "SingleStack"
    assert spec["clusterIPs"] == [spec["clusterIP"]]
    import ipaddress

    assert ipaddress.ip_address(spec["clusterIP"]) in ipaddress.ip_network("10.96.0.0/12")
    assert svc["status"] == {"loadBalancer": {}}


def test_node_port_and_load_balancer_defaults():
    s, store = ServiceStrategy(), FakeStore()
    np = create_service(s, store, service({"type": "NodePort", "ports": [{"port": 80, "targetPort": "http"}]}))
    assert np["spec"]["externalTrafficPolicy"] == "Cluster"
    assert 30000 <= np["spec"]["ports"][0]["nodePort"] <= 32767
    assert np["spec"]["ports"][0]["targetPort"] == "http"
    lb = create_service(s, store, service({"type": "LoadBalancer", "externalTrafficPolicy": "Local",
                                           "ports": [{"port": 443}]}, name="lb"))
    assert lb["spec"]["allocateLoadBalancerNodePorts"] is True
    assert 30000 <= lb["spec"]["healthCheckNodePort"] <= 32767


def test_headless_and_external_name_services_get_no_cluster_ip():
    s, store = ServiceStrategy(), FakeStore()
    headless = create_service(s, store, service({"clusterIP": "None", "selector": {"a": "b"}, "ports": [{"port": 80}]}))
    assert headless["spec"]["clusterIPs"] == ["None"] and headless["spec"]["ipFamilyPolicy"] == "SingleStack"
    bare = create_service(s, store, service({"clusterIP": "None"}, name="bare"))
    assert bare["spec"]["ipFamilyPolicy"] == "RequireDualStack" and bare["spec"]["ipFamilies"] == ["IPv4", "IPv6"]
    ext = create_service(s, store, service({"type": "ExternalName", "externalName": "example.com"}, name="ext"))
    assert "clusterIP" not in ext["spec"] and "ipFamilies" not in ext["spec"]
    assert "internalTrafficPolicy" not in ext["spec"]


def test_requested_cluster_ip_already_allocated():
    s, store = ServiceStrategy(), FakeStore()
    create_service(s, store, service({"clusterIP": "10.96.0.10", "ports": [{"port": 53}]}, name="dns"))
    svc = service({"clusterIP": "10.96.0.10", "ports": [{"port": 53}]}, name="other")
    s.defaults(svc)
    s.prepare_for_create(svc)
    with pytest.raises(APIError) as e:
        run(s.before_create(svc, store))
    assert e.value.code == 422
    assert e.value.message == ('Service "other" is invalid: spec.clusterIPs: Invalid value: []string{"10.96.0.10"}: '
                               "failed to allocate IP 10.96.0.10: provided IP is already allocated")


def test_requested_cluster_ip_out_of_range():
    s = ServiceStrategy()
    svc = service({"clusterIP": "10.0.0.5", "ports": [{"port": 80}]})
    s.defaults(svc)
    s.prepare_for_create(svc)
    with pytest.raises(APIError) as e:
        run(s.before_create(svc, FakeStore()))
    assert e.value.message.endswith(
        "failed to allocate IP 10.0.0.5: the provided IP (10.0.0.5) is not in the valid range. "
        "The range of valid IPs is 10.96.0.0/12")


def test_requested_node_port_conflicts_and_range():
    s, store = ServiceStrategy(), FakeStore()
    create_service(s, store, service({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}))
    for port, detail in ((30080, "provided port is already allocated"),
                         (80, "provided port is not in the valid range. The range of valid ports is 30000-32767")):
        svc = service({"type": "NodePort", "ports": [{"port": 80, "nodePort": port}]}, name="b")
        s.defaults(svc)
        s.prepare_for_create(svc)
        with pytest.raises(APIError) as e:
            run(s.before_create(svc, store))
        assert e.value.message == f'Service "b" is invalid: spec.ports[0].nodePort: Invalid value: {port}: {detail}'


def test_racing_creates_never_share_an_ip_or_port():
    s, store = ServiceStrategy(), FakeStore()
    svcs = [service({"type": "NodePort", "ports": [{"port": 80}]}, name=f"s{i}") for i in range(50)]
    for svc in svcs:
        s.defaults(svc)
        s.prepare_for_create(svc)

    async def all_at_once() -> None:
        await asyncio.gather(*(s.before_create(svc, store) for svc in svcs))

    run(all_at_once())
    assert len({svc["spec"]["clusterIP"] for svc in svcs}) == 50
    assert len({svc["spec"]["ports"][0]["nodePort"] for svc in svcs}) == 50


def test_a_requested_ip_held_by_an_in_flight_create_is_refused():
    s, store = ServiceStrategy(), FakeStore()
    first = service({"clusterIP": "10.96.0.20", "ports": [{"port": 80}]}, name="first")
    second = service({"clusterIP": "10.96.0.20", "ports": [{"port": 80}]}, name="second")
    for svc in (first, second):
        s.defaults(svc)
        s.prepare_for_create(svc)
    run(s.before_create(first, store))  # not yet in the store
    with pytest.raises(APIError):
        run(s.before_create(second, store))
    run(s.after_delete(first, store))  # its create failed: the IP is free again
    run(s.before_create(second, store))


def test_service_validation_messages():
    s = ServiceStrategy()

    def errs(spec: dict) -> list[str]:
        svc = service(spec)
        s.defaults(svc)
        s.prepare_for_create(svc)
        return messages(s.validate(svc))

    assert errs({}) == ["spec.ports: Required value"]
    assert 'spec.type: Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", "LoadBalancer", ' \
           '"NodePort"' in errs({"type": "Magic", "ports": [{"port": 80}]})
    assert "spec.ports[1].name: Required value" in errs({"ports": [{"port": 80, "name": "a"}, {"port": 81}]})
    assert "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive" in errs({"ports": [{"port": 0}]})
    assert "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'" in errs(
        {"ports": [{"port": 80, "nodePort": 30001}]})
    assert "spec.externalName: Required value" in errs({"type": "ExternalName"})


def test_cluster_ip_is_immutable():
    s, store = ServiceStrategy(), FakeStore()
    old = create_service(s, store, service({"ports": [{"port": 80}]}))
    new = copy.deepcopy(old)
    new["spec"]["clusterIP"] = "10.96.0.99"
    s.defaults(new)
    s.prepare_for_update(new, old)
    assert messages(s.validate_update(new, old))[0] == \
        'spec.clusterIPs[0]: Invalid value: []string{"10.96.0.99"}: may not change once set'


def test_an_update_that_omits_allocated_values_keeps_them():
    s, store = ServiceStrategy(), FakeStore()
    old = create_service(s, store, service({"type": "NodePort", "ports": [{"port": 80}]}))
    new = service({"type": "NodePort", "ports": [{"port": 80}]})
    s.defaults(new)
    s.prepare_for_update(new, old)
    assert s.validate_update(new, old) == []
    assert new["spec"]["clusterIP"] == old["spec"]["clusterIP"]
    assert new["spec"]["ports"][0]["nodePort"] == old["spec"]["ports"][0]["nodePort"]


def test_changing_type_to_cluster_ip_drops_node_ports():
    s, store = ServiceStrategy(), FakeStore()
    old = create_service(s, store, service({"type": "NodePort", "ports": [{"port": 80}]}))
    new = copy.deepcopy(old)
    new["spec"]["type"] = "ClusterIP"
    del new["spec"]["externalTrafficPolicy"]
    s.defaults(new)
    s.prepare_for_update(new, old)
    assert "nodePort" not in new["spec"]["ports"][0]
    assert s.validate_update(new, old) == []


# -- secrets and config maps ---------------------------------------------------------------------------


def secret(**fields: Any) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"}, **fields}


def test_secret_type_defaults_to_opaque_and_string_data_merges_into_data():
    s = secret(stringData={"user": "admin"}, data={"a": "YQ=="})
    SecretStrategy().defaults(s)
    assert s["type"] == "Opaque"
    assert s["data"] == {"a": "YQ==", "user": "YWRtaW4="}
    assert "stringData" not in s


def test_secret_type_specific_keys():
    st = SecretStrategy()
    assert messages(st.validate(secret(type="kubernetes.io/tls", data={}))) == [
        "data[tls.crt]: Required value", "data[tls.key]: Required value"]
    assert messages(st.validate(secret(type="kubernetes.io/dockerconfigjson", data={}))) == [
        "data[.dockerconfigjson]: Required value"]
    bad_json = secret(type="kubernetes.io/dockerconfigjson", data={".dockerconfigjson": "bm90IGpzb24="})
    assert messages(st.validate(bad_json)) == [
        'data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": invalid character \'n\' looking for '
        "beginning of value"]
    assert messages(st.validate(secret(type="kubernetes.io/basic-auth", data={}))) == [
        "data[username]: Required value", "data[password]: Required value"]
    assert messages(st.validate(secret(type="kubernetes.io/ssh-auth"))) == ["data[ssh-privatekey]: Required value"]
    assert messages(st.validate(secret(type="kubernetes.io/service-account-token"))) == [
        "metadata.annotations[kubernetes.io/service-account.name]: Required value"]


def test_secret_key_names_and_size():
    st = SecretStrategy()
    assert messages(st.validate(secret(data={"bad key": "YQ=="}))) == [
        "data[bad key]: Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters, '-', "
        "'_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"]
    import base64

    big = base64.b64encode(b"x" * (1024 * 1024 + 1)).decode()
    assert messages(st.validate(secret(data={"big": big}))) == ["data: Too long: must have at most 1048576 bytes"]


def test_secret_data_must_be_base64():
    with pytest.raises(APIError) as e:
        SecretStrategy().validate(secret(data={"a": "not base64!"}))
    assert e.value.code == 400
    assert e.value.message == 'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 3'


def test_secret_type_and_immutable_data_cannot_change():
    st = SecretStrategy()
    old = secret(type="Opaque", data={"a": "YQ=="}, immutable=True)
    new = secret(type="kubernetes.io/tls", data={"a": "Yg=="})
    errs = messages(st.validate_update(new, old))
    assert errs[:3] == ['type: Invalid value: "kubernetes.io/tls": field is immutable',
                        "immutable: Forbidden: field is immutable when `immutable` is set",
                        "data: Forbidden: field is immutable when `immutable` is set"]
    assert st.selectable_fields(old) == {"type": "Opaque"}


def test_config_map_keys_and_immutability():
    st = ConfigMapStrategy()
    cm = {"metadata": {"name": "c"}, "data": {"k": "v", "dup": "x"}, "binaryData": {"dup": "eA=="}}
    assert messages(st.validate(cm)) == ['data[dup]: Invalid value: "dup": duplicate of key present in binaryData']
    old = {"metadata": {"name": "c"}, "data": {"k": "v"}, "immutable": True}
    new = {"metadata": {"name": "c"}, "data": {"k": "w"}, "immutable": True}
    assert messages(st.validate_update(new, old)) == ["data: Forbidden: field is immutable when `immutable` is set"]


# -- namespaces, nodes --------------------------------------------------------------------------------------


def test_namespace_create_gets_finalizer_label_and_phase():
    s = NamespaceStrategy()
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}
    s.defaults(ns)
    s.prepare_for_create(ns)
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team"}
    assert ns["spec"] == {"finalizers": ["kubernetes"]}
    assert ns["status"] == {"phase": "Active"}
    assert s.selectable_fields(ns)["status.phase"] == "Active"
    assert s.name_rule == "label"


def test_namespace_update_keeps_finalizers_and_finalize_changes_them():
    s = NamespaceStrategy()
    old = {"metadata": {"name": "team"}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}
    new = {"metadata": {"name": "team"}, "spec": {"finalizers": []}}
    s.prepare_for_update(new, old)
    assert new["spec"]["finalizers"] == ["kubernetes"] and new["status"] == {"phase": "Active"}
    fin = {"metadata": {"name": "team"}, "spec": {"finalizers": []}}
    s.prepare_for_finalize_update(fin, old)
    assert fin["spec"]["finalizers"] == [] and fin["status"] == {"phase": "Active"}
    bad = {"metadata": {"name": "team"}, "spec": {"finalizers": ["custom"]}}
    assert messages(s.validate(bad)) == [
        'spec.finalizers[0]: Invalid value: "custom": name is neither a standard finalizer name nor is it fully qualified']


def test_node_keeps_its_status_on_create_and_defaults_allocatable():
    s = NodeStrategy()
    node = {"metadata": {"name": "n1"}, "status": {"capacity": {"cpu": "4", "memory": "8192Mi"}}}
    s.defaults(node)
    s.prepare_for_create(node)
    assert node["status"]["allocatable"] == {"cpu": "4", "memory": "8Gi"}
    assert node["status"]["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 0}}
    assert s.selectable_fields(node) == {"spec.unschedulable": "false"}
    node["spec"]["taints"] = [{"key": "k", "effect": "Sometimes"}]
    assert messages(s.validate(node)) == [
        'spec.taints[0].effect: Unsupported value: "Sometimes": supported values: "NoSchedule", "PreferNoSchedule", '
        '"NoExecute"']


# -- volumes -------------------------------------------------------------------------------------------------


def test_persistent_volume_defaults_and_validation():
    s = PersistentVolumeStrategy()
    pv = {"metadata": {"name": "pv1"}, "spec": {"capacity": {"storage": "1024Mi"}, "accessModes": ["ReadWriteOnce"],
                                                 "hostPath": {"path": "/data"}}}
    s.defaults(pv)
    s.prepare_for_create(pv)
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    assert pv["spec"]["volumeMode"] == "Filesystem"
    assert pv["spec"]["capacity"] == {"storage": "1Gi"}
    assert pv["spec"]["hostPath"]["type"] == ""
    assert pv["status"]["phase"] == "Pending" and "lastPhaseTransitionTime" in pv["status"]
    assert s.validate(pv) == []
    assert messages(s.validate({"metadata": {"name": "x"}, "spec": {}})) == [
        "spec.accessModes: Required value", "spec.capacity: Required value",
        "spec: Required value: must specify a volume type"]


def test_pvc_defaults_and_required_fields():
    s = PersistentVolumeClaimStrategy()
    pvc = {"metadata": {"name": "data"}, "spec": {}}
    s.defaults(pvc)
    s.prepare_for_create(pvc)
    assert pvc["spec"]["volumeMode"] == "Filesystem" and pvc["status"] == {"phase": "Pending"}
    assert messages(s.validate(pvc)) == ["spec.accessModes: Required value: at least 1 access mode is required",
                                         "spec.resources[storage]: Required value"]


def test_unbound_pvc_spec_is_immutable():
    s = PersistentVolumeClaimStrategy()
    old = {"metadata": {"name": "d"}, "spec": {"accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem",
                                               "resources": {"requests": {"storage": "1Gi"}}}}
    new = copy.deepcopy(old)
    new["spec"]["resources"]["requests"]["storage"] = "2Gi"
    assert messages(s.validate_update(new, old))[0].startswith(
        "spec: Forbidden: spec is immutable after creation except resources.requests for bound claims\n")


# -- workloads ----------------------------------------------------------------------------------------------


def test_replication_controller_defaults_from_its_template():
    s = ReplicationControllerStrategy()
    rc = {"metadata": {"name": "rc"}, "spec": {"template": {"metadata": {"labels": {"app": "a"}},
                                                            "spec": {"containers": [{"name": "c", "image": "x"}]}}}}
    s.defaults(rc)
    s.prepare_for_create(rc)
    assert rc["spec"]["selector"] == {"app": "a"} and rc["metadata"]["labels"] == {"app": "a"}
    assert rc["spec"]["replicas"] == 1 and rc["status"] == {"replicas": 0}
    assert rc["spec"]["template"]["spec"]["restartPolicy"] == "Always"
    assert s.validate(rc) == [] and s.tracks_generation
    assert s.selectable_fields(rc) == {"status.replicas": "0"}


def test_replication_controller_selector_must_match_template():
    s = ReplicationControllerStrategy()
    rc = {"metadata": {"name": "rc"}, "spec": {"selector": {"app": "b"}, "replicas": -1, "template": {
        "metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}}
    s.defaults(rc)
    assert messages(s.validate(rc)) == [
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"a"}: `selector` does not match '
        "template `labels`"]


def test_pod_template_is_defaulted_and_validated():
    s = PodTemplateStrategy()
    pt = {"metadata": {"name": "t"}, "template": {"spec": {"containers": [{"name": "c"}]}}}
    s.defaults(pt)
    assert pt["template"]["spec"]["dnsPolicy"] == "ClusterFirst"
    assert messages(s.validate(pt)) == ["template.spec.containers[0].image: Required value"]


# -- events, limit ranges, bindings ---------------------------------------------------------------------------


def test_event_namespace_must_match_and_selectable_fields():
    s = EventStrategy()
    ev = {"metadata": {"name": "e", "namespace": "default"},
          "involvedObject": {"kind": "Pod", "name": "p", "namespace": "other"}, "reason": "Started",
          "source": {"component": "kubelet"}, "type": "Normal"}
    s.defaults(ev)
    assert messages(s.validate(ev)) == ['involvedObject.namespace: Invalid value: "other": does not match event.namespace']
    f = s.selectable_fields(ev)
    assert f["involvedObject.kind"] == "Pod" and f["source"] == "kubelet" and f["reason"] == "Started"
    assert f["type"] == "Normal" and f["reportingComponent"] == ""
    assert ev["eventTime"] is None and ev["reportingInstance"] == ""


def test_limit_range_defaults_and_ordering():
    s = LimitRangeStrategy()
    lr = {"metadata": {"name": "l"}, "spec": {"limits": [{"type": "Container", "max": {"cpu": "2"},
                                                           "min": {"memory": "0.5Gi"}}]}}
    s.defaults(lr)
    limit = lr["spec"]["limits"][0]
    assert limit["default"] == {"cpu": "2"}
    assert limit["defaultRequest"] == {"cpu": "2", "memory": "512Mi"}
    bad = {"metadata": {"name": "l"}, "spec": {"limits": [{"type": "Pod", "min": {"cpu": "2"}, "max": {"cpu": "1"}}]}}
    assert messages(s.validate(bad)) == [
        'spec.limits[0].min[cpu]: Invalid value: resource.Quantity{i:resource.int64Amount{value:2, scale:0}, '
        'd:resource.infDecAmount{Dec:(*inf.Dec)(nil)}, s:"", Format:"DecimalSI"}: min value 2 is greater than max value 1']


def test_binding_validation_and_application():
    assert messages(BindingStrategy().validate({"target": {"kind": "Pod"}})) == [
        'target.kind: Unsupported value: "Pod": supported values: "Node", "<empty>"', "target.name: Required value"]
    p = created_pod()
    apply_binding(p, {"target": {"kind": "Node", "name": "n1"}})
    assert p["spec"]["nodeName"] == "n1"
    assert p["status"]["conditions"][0]["type"] == "PodScheduled" and p["status"]["conditions"][0]["status"] == "True"
    with pytest.raises(APIError) as e:
        apply_binding(p, {"target": {"name": "n2"}})
    assert e.value.code == 409
    assert e.value.message == 'Operation cannot be fulfilled on pods/binding "p": pod p is already assigned to node "n1"'


# -- more kinds and subresources ----------------------------------------------------------------------------


def test_ephemeral_containers_are_forbidden_on_create_and_frozen_once_added():
    s = PodStrategy()
    p = created_pod({"containers": [{"name": "c", "image": "x"}],
                     "ephemeralContainers": [{"name": "dbg", "image": "busybox"}]})
    assert "spec.ephemeralContainers: Forbidden: cannot be set on create" in messages(s.validate(p))
    old = created_pod()
    new = copy.deepcopy(old)
    new["spec"]["ephemeralContainers"] = [{"name": "dbg", "image": "busybox", "ports": [{"containerPort": 80}]},
                                          {"name": "c", "image": "busybox", "targetContainerName": "nope"}]
    s.prepare_for_ephemeral_containers_update(new, old)
    errs = messages(s.validate_ephemeral_containers_update(new, old))
    assert "spec.ephemeralContainers[0].ports: Forbidden: cannot be set for an Ephemeral Container" in errs
    assert ('spec.ephemeralContainers[1].name: Invalid value: "c": must be unique among all containers, init '
            "containers and ephemeral containers") in errs
    assert 'spec.ephemeralContainers[1].targetContainerName: Not found: "nope"' in errs
    assert new["spec"]["ephemeralContainers"][0]["terminationMessagePolicy"] == "File"
    later = copy.deepcopy(new)
    later["spec"]["ephemeralContainers"] = []
    assert messages(s.validate_ephemeral_containers_update(later, new))[0].startswith(
        'spec.ephemeralContainers: Forbidden: existing ephemeral containers "dbg" may not be removed')


def test_templates_mirror_the_deprecated_service_account_field():
    spec = {"serviceAccount": "robot", "containers": [{"name": "c", "image": "x"}]}
    default_pod_spec(spec)
    assert spec["serviceAccountName"] == "robot" and spec["serviceAccount"] == "robot"


def test_resource_quota_names_and_status():
    from facade.kinds.core_misc import ResourceQuotaStrategy

    s = ResourceQuotaStrategy()
    rq = {"metadata": {"name": "q"}, "spec": {"hard": {"pods": "10", "requests.cpu": "0.5", "bogus": "1",
                                                       "count/deployments.apps": "2"}}}
    s.defaults(rq)
    s.prepare_for_create(rq)
    assert rq["spec"]["hard"]["requests.cpu"] == "500m" and rq["status"] == {}
    assert messages(s.validate(rq)) == [
        'spec.hard[bogus]: Invalid value: "bogus": must be a standard resource type or fully qualified']
    half = {"metadata": {"name": "q"}, "spec": {"hard": {"pods": "1.5"}}}
    assert messages(s.validate(half)) == ['spec.hard[pods]: Invalid value: resource.Quantity{i:resource.int64Amount{value:15, scale:-1}, d:resource.infDecAmount{Dec:(*inf.Dec)(nil)}, s:"", Format:"DecimalSI"}: must be an integer']


def test_endpoints_defaults_and_validation():
    from facade.kinds.core_misc import EndpointsStrategy

    s = EndpointsStrategy()
    ep = {"metadata": {"name": "e"}, "subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "127.0.0.1"}],
                                                   "ports": [{"port": 80}, {"port": 0, "name": "b"}]}]}
    s.defaults(ep)
    assert ep["subsets"][0]["ports"][0]["protocol"] == "TCP"
    assert messages(s.validate(ep)) == [
        'subsets[0].addresses[1].ip: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)',
        "subsets[0].ports[0].name: Required value",
        "subsets[0].ports[1].port: Invalid value: 0: must be between 1 and 65535, inclusive"]


def test_node_pod_cidrs_and_provider_id_are_set_once():
    s = NodeStrategy()
    old = {"metadata": {"name": "n"}, "spec": {"podCIDR": "10.244.0.0/24", "podCIDRs": ["10.244.0.0/24"],
                                               "providerID": "kind://n"}}
    new = copy.deepcopy(old)
    new["spec"].update(podCIDR="10.244.1.0/24", podCIDRs=["10.244.1.0/24"], providerID="other")
    assert messages(s.validate_update(new, old)) == [
        'spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid',
        'spec.providerID: Forbidden: node updates may not change providerID except from "" to valid']


def test_namespace_status_phase_follows_deletion():
    s = NamespaceStrategy()
    ns = {"metadata": {"name": "a"}, "status": {"phase": "Terminating"}}
    assert messages(s.validate_status_update(ns, ns)) == [
        "status.Phase: Invalid value: \"Terminating\": may only be 'Active' if `deletionTimestamp` is empty"]
    ns["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    assert s.validate_status_update(ns, ns) == []


def test_external_name_to_cluster_ip_allocates_and_back_drops_the_ip():
    s, store = ServiceStrategy(), FakeStore()
    old = create_service(s, store, service({"type": "ExternalName", "externalName": "example.com"}))
    new = service({"type": "ClusterIP", "ports": [{"port": 80}]})
    s.defaults(new)
    s.prepare_for_update(new, old)
    assert s.validate_update(new, old) == []
    run(s.before_update(new, old, store))
    assert new["spec"]["clusterIP"] and new["spec"]["ipFamilyPolicy"] == "SingleStack"
    back = copy.deepcopy(new)
    back["spec"].update(type="ExternalName", externalName="example.com")
    back["spec"].pop("ports")
    s.defaults(back)
    s.prepare_for_update(back, new)
    assert "clusterIP" not in back["spec"] and "ipFamilies" not in back["spec"]
    assert s.validate_update(back, new) == []


def test_services_select_on_cluster_ip_and_type():
    svc = create_service(ServiceStrategy(), FakeStore(), service({"clusterIP": "None", "ports": [{"port": 80}]}))
    assert ServiceStrategy().selectable_fields(svc) == {"spec.clusterIP": "None", "spec.type": "ClusterIP"}
