"""Field rules shared by several core/v1 kinds: ports, resource lists, config keys, IPs.

Messages are those of k8s.io/apimachinery/pkg/util/validation and pkg/apis/core/validation, so a
client sees the same text as from kube-apiserver. Paths are plain strings ("spec.ports[0].port").
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from facade.errors import FieldError, invalid, required
from facade.kinds import core_quantity
from facade.validation import (
    dns1123_label_errors,
    dns1123_subdomain_errors,
    qualified_name_errors,
    regex_error,
)

Obj = dict[str, Any]

MAX_INT32 = 2**31 - 1


def key(path: str, k: str) -> str:
    """field.Path.Key: ``data[tls.crt]``."""
    return f"{path}[{k}]"


def idx(path: str, i: int) -> str:
    return f"{path}[{i}]"


def child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def inclusive_range_error(lo: int, hi: int) -> str:
    return f"must be between {lo} and {hi}, inclusive"


def port_num_errors(port: Any) -> list[str]:
    """IsValidPortNum."""
    if isinstance(port, int) and not isinstance(port, bool) and 1 <= port <= 65535:
        return []
    return [inclusive_range_error(1, 65535)]


_port_name_chars = re.compile("^[-a-z0-9]+$")
_has_letter = re.compile("[a-z]")


def port_name_errors(name: str) -> list[str]:
    """IsValidPortName (an IANA_SVC_NAME)."""
    errs = []
    if len(name) > 15:
        errs.append("must be no more than 15 characters")
    if not _port_name_chars.match(name):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not _has_letter.search(name):
        errs.append("must contain at least one letter (a-z)")
    if "--" in name:
        errs.append("must not contain consecutive hyphens")
    if name.startswith("-") or name.endswith("-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def validate_port_num_or_name(port: Any, path: str) -> list[FieldError]:
    """validatePortNumOrName: an int port in range, or an IANA port name."""
    if isinstance(port, int) and not isinstance(port, bool):
        return [invalid(path, port, m) for m in port_num_errors(port)]
    if isinstance(port, str):
        if not port:
            return [required(path, "")]
        return [invalid(path, port, m) for m in port_name_errors(port)]
    return [invalid(path, port, "must contain an int or string")]


def label_errors(value: str, path: str) -> list[FieldError]:
    """ValidateDNS1123Label at a path."""
    return [invalid(path, value, m) for m in dns1123_label_errors(value)]


def subdomain_errors(value: str, path: str) -> list[FieldError]:
    return [invalid(path, value, m) for m in dns1123_subdomain_errors(value)]


def nonnegative(value: Any, path: str) -> list[FieldError]:
    """ValidateNonnegativeField."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        return [invalid(path, value, "must be greater than or equal to 0")]
    return []


#: the volume source fields of a pod Volume, in the Go struct's order (upstream reports the later ones)
VOLUME_SOURCES = (
    "hostPath", "emptyDir", "gitRepo", "gcePersistentDisk", "awsElasticBlockStore", "secret", "nfs", "iscsi",
    "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "downwardAPI", "fc",
    "azureFile", "configMap", "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "projected",
    "portworxVolume", "scaleIO", "storageos", "csi", "ephemeral", "image",
)


# -- config keys (ConfigMap, Secret, key selectors) -----------------------------------------------

CONFIG_KEY_FMT = "[-._a-zA-Z0-9]+"
_config_key = re.compile("^" + CONFIG_KEY_FMT + "$")


def config_key_errors(k: str) -> list[str]:
    """IsConfigMapKey."""
    errs = []
    if len(k) > 253:
        errs.append("must be no more than 253 characters")
    if not _config_key.match(k):
        errs.append(
            regex_error(
                "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                CONFIG_KEY_FMT,
                "key.name",
                "KEY_NAME",
                "key-name",
            )
        )
    if k == ".":
        errs.append("must not be '.'")
    elif k == "..":
        errs.append("must not be '..'")
    elif k.startswith(".."):
        errs.append("must not start with '..'")
    return errs


# -- resource names and quantities ----------------------------------------------------------------

STANDARD_CONTAINER_RESOURCES = {"cpu", "memory", "ephemeral-storage"}
STANDARD_RESOURCES = {
    "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory", "requests.ephemeral-storage",
    "limits.cpu", "limits.memory", "limits.ephemeral-storage", "pods", "services", "replicationcontrollers",
    "resourcequotas", "secrets", "persistentvolumeclaims", "configmaps", "storage", "requests.storage",
    "services.nodeports", "services.loadbalancers",
}
STANDARD_QUOTA_RESOURCES = STANDARD_RESOURCES - {"storage"} | {"count/"}
_INTEGER_RESOURCES = {
    "pods", "services", "replicationcontrollers", "resourcequotas", "secrets", "configmaps",
    "persistentvolumeclaims", "services.nodeports", "services.loadbalancers",
}


