"""rbac.authorization.k8s.io/v1: Roles, RoleBindings, ClusterRoles, ClusterRoleBindings.

Names are path segments (ValidateRBACName). Defaults follow pkg/apis/rbac/v1/defaults.go (roleRef
and User/Group subjects get the rbac group); validation pkg/apis/rbac/validation: every rule needs
verbs, resource rules need apiGroups and resources, bindings cannot change their roleRef.
Authorization itself (escalation checks) is not done here.
"""

from __future__ import annotations

from typing import Any

from facade.errors import FieldError, invalid, not_supported, required
from facade.kinds.group_support import (
    go_str,
    go_string_slice,
    invalid_raw,
    selector_parses,
    validate_label_selector,
)
from facade.resource_table import ResourceInfo, Strategy
from facade.validation import dns1123_subdomain_errors, path_segment_errors

Obj = dict[str, Any]

GROUP = "rbac.authorization.k8s.io"


def validate_policy_rule(rule: Any, namespaced: bool, path: str) -> list[FieldError]:
    rule = rule if isinstance(rule, dict) else {}
    errs: list[FieldError] = []
    if not rule.get("verbs"):
        errs.append(required(f"{path}.verbs", "verbs must contain at least one value"))
    urls = rule.get("nonResourceURLs")
    if urls:
        if namespaced:
            errs.append(invalid_raw(f"{path}.nonResourceURLs", go_string_slice(urls),
                                    "namespaced rules cannot apply to non-resource URLs"))
        if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
            errs.append(invalid_raw(f"{path}.nonResourceURLs", go_string_slice(urls),
                                    "rules cannot apply to both regular resources and non-resource URLs"))
        return errs
    if not rule.get("apiGroups"):
        errs.append(required(f"{path}.apiGroups", "resource rules must supply at least one api group"))
    if not rule.get("resources"):
        errs.append(required(f"{path}.resources", "resource rules must supply at least one resource"))
    return errs


def _validate_rules(obj: Obj, namespaced: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, rule in enumerate(obj.get("rules") or []):
        errs += validate_policy_rule(rule, namespaced, f"rules[{i}]")
    return errs


def _default_binding(obj: Obj) -> None:
    ref = obj.get("roleRef")
    if isinstance(ref, dict) and not ref.get("apiGroup"):
        ref["apiGroup"] = GROUP
    for s in obj.get("subjects") or []:
        if isinstance(s, dict) and not s.get("apiGroup") and s.get("kind") in ("User", "Group"):
            s["apiGroup"] = GROUP


def _validate_subject(s: Any, namespaced: bool, path: str) -> list[FieldError]:
    s = s if isinstance(s, dict) else {}
    errs: list[FieldError] = []
    name, kind, group = s.get("name") or "", s.get("kind") or "", s.get("apiGroup") or ""
    if not name:
        errs.append(required(f"{path}.name", ""))
    if kind == "ServiceAccount":
        if name:
            errs += [invalid(f"{path}.name", name, m) for m in dns1123_subdomain_errors(name)]
        if group:
            errs.append(not_supported(f"{path}.apiGroup", group, [""]))
        if not namespaced and not s.get("namespace"):
            errs.append(required(f"{path}.namespace", ""))
    elif kind in ("User", "Group"):
        if group != GROUP:
            errs.append(not_supported(f"{path}.apiGroup", group, [GROUP]))
    else:
        errs.append(not_supported(f"{path}.kind", kind, ["ServiceAccount", "User", "Group"]))
    return errs


def _go_role_ref(ref: Obj) -> str:
    return (f"rbac.RoleRef{{APIGroup:{go_str(ref.get('apiGroup', ''))}, Kind:{go_str(ref.get('kind', ''))}, "
            f"Name:{go_str(ref.get('name', ''))}}}")


def _validate_binding(obj: Obj, namespaced: bool) -> list[FieldError]:
    ref = obj.get("roleRef") if isinstance(obj.get("roleRef"), dict) else {}
    errs: list[FieldError] = []
    if (ref.get("apiGroup") or "") != GROUP:
        errs.append(not_supported("roleRef.apiGroup", ref.get("apiGroup") or "", [GROUP]))
    kinds = ["Role", "ClusterRole"] if namespaced else ["ClusterRole"]
    if ref.get("kind") not in kinds:
        errs.append(not_supported("roleRef.kind", ref.get("kind") or "", kinds))
    name = ref.get("name") or ""
    if not name:
        errs.append(required("roleRef.name", ""))
    else:
        errs += [invalid("roleRef.name", name, m) for m in path_segment_errors(name)]
    for i, s in enumerate(obj.get("subjects") or []):
        errs += _validate_subject(s, namespaced, f"subjects[{i}]")
    return errs


def _role_ref_unchanged(new: Obj, old: Obj) -> list[FieldError]:
    nr, or_ = new.get("roleRef") or {}, old.get("roleRef") or {}
    if nr != or_:
        return [invalid_raw("roleRef", _go_role_ref(nr), "cannot change roleRef")]
    return []


class RoleStrategy(Strategy):
    name_rule = "path"

    def validate(self, obj: Obj) -> list[FieldError]:
        return _validate_rules(obj, True)


class ClusterRoleStrategy(Strategy):
    name_rule = "path"

    def validate(self, obj: Obj) -> list[FieldError]:
        errs = _validate_rules(obj, False)
        agg = obj.get("aggregationRule")
        if isinstance(agg, dict):
            selectors = agg.get("clusterRoleSelectors") or []
            path = "aggregationRule.clusterRoleSelectors"
            if not selectors:
                errs.append(required(path, "at least one clusterRoleSelector required if aggregationRule is non-nil"))
            for i, sel in enumerate(selectors):
                errs += validate_label_selector(sel, f"{path}[{i}]")
                if not selector_parses(sel):
                    errs.append(invalid_raw(f"{path}[{i}]", "&labels.internalSelector(nil)", "invalid label selector."))
        return errs


class RoleBindingStrategy(Strategy):
    name_rule = "path"

    def defaults(self, obj: Obj) -> None:
        _default_binding(obj)

    def validate(self, obj: Obj) -> list[FieldError]:
        return _validate_binding(obj, True)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return self.validate(new) + _role_ref_unchanged(new, old)


class ClusterRoleBindingStrategy(RoleBindingStrategy):
    def validate(self, obj: Obj) -> list[FieldError]:
        return _validate_binding(obj, False)


RESOURCES: list[ResourceInfo] = [
    ResourceInfo(GROUP, "v1", "ClusterRoleBinding", "clusterrolebindings", "clusterrolebinding", False,
                 strategy=ClusterRoleBindingStrategy()),
    ResourceInfo(GROUP, "v1", "ClusterRole", "clusterroles", "clusterrole", False, strategy=ClusterRoleStrategy()),
    ResourceInfo(GROUP, "v1", "RoleBinding", "rolebindings", "rolebinding", True, strategy=RoleBindingStrategy()),
    ResourceInfo(GROUP, "v1", "Role", "roles", "role", True, strategy=RoleStrategy()),
]
