"""apiextensions.k8s.io/v1: CustomResourceDefinitions (stored and validated; serving is elsewhere).

Defaults follow apiextensions-apiserver's v1 defaults (singular, listKind, conversion strategy
None, webhook service port 443, storedVersions); the strategy resets status on create with the
storage version recorded in ``status.storedVersions``. Validation covers what users touch: the
name must be ``<plural>.<group>``, the group a DNS subdomain with a dot, the names, exactly one
storage version, unique DNS-1035 version names, a schema for every version, and the basics of a
structural schema (types everywhere, object at the root, items for arrays).
"""

from __future__ import annotations

from typing import Any

from facade.crd_cel import compile_errors
from facade.errors import FieldError, forbidden, invalid, not_supported, required
from facade.kinds.group_support import go_str, immutable, invalid_raw
from facade.resource_table import ResourceInfo, Strategy
from facade.validation import dns1035_label_errors, dns1123_subdomain_errors

Obj = dict[str, Any]

GROUP = "apiextensions.k8s.io"
API_APPROVAL_ANNOTATION = "api-approved.kubernetes.io"
SCHEMA_TYPES = ["array", "boolean", "integer", "number", "object", "string"]


# ---------------------------------------------------------------------------------------- defaults


def default_crd(obj: Obj) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = obj["spec"] = {}
    names = spec.get("names")
    if not isinstance(names, dict):
        names = spec["names"] = {}
    kind = names.get("kind") or ""
    if not names.get("singular"):
        names["singular"] = kind.lower()
    if not names.get("listKind") and kind:
        names["listKind"] = kind + "List"
    conversion = spec.get("conversion")
    if not isinstance(conversion, dict):
        spec["conversion"] = {"strategy": "None"}
    else:
        service = ((conversion.get("webhook") or {}).get("clientConfig") or {}).get("service")
        if isinstance(service, dict) and service.get("port") is None:
            service["port"] = 443


def storage_version(obj: Obj) -> str | None:
    for v in (obj.get("spec") or {}).get("versions") or []:
        if isinstance(v, dict) and v.get("storage"):
            return v.get("name")
    return None


def _record_storage_version(obj: Obj) -> None:
    name = storage_version(obj)
    status = obj.setdefault("status", {})
    stored = status.get("storedVersions") or []
    if name is not None and name not in stored:
        stored = [*stored, name]
    status["storedVersions"] = stored


def accepted_status(obj: Obj) -> Obj:
    """The status the naming/establishing controllers give a CRD whose names are free."""
    names = dict((obj.get("spec") or {}).get("names") or {})
    return {"acceptedNames": names, "storedVersions": (obj.get("status") or {}).get("storedVersions") or []}


# -------------------------------------------------------------------------------------- validation


def _go_version(v: Any) -> str:
    """An abridged ``%#v`` of one version (upstream also prints pointers, which mean nothing to users)."""
    v = v if isinstance(v, dict) else {}
    return (f"apiextensions.CustomResourceDefinitionVersion{{Name:{go_str(v.get('name', ''))}, "
            f"Served:{go_str(bool(v.get('served')))}, Storage:{go_str(bool(v.get('storage')))}}}")


def _go_versions(versions: list[Any]) -> str:
    return "[]apiextensions.CustomResourceDefinitionVersion{" + ", ".join(_go_version(v) for v in versions) + "}"


def validate_structural(schema: Any, path: str, root: bool = True) -> list[FieldError]:
    """The structural-schema basics: every node typed, object at the root, items for arrays."""
    if not isinstance(schema, dict):
        return []
    errs: list[FieldError] = []
    t = schema.get("type") or ""
    if t and t not in SCHEMA_TYPES:
        errs.append(not_supported(f"{path}.type", t, SCHEMA_TYPES))
    if root:
        if not t:
            errs.append(required(f"{path}.type", "must not be empty at the root"))
        elif t != "object":
            errs.append(invalid(f"{path}.type", t, "must be object at the root"))
        meta = (schema.get("properties") or {}).get("metadata")
        if isinstance(meta, dict) and set(meta.get("properties") or {}) - {"name", "generateName"}:
            errs.append(forbidden(f"{path}.properties[metadata]",
                                  "must not specify anything other than name and generateName, but metadata is "
                                  "implicitly specified"))
    if t == "array" and schema.get("items") is None:
        errs.append(required(f"{path}.items", "must be specified"))
    for name, prop in (schema.get("properties") or {}).items():
        p = f"{path}.properties[{name}]"
        if isinstance(prop, dict) and not prop.get("type") and not (
            prop.get("x-kubernetes-int-or-string") or prop.get("x-kubernetes-preserve-unknown-fields")
        ):
            errs.append(required(f"{p}.type", "must not be empty for specified object fields"))
        errs += validate_structural(prop, p, False)
    items = schema.get("items")
    if isinstance(items, dict):
        if not items.get("type") and not (
            items.get("x-kubernetes-int-or-string") or items.get("x-kubernetes-preserve-unknown-fields")
        ):
            errs.append(required(f"{path}.items.type", "must not be empty for specified array items"))
        errs += validate_structural(items, f"{path}.items", False)
    additional = schema.get("additionalProperties")
    if isinstance(additional, dict):
        errs += validate_structural(additional, f"{path}.additionalProperties", False)
    return errs


