"""Namespaces and Nodes: the cluster-scoped core kinds (pkg/registry/core/namespace, .../node).

A Namespace carries its own finalizer list in ``spec.finalizers`` (``["kubernetes"]`` from create on);
only the ``finalize`` subresource may change it, so a plain update keeps the old list. A Node is the
one kind with a status subresource whose create keeps the status the client sent: the kubelet
registers a node with its capacity and addresses in one request.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from facade.errors import FieldError, duplicate, forbidden, invalid, not_supported, required
from facade.kinds import core_quantity
from facade.kinds.core_fields import as_dict, as_list, child, idx
from facade.resource_table import Strategy
from facade.validation import label_value_errors, qualified_name_errors

Obj = dict[str, Any]

METADATA_NAME_LABEL = "kubernetes.io/metadata.name"
STANDARD_FINALIZERS = ("kubernetes", "orphan", "foregroundDeletion")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def validate_finalizer_name(name: Any, path: str) -> list[FieldError]:
    """validateFinalizerName: a qualified name; an unprefixed one must be a standard finalizer."""
    name = str(name)
    errs = [invalid(path, name, m) for m in qualified_name_errors(name)]
    if "/" not in name and name not in STANDARD_FINALIZERS:
        errs.append(invalid(path, name, "name is neither a standard finalizer name nor is it fully qualified"))
    return errs


class NamespaceStrategy(Strategy):
    """Namespaces: DNS-1123 label names, the metadata.name label, finalizers ["kubernetes"], phase Active."""

    name_rule = "label"
    has_status = True
    return_deleted_object = True

    def defaults(self, obj: Obj) -> None:
        meta = obj.setdefault("metadata", {})
        if meta.get("name"):
            labels = meta.get("labels") if isinstance(meta.get("labels"), dict) else {}
            labels[METADATA_NAME_LABEL] = meta["name"]
            meta["labels"] = labels
        status = obj.get("status")
        if isinstance(status, dict) and not status.get("phase"):
            status["phase"] = "Active"

    def prepare_for_create(self, obj: Obj) -> None:
        self.defaults(obj)  # the name may only now be known (generateName): label it as Canonicalize does
        spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
        finalizers = as_list(spec.get("finalizers"))
        if "kubernetes" not in finalizers:
            finalizers = finalizers + ["kubernetes"]
        spec["finalizers"] = finalizers
        obj["spec"] = spec
        super().prepare_for_create(obj)

    def keep_on_delete(self, obj: Obj) -> bool:
        """A namespace with spec.finalizers stays, Terminating, until the namespace controller empties it."""
        if (obj.get("spec") or {}).get("finalizers"):
            obj.setdefault("status", {})["phase"] = "Terminating"
            return True
        return False

    def initial_status(self, obj: Obj) -> None:
        obj["status"] = {"phase": "Active"}

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        old_spec = as_dict(old.get("spec"))
        spec = new.get("spec") if isinstance(new.get("spec"), dict) else {}
        if "finalizers" in old_spec:
            spec["finalizers"] = old_spec["finalizers"]
        else:
            spec.pop("finalizers", None)
        new["spec"] = spec

    def prepare_for_finalize_update(self, new: Obj, old: Obj) -> None:
        """The ``finalize`` subresource: only spec.finalizers comes from the request."""
        finalizers = as_dict(new.get("spec")).get("finalizers")
        for k in list(new):
            if k not in ("metadata", "apiVersion", "kind"):
                del new[k]
        for k, v in old.items():
            if k not in ("metadata", "apiVersion", "kind"):
                new[k] = v
        spec = dict(as_dict(old.get("spec")))
        if finalizers is None:
            spec.pop("finalizers", None)
        else:
            spec["finalizers"] = finalizers
        new["spec"] = spec

    def validate(self, obj: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        for i, f in enumerate(as_list(as_dict(obj.get("spec")).get("finalizers"))):
            errs += validate_finalizer_name(f, idx("spec.finalizers", i))
        return errs

    def validate_finalize_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return self.validate(new)

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        phase = as_dict(new.get("status")).get("phase")
        if not as_dict(new.get("metadata")).get("deletionTimestamp"):
            if phase != "Active":
                return [invalid("status.Phase", phase, "may only be 'Active' if `deletionTimestamp` is empty")]
        elif phase != "Terminating":
            return [invalid("status.Phase", phase, "may only be 'Terminating' if `deletionTimestamp` is not empty")]
        return []

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        # "name" is a historical extra that upstream keeps for compatibility
        return {"status.phase": as_dict(obj.get("status")).get("phase") or "", "name": obj["metadata"].get("name", "")}


# -- Node -------------------------------------------------------------------------------------------

_EMPTY_NODE_INFO = {
    "architecture": "", "bootID": "", "containerRuntimeVersion": "", "kernelVersion": "", "kubeProxyVersion": "",
    "kubeletVersion": "", "machineID": "", "operatingSystem": "", "osImage": "", "systemUUID": "",
}


def validate_taints(taints: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[tuple[str, str]] = set()
    for i, t in enumerate(as_list(taints)):
        ip = idx(path, i)
        t = as_dict(t)
        k = t.get("key") or ""
        errs += [invalid(child(ip, "key"), k, m) for m in qualified_name_errors(k)]
        v = t.get("value") or ""
        errs += [invalid(child(ip, "value"), v, m) for m in label_value_errors(v)]
        eff = t.get("effect") or ""
        if not eff:
            errs.append(required(child(ip, "effect"), ""))
        elif eff not in TAINT_EFFECTS:
            errs.append(not_supported(child(ip, "effect"), eff, TAINT_EFFECTS))
        if (k, eff) in seen:
            errs.append(duplicate(ip, t))
        seen.add((k, eff))
    return errs


class NodeStrategy(Strategy):
    """Nodes: spec.unschedulable selectable, taints validated, podCIDRs and providerID set once."""

    has_status = True

    def defaults(self, obj: Obj) -> None:
        if not isinstance(obj.get("spec"), dict):
            obj["spec"] = {}
        status = obj.get("status")
        if not isinstance(status, dict):
            status = obj["status"] = {}
        if status.get("allocatable") is None and isinstance(status.get("capacity"), dict):
            status["allocatable"] = dict(status["capacity"])
        core_quantity.canonicalize_list(status.get("capacity"))
        core_quantity.canonicalize_list(status.get("allocatable"))
        # non-pointer structs in Go's NodeStatus always serialize
        ep = status.setdefault("daemonEndpoints", {})
        if isinstance(ep, dict):
            ep.setdefault("kubeletEndpoint", {"Port": 0})
        info = status.setdefault("nodeInfo", {})
        if isinstance(info, dict):
            for k, v in _EMPTY_NODE_INFO.items():
                info.setdefault(k, v)

    def prepare_for_create(self, obj: Obj) -> None:
        """Node create keeps the client's status (the kubelet registers with it)."""

    def validate(self, obj: Obj) -> list[FieldError]:
        spec = as_dict(obj.get("spec"))
        errs = validate_taints(spec.get("taints"), "spec.taints")
        cidrs = as_list(spec.get("podCIDRs"))
        for i, c in enumerate(cidrs):
            try:
                ipaddress.ip_network(str(c), strict=False)
            except ValueError:
                errs.append(invalid(idx("spec.podCIDRs", i), c, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"))
        if len(cidrs) > 2:
            errs.append(invalid("spec.podCIDRs", cidrs, "may specify no more than one CIDR for each IP family"))
        if spec.get("podCIDR") and cidrs and spec["podCIDR"] != cidrs[0]:
            errs.append(invalid("spec.podCIDRs", cidrs, "first value must match `podCIDR`"))
        return errs

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs = self.validate(new)
        ns, os_ = as_dict(new.get("spec")), as_dict(old.get("spec"))
        if as_list(os_.get("podCIDRs")) and as_list(ns.get("podCIDRs")) != as_list(os_.get("podCIDRs")):
            errs.append(forbidden("spec.podCIDRs", 'node updates may not change podCIDR except from "" to valid'))
        if os_.get("providerID") and ns.get("providerID") != os_.get("providerID"):
            errs.append(forbidden("spec.providerID", 'node updates may not change providerID except from "" to valid'))
        return errs

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        return {"spec.unschedulable": "true" if as_dict(obj.get("spec")).get("unschedulable") else "false"}
