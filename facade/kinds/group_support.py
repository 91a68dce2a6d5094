"""Helpers shared by the non-core API groups (apps, batch, policy, networking, ...).

Upstream these live in k8s.io/apimachinery (label selectors, IntOrString, immutable fields) and in
pkg/apis/core/validation (pod templates). They are gathered here so each group module only states
its own rules. Messages that print a Go value (``field.Invalid(path, selector, ...)``) render it as
Go's ``%#v`` does, because that is what users see in kube-apiserver's errors, e.g.
``map[string]string{"app":"web"}`` or ``v1.LabelSelector{MatchLabels:..., MatchExpressions:...}``.

This module serves no resource itself: ``RESOURCES`` is empty so that the package can gather every
module's list without special cases.
"""

from __future__ import annotations

import re
from typing import Any

from facade.errors import FieldError, forbidden, go_quote, invalid, required
from facade.kinds.core_pod import default_pod_spec, validate_pod_spec
from facade.resource_table import ResourceInfo
from facade.validation import (
    label_value_errors,
    qualified_name_errors,
    validate_annotations,
    validate_labels,
)

Obj = dict[str, Any]

RESOURCES: list[ResourceInfo] = []


# ------------------------------------------------------------------------------------ Go values


def go_str(value: Any) -> str:
    """Go's %q (for strings) or %v (numbers, booleans) of a scalar."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if value is None:
        return '""'
    return go_quote(str(value))


def go_string_map(m: Any) -> str:
    """``%#v`` of a ``map[string]string``: keys sorted, ``(nil)`` when absent."""
    if m is None:
        return "map[string]string(nil)"
    if not isinstance(m, dict):
        return go_str(m)
    return "map[string]string{" + ", ".join(f"{go_quote(k)}:{go_str(m[k])}" for k in sorted(m)) + "}"


def go_string_slice(values: Any) -> str:
    if values is None:
        return "[]string(nil)"
    return "[]string{" + ", ".join(go_str(v) for v in values) + "}"


def go_label_selector(sel: Any) -> str:
    """``%#v`` of a ``v1.LabelSelector`` (what ``field is immutable`` on spec.selector prints)."""
    sel = sel if isinstance(sel, dict) else {}
    exprs = sel.get("matchExpressions")
    if exprs is None:
        exprs_s = "[]v1.LabelSelectorRequirement(nil)"
    else:
        items = [
            "v1.LabelSelectorRequirement{"
            f"Key:{go_str(e.get('key', ''))}, Operator:{go_str(e.get('operator', ''))}, "
            f"Values:{go_string_slice(e.get('values'))}}}"
            for e in exprs
            if isinstance(e, dict)
        ]
        exprs_s = "[]v1.LabelSelectorRequirement{" + ", ".join(items) + "}"
    return f"v1.LabelSelector{{MatchLabels:{go_string_map(sel.get('matchLabels'))}, MatchExpressions:{exprs_s}}}"


def go_int_or_string(value: Any) -> str:
    """``%#v`` of an ``intstr.IntOrString`` value (its String method has a pointer receiver)."""
    if isinstance(value, str):
        return f"intstr.IntOrString{{Type:1, IntVal:0, StrVal:{go_quote(value)}}}"
    return f"intstr.IntOrString{{Type:0, IntVal:{int(value or 0)}, StrVal:\"\"}}"


def invalid_raw(path: str, go_text: str, detail: str = "") -> FieldError:
    """``field.Invalid`` whose value is already rendered as Go prints it (structs, maps)."""
    return FieldError("FieldValueInvalid", path, detail=go_text + (f": {detail}" if detail else ""))


def not_supported_raw(path: str, go_text: str, supported: list[str] | tuple[str, ...]) -> FieldError:
    """``field.NotSupported`` whose value is already rendered as Go prints it."""
    return FieldError("FieldValueNotSupported", path, detail=f"{go_text}: supported values: " + ", ".join(
        go_quote(s) for s in supported))


def immutable(new: Any, old: Any, path: str, go_text: str | None = None) -> list[FieldError]:
    """apivalidation.ValidateImmutableField: ``path: Invalid value: <new>: field is immutable``."""
    if new == old:
        return []
    if go_text is None:
        if new is None:
            go_text = '"null"'  # field.Error prints a nil value as the string "null", quoted
        elif isinstance(new, (dict, list)):
            go_text = go_struct(new)
        else:
            return [invalid(path, new, "field is immutable")]
    return [invalid_raw(path, go_text, "field is immutable")]


