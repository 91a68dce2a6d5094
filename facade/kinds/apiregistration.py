"""apiregistration.k8s.io/v1: APIServices (which group/version an aggregated server serves).

Names are ``<version>.<group>``; defaults (service port 443) and validation follow
kube-aggregator's pkg/apis/apiregistration. Status (the Available condition) is owned by the
availability controller and reset on create.
"""

from __future__ import annotations

from typing import Any

from facade.errors import FieldError, invalid, required
from facade.kinds.group_support import port_number_errors
from facade.resource_table import ResourceInfo, Strategy
from facade.validation import dns1035_label_errors, dns1123_subdomain_errors

Obj = dict[str, Any]


class APIServiceStrategy(Strategy):
    name_rule = "path"
    has_status = True

    def defaults(self, obj: Obj) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            spec = obj["spec"] = {}
        spec.setdefault("groupPriorityMinimum", 0)
        spec.setdefault("versionPriority", 0)
        service = spec.get("service")
        if isinstance(service, dict) and service.get("port") is None:
            service["port"] = 443

    def initial_status(self, obj: Obj) -> None:
        obj["status"] = {}

    def validate(self, obj: Obj) -> list[FieldError]:
        spec = obj.get("spec") or {}
        group, version = spec.get("group") or "", spec.get("version") or ""
        errs: list[FieldError] = []
        name = (obj.get("metadata") or {}).get("name") or ""
        wanted = f"{version}.{group}"
        if name and name != wanted:
            errs.append(invalid("metadata.name", name, f'must be `spec.version+"."+spec.group`: "{wanted}"'))
        if not group and version != "v1":
            errs.append(required("spec.group", "only v1 may have an empty group and it better be legacy kube"))
        if group:
            errs += [invalid("spec.group", group, m) for m in dns1123_subdomain_errors(group)]
        errs += [invalid("spec.version", version, m) for m in dns1035_label_errors(version)]
        gpm = spec.get("groupPriorityMinimum") or 0
        if gpm <= 0 or gpm > 20000:
            errs.append(invalid("spec.groupPriorityMinimum", gpm, "must be positive and less than 20000"))
        vp = spec.get("versionPriority") or 0
        if vp <= 0 or vp > 1000:
            errs.append(invalid("spec.versionPriority", vp, "must be positive and less than 1000"))
        service = spec.get("service")
        if not isinstance(service, dict):
            if spec.get("caBundle"):
                errs.append(invalid("spec.caBundle", f"{len(spec['caBundle']) * 3 // 4} bytes",
                                    "local APIServices may not have a caBundle"))
            if spec.get("insecureSkipTLSVerify"):
                errs.append(invalid("spec.insecureSkipTLSVerify", True,
                                    "local APIServices may not have insecureSkipTLSVerify"))
            return errs
        if not service.get("namespace"):
            errs.append(required("spec.service.namespace", ""))
        if not service.get("name"):
            errs.append(required("spec.service.name", ""))
        port_errs = port_number_errors(service.get("port"))
        if port_errs:
            errs.append(invalid("spec.service.port", service.get("port"), "port is not valid: " + ", ".join(port_errs)))
        if spec.get("insecureSkipTLSVerify") and spec.get("caBundle"):
            errs.append(invalid("spec.insecureSkipTLSVerify", True, "may not be true if caBundle is present"))
        return errs


RESOURCES: list[ResourceInfo] = [
    ResourceInfo("apiregistration.k8s.io", "v1", "APIService", "apiservices", "apiservice", False,
                 categories=("api-extensions",), subresources=("status",), strategy=APIServiceStrategy()),
]