def _validate_names(names: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    p = "spec.names"
    for f in ("plural", "singular"):
        v = names.get(f) or ""
        msgs = dns1035_label_errors(v) if v else []
        if msgs:
            errs.append(invalid(f"{p}.{f}", v, ",".join(msgs)))
    for f in ("kind", "listKind"):
        v = names.get(f) or ""
        msgs = dns1035_label_errors(v.lower()) if v else []
        if msgs:
            errs.append(invalid(f"{p}.{f}", v, "may have mixed case, but should otherwise match: " + ",".join(msgs)))
    for i, s in enumerate(names.get("shortNames") or []):
        msgs = dns1035_label_errors(str(s))
        if msgs:
            errs.append(invalid(f"{p}.shortNames[{i}]", s, ",".join(msgs)))
    if names.get("kind") and names.get("kind") == names.get("listKind"):
        errs.append(invalid(f"{p}.listKind", names["listKind"], "kind and listKind may not be the same"))
    for i, c in enumerate(names.get("categories") or []):
        msgs = dns1035_label_errors(str(c))
        if msgs:
            errs.append(invalid(f"{p}.categories[{i}]", c, ",".join(msgs)))
    return errs


def _validate_conversion(conversion: Any) -> list[FieldError]:
    if not isinstance(conversion, dict):
        return []
    strategy = conversion.get("strategy") or ""
    p = "spec.conversion"
    if not strategy:
        return [required(f"{p}.strategy", "")]
    if strategy not in ("None", "Webhook"):
        return [not_supported(f"{p}.strategy", strategy, ["None", "Webhook"])]
    webhook = conversion.get("webhook")
    if strategy == "Webhook":
        if not isinstance(webhook, dict):
            return [required(f"{p}.webhook", "required when strategy is set to Webhook")]
        errs: list[FieldError] = []
        if not webhook.get("conversionReviewVersions"):
            errs.append(required(f"{p}.webhook.conversionReviewVersions",
                                 "must include at least one of v1, v1beta1"))
        if not isinstance(webhook.get("clientConfig"), dict):
            errs.append(required(f"{p}.webhook.clientConfig", "required when strategy is set to Webhook"))
        return errs
    if webhook is not None:
        return [forbidden(f"{p}.webhook", "should not be set when strategy is not set to Webhook")]
    return []


def _api_approval(obj: Obj, group: str) -> list[FieldError]:
    protected = group in ("k8s.io", "kubernetes.io") or group.endswith(".k8s.io") or group.endswith(".kubernetes.io")
    if not protected:
        return []
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    path = f"metadata.annotations[{API_APPROVAL_ANNOTATION}]"
    if API_APPROVAL_ANNOTATION not in annotations:
        return [required(path, f'protected groups must have approval annotation "{API_APPROVAL_ANNOTATION}", see '
                               "https://github.com/kubernetes/enhancements/pull/1111")]
    value = annotations[API_APPROVAL_ANNOTATION]
    if value.startswith("unapproved") or value.startswith("http://") or value.startswith("https://"):
        return []
    return [invalid(path, value, f'protected groups must have approval annotation "{API_APPROVAL_ANNOTATION}" with '
                                 'either a URL or a reason starting with "unapproved", see '
                                 "https://github.com/kubernetes/enhancements/pull/1111")]


def validate_crd(obj: Obj) -> list[FieldError]:
    spec = obj.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group") or ""
    errs: list[FieldError] = []
    name = (obj.get("metadata") or {}).get("name") or ""
    if name and name != f"{names.get('plural', '')}.{group}":
        errs.append(invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    if not group:
        errs.append(required("spec.group", ""))
    elif dns1123_subdomain_errors(group):
        errs.append(invalid("spec.group", group, ",".join(dns1123_subdomain_errors(group))))
    elif len(group.split(".")) < 2:
        errs.append(invalid("spec.group", group, "should be a domain with at least one dot"))
    scope = spec.get("scope") or ""
    if not scope:
        errs.append(required("spec.scope", ""))
    elif scope not in ("Cluster", "Namespaced"):
        errs.append(not_supported("spec.scope", scope, ["Cluster", "Namespaced"]))
    versions = spec.get("versions") or []
    if not versions:
        errs.append(required("spec.versions", ""))
    seen: set[str] = set()
    unique = True
    storage_count = 0
    for i, v in enumerate(versions):
        v = v if isinstance(v, dict) else {}
        vp = f"spec.versions[{i}]"
        vname = v.get("name") or ""
        if vname in seen:
            unique = False
        seen.add(vname)
        if v.get("storage"):
            storage_count += 1
        msgs = dns1035_label_errors(vname)
        if msgs:
            errs.append(invalid(f"{vp}.name", vname, ",".join(msgs)))
        schema = (v.get("schema") or {}).get("openAPIV3Schema") if isinstance(v.get("schema"), dict) else None
        if schema is None:
            errs.append(required(f"{vp}.schema.openAPIV3Schema", "schemas are required"))
        else:
            errs += validate_structural(schema, f"{vp}.schema.openAPIV3Schema")
            errs += compile_errors(schema, f"{vp}.schema.openAPIV3Schema")
    if not unique:
        errs.append(invalid_raw("spec.versions", _go_versions(versions), "must contain unique version names"))
    if versions and storage_count != 1:
        errs.append(invalid_raw("spec.versions", _go_versions(versions),
                                "must have exactly one version marked as storage version"))
    for f in ("plural", "singular", "kind", "listKind"):
        if not names.get(f):
            errs.append(required(f"spec.names.{f}", ""))
    errs += _validate_names(names)
    errs += _validate_conversion(spec.get("conversion"))
    if spec.get("preserveUnknownFields"):
        errs.append(invalid("spec.preserveUnknownFields", True, "cannot set to true, set x-kubernetes-preserve-unknown-"
                                                                "fields to true in spec.versions[*].schema instead"))
    errs += _validate_stored_versions(obj)
    errs += _api_approval(obj, group)
    return errs


def _validate_stored_versions(obj: Obj) -> list[FieldError]:
    stored = (obj.get("status") or {}).get("storedVersions") or []
    path = "status.storedVersions"
    if not stored:
        return [invalid_raw(path, "[]string(nil)", "must have at least one stored version")]
    remaining = {v: i for i, v in enumerate(stored)}
    errs: list[FieldError] = []
    for v in (obj.get("spec") or {}).get("versions") or []:
        v = v if isinstance(v, dict) else {}
        vname = v.get("name") or ""
        if v.get("storage") and vname not in remaining:
            errs.append(invalid_raw(path, _go_version(v),
                                    f"must have the storage version {vname}"))
        remaining.pop(vname, None)
    for v, i in remaining.items():
        errs.append(invalid(f"{path}[{i}]", v, "must appear in spec.versions"))
    return errs


class CustomResourceDefinitionStrategy(Strategy):
    has_status = True
    tracks_generation = True

    def defaults(self, obj: Obj) -> None:
        default_crd(obj)

    def initial_status(self, obj: Obj) -> None:
        obj["status"] = {"acceptedNames": {"kind": "", "plural": ""}, "storedVersions": []}
        _record_storage_version(obj)

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        _record_storage_version(new)

    def generation_changed(self, new: Obj, old: Obj) -> bool:
        return new.get("spec") != old.get("spec")

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_crd(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs = validate_crd(new)
        errs += immutable((new.get("spec") or {}).get("group"), (old.get("spec") or {}).get("group"), "spec.group")
        return errs

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return _validate_stored_versions(new)

    def keep_on_delete(self, obj: Obj) -> bool:
        """The first delete adds the cleanup finalizer and Terminating condition (controllers/crd.py empties it)."""
        from controllers.crd import set_condition
        from facade.crd_strategy import CLEANUP_FINALIZER

        meta = obj["metadata"]
        if meta.get("deletionTimestamp"):
            return False
        if CLEANUP_FINALIZER not in (meta.get("finalizers") or []):
            meta["finalizers"] = [*(meta.get("finalizers") or []), CLEANUP_FINALIZER]
        set_condition(obj, {"type": "Terminating", "status": "True", "reason": "InstanceDeletionPending",
                            "message": "CustomResourceDefinition marked for deletion; CustomResource deletion will "
                                       "begin soon"})
        return True


RESOURCES: list[ResourceInfo] = [
    ResourceInfo(GROUP, "v1", "CustomResourceDefinition", "customresourcedefinitions", "customresourcedefinition",
                 False, ("crd", "crds"), ("api-extensions",), subresources=("status",),
                 strategy=CustomResourceDefinitionStrategy()),
]
