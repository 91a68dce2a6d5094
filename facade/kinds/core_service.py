"""Services: defaults (SetDefaults_Service), validation (ValidateService/Update) and the strategy.

What a Service gets from the store (clusterIP, node ports) is allocated in ``core_service_alloc``.
"""

from __future__ import annotations

from typing import Any

from facade.errors import FieldError, duplicate, forbidden, invalid, not_supported, required
from facade.kinds.core_fields import (
    as_dict,
    as_list,
    child,
    idx,
    ip_errors,
    label_errors,
    port_num_errors,
    subdomain_errors,
    validate_port_num_or_name,
)
from facade.kinds.core_service_alloc import (
    ServiceAllocator,
    externally_accessible,
    int_field,
    is_headless,
    needs_cluster_ip,
    needs_health_check,
    needs_node_ports,
)
from facade.kinds.group_support import go_string_slice, invalid_raw
from facade.resource_table import Strategy
from facade.validation import validate_labels

Obj = dict[str, Any]

SERVICES_KEY = "services"
_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
_PROTOCOLS = ("SCTP", "TCP", "UDP")


# -- defaults ---------------------------------------------------------------------------------------


def default_service(svc: Obj) -> None:
    """SetDefaults_Service plus normalizeClusterIPs for a create."""
    spec = svc.get("spec")
    if not isinstance(spec, dict):
        spec = svc["spec"] = {}
    if not spec.get("sessionAffinity"):
        spec["sessionAffinity"] = "None"
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    if spec["sessionAffinity"] == "ClientIP":
        cfg = as_dict(spec.get("sessionAffinityConfig"))
        if as_dict(cfg.get("clientIP")).get("timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 10800}}
    if not spec.get("type"):
        spec["type"] = "ClusterIP"
    for p in as_list(spec.get("ports")):
        if not isinstance(p, dict):
            continue
        if not p.get("protocol"):
            p["protocol"] = "TCP"
        if p.get("targetPort") in (None, 0, ""):
            p["targetPort"] = p.get("port", 0)
    if externally_accessible(spec) and not spec.get("externalTrafficPolicy"):
        spec["externalTrafficPolicy"] = "Cluster"
    if spec.get("internalTrafficPolicy") is None and spec["type"] in ("ClusterIP", "NodePort", "LoadBalancer"):
        spec["internalTrafficPolicy"] = "Cluster"
    if spec["type"] == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        spec["allocateLoadBalancerNodePorts"] = True
    if spec["type"] == "LoadBalancer":
        for ing in as_list(as_dict(as_dict(svc.get("status")).get("loadBalancer")).get("ingress")):
            if isinstance(ing, dict) and ing.get("ip") and ing.get("ipMode") is None:
                ing["ipMode"] = "VIP"


def _patch_allocated_values(new: Obj, old: Obj) -> None:
    """patchAllocatedValues + normalizeClusterIPs for an update: keep what was allocated and not restated."""
    ns, os_ = new.setdefault("spec", {}), as_dict(old.get("spec"))
    if not isinstance(ns, dict):
        return
    # the singular field changed alone: carry it into the plural one
    if ns.get("clusterIP", "") != os_.get("clusterIP", "") and ns.get("clusterIPs") == os_.get("clusterIPs"):
        if not ns.get("clusterIP"):
            ns.pop("clusterIPs", None)
        elif ns.get("clusterIPs"):
            ns["clusterIPs"] = [ns["clusterIP"]] + list(ns["clusterIPs"][1:])
    if needs_cluster_ip(os_) and needs_cluster_ip(ns):
        if not ns.get("clusterIP") and os_.get("clusterIP"):
            ns["clusterIP"] = os_["clusterIP"]
        if not ns.get("clusterIPs") and os_.get("clusterIPs"):
            if ns.get("clusterIP") == os_.get("clusterIP"):
                ns["clusterIPs"] = list(os_["clusterIPs"])
        if ns.get("ipFamilies") is None and os_.get("ipFamilies") is not None:
            ns["ipFamilies"] = list(os_["ipFamilies"])
        if ns.get("ipFamilyPolicy") is None and os_.get("ipFamilyPolicy") is not None:
            ns["ipFamilyPolicy"] = os_["ipFamilyPolicy"]
    if ns.get("clusterIP") and not ns.get("clusterIPs"):
        ns["clusterIPs"] = [ns["clusterIP"]]
    if needs_node_ports(os_) and needs_node_ports(ns):
        old_ports = [as_dict(p) for p in as_list(os_.get("ports"))]
        for p in as_list(ns.get("ports")):
            if isinstance(p, dict) and not p.get("nodePort"):
                for op in old_ports:
                    if op.get("port") == p.get("port") and op.get("protocol") == p.get("protocol") and op.get("nodePort"):
                        p["nodePort"] = op["nodePort"]
                        break
    if needs_health_check(os_) and needs_health_check(ns) and not ns.get("healthCheckNodePort"):
        if os_.get("healthCheckNodePort"):
            ns["healthCheckNodePort"] = os_["healthCheckNodePort"]


def _drop_type_dependent_fields(new: Obj, old: Obj) -> None:
    """dropTypeDependentFields: clear what the new type does not use, unless the user changed it."""
    ns, os_ = as_dict(new.get("spec")), as_dict(old.get("spec"))
    if needs_cluster_ip(os_) and not needs_cluster_ip(ns):
        if ns.get("clusterIP") == os_.get("clusterIP"):
            ns.pop("clusterIP", None)
        if ns.get("clusterIPs") == os_.get("clusterIPs"):
            ns.pop("clusterIPs", None)
        if ns.get("ipFamilies") == os_.get("ipFamilies"):
            ns.pop("ipFamilies", None)
        if ns.get("ipFamilyPolicy") == os_.get("ipFamilyPolicy"):
            ns.pop("ipFamilyPolicy", None)
    if needs_node_ports(os_) and not needs_node_ports(ns):
        old_np = [as_dict(p).get("nodePort") for p in as_list(os_.get("ports"))]
        new_np = [as_dict(p).get("nodePort") for p in as_list(ns.get("ports"))]
        if old_np == new_np:
            for p in as_list(ns.get("ports")):
                if isinstance(p, dict):
                    p.pop("nodePort", None)
    if needs_health_check(os_) and not needs_health_check(ns):
        if ns.get("healthCheckNodePort") == os_.get("healthCheckNodePort"):
            ns.pop("healthCheckNodePort", None)
    if ns.get("type") != "LoadBalancer":
        if ns.get("allocateLoadBalancerNodePorts") == os_.get("allocateLoadBalancerNodePorts"):
            ns.pop("allocateLoadBalancerNodePorts", None)
        if ns.get("loadBalancerClass") == os_.get("loadBalancerClass"):
            ns.pop("loadBalancerClass", None)
    if not externally_accessible(ns) and ns.get("externalTrafficPolicy") == os_.get("externalTrafficPolicy"):
        ns.pop("externalTrafficPolicy", None)
    if ns.get("type") == "ExternalName" and ns.get("internalTrafficPolicy") == os_.get("internalTrafficPolicy"):
        ns.pop("internalTrafficPolicy", None)


# -- validation -------------------------------------------------------------------------------------


def _go_service_port(p: Obj) -> str:
    """``%#v`` of the core.ServicePort key upstream reports duplicates with."""
    return (
        f'core.ServicePort{{Name:"", Protocol:"{p.get("protocol", "")}", AppProtocol:(*string)(nil), '
        f'Port:{int_field(p.get("port"))}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:""}}, NodePort:0}}'
    )


def _validate_cluster_ips(spec: Obj) -> list[FieldError]:
    """ValidateServiceClusterIPsRelatedFields (single-stack IPv4 cluster)."""
    errs: list[FieldError] = []
    ips = as_list(spec.get("clusterIPs"))
    cip = spec.get("clusterIP") or ""
    if ips and cip and ips[0] != cip:
        errs.append(invalid_raw("spec.clusterIPs", go_string_slice(ips), "first value must match `clusterIP`"))
    if ips and not cip:
        errs.append(invalid_raw("spec.clusterIPs", go_string_slice(ips), "must be empty when `clusterIP` is not specified"))
    if spec.get("type") == "ExternalName":
        return errs
    headless = cip == "None"
    for i, ip in enumerate(ips):
        p = idx("spec.clusterIPs", i)
        if ip == "None":
            if i != 0 or len(ips) > 1:
                errs.append(invalid(p, ip, "must be empty when `clusterIP` is not specified"
                                    if not headless else "'None' must be the first and only value"))
            continue
        if headless:
            errs.append(invalid(p, ip, "'None' must be the first and only value"))
            continue
        errs += [invalid(p, ip, m) for m in ip_errors(str(ip))]
    policy = spec.get("ipFamilyPolicy")
    if policy is not None and policy not in ("PreferDualStack", "RequireDualStack", "SingleStack"):
        errs.append(not_supported("spec.ipFamilyPolicy", policy, ["PreferDualStack", "RequireDualStack", "SingleStack"]))
    families = as_list(spec.get("ipFamilies"))
    seen: set[str] = set()
    for i, f in enumerate(families):
        p = idx("spec.ipFamilies", i)
        if f not in ("IPv4", "IPv6"):
            errs.append(not_supported(p, f, ["IPv4", "IPv6"]))
        elif f in seen:
            errs.append(duplicate(p, f))
        seen.add(f)
    if len(families) > 2:
        errs.append(invalid_raw("spec.ipFamilies", go_string_slice(families), "may specify no more than one IP for each IP family"))
    return errs


def validate_service_spec(svc: Obj) -> list[FieldError]:
    """ValidateService (the spec part) with upstream's order, paths and messages."""
    spec = as_dict(svc.get("spec"))
    errs: list[FieldError] = []
    headless = spec.get("clusterIP") == "None"
    stype = spec.get("type") or ""
    ports = as_list(spec.get("ports"))
    if not ports and not headless and stype != "ExternalName":
        errs.append(required("spec.ports", ""))
    if stype == "LoadBalancer":
        if headless:
            errs.append(invalid("spec.clusterIPs[0]", "None", "may not be set to 'None' for LoadBalancer services"))
        for i, p in enumerate(ports):
            if as_dict(p).get("port") == 10250:
                errs.append(invalid(idx("spec.ports", i), 10250, "may not expose port 10250 externally since it is used by kubelet"))
    elif stype == "NodePort":
        if headless:
            errs.append(invalid("spec.clusterIPs[0]", "None", "may not be set to 'None' for NodePort services"))
    elif stype == "ExternalName":
        if spec.get("clusterIPs"):
            errs.append(forbidden("spec.clusterIPs", "may not be set for ExternalName services"))
        if spec.get("ipFamilies"):
            errs.append(forbidden("spec.ipFamilies", "may not be set for ExternalName services"))
        if spec.get("ipFamilyPolicy") is not None:
            errs.append(forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services"))
        cname = str(spec.get("externalName") or "").removesuffix(".")
        if not cname:
            errs.append(required("spec.externalName", ""))
        else:
            errs += subdomain_errors(cname, "spec.externalName")
    names: set[str] = set()
    for i, p in enumerate(ports):
        pp = idx("spec.ports", i)
        p = as_dict(p)
        name = p.get("name") or ""
        if len(ports) > 1 and not name:
            errs.append(required(child(pp, "name"), ""))
        elif name:
            errs += label_errors(name, child(pp, "name"))
            if name in names:
                errs.append(duplicate(child(pp, "name"), name))
            else:
                names.add(name)
        errs += [invalid(child(pp, "port"), p.get("port", 0), m) for m in port_num_errors(p.get("port", 0))]
        proto = p.get("protocol") or ""
        if not proto:
            errs.append(required(child(pp, "protocol"), ""))
        elif proto not in _PROTOCOLS:
            errs.append(not_supported(child(pp, "protocol"), proto, _PROTOCOLS))
        errs += validate_port_num_or_name(p.get("targetPort", 0), child(pp, "targetPort"))
    if spec.get("selector") is not None:
        errs += validate_labels(spec.get("selector"), "spec.selector")
    aff = spec.get("sessionAffinity") or ""
    if not aff:
        errs.append(required("spec.sessionAffinity", ""))
    elif aff not in ("ClientIP", "None"):
        errs.append(not_supported("spec.sessionAffinity", aff, ["ClientIP", "None"]))
    if aff == "ClientIP":
        t = as_dict(as_dict(spec.get("sessionAffinityConfig")).get("clientIP")).get("timeoutSeconds")
        if not isinstance(t, int) or t <= 0 or t > 86400:
            errs.append(invalid("spec.sessionAffinityConfig.clientIP.timeoutSeconds", t,
                                "must be greater than 0 and less than 86400"))
    elif aff == "None" and spec.get("sessionAffinityConfig") is not None:
        errs.append(forbidden("spec.sessionAffinityConfig", "must not be set when session affinity is None"))
    errs += _validate_cluster_ips(spec)
    for i, ip in enumerate(as_list(spec.get("externalIPs"))):
        errs += [invalid(idx("spec.externalIPs", i), ip, m) for m in ip_errors(str(ip))]
    if not stype:
        errs.append(required("spec.type", ""))
    elif stype not in _TYPES:
        errs.append(not_supported("spec.type", stype, _TYPES))
    if stype == "ClusterIP":
        for i, p in enumerate(ports):
            if as_dict(p).get("nodePort"):
                errs.append(forbidden(child(idx("spec.ports", i), "nodePort"), "may not be used when `type` is 'ClusterIP'"))
    seen_np: set[tuple[str, int]] = set()
    for i, p in enumerate(ports):
        p = as_dict(p)
        np = int_field(p.get("nodePort"))
        if not np:
            continue
        k = (p.get("protocol", ""), np)
        if k in seen_np:
            errs.append(duplicate(child(idx("spec.ports", i), "nodePort"), np))
        seen_np.add(k)
    seen_p: set[tuple[str, int]] = set()
    for i, p in enumerate(ports):
        p = as_dict(p)
        k = (p.get("protocol", ""), int_field(p.get("port")))
        if k in seen_p:
            errs.append(FieldError("FieldValueDuplicate", idx("spec.ports", i), detail=_go_service_port(p)))
        seen_p.add(k)
    etp = spec.get("externalTrafficPolicy")
    if not externally_accessible(spec):
        if etp:
            errs.append(invalid("spec.externalTrafficPolicy", etp, "may only be set for externally-accessible services"))
    elif not etp:
        errs.append(required("spec.externalTrafficPolicy", ""))
    elif etp not in ("Cluster", "Local"):
        errs.append(not_supported("spec.externalTrafficPolicy", etp, ["Cluster", "Local"]))
    if not needs_health_check(spec) and spec.get("healthCheckNodePort"):
        errs.append(invalid("spec.healthCheckNodePort", spec["healthCheckNodePort"],
                            "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
    itp = spec.get("internalTrafficPolicy")
    if stype != "ExternalName":
        if itp is None:
            errs.append(required("spec.internalTrafficPolicy", ""))
        elif itp not in ("Cluster", "Local"):
            errs.append(not_supported("spec.internalTrafficPolicy", itp, ["Cluster", "Local"]))
    if stype != "LoadBalancer":
        if spec.get("allocateLoadBalancerNodePorts") is not None:
            errs.append(forbidden("spec.allocateLoadBalancerNodePorts", "may only be used when `type` is 'LoadBalancer'"))
        if spec.get("loadBalancerClass") is not None:
            errs.append(forbidden("spec.loadBalancerClass", "may only be used when `type` is 'LoadBalancer'"))
    return errs


def validate_service_update(new: Obj, old: Obj) -> list[FieldError]:
    """ValidateServiceUpdate's own rules: primary clusterIP and family may not change, LB class fixed."""
    errs: list[FieldError] = []
    ns, os_ = as_dict(new.get("spec")), as_dict(old.get("spec"))
    if ns.get("type") != "ExternalName" and os_.get("type") != "ExternalName" and not (
        is_headless(new) and is_headless(old)
    ):
        new_ips, old_ips = as_list(ns.get("clusterIPs")), as_list(os_.get("clusterIPs"))
        if len(old_ips) == len(new_ips):
            for i, ip in enumerate(old_ips):
                if ip != new_ips[i]:
                    errs.append(invalid_raw(idx("spec.clusterIPs", i), go_string_slice(new_ips), "may not change once set"))
        elif len(old_ips) > len(new_ips):
            if not new_ips:
                errs.append(invalid_raw("spec.clusterIPs[0]", go_string_slice(new_ips), "primary clusterIP can not be unset"))
            elif old_ips and new_ips[0] != old_ips[0]:
                errs.append(invalid_raw("spec.clusterIPs[0]", go_string_slice(new_ips), "may not change once set"))
        elif old_ips and new_ips[0] != old_ips[0]:
            errs.append(invalid_raw("spec.clusterIPs[0]", go_string_slice(new_ips), "may not change once set"))
        new_f, old_f = as_list(ns.get("ipFamilies")), as_list(os_.get("ipFamilies"))
        if old_f and new_f and new_f[0] != old_f[0]:
            errs.append(invalid_raw("spec.ipFamilies[0]", go_string_slice(new_f), "may not change once set"))
    if os_.get("type") == "LoadBalancer" and ns.get("type") == "LoadBalancer":
        if ns.get("loadBalancerClass") != os_.get("loadBalancerClass"):
            errs.append(invalid("spec.loadBalancerClass", ns.get("loadBalancerClass"), "may not change once set"))
    return errs


class ServiceStrategy(Strategy):
    """Services: pkg/registry/core/service (strategy and the allocating REST storage)."""

    name_rule = "dns1035"
    has_status = True
    return_deleted_object = True
    allow_create_on_update = True

    def __init__(self) -> None:
        self._allocators: dict[int, ServiceAllocator] = {}

    def allocator(self, ctx: Any) -> ServiceAllocator:
        """One allocator per REST store (tests run several clusters in one process)."""
        a = self._allocators.get(id(ctx))
        if a is None:
            a = self._allocators[id(ctx)] = ServiceAllocator()
        return a

    def defaults(self, obj: Obj) -> None:
        default_service(obj)

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        spec = as_dict(obj.get("spec"))
        if spec.get("clusterIP") and not spec.get("clusterIPs"):
            spec["clusterIPs"] = [spec["clusterIP"]]

    def initial_status(self, obj: Obj) -> None:
        obj["status"] = {"loadBalancer": {}}

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        _patch_allocated_values(new, old)
        _drop_type_dependent_fields(new, old)

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_service_spec(obj) + ServiceAllocator.check_families(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return validate_service_update(new, old) + self.validate(new)

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        spec = as_dict(obj.get("spec"))
        return {"spec.clusterIP": spec.get("clusterIP") or "", "spec.type": spec.get("type") or ""}

    async def before_create(self, obj: Obj, ctx: Any) -> None:
        services = await ctx.list_all(SERVICES_KEY)
        self.allocator(ctx).allocate(obj, None, services)

    async def before_update(self, new: Obj, old: Obj, ctx: Any) -> None:
        services = await ctx.list_all(SERVICES_KEY)
        self.allocator(ctx).allocate(new, old, services)

    async def after_delete(self, obj: Obj, ctx: Any) -> None:
        self.allocator(ctx).release(obj)

