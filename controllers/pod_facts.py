"""Pod facts the scheduler and the ReplicaSet/Deployment controllers read (k8s.io/kubernetes/pkg/api/v1/pod).

Readiness and availability decide ReplicaSet and Deployment status; resource requests decide
where a pod fits. They are read the way upstream reads them so the counts match a real cluster.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import orjson

from controllers.pod_util import condition, controller_of, is_ready, is_terminal, parse_time  # noqa: F401 - re-exported to the scheduler and ReplicaSet/Deployment controllers
from facade.kinds.core_quantity import value_of
from storage.selectors import LabelSelector, SelectorError, selector_from_label_selector, selector_from_set

Obj = dict[str, Any]


def meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def is_available(pod: Obj, min_ready_seconds: int, now: float) -> bool:
    """podutil.IsPodAvailable: Ready, and Ready for longer than minReadySeconds."""
    c = condition(pod, "Ready")
    if not c or c.get("status") != "True":
        return False
    if not min_ready_seconds:
        return True
    since = parse_time(c.get("lastTransitionTime"))
    return since is not None and since + min_ready_seconds < now


def ready_since(pod: Obj) -> float | None:
    c = condition(pod, "Ready")
    if not c or c.get("status") != "True":
        return None
    return parse_time(c.get("lastTransitionTime"))


def is_active(pod: Obj) -> bool:
    """controller.IsPodActive: not finished and not being deleted."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not meta(pod).get("deletionTimestamp")


_selectors: dict[bytes, LabelSelector] = {}


def selector_of(spec_selector: Any) -> LabelSelector:
    """A LabelSelector (apps) or a plain map (ReplicationController) as a matcher; invalid selects nothing.

    Compiled once per distinct selector (LabelSelector is immutable): controllers ask for the
    selector of the same few owners on every sync.
    """
    if not isinstance(spec_selector, dict):
        return LabelSelector.nothing()
    try:
        key = orjson.dumps(spec_selector, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return _compile_selector(spec_selector)
    sel = _selectors.get(key)
    if sel is None:
        if len(_selectors) >= 4096:
            _selectors.clear()
        sel = _selectors[key] = _compile_selector(spec_selector)
    return sel


def _compile_selector(spec_selector: Obj) -> LabelSelector:
    try:
        if "matchLabels" in spec_selector or "matchExpressions" in spec_selector:
            return selector_from_label_selector(spec_selector)
        if not spec_selector:
            return LabelSelector.nothing() if spec_selector is None else LabelSelector()
        return selector_from_set(spec_selector)
    except SelectorError:
        return LabelSelector.nothing()


def labels(obj: Obj) -> dict[str, str]:
    return meta(obj).get("labels") or {}


# -- resources -------------------------------------------------------------------------------

#: what the scheduler assumes for a container without requests, when scoring (not filtering)
DEFAULT_MILLI_CPU = Fraction(1, 10)
DEFAULT_MEMORY = Fraction(200 * 1024 * 1024)


def _add(total: dict[str, Fraction], resources: Any) -> None:
    for name, raw in (resources or {}).items():
        v = value_of(raw)
        if v is not None:
            total[name] = total.get(name, Fraction(0)) + v


def _max(total: dict[str, Fraction], resources: dict[str, Fraction]) -> None:
    for name, v in resources.items():
        if v > total.get(name, Fraction(0)):
            total[name] = v


def pod_requests(pod: Obj, non_zero: bool = False) -> dict[str, Fraction]:
    """resourcehelper.PodRequests: containers (and sidecars) summed, init containers as a max, plus overhead.

    ``non_zero`` fills cpu and memory defaults for containers that request nothing, as scoring does.
    """
    spec = pod.get("spec") or {}

    def container_requests(c: Obj) -> dict[str, Fraction]:
        out: dict[str, Fraction] = {}
        _add(out, (c.get("resources") or {}).get("requests"))
        if non_zero:
            out.setdefault("cpu", DEFAULT_MILLI_CPU)
            out.setdefault("memory", DEFAULT_MEMORY)
        return out

    total: dict[str, Fraction] = {}
    for c in spec.get("containers") or []:
        for k, v in container_requests(c).items():
            total[k] = total.get(k, Fraction(0)) + v
    sidecars: dict[str, Fraction] = {}
    init_max: dict[str, Fraction] = {}
    for c in spec.get("initContainers") or []:
        req = container_requests(c)
        if c.get("restartPolicy") == "Always":
            for k, v in req.items():
                sidecars[k] = sidecars.get(k, Fraction(0)) + v
            continue
        _max(init_max, {k: v + sidecars.get(k, Fraction(0)) for k, v in req.items()})
    for k, v in sidecars.items():
        total[k] = total.get(k, Fraction(0)) + v
    _max(total, init_max)
    _add(total, spec.get("overhead"))
    return total


def quantity_map(resources: Any) -> dict[str, Fraction]:
    out: dict[str, Fraction] = {}
    _add(out, resources)
    return out
