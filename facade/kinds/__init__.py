"""Built-in kinds: one module per API group, each exporting ``RESOURCES: list[ResourceInfo]``."""

from __future__ import annotations

import importlib

from facade.resource_table import ResourceInfo, ResourceTable

GROUP_MODULES = (
    "core",
    "apps",
    "batch",
    "autoscaling",
    "coordination",
    "events",
    "discovery",
    "networking",
    "policy",
    "rbac",
    "storage_k8s_io",
    "scheduling",
    "apiextensions",
    "apiregistration",
    "authentication",
    "authorization",
    "metrics",
)


def builtin_resources() -> list[ResourceInfo]:
    out: list[ResourceInfo] = []
    for name in GROUP_MODULES:
        try:
            module = importlib.import_module(f"facade.kinds.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"facade.kinds.{name}":
                raise
            continue
        out.extend(module.RESOURCES)
    return out


def builtin_table() -> ResourceTable:
    table = ResourceTable()
    for info in builtin_resources():
        table.add(info)
    return table
