"""events.k8s.io/v1: Events in their newer shape (regarding, note, reportingController, series).

Upstream stores these in the same place as core/v1 Events and validates the internal (core) form,
which is why field paths in messages use core names: ``involvedObject``, ``message``, ``source``,
``firstTimestamp``, ``lastTimestamp``, ``count``. Here they are kept in their own storage (see
``to_core_event``/``from_core_event`` for the field mapping, ready for a shared store); validation
follows pkg/apis/core/validation/events.go for requests made through events.k8s.io/v1.
"""

from __future__ import annotations

from typing import Any

from facade.errors import FieldError, invalid, required
from facade.kinds.group_support import go_struct, immutable
from facade.resource_table import ResourceInfo, Strategy
from facade.validation import dns1123_subdomain_errors, qualified_name_errors

Obj = dict[str, Any]

REPORTING_INSTANCE_LENGTH_LIMIT = 128
ACTION_LENGTH_LIMIT = 128
REASON_LENGTH_LIMIT = 128
NOTE_LENGTH_LIMIT = 1024

#: events.k8s.io/v1 field -> core/v1 Event field
_TO_CORE = {
    "regarding": "involvedObject",
    "note": "message",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
    "related": "related",
    "reason": "reason",
    "type": "type",
    "action": "action",
    "eventTime": "eventTime",
    "reportingController": "reportingComponent",
    "reportingInstance": "reportingInstance",
}


def to_core_event(obj: Obj) -> Obj:
    """An events.k8s.io/v1 Event as a core/v1 Event (series maps field by field)."""
    out: Obj = {"apiVersion": "v1", "kind": "Event", "metadata": obj.get("metadata") or {}}
    for new, old in _TO_CORE.items():
        if new in obj:
            out[old] = obj[new]
    series = obj.get("series")
    if isinstance(series, dict):
        out["series"] = {"count": series.get("count"), "lastObservedTime": series.get("lastObservedTime")}
    return out


def from_core_event(obj: Obj) -> Obj:
    """A core/v1 Event as an events.k8s.io/v1 Event."""
    out: Obj = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": obj.get("metadata") or {}}
    for new, old in _TO_CORE.items():
        if old in obj and obj[old] not in (None, "", 0, {}):
            out[new] = obj[old]
    series = obj.get("series")
    if isinstance(series, dict):
        out["series"] = {"count": series.get("count"), "lastObservedTime": series.get("lastObservedTime")}
    return out


def _legacy_validate(obj: Obj) -> list[FieldError]:
    """legacyValidateEvent, as run for an events.k8s.io request."""
    errs: list[FieldError] = []
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace") or ""
    regarding = obj.get("regarding") if isinstance(obj.get("regarding"), dict) else {}
    reg_ns = regarding.get("namespace") or ""
    if not obj.get("eventTime"):
        if not reg_ns:
            if namespace not in ("", "default"):
                errs.append(invalid("involvedObject.namespace", reg_ns, "does not match event.namespace"))
        elif namespace != reg_ns:
            errs.append(invalid("involvedObject.namespace", reg_ns, "does not match event.namespace"))
    else:
        if not reg_ns and namespace not in ("default", "kube-system"):
            errs.append(invalid("involvedObject.namespace", reg_ns, "does not match event.namespace"))
        controller = obj.get("reportingController") or ""
        if not controller:
            errs.append(required("reportingController", ""))
        errs += [invalid("reportingController", controller, m) for m in qualified_name_errors(controller)]
        instance = obj.get("reportingInstance") or ""
        if not instance:
            errs.append(required("reportingInstance", ""))
        if len(instance) > REPORTING_INSTANCE_LENGTH_LIMIT:
            errs.append(invalid("reportingInstance", "", f"can have at most {REPORTING_INSTANCE_LENGTH_LIMIT} characters"))
        action = obj.get("action") or ""
        if not action:
            errs.append(required("action", ""))
        if len(action) > ACTION_LENGTH_LIMIT:
            errs.append(invalid("action", "", f"can have at most {ACTION_LENGTH_LIMIT} characters"))
        reason = obj.get("reason") or ""
        if not reason:
            errs.append(required("reason", ""))
        if len(reason) > REASON_LENGTH_LIMIT:
            errs.append(invalid("reason", "", f"can have at most {REASON_LENGTH_LIMIT} characters"))
        if len(obj.get("note") or "") > NOTE_LENGTH_LIMIT:
            errs.append(invalid("message", "", f"can have at most {NOTE_LENGTH_LIMIT} characters"))
    errs += [invalid("namespace", namespace, m) for m in dns1123_subdomain_errors(namespace)]
    return errs


def _validate_series(obj: Obj) -> list[FieldError]:
    series = obj.get("series")
    if not isinstance(series, dict):
        return []
    errs: list[FieldError] = []
    if (series.get("count") or 0) < 2:
        errs.append(invalid("series.count", "", "should be at least 2"))
    if not series.get("lastObservedTime"):
        errs.append(required("series.lastObservedTime", ""))
    return errs


class EventStrategy(Strategy):
    """events.k8s.io/v1 Events; ``to_storage``/``from_storage`` give the core/v1 form for a shared store."""

    def to_storage(self, obj: Obj) -> Obj:
        return to_core_event(obj)

    def from_storage(self, obj: Obj) -> Obj:
        return from_core_event(obj)

    def validate(self, obj: Obj) -> list[FieldError]:
        errs = _legacy_validate(obj)
        errs += _validate_series(obj)
        if not obj.get("eventTime"):
            errs.append(required("eventTime", ""))
        if obj.get("type") not in ("Normal", "Warning"):
            errs.append(invalid("type", "", f"has invalid value: {obj.get('type') or ''}"))
        if obj.get("deprecatedFirstTimestamp"):
            errs.append(invalid("firstTimestamp", "", "needs to be unset"))
        if obj.get("deprecatedLastTimestamp"):
            errs.append(invalid("lastTimestamp", "", "needs to be unset"))
        if obj.get("deprecatedCount"):
            errs.append(invalid("count", "", "needs to be unset"))
        source = obj.get("deprecatedSource") or {}
        if isinstance(source, dict) and (source.get("component") or source.get("host")):
            errs.append(invalid("source", "", "needs to be unset"))
        return errs

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs = _legacy_validate(new)
        if new.get("series") != old.get("series"):
            errs += _validate_series(new)
        pairs = (("regarding", "involvedObject"), ("reason", "reason"), ("note", "message"),
                 ("deprecatedSource", "source"), ("deprecatedFirstTimestamp", "firstTimestamp"),
                 ("deprecatedLastTimestamp", "lastTimestamp"), ("deprecatedCount", "count"), ("type", "type"),
                 ("eventTime", "eventTime"))
        for new_f, core_f in pairs:
            nv, ov = new.get(new_f), old.get(new_f)
            errs += immutable(nv, ov, core_f, go_struct(nv) if isinstance(nv, dict) else None)
        return errs


RESOURCES: list[ResourceInfo] = [
    ResourceInfo("events.k8s.io", "v1", "Event", "events", "event", True, ("ev",), strategy=EventStrategy()),
]
