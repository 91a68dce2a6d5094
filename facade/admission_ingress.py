"""The DefaultIngressClass admission plugin: a new Ingress that names no class gets the default one.

As upstream's plugin: only on create; an Ingress with ``spec.ingressClassName`` or the deprecated
``kubernetes.io/ingress.class`` annotation is left alone; the default is the IngressClass annotated
``ingressclass.kubernetes.io/is-default-class: "true"``, the newest one when several are.
"""

from __future__ import annotations

from typing import Any

import orjson

Obj = dict[str, Any]

DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
LEGACY_CLASS_ANNOTATION = "kubernetes.io/ingress.class"


async def default_ingress_class(rest: Any, info: Any, namespace: str, obj: Obj) -> None:
    if info.group != "networking.k8s.io" or info.plural != "ingresses":
        return
    spec = obj.setdefault("spec", {})
    if spec.get("ingressClassName") is not None:
        return
    if LEGACY_CLASS_ANNOTATION in ((obj.get("metadata") or {}).get("annotations") or {}):
        return
    cls_info = rest.table.get("networking.k8s.io", "v1", "ingressclasses")
    if cls_info is None:
        return
    items, _, _ = await rest.store.list(cls_info.store_key)
    name = default_class_name([orjson.loads(s.data) for s in items])
    if name is not None:
        spec["ingressClassName"] = name


def default_class_name(classes: list[Obj]) -> str | None:
    """The newest IngressClass annotated as default (same timestamp: the smaller name), or None."""
    defaults = [c for c in classes
                if ((c.get("metadata") or {}).get("annotations") or {}).get(DEFAULT_CLASS_ANNOTATION) == "true"]
    if not defaults:
        return None
    defaults.sort(key=lambda c: c["metadata"]["name"])
    defaults.sort(key=lambda c: c["metadata"].get("creationTimestamp", ""), reverse=True)
    return str(defaults[0]["metadata"]["name"])
