"""The smaller core/v1 kinds: Event, Endpoints, ServiceAccount, LimitRange, ResourceQuota, Binding.

Each has little behaviour of its own; the rules here are the ones a user meets (field selectors on
events, the LimitRange min/default/max ordering, quota resource names, a binding's target).
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from typing import Any

from facade import errors
from facade.errors import FieldError, duplicate, forbidden, invalid, not_supported, required
from facade.kinds import core_quantity
from facade.kinds.core_fields import (
    as_dict,
    as_list,
    child,
    idx,
    ip_errors,
    key,
    label_errors,
    port_num_errors,
    subdomain_errors,
    validate_container_resource_name,
    validate_quantity_value,
    validate_resource_name,
)
from facade.kinds.group_support import invalid_raw
from facade.resource_table import Strategy
from facade.validation import dns1123_subdomain_errors, qualified_name_errors

Obj = dict[str, Any]


# -- Event ------------------------------------------------------------------------------------------


class EventStrategy(Strategy):
    """core/v1 Events: the legacy validation (namespaces agree) and upstream's selectable fields."""

    allow_create_on_update = True

    def defaults(self, obj: Obj) -> None:
        # non-pointer fields of the Go type always serialize, as a real server returns them
        if not isinstance(obj.get("involvedObject"), dict):
            obj["involvedObject"] = {}
        if not isinstance(obj.get("source"), dict):
            obj["source"] = {}
        for f in ("reportingComponent", "reportingInstance"):
            obj.setdefault(f, "")
        for f in ("firstTimestamp", "lastTimestamp", "eventTime"):
            obj.setdefault(f, None)

    def validate(self, obj: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        ns = as_dict(obj.get("metadata")).get("namespace", "")
        inv = as_dict(obj.get("involvedObject"))
        inv_ns = inv.get("namespace") or ""
        if not obj.get("eventTime"):
            if not inv_ns:
                if ns not in ("", "default"):
                    errs.append(invalid("involvedObject.namespace", inv_ns, "does not match event.namespace"))
            elif ns != inv_ns:
                errs.append(invalid("involvedObject.namespace", inv_ns, "does not match event.namespace"))
        else:
            if not inv_ns and ns not in ("default", "kube-system"):
                errs.append(invalid("involvedObject.namespace", inv_ns, "does not match event.namespace"))
            rc = obj.get("reportingComponent") or ""
            if not rc:
                errs.append(required("reportingComponent", ""))
            errs += [invalid("reportingComponent", rc, m) for m in qualified_name_errors(rc)] if rc else []
            ri = obj.get("reportingInstance") or ""
            if not ri:
                errs.append(required("reportingInstance", ""))
            if len(ri) > 128:
                errs.append(invalid("reportingInstance", "", "can have at most 128 characters"))
            action = obj.get("action") or ""
            if not action:
                errs.append(required("action", ""))
            if len(action) > 128:
                errs.append(invalid("action", "", "can have at most 128 characters"))
        if ns:
            errs += [invalid("namespace", ns, m) for m in dns1123_subdomain_errors(ns)]
        return errs

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        inv = as_dict(obj.get("involvedObject"))
        source = as_dict(obj.get("source")).get("component") or obj.get("reportingComponent") or ""
        return {
            "involvedObject.kind": inv.get("kind") or "",
            "involvedObject.namespace": inv.get("namespace") or "",
            "involvedObject.name": inv.get("name") or "",
            "involvedObject.uid": inv.get("uid") or "",
            "involvedObject.apiVersion": inv.get("apiVersion") or "",
            "involvedObject.resourceVersion": inv.get("resourceVersion") or "",
            "involvedObject.fieldPath": inv.get("fieldPath") or "",
            "reason": obj.get("reason") or "",
            "reportingComponent": obj.get("reportingComponent") or "",
            "source": source,
            "type": obj.get("type") or "",
        }


# -- Endpoints --------------------------------------------------------------------------------------


def _non_special_ip_errors(ip: str) -> list[str]:
    """ValidateNonSpecialIP: endpoints may not point at unspecified, loopback or link-local addresses."""
    try:
        a = ipaddress.ip_address(ip)
    except ValueError:
        return []
    if a.is_unspecified:
        return ["may not be unspecified (0.0.0.0)"]
    if a.is_loopback:
        return ["may not be in the loopback range (127.0.0.0/8, ::1/128)"]
    if a.is_link_local:
        return ["may not be in the link-local range (169.254.0.0/16, fe80::/10)"]
    if a in ipaddress.ip_network("224.0.0.0/24") or a in ipaddress.ip_network("ff02::/16"):
        return ["may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"]
    return []


def _validate_endpoint_address(a: Obj, path: str) -> list[FieldError]:
    ip = str(a.get("ip") or "")
    msgs = ip_errors(ip)
    errs = [invalid(child(path, "ip"), ip, m) for m in msgs or _non_special_ip_errors(ip)]
    if a.get("hostname"):
        errs += label_errors(a["hostname"], child(path, "hostname"))
    if a.get("nodeName"):
        errs += subdomain_errors(a["nodeName"], child(path, "nodeName"))
    return errs


class EndpointsStrategy(Strategy):
    allow_create_on_update = True

    def defaults(self, obj: Obj) -> None:
        for ss in as_list(obj.get("subsets")):
            for p in as_list(as_dict(ss).get("ports")):
                if isinstance(p, dict) and not p.get("protocol"):
                    p["protocol"] = "TCP"

    def validate(self, obj: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        for i, ss in enumerate(as_list(obj.get("subsets"))):
            ip = idx("subsets", i)
            ss = as_dict(ss)
            if not ss.get("addresses") and not ss.get("notReadyAddresses"):
                errs.append(required(ip, "must specify `addresses` or `notReadyAddresses`"))
            for f in ("addresses", "notReadyAddresses"):
                for j, a in enumerate(as_list(ss.get(f))):
                    errs += _validate_endpoint_address(as_dict(a), idx(child(ip, f), j))
            ports = as_list(ss.get("ports"))
            for j, p in enumerate(ports):
                pp = idx(child(ip, "ports"), j)
                p = as_dict(p)
                if len(ports) > 1 and not p.get("name"):
                    errs.append(required(child(pp, "name"), ""))
                elif p.get("name"):
                    errs += label_errors(p["name"], child(pp, "name"))
                errs += [invalid(child(pp, "port"), p.get("port", 0), m) for m in port_num_errors(p.get("port", 0))]
                proto = p.get("protocol") or ""
                if not proto:
                    errs.append(required(child(pp, "protocol"), ""))
                elif proto not in ("SCTP", "TCP", "UDP"):
                    errs.append(not_supported(child(pp, "protocol"), proto, ("SCTP", "TCP", "UDP")))
        return errs


class ServiceAccountStrategy(Strategy):
    """ServiceAccounts: nothing beyond metadata; the ``token`` subresource is served elsewhere."""


# -- LimitRange -------------------------------------------------------------------------------------

LIMIT_TYPES = ("Container", "Pod", "PersistentVolumeClaim")


def _limit_range_resource_errors(limit_type: str, name: str, path: str) -> list[FieldError]:
    """validateLimitRangeResourceName: container resource rules for Pod/Container limits."""
    if limit_type in ("Pod", "Container"):
        return validate_container_resource_name(name, path)
    return validate_resource_name(name, path)


def validate_limit_range(obj: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, limit in enumerate(as_list(as_dict(obj.get("spec")).get("limits"))):
        ip = idx("spec.limits", i)
        limit = as_dict(limit)
        t = limit.get("type") or ""
        type_errs = [invalid(child(ip, "type"), t, m) for m in qualified_name_errors(t)]
        if not type_errs and "/" not in t and t not in LIMIT_TYPES:
            type_errs.append(invalid(child(ip, "type"), t, "must be a standard limit type or fully qualified"))
        errs += type_errs
        if t in seen:
            errs.append(duplicate(child(ip, "type"), t))
        seen.add(t)
        buckets: dict[str, dict[str, Any]] = {}
        for b in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
            values = as_dict(limit.get(b))
            if t == "Pod" and b in ("default", "defaultRequest") and values:
                errs.append(forbidden(child(ip, b), "may not be specified when `type` is 'Pod'"))
                continue
            for name, raw in values.items():
                errs += _limit_range_resource_errors(t, name, key(child(ip, b), name))
                errs += validate_quantity_value(name, raw, key(child(ip, b), name))
            buckets[b] = values
        keys = sorted(set().union(*[set(v) for v in buckets.values()]) if buckets else set())
        for k in keys:
            val = {b: core_quantity.value_of(buckets.get(b, {}).get(k)) if k in buckets.get(b, {}) else None for b in buckets}
            mn, mx, df, dr, ratio = (val.get(b) for b in ("min", "max", "default", "defaultRequest", "maxLimitRequestRatio"))
            text = {b: str(buckets[b][k]) for b in buckets if k in buckets[b]}
            if mn is not None and mx is not None and mn > mx:
                errs.append(invalid_raw(key(child(ip, "min"), k), core_quantity.go_struct(text["min"]),
                                        f"min value {text['min']} is greater than max value {text['max']}"))
            if dr is not None and mn is not None and mn > dr:
                errs.append(invalid_raw(key(child(ip, "defaultRequest"), k), core_quantity.go_struct(text["defaultRequest"]),
                                        f"min value {text['min']} is greater than default request value {text['defaultRequest']}"))
            if dr is not None and mx is not None and dr > mx:
                errs.append(invalid_raw(key(child(ip, "defaultRequest"), k), core_quantity.go_struct(text["defaultRequest"]),
                                        f"default request value {text['defaultRequest']} is greater than max value {text['max']}"))
            if dr is not None and df is not None and dr > df:
                errs.append(invalid_raw(key(child(ip, "defaultRequest"), k), core_quantity.go_struct(text["defaultRequest"]),
                                        f"default request value {text['defaultRequest']} is greater than default limit value "
                                        f"{text['default']}"))
            if df is not None and mn is not None and mn > df:
                errs.append(invalid_raw(key(child(ip, "default"), k), core_quantity.go_struct(text["min"]),
                                        f"min value {text['min']} is greater than default value {text['default']}"))
            if df is not None and mx is not None and df > mx:
                errs.append(invalid_raw(key(child(ip, "default"), k), core_quantity.go_struct(text["max"]),
                                        f"default value {text['default']} is greater than max value {text['max']}"))
            if ratio is not None and ratio < 1:
                errs.append(invalid_raw(key(child(ip, "maxLimitRequestRatio"), k), core_quantity.go_struct(text["maxLimitRequestRatio"]),
                                        f"ratio {text['maxLimitRequestRatio']} is less than 1"))
    return errs


class LimitRangeStrategy(Strategy):
    allow_create_on_update = True

    def defaults(self, obj: Obj) -> None:
        for limit in as_list(as_dict(obj.get("spec")).get("limits")):
            if not isinstance(limit, dict):
                continue
            if limit.get("type") == "Container":
                default = limit.get("default") if isinstance(limit.get("default"), dict) else {}
                request = limit.get("defaultRequest") if isinstance(limit.get("defaultRequest"), dict) else {}
                for k, v in as_dict(limit.get("max")).items():
                    default.setdefault(k, v)
                for k, v in default.items():
                    request.setdefault(k, v)
                for k, v in as_dict(limit.get("min")).items():
                    request.setdefault(k, v)
                for f, values in (("default", default), ("defaultRequest", request)):
                    if values:
                        limit[f] = values
                    else:
                        limit.pop(f, None)
            for f in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
                core_quantity.canonicalize_list(limit.get(f))

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_limit_range(obj)


# -- ResourceQuota ----------------------------------------------------------------------------------

STANDARD_QUOTA_RESOURCES = {
    "pods", "services", "replicationcontrollers", "resourcequotas", "secrets", "configmaps",
    "persistentvolumeclaims", "services.nodeports", "services.loadbalancers", "cpu", "memory", "ephemeral-storage",
    "requests.cpu", "requests.memory", "requests.storage", "requests.ephemeral-storage", "limits.cpu",
    "limits.memory", "limits.ephemeral-storage",
}
QUOTA_SCOPES = ("Terminating", "NotTerminating", "BestEffort", "NotBestEffort", "PriorityClass", "CrossNamespacePodAffinity")


def validate_quota_spec(spec: Obj, path: str = "spec") -> list[FieldError]:
    errs: list[FieldError] = []
    for name, raw in as_dict(spec.get("hard")).items():
        p = key(child(path, "hard"), name)
        name_errs = validate_resource_name(name, p)
        if not name_errs and "/" not in name and name not in STANDARD_QUOTA_RESOURCES and not name.startswith(
            ("hugepages-", "requests.hugepages-")
        ):
            name_errs.append(invalid(p, name, "must be a standard resource for quota"))
        errs += name_errs
        errs += validate_quantity_value(name, raw, p)
    scopes = as_list(spec.get("scopes"))
    if any(s not in QUOTA_SCOPES for s in scopes):
        errs.append(invalid_raw(child(path, "scopes"), "[]core.ResourceQuotaScope{" + ", ".join(
            errors.go_quote(str(s)) for s in scopes) + "}", "unsupported scope"))
    return errs


class ResourceQuotaStrategy(Strategy):
    has_status = True

    def defaults(self, obj: Obj) -> None:
        core_quantity.canonicalize_list(as_dict(obj.get("spec")).get("hard"))
        status = obj.get("status")
        if isinstance(status, dict):
            core_quantity.canonicalize_list(status.get("hard"))
            core_quantity.canonicalize_list(status.get("used"))

    def initial_status(self, obj: Obj) -> None:
        obj["status"] = {}

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_quota_spec(as_dict(obj.get("spec")))

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        status = as_dict(new.get("status"))
        for f in ("hard", "used"):
            for name, raw in as_dict(status.get(f)).items():
                errs += validate_quantity_value(name, raw, key(f"status.{f}", name))
        return errs


# -- Binding ----------------------------------------------------------------------------------------


class BindingStrategy(Strategy):
    """Bindings (POST .../bindings or pods/binding): assign a pod to a node; never stored, answered
    with a Success Status (facade/pod_binding.py changes the pod)."""

    answers_create = True

    async def answer(self, obj: Obj, namespace: str, field_manager: str, ctx: Any) -> Obj:
        from facade.pod_binding import bind_pod, check_binding

        name = as_dict(obj.get("metadata")).get("name") or ""
        await bind_pod(ctx, namespace, name, check_binding(obj, name))
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}

    def validate(self, obj: Obj) -> list[FieldError]:
        target = as_dict(obj.get("target"))
        errs: list[FieldError] = []
        if target.get("kind") and target["kind"] != "Node":
            errs.append(not_supported("target.kind", target["kind"], ["Node", "<empty>"]))
        if not target.get("name"):
            errs.append(required("target.name", ""))
        return errs


def apply_binding(pod: Obj, binding: Obj) -> None:
    """What BindingREST does to the pod: nodeName, the binding's annotations, PodScheduled=True.

    Raises the 409 Conflict upstream answers for a pod already bound, being deleted, or gated.
    """
    meta = as_dict(pod.get("metadata"))
    name = meta.get("name", "")
    spec = pod.setdefault("spec", {})
    node = as_dict(binding.get("target")).get("name", "")
    if meta.get("deletionTimestamp"):
        raise errors.conflict("pods/binding", "", name, f"pod {name} is being deleted, cannot be assigned to a host")
    if spec.get("nodeName"):
        raise errors.conflict("pods/binding", "", name, f'pod {name} is already assigned to node "{spec["nodeName"]}"')
    if spec.get("schedulingGates"):
        raise errors.conflict("pods/binding", "", name, f"pod {name} has non-empty .spec.schedulingGates")
    spec["nodeName"] = node
    annotations = as_dict(as_dict(binding.get("metadata")).get("annotations"))
    if annotations:
        pod["metadata"]["annotations"] = {**as_dict(meta.get("annotations")), **annotations}
    status = pod.setdefault("status", {})
    conditions = [c for c in as_list(status.get("conditions")) if as_dict(c).get("type") != "PodScheduled"]
    old = next((c for c in as_list(status.get("conditions")) if as_dict(c).get("type") == "PodScheduled"), None)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    changed = old is None or old.get("status") != "True"
    conditions.append({
        "type": "PodScheduled",
        "status": "True",
        "lastProbeTime": None,
        "lastTransitionTime": now if changed else old.get("lastTransitionTime"),
    })
    status["conditions"] = conditions
