"""Label and field selectors of a request turned into a store predicate."""

from __future__ import annotations

from facade.resource_table import ResourceInfo
from storage.interface import Predicate, Stored
from storage.selectors import check_supported, parse_field_selector, parse_label_selector

_PROBE = {"metadata": {"name": "", "namespace": ""}, "spec": {}, "status": {}, "involvedObject": {}, "source": {}}


def supported_fields(info: ResourceInfo) -> set[str]:
    """metadata.name, metadata.namespace and the kind's own selectable fields."""
    names = {"metadata.name", "metadata.namespace"}
    try:
        names |= set(info.strategy.selectable_fields(_PROBE))
    except (KeyError, TypeError, AttributeError, ValueError):
        pass
    names |= set(getattr(info.strategy, "field_labels", ()))
    return names


def build_predicate(info: ResourceInfo, label_selector: str, field_selector: str, namespace: str) -> Predicate | None:
    labels = parse_label_selector(label_selector) if label_selector.strip() else None
    if labels is not None and labels.empty:
        labels = None
    fields = parse_field_selector(field_selector) if field_selector.strip() else None
    if fields is not None:
        check_supported(fields, supported_fields(info), info.kind, custom=info.crd is not None)
        if not fields.requirements:
            fields = None
    if labels is None and fields is None:
        return None
    if fields is None:
        assert labels is not None
        match_labels = labels.matches

        def by_labels(s: Stored) -> bool:
            return match_labels(s.labels)

        return by_labels

    def by_both(s: Stored) -> bool:
        if labels is not None and not labels.matches(s.labels):
            return False
        ns, _, name = s.key.rpartition("/")
        values = {"metadata.name": name, "metadata.namespace": ns}
        if s.fields:
            values.update(s.fields)
        return fields.matches(values)

    return by_both
