"""Kubernetes JSON schemas for one Kubernetes version, read from the `kubernetes-validate` package.

Everything the server knows about the shape of built-in kinds comes from here (DESIGN.md contract 3):
OpenAPI documents, strategic-merge-patch keys and strategies, server-side-apply list types and
unknown-field detection. Nothing here is hand-written per kind.

The package ships JSON Schema (draft 2020) ``$defs`` in which every optional property is typed
``[T, "null"]`` and refs read ``#/$defs/NAME``. The helpers below hide that: ``types(node)`` drops
"null", ``resolve(node)`` follows refs.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from typing import Any

import orjson

KUBERNETES_VERSION = "1.32.0"
"""The one Kubernetes version whose schemas, discovery and /version this server presents."""

_REF_PREFIX = "#/$defs/"
Node = dict[str, Any]


@functools.cache
def definitions() -> dict[str, Node]:
    """All definitions by their OpenAPI name, e.g. ``io.k8s.api.core.v1.Pod``."""
    # Locate the package without importing it: its __init__ imports jsonschema (~0.3 s of start-up).
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the kubernetes-validate package is not installed")
    path = (
        Path(next(iter(spec.submodule_search_locations)))
        / "kubernetes-json-schema"
        / f"v{KUBERNETES_VERSION}-local"
        / "_definitions.json"
    )
    return orjson.loads(path.read_bytes())["$defs"]


@functools.cache
def _gvk_index() -> dict[tuple[str, str, str], str]:
    index: dict[tuple[str, str, str], str] = {}
    for name, node in definitions().items():
        for gvk in node.get("x-kubernetes-group-version-kind", ()):
            index.setdefault((gvk["group"], gvk["version"], gvk["kind"]), name)
    return index


def definition_name(group: str, version: str, kind: str) -> str | None:
    """The definition name of a kind, or None when the schemas do not know it."""
    return _gvk_index().get((group, version, kind))


def definition(group: str, version: str, kind: str) -> Node | None:
    name = definition_name(group, version, kind)
    return definitions()[name] if name else None


def ref_name(node: Node) -> str | None:
    """The definition a node refers to (``$ref``), or None."""
    ref = node.get("$ref")
    if ref and ref.startswith(_REF_PREFIX):
        return ref[len(_REF_PREFIX):]
    return None


def resolve(node: Node | None) -> Node:
    """Follow ``$ref`` (a node with a ref and a description is the referenced node)."""
    while node is not None:
        name = ref_name(node)
        if name is None:
            return node
        node = definitions().get(name)
    return {}


def types(node: Node) -> set[str]:
    """The JSON types a node admits, without "null"; empty for an untyped node (any value)."""
    node = resolve(node)
    t = node.get("type")
    if t is None:
        if "oneOf" in node:  # IntOrString and the like
            out: set[str] = set()
            for alt in node["oneOf"]:
                out |= types(alt)
            return out
        return set()
    if isinstance(t, str):
        return {t} - {"null"}
    return set(t) - {"null"}


def is_int_or_string(node: Node) -> bool:
    return ref_name(node) == "io.k8s.apimachinery.pkg.util.intstr.IntOrString" or types(node) == {
        "string",
        "integer",
    }


def field(node: Node | None, name: str) -> Node | None:
    """The schema of property ``name`` of an object node, or None when the object has no such field.

    For a map (``additionalProperties``) every key is a field with the value schema.
    """
    node = resolve(node)
    props = node.get("properties")
    if props is not None and name in props:
        return props[name]
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        return extra
    return None


def items(node: Node | None) -> Node | None:
    """The item schema of an array node."""
    node = resolve(node)
    it = node.get("items")
    return it if isinstance(it, dict) else None


def is_open_object(node: Node | None) -> bool:
    """True where any field is allowed (untyped objects such as RawExtension or JSON)."""
    node = resolve(node)
    if not node:
        return True
    if node.get("x-kubernetes-preserve-unknown-fields"):
        return True
    return "properties" not in node and "additionalProperties" not in node and types(node) in (
        set(),
        {"object"},
    )


def patch_strategy(node: Node | None) -> list[str]:
    """``x-kubernetes-patch-strategy`` split on commas (e.g. ["merge", "retainKeys"])."""
    if node is None:
        return []
    raw = node.get("x-kubernetes-patch-strategy") or resolve(node).get("x-kubernetes-patch-strategy")
    return raw.split(",") if raw else []


def patch_merge_key(node: Node | None) -> str | None:
    if node is None:
        return None
    return node.get("x-kubernetes-patch-merge-key") or resolve(node).get("x-kubernetes-patch-merge-key")


def list_type(node: Node | None) -> str:
    """``x-kubernetes-list-type`` of an array node: "atomic" (the default), "set" or "map"."""
    if node is None:
        return "atomic"
    return node.get("x-kubernetes-list-type") or resolve(node).get("x-kubernetes-list-type") or "atomic"


def list_map_keys(node: Node | None) -> list[str]:
    if node is None:
        return []
    return list(node.get("x-kubernetes-list-map-keys") or resolve(node).get("x-kubernetes-list-map-keys") or [])


def map_type(node: Node | None) -> str:
    """``x-kubernetes-map-type``: "granular" (the default) or "atomic"."""
    if node is None:
        return "granular"
    return node.get("x-kubernetes-map-type") or resolve(node).get("x-kubernetes-map-type") or "granular"
