"""LimitRanger and ResourceQuota admission (plugin/pkg/admission/limitranger, resourcequota).

Run on create after validation so a request that breaks a namespace's LimitRange or quota is
refused with upstream's Forbidden message before anything is stored; quota is evaluated on update
too (``admit_update``), charging only the growth of what the object uses. Quota usage is computed from
the objects in the namespace at admission time (upstream reads status.used, which its controller
keeps equal to that count), so two creates in a row are both charged without waiting for a sync.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import orjson

from facade import errors
from facade.kinds.core_quantity import DECIMAL, QuantityError, canonical, parse

Obj = dict[str, Any]

# Object counts quota tracks: plural -> the quota names that count one object each.
_COUNTED = {
    "pods": ("pods", "count/pods"),
    "configmaps": ("configmaps", "count/configmaps"),
    "services": ("services", "count/services"),
    "secrets": ("secrets", "count/secrets"),
    "persistentvolumeclaims": ("persistentvolumeclaims", "count/persistentvolumeclaims"),
}

#: the kinds whose objects count against quota (the quota controller watches them)
COUNTED_PLURALS = tuple(_COUNTED)


def _q(raw: Any) -> Fraction | None:
    try:
        return parse(raw).value
    except QuantityError:
        return None


def _fmt(raw: Any) -> str:
    try:
        return parse(raw).format
    except QuantityError:
        return DECIMAL


def _containers(pod: Obj) -> list[Obj]:
    spec = pod.get("spec") or {}
    return [c for c in (spec.get("containers") or []) + (spec.get("initContainers") or []) if isinstance(c, dict)]


def _pod_usage(pod: Obj) -> dict[str, Fraction]:
    """Requests and limits a pod charges: the sum over app containers, at least the largest init container."""
    spec = pod.get("spec") or {}
    out: dict[str, Fraction] = {}
    for kind in ("requests", "limits"):
        for res in ("cpu", "memory", "ephemeral-storage"):
            total = sum(
                (_q(((c.get("resources") or {}).get(kind) or {}).get(res)) or Fraction(0)
                 for c in spec.get("containers") or []),
                Fraction(0),
            )
            init = max(
                ((_q(((c.get("resources") or {}).get(kind) or {}).get(res)) or Fraction(0))
                 for c in spec.get("initContainers") or []),
                default=Fraction(0),
            )
            v = max(total, init)
            if v:
                out[f"{kind}.{res}"] = v
                if kind == "requests":
                    out[res] = v
    return out


def usage(plural: str, obj: Obj) -> dict[str, Fraction]:
    """What one object charges against a quota, by quota resource name."""
    out: dict[str, Fraction] = {name: Fraction(1) for name in _COUNTED.get(plural, ())}
    if plural == "pods":
        if (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return {}
        out.update(_pod_usage(obj))
    elif plural == "persistentvolumeclaims":
        storage = _q((((obj.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage"))
        if storage:
            out["requests.storage"] = storage
    elif plural == "services":
        spec = obj.get("spec") or {}
        kind = spec.get("type")
        ports = Fraction(len(spec.get("ports") or []))
        if kind == "NodePort":  # every port of the service takes a node port
            out["services.nodeports"] = ports
        elif kind == "LoadBalancer":
            if spec.get("allocateLoadBalancerNodePorts") is not False:
                out["services.nodeports"] = ports
            out["services.loadbalancers"] = Fraction(1)
    return out


async def _namespace_objects(rest: Any, plural: str, namespace: str) -> list[Obj]:
    info = rest.table.get("", "v1", plural)
    if info is None:
        return []
    items, _, _ = await rest.store.list(info.store_key, f"{namespace}/")
    return [orjson.loads(s.data) for s in items]


async def namespace_usage(rest: Any, namespace: str, names: set[str]) -> dict[str, Fraction]:
    """The namespace's current usage of the quota resources in ``names``."""
    used: dict[str, Fraction] = {n: Fraction(0) for n in names}
    for plural in _COUNTED:
        if not any(n in names for n in _tracked_by(plural)):
            continue
        for obj in await _namespace_objects(rest, plural, namespace):
            if (obj.get("metadata") or {}).get("deletionTimestamp"):
                continue
            for k, v in usage(plural, obj).items():
                if k in used:
                    used[k] += v
    return used


def _tracked_by(plural: str) -> tuple[str, ...]:
    base = _COUNTED[plural]
    if plural == "pods":
        return (*base, "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory",
                "limits.cpu", "limits.memory", "requests.ephemeral-storage", "limits.ephemeral-storage")
    if plural == "persistentvolumeclaims":
        return (*base, "requests.storage")
    if plural == "services":
        return (*base, "services.nodeports", "services.loadbalancers")
    return base


def _pretty(values: dict[str, str]) -> str:
    return ",".join(f"{k}={values[k]}" for k in sorted(values))


# -- LimitRange -------------------------------------------------------------------------------------