def is_hugepages(name: str) -> bool:
    return name.startswith("hugepages-") or name.startswith("requests.hugepages-") or name.startswith(
        "limits.hugepages-"
    )


def is_native(name: str) -> bool:
    """IsNativeResource: no domain prefix, or the kubernetes.io domain."""
    return "/" not in name or "kubernetes.io/" in name


def is_extended(name: str) -> bool:
    """IsExtendedResourceName: fully qualified outside kubernetes.io, and not a quota "requests." name."""
    if is_native(name) or name.startswith("requests."):
        return False
    return not qualified_name_errors("requests." + name)


def is_overcommit_allowed(name: str) -> bool:
    return is_native(name) and not is_hugepages(name)


def is_integer_resource(name: str) -> bool:
    return name in _INTEGER_RESOURCES or is_extended(name)


def validate_resource_name(name: str, path: str) -> list[FieldError]:
    """validateResourceName: a qualified name; an unprefixed one must be a standard resource."""
    errs = [invalid(path, name, m) for m in qualified_name_errors(name)]
    if errs:
        return errs
    if "/" not in name and name not in STANDARD_RESOURCES and not is_hugepages(name):
        errs.append(invalid(path, name, "must be a standard resource type or fully qualified"))
    return errs


def validate_container_resource_name(name: str, path: str) -> list[FieldError]:
    errs = validate_resource_name(name, path)
    if "/" not in name:
        if name not in STANDARD_CONTAINER_RESOURCES and not name.startswith("hugepages-"):
            errs.append(invalid(path, name, "must be a standard resource for containers"))
    elif not is_native(name) and not is_extended(name):
        errs.append(invalid(path, name, "doesn't follow extended resource name standard"))
    return errs


def validate_quantity_value(name: str, raw: Any, path: str) -> list[FieldError]:
    """ValidateResourceQuantityValue: parseable, non-negative, whole for integer resources."""
    try:
        q = core_quantity.parse(raw)
    except core_quantity.QuantityError as e:
        return [invalid(path, raw, str(e))]
    errs = []
    if q.value < 0:
        errs.append(invalid(path, str(q), "must be greater than or equal to 0"))
    if is_integer_resource(name) and (q.value * 1000) % 1000 != 0:
        # upstream passes the Quantity itself, which prints as Go's %#v of the struct
        errs.append(FieldError("FieldValueInvalid", path, detail=f"{core_quantity.go_struct(raw)}: must be an integer"))
    return errs


def validate_resource_requirements(res: Any, path: str) -> list[FieldError]:
    """ValidateResourceRequirements for containers (and PVC resources): names, values, requests <= limits."""
    errs: list[FieldError] = []
    if not isinstance(res, dict):
        return errs
    limits = res.get("limits") or {}
    requests = res.get("requests") or {}
    lim_path, req_path = child(path, "limits"), child(path, "requests")
    for name, raw in limits.items():
        p = key(lim_path, name)
        errs += validate_container_resource_name(name, p)
        errs += validate_quantity_value(name, raw, p)
    for name, raw in requests.items():
        p = key(req_path, name)
        errs += validate_container_resource_name(name, p)
        errs += validate_quantity_value(name, raw, p)
        req = core_quantity.value_of(raw)
        if name in limits:
            lim = core_quantity.value_of(limits[name])
            if req is None or lim is None:
                continue
            if req != lim and not is_overcommit_allowed(name):
                errs.append(invalid(req_path, str(raw), f"must be equal to {name} limit of {limits[name]}"))
            elif req > lim:
                errs.append(invalid(req_path, str(raw), f"must be less than or equal to {name} limit of {limits[name]}"))
        elif not is_overcommit_allowed(name):
            errs.append(required(lim_path, "Limit must be set for non overcommitable resources"))
    return errs


def canonicalize_requirements(res: Any) -> None:
    if isinstance(res, dict):
        core_quantity.canonicalize_list(res.get("limits"))
        core_quantity.canonicalize_list(res.get("requests"))


# -- IPs --------------------------------------------------------------------------------------------


def ip_errors(value: str) -> list[str]:
    """IsValidIP (strict parsing: no leading zeros, as Go's netip)."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return ["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"]
    return []


def str_field(obj: Any, *path: str) -> str:
    """A nested string field, "" when absent or not a string."""
    cur = obj
    for p in path:
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(p)
    return cur if isinstance(cur, str) else ""


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
