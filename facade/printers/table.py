"""Building the ``meta.k8s.io/v1`` Table that ``kubectl get`` asks for (``as=Table;v=v1;g=meta.k8s.io``).

Mirrors two upstream steps: the TableConvertor (columns, one row per object, list metadata) and the
endpoint handler's ``asTable`` (each row's ``object`` per ``includeObject``: None, Object, or the
default Metadata, a PartialObjectMetadata). kube-apiserver always generates the wide form; kubectl
hides priority-1 columns itself unless ``-o wide``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from facade.errors import bad_request, go_quote
from facade.printers.format import created_at, created_doc, name, name_doc, pinned_now
from facade.printers.format import now as read_now
from facade.resource_table import Column, Printer

Obj = dict[str, Any]

INCLUDE_NONE = "None"
INCLUDE_METADATA = "Metadata"
INCLUDE_OBJECT = "Object"


@dataclass
class RowPrinter(Printer):
    """A Printer whose rows also carry ``conditions`` (pods mark Succeeded/Failed rows Completed).

    ``null_when_empty`` reproduces the convertors whose empty row list encodes as ``null`` (the
    default convertor) rather than ``[]`` (the printers in pkg/printers).
    """

    conditions: Callable[[Obj], list[Obj]] | None = None
    null_when_empty: bool = False


def default_printer() -> Printer:
    """rest.NewDefaultTableConvertor: NAME and "Created At" (a date), for kinds without printers."""
    return RowPrinter(
        columns=[
            Column("Name", "string", "name", name_doc()),
            Column("Created At", "date", "", created_doc()),
        ],
        cells=lambda obj: [name(obj), created_at(obj)],
        null_when_empty=True,
    )


def column_definition(col: Column) -> Obj:
    """TableColumnDefinition as JSON (every field is always present, as Go encodes it)."""
    return {
        "name": col.name,
        "type": col.type,
        "format": col.format,
        "description": col.description,
        "priority": col.priority,
    }


def partial_object_metadata(obj: Obj) -> Obj:
    """meta.AsPartialObjectMetadata: the object's whole metadata under meta.k8s.io/v1 kind/apiVersion."""
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata") or {}}


def row_object(obj: Obj, include_object: str) -> Obj | None:
    if include_object in ("", INCLUDE_METADATA):
        return partial_object_metadata(obj)
    if include_object == INCLUDE_OBJECT:
        return obj
    if include_object == INCLUDE_NONE:
        return None
    raise bad_request(f"unrecognized includeObject value: {go_quote(include_object)}")


def table(
    printer: Printer | None,
    objects: Iterable[Obj],
    include_object: str = INCLUDE_METADATA,
    list_meta: Obj | None = None,
    *,
    now: datetime | None = None,
    no_headers: bool = False,
) -> Obj:
    """The Table for ``objects`` (one object for a GET, the items for a LIST or a watch event).

    Objects must already be in the version the client asked for (includeObject=Object embeds them
    as they are). ``list_meta`` is the list's metadata (resourceVersion, continue, remainingItemCount); pass None
    for a single object, whose own resourceVersion is used. ``now`` pins the clock for ages;
    ``no_headers`` (TableOptions.noHeaders) leaves columnDefinitions null, as upstream does.
    Raises a 400 APIError for an unknown ``include_object``, as kube-apiserver does.
    """
    printer = printer or default_printer()
    objects = list(objects)
    if include_object not in ("", INCLUDE_METADATA, INCLUDE_OBJECT, INCLUDE_NONE) and objects:
        row_object(objects[0], include_object)  # raises the upstream 400
    conditions = getattr(printer, "conditions", None)
    rows: list[Obj] = []
    with pinned_now(now) if now is not None else _clock_once():
        for obj in objects:
            row: Obj = {"cells": printer.cells(obj)}
            if conditions is not None:
                conds = conditions(obj)
                if conds:
                    row["conditions"] = conds
            row["object"] = row_object(obj, include_object)
            rows.append(row)
    metadata: Obj = {}
    if list_meta is None:
        rv = (objects[0].get("metadata") or {}).get("resourceVersion") if len(objects) == 1 else None
        if rv:
            metadata["resourceVersion"] = rv
    else:
        for key in ("resourceVersion", "continue", "remainingItemCount"):
            value = list_meta.get(key)
            if value not in (None, ""):
                metadata[key] = value
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": None if no_headers else [column_definition(c) for c in printer.columns],
        "rows": None if (not rows and getattr(printer, "null_when_empty", False)) else rows,
    }


def _clock_once() -> Any:
    """Read the clock once so every row of one Table measures ages from the same instant."""
    return pinned_now(read_now())
