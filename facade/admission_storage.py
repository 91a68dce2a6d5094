"""The default StorageClass (k3s's `local-path`) and the DefaultStorageClass admission plugin.

A claim that names no class gets the class annotated storageclass.kubernetes.io/is-default-class,
so StatefulSet volumeClaimTemplates work without the user knowing the cluster's classes.
"""

from __future__ import annotations

from typing import Any

import orjson

Obj = dict[str, Any]

DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
LOCAL_PATH = "local-path"
LOCAL_PATH_PROVISIONER = "kubefacade.io/local-path"


def local_path_class() -> Obj:
    """The class a fresh cluster has, shaped as k3s's local-path class."""
    return {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": LOCAL_PATH, "annotations": {DEFAULT_CLASS_ANNOTATION: "true"}},
        "provisioner": LOCAL_PATH_PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
    }


async def bootstrap_storage_class(rest: Any, write_options: Any) -> None:
    """Create `local-path` once; a user who deletes it keeps it deleted only until the next start."""
    info = rest.table.get("storage.k8s.io", "v1", "storageclasses")
    if info is not None and await rest.store.get(info.store_key, LOCAL_PATH) is None:
        await rest.create(info, "", local_path_class(), write_options)


async def default_storage_class(rest: Any, info: Any, namespace: str, obj: Obj) -> None:
    """DefaultStorageClass: a claim with no storageClassName gets the newest default class."""
    if info.group != "" or info.plural != "persistentvolumeclaims":
        return
    spec = obj.setdefault("spec", {})
    if spec.get("storageClassName") is not None:
        return
    sc_info = rest.table.get("storage.k8s.io", "v1", "storageclasses")
    if sc_info is None:
        return
    items, _, _ = await rest.store.list(sc_info.store_key)
    defaults = [orjson.loads(s.data) for s in items]
    defaults = [c for c in defaults
                if ((c.get("metadata") or {}).get("annotations") or {}).get(DEFAULT_CLASS_ANNOTATION) == "true"]
    if defaults:
        newest = max(defaults, key=lambda c: (c["metadata"].get("creationTimestamp", ""), c["metadata"]["name"]))
        spec["storageClassName"] = newest["metadata"]["name"]