def go_struct(value: Any) -> str:
    """A Go-like rendering of an arbitrary JSON value, for messages that print whole structs.

    Upstream prints internal Go structs with ``%#v``; reproducing their exact type names is not
    possible from JSON, so this keeps the shape (``{field:value, ...}``) that those messages show.
    """
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k[:1].upper()}{k[1:]}:{go_struct(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(go_struct(v) for v in value) + "]"
    return go_str(value) if value is not None else "nil"


# -------------------------------------------------------------------------------------- numbers


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def nonnegative(value: Any, path: str) -> list[FieldError]:
    """apivalidation.ValidateNonnegativeField."""
    if is_int(value) and value < 0:
        return [invalid(path, value, "must be greater than or equal to 0")]
    return []


_PERCENT = re.compile(r"^[0-9]+%$")


def percent_errors(value: str) -> list[str]:
    """validation.IsValidPercent."""
    if not _PERCENT.match(value):
        return ["a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', "
                "regex used for validation is '[0-9]+%')"]
    return []


def int_or_percent_errors(value: Any, path: str) -> list[FieldError]:
    """ValidatePositiveIntOrPercent of pkg/apis/apps/validation."""
    if isinstance(value, str):
        return [invalid_raw(path, go_int_or_string(value), m) for m in percent_errors(value)]
    if is_int(value):
        if value < 0:
            return [invalid(path, value, "must be greater than or equal to 0")]
        return []
    if value is None:
        return []
    return [invalid_raw(path, go_int_or_string(0), "must be an integer or percentage (e.g '5%%')")]


def int_or_percent_value(value: Any) -> int:
    """getIntOrPercentValue: the number in "25%" or the int itself (0 for anything invalid)."""
    if isinstance(value, str):
        if percent_errors(value):
            try:
                return int(value)
            except ValueError:
                return 0
        return int(value[:-1])
    return value if is_int(value) else 0


def not_more_than_100_percent(value: Any, path: str) -> list[FieldError]:
    if isinstance(value, str) and not percent_errors(value) and int(value[:-1]) > 100:
        return [invalid_raw(path, go_int_or_string(value), "must not be greater than 100%")]
    return []


# ------------------------------------------------------------------------------- label selectors


def validate_label_name(key: Any, path: str) -> list[FieldError]:
    return [invalid(path, key, m) for m in qualified_name_errors(str(key))]


def validate_label_selector(sel: Any, path: str, allow_invalid_label_values: bool = False) -> list[FieldError]:
    """unversionedvalidation.ValidateLabelSelector (metav1 LabelSelector)."""
    if not isinstance(sel, dict):
        return []
    errs = validate_labels(sel.get("matchLabels"), f"{path}.matchLabels")
    for i, expr in enumerate(sel.get("matchExpressions") or []):
        errs += validate_selector_requirement(expr, f"{path}.matchExpressions[{i}]", allow_invalid_label_values)
    return errs


def validate_selector_requirement(expr: Any, path: str, allow_invalid_label_values: bool = False) -> list[FieldError]:
    if not isinstance(expr, dict):
        return [required(path, "")]
    errs: list[FieldError] = []
    op = expr.get("operator", "")
    values = expr.get("values") or []
    if op in ("In", "NotIn"):
        if not values:
            errs.append(required(f"{path}.values", "must be specified when `operator` is 'In' or 'NotIn'"))
    elif op in ("Exists", "DoesNotExist"):
        if values:
            errs.append(forbidden(f"{path}.values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
    else:
        errs.append(invalid(f"{path}.operator", op, "not a valid selector operator"))
    errs += validate_label_name(expr.get("key", ""), f"{path}.key")
    if not allow_invalid_label_values:
        for i, v in enumerate(values):
            errs += [invalid(f"{path}.values[{i}]", v, m) for m in label_value_errors(str(v))]
    return errs


def selector_parses(sel: Any) -> bool:
    """Whether metav1.LabelSelectorAsSelector succeeds (it rejects what strict validation rejects)."""
    return sel is None or not validate_label_selector(sel, "s")


def selector_is_empty(sel: Any) -> bool:
    """labels.Selector.Empty(): a non-nil selector without requirements (it matches everything)."""
    return isinstance(sel, dict) and not sel.get("matchLabels") and not sel.get("matchExpressions")


def selector_matches(sel: Any, labels: Any) -> bool:
    """Whether a metav1.LabelSelector selects ``labels``; a nil selector selects nothing."""
    if not isinstance(sel, dict):
        return False
    labels = labels if isinstance(labels, dict) else {}
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in sel.get("matchExpressions") or []:
        key, op, values = e.get("key"), e.get("operator"), e.get("values") or []
        if op == "In" and (key not in labels or labels[key] not in values):
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def selector_mismatch(sel: Any, template: Obj, path: str) -> list[FieldError]:
    """The ``selector` does not match template `labels`` check, at ``path``.metadata.labels."""
    labels = (template.get("metadata") or {}).get("labels")
    if not selector_matches(sel, labels):
        return [invalid_raw(f"{path}.metadata.labels", go_string_map(labels), "`selector` does not match template `labels`")]
    return []


# ---------------------------------------------------------------------------------- pod templates


def default_object_meta_in_template(template: Obj) -> Obj:
    """An embedded ObjectMeta serializes ``creationTimestamp: null`` in kube 1.32; keep that shape."""
    meta = template.get("metadata")
    if not isinstance(meta, dict):
        meta = template["metadata"] = {}
    meta.setdefault("creationTimestamp", None)
    return meta


def default_pod_template(template: Any) -> None:
    """Defaults of a PodTemplateSpec embedded in a workload (same as a Pod's spec defaults)."""
    if not isinstance(template, dict):
        return
    default_object_meta_in_template(template)
    spec = template.get("spec")
    if not isinstance(spec, dict):
        spec = template["spec"] = {}
    default_pod_spec(spec)


def validate_pod_template(template: Any, path: str) -> list[FieldError]:
    """apivalidation.ValidatePodTemplateSpec: labels, annotations, the pod spec.

    Note upstream's paths: template labels are reported at ``<path>.labels`` (not metadata.labels).
    """
    if not isinstance(template, dict):
        return [required(path, "")]
    meta = template.get("metadata") or {}
    errs = validate_labels(meta.get("labels"), f"{path}.labels")
    errs += validate_annotations(meta.get("annotations"), f"{path}.annotations")
    spec = template.get("spec") or {}
    errs += validate_pod_spec(spec, f"{path}.spec")
    if spec.get("ephemeralContainers"):
        errs.append(forbidden(f"{path}.spec.ephemeralContainers", "ephemeral containers not allowed in pod template"))
    return errs


# --------------------------------------------------------------------------------------- names


def spec_of(obj: Obj) -> Obj:
    """obj["spec"], created if absent (defaulting works on a present spec, as Go's zero struct)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = obj["spec"] = {}
    return spec



# --------------------------------------------------------------------------------- ports and IPs

_PORT_NAME_CHARS = re.compile(r"^[-a-z0-9]+$")
_PORT_NAME_LETTER = re.compile(r"[a-z]")


def port_name_errors(port: str) -> list[str]:
    """validation.IsValidPortName (an IANA_SVC_NAME)."""
    errs = []
    if len(port) > 15:
        errs.append("must be no more than 15 characters")
    if not _PORT_NAME_CHARS.match(port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not _PORT_NAME_LETTER.search(port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port.startswith("-") or port.endswith("-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def port_number_errors(port: Any) -> list[str]:
    """validation.IsValidPortNum."""
    if not is_int(port) or not 1 <= port <= 65535:
        return ["must be between 1 and 65535, inclusive"]
    return []


def parse_ip(value: str) -> Any:
    """netutils.ParseIPSloppy: an ipaddress object, or None (leading zeros allowed in IPv4)."""
    import ipaddress

    try:
        return ipaddress.ip_address(value)
    except ValueError:
        parts = value.split(".")
        if len(parts) == 4 and all(p.isdigit() and int(p) < 256 for p in parts):
            return ipaddress.ip_address(".".join(str(int(p)) for p in parts))
        return None


def parse_cidr(value: str) -> Any:
    import ipaddress

    if "/" not in value:
        return None
    addr, _, bits = value.partition("/")
    ip = parse_ip(addr)
    if ip is None or not bits.isdigit():
        return None
    try:
        return ipaddress.ip_network(f"{ip}/{bits}", strict=False)
    except ValueError:
        return None


def cidr_errors(value: Any, path: str) -> list[FieldError]:
    """validation.IsValidCIDR."""
    if not isinstance(value, str) or parse_cidr(value) is None:
        return [invalid(path, value, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")]
    return []
