"""A container's environment as kubelet builds it: envFrom, env (values, key refs, field and resource refs).

Errors keep kubelet's wording (``configmap "x" not found``, ``couldn't find key k in ConfigMap ns/x``):
the agent turns them into ``CreateContainerConfigError`` and a ``Failed`` Event, as kubelet does.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Awaitable, Callable
from fractions import Fraction
from typing import Any

from facade.kinds.core_quantity import value_of

Obj = dict[str, Any]
#: (kind, namespace, name) → the object, or None when it does not exist
Getter = Callable[[str, str, str], Awaitable[Obj | None]]


class ConfigError(Exception):
    """The container's configuration cannot be resolved (CreateContainerConfigError)."""


def expand(text: str, lookup: Callable[[str], str | None]) -> str:
    """Kubernetes ``$(VAR)`` expansion: known names replaced, unknown left as written, ``$$`` is ``$``."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "$" and i + 1 < n:
            nxt = text[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                end = text.find(")", i + 2)
                if end != -1:
                    name = text[i + 2:end]
                    value = lookup(name)
                    out.append(value if value is not None else text[i:end + 1])
                    i = end + 1
                    continue
        out.append(ch)
        i += 1
    return "".join(out)


def _format_map(m: Obj) -> str:
    return "\n".join(f'{k}="{v}"' for k, v in sorted((m or {}).items()))


def field_value(pod: Obj, path: str) -> str:
    """What a downward-API ``fieldRef`` reads from the pod."""
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.hostIP": status.get("hostIP", ""),
        "status.podIP": status.get("podIP", ""),
        "status.hostIPs": ",".join(a.get("ip", "") for a in status.get("hostIPs") or []),
        "status.podIPs": ",".join(a.get("ip", "") for a in status.get("podIPs") or []),
    }
    if path in simple:
        return simple[path]
    if path == "metadata.labels":
        return _format_map(meta.get("labels") or {})
    if path == "metadata.annotations":
        return _format_map(meta.get("annotations") or {})
    for prefix, key in (("metadata.labels[", "labels"), ("metadata.annotations[", "annotations")):
        if path.startswith(prefix) and path.endswith("]"):
            name = path[len(prefix):-1].strip("'\"")
            return str((meta.get(key) or {}).get(name, ""))
    raise ConfigError(f"unsupported fieldPath: {path}")


def resource_value(container: Obj, resource: str, divisor: Any, allocatable: Obj) -> str:
    """A ``resourceFieldRef``: limits default to the node's allocatable; CPU and memory rounded up."""
    section, _, name = resource.partition(".")
    resources = container.get("resources") or {}
    raw = (resources.get(section) or {}).get(name)
    if raw is None and section == "limits":
        raw = allocatable.get(name)
    value = value_of(raw) if raw is not None else Fraction(0)
    div = value_of(divisor) if divisor not in (None, "", 0) else Fraction(1)
    if value is None or not div:
        raise ConfigError(f"invalid resource quantity for {resource}")
    return str(math.ceil(value / div))


async def build_env(pod: Obj, container: Obj, get: Getter, allocatable: Obj) -> dict[str, str]:
    """The container's environment, in kubelet's order: envFrom sources, then env entries."""
    ns = (pod.get("metadata") or {}).get("namespace", "")
    env: dict[str, str] = {}
    for src in container.get("envFrom") or []:
        prefix = src.get("prefix") or ""
        for kind, ref_key in (("configmaps", "configMapRef"), ("secrets", "secretRef")):
            ref = src.get(ref_key)
            if not ref:
                continue
            obj = await get(kind, ns, ref.get("name", ""))
            if obj is None:
                if ref.get("optional"):
                    continue
                raise ConfigError(f'{kind[:-1]} "{ref.get("name", "")}" not found')
            data = obj.get("data") or {}
            for k, v in data.items():
                env[prefix + k] = _decode(v) if kind == "secrets" else str(v)
    for var in container.get("env") or []:
        name = var.get("name", "")
        value_from = var.get("valueFrom")
        if not value_from:
            env[name] = expand(str(var.get("value", "")), env.get)
            continue
        if "fieldRef" in value_from:
            env[name] = field_value(pod, value_from["fieldRef"].get("fieldPath", ""))
        elif "resourceFieldRef" in value_from:
            ref = value_from["resourceFieldRef"]
            target = container
            if ref.get("containerName"):
                target = next((c for c in (pod.get("spec") or {}).get("containers", []) + (
                    (pod.get("spec") or {}).get("initContainers") or []) if c.get("name") == ref["containerName"]),
                    container)
            env[name] = resource_value(target, ref.get("resource", ""), ref.get("divisor"), allocatable)
        else:
            for kind, ref_key, label in (("configmaps", "configMapKeyRef", "ConfigMap"),
                                         ("secrets", "secretKeyRef", "Secret")):
                ref = value_from.get(ref_key)
                if not ref:
                    continue
                obj_name, key, optional = ref.get("name", ""), ref.get("key", ""), bool(ref.get("optional"))
                obj = await get(kind, ns, obj_name)
                if obj is None:
                    if optional:
                        break
                    raise ConfigError(f'{kind[:-1]} "{obj_name}" not found')
                data = obj.get("data") or {}
                if key not in data:
                    if optional:
                        break
                    raise ConfigError(f"couldn't find key {key} in {label} {ns}/{obj_name}")
                env[name] = _decode(data[key]) if kind == "secrets" else str(data[key])
                break
    return env


def _decode(value: Any) -> str:
    try:
        return base64.b64decode(str(value)).decode("utf-8", "replace")
    except (ValueError, TypeError):
        return ""


def expand_command(container: Obj, env: dict[str, str]) -> tuple[list[str], list[str]]:
    """``command`` and ``args`` with ``$(VAR)`` expanded against the container's environment."""
    return ([expand(str(a), env.get) for a in container.get("command") or []],
            [expand(str(a), env.get) for a in container.get("args") or []])