def _apply_limit_defaults(pod: Obj, limit_ranges: list[Obj]) -> None:
    """LimitRanger's mutation: a container without a request or limit gets the LimitRange default."""
    for lr in limit_ranges:
        for item in (lr.get("spec") or {}).get("limits") or []:
            if item.get("type") != "Container":
                continue
            default = item.get("default") or {}
            default_request = item.get("defaultRequest") or {}
            for c in _containers(pod):
                res = c.setdefault("resources", {})
                for name, value in default.items():
                    res.setdefault("limits", {}).setdefault(name, value)
                for name, value in {**default, **default_request}.items():
                    res.setdefault("requests", {}).setdefault(name, value)


def _limit_errors(pod: Obj, limit_ranges: list[Obj]) -> list[str]:
    """LimitRanger's validation: min/max per Container, in upstream's words."""
    out: list[str] = []
    for lr in limit_ranges:
        for item in (lr.get("spec") or {}).get("limits") or []:
            if item.get("type") != "Container":
                continue
            for c in _containers(pod):
                res = c.get("resources") or {}
                requests, limits = res.get("requests") or {}, res.get("limits") or {}
                for name, raw in sorted((item.get("min") or {}).items()):
                    enforced = str(parse(raw))
                    if name not in requests:
                        out.append(f"minimum {name} usage per Container is {enforced}.  No request is specified")
                    elif (_q(requests[name]) or 0) < parse(raw).value:
                        out.append(f"minimum {name} usage per Container is {enforced}, but request is "
                                   f"{parse(requests[name])}")
                for name, raw in sorted((item.get("max") or {}).items()):
                    enforced = str(parse(raw))
                    if name not in limits:
                        out.append(f"maximum {name} usage per Container is {enforced}.  No limit is specified")
                    elif (_q(limits[name]) or 0) > parse(raw).value:
                        out.append(f"maximum {name} usage per Container is {enforced}, but limit is "
                                   f"{parse(limits[name])}")
    return out


def _aggregate(messages: list[str]) -> str:
    """utilerrors.NewAggregate's text: one message alone, several in brackets."""
    return messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"


# -- the admission step ------------------------------------------------------------------------------


async def admit_create(rest: Any, info: Any, namespace: str, obj: Obj) -> None:
    """LimitRanger then ResourceQuota for a create in a namespace; raises Forbidden when refused."""
    if info.group != "" or not namespace or info.plural not in _COUNTED:
        return
    name = (obj.get("metadata") or {}).get("name", "")
    if info.plural == "pods":
        limit_ranges = await _namespace_objects(rest, "limitranges", namespace)
        if limit_ranges:
            _apply_limit_defaults(obj, limit_ranges)
            problems = _limit_errors(obj, limit_ranges)
            if problems:
                raise errors.forbidden_error(info.plural, info.group, name, _aggregate(problems))
    quotas = await _namespace_objects(rest, "resourcequotas", namespace)
    if quotas:  # most namespaces have none: then what the object would use is not even computed
        await _check_quota(rest, info, namespace, name, usage(info.plural, obj), quotas)


# Kinds whose quota usage can change on update (upstream's evaluators that handle Update): a claim
# growing its storage request, a Service changing its type or ports. Object counts and a pod's
# resources (immutable) are charged on create only.
_UPDATE_EVALUATED = ("services", "persistentvolumeclaims")


async def admit_update(rest: Any, info: Any, namespace: str, new: Obj, old: Obj) -> None:
    """ResourceQuota for an update: charge what the object uses beyond its previous version."""
    if info.group != "" or not namespace or info.plural not in _UPDATE_EVALUATED:
        return
    before = usage(info.plural, old)
    delta = {k: v - before.get(k, Fraction(0)) for k, v in usage(info.plural, new).items()}
    delta = {k: v for k, v in delta.items() if v > 0}
    if delta:
        await _check_quota(rest, info, namespace, (new.get("metadata") or {}).get("name", ""), delta)


async def _check_quota(rest: Any, info: Any, namespace: str, name: str, requested: dict[str, Fraction],
                       quotas: list[Obj] | None = None) -> None:
    """Refuse with upstream's Forbidden message when ``requested`` on top of current usage exceeds a quota."""
    if quotas is None:
        quotas = await _namespace_objects(rest, "resourcequotas", namespace)
    if not quotas:
        return
    hard_names = {k for q in quotas for k in ((q.get("spec") or {}).get("hard") or {})}
    relevant = hard_names & set(requested)
    if not relevant:
        return
    used = await namespace_usage(rest, namespace, relevant)
    for quota in sorted(quotas, key=lambda q: q["metadata"]["name"]):
        hard = (quota.get("spec") or {}).get("hard") or {}
        exceeded = [k for k in hard if k in requested and used.get(k, Fraction(0)) + requested[k] > (_q(hard[k]) or 0)]
        if exceeded:
            fmt = {k: _fmt(hard[k]) for k in exceeded}
            raise errors.forbidden_error(
                info.plural, info.group, name,
                f"exceeded quota: {quota['metadata']['name']}, "
                f"requested: {_pretty({k: canonical(requested[k], fmt[k]) for k in exceeded})}, "
                f"used: {_pretty({k: canonical(used.get(k, Fraction(0)), fmt[k]) for k in exceeded})}, "
                f"limited: {_pretty({k: str(parse(hard[k])) for k in exceeded})}",
            )
