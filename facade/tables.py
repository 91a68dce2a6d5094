"""``kubectl get`` output: the Table for a resource, from its printer (or the default one)."""

from __future__ import annotations

from typing import Any

from facade.printers import default_printer, printer_for, table
from facade.resource_table import ResourceInfo


def to_table(info: ResourceInfo, objs: list[dict[str, Any]], include_object: str, list_meta: dict[str, Any] | None,
             version: str = "v1", no_headers: bool = False) -> dict[str, Any]:
    """The Table of ``objs``; ``list_meta`` None for one object; ``no_headers`` for later watch events."""
    printer = info.printer or printer_for(info.group, info.kind, info.version) or default_printer()
    out = table(printer, objs, include_object, list_meta, no_headers=no_headers)
    if version != "v1":
        out["apiVersion"] = f"meta.k8s.io/{version}"
    return out
