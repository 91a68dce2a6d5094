"""Dynamic provisioning for the `kubefacade.io/local-path` class, and the PV reclaim it implies.

A claim of a class this provisioner owns gets a hostPath PersistentVolume under the data dir,
bound both ways as the PV controller binds (claimRef, volumeName, bind-completed annotations,
phase Bound) with a ProvisioningSucceeded Event. WaitForFirstConsumer claims wait until a pod uses
them, as k3s's local-path class does. A released PV with reclaim policy Delete loses its directory
and is deleted.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from controllers.base import Controller
from controllers.client import Client
from controllers.clock import Clock
from controllers.event_recorder import EventRecorder
from facade.admission_storage import LOCAL_PATH_PROVISIONER
from facade.errors import APIError

Obj = dict[str, Any]

BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
BETA_STORAGE_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner"
CONSUMER_POLL_SECONDS = 1.0


def _pods_use_claim(pods: list[Obj], claim: str) -> bool:
    for pod in pods:
        for vol in (pod.get("spec") or {}).get("volumes") or []:
            if ((vol or {}).get("persistentVolumeClaim") or {}).get("claimName") == claim:
                return True
    return False


class LocalPathProvisioner(Controller):
    """Watches claims; provisions and binds a host-directory volume for each claim of local-path classes."""

    plural = "persistentvolumeclaims"
    name = "local-path-provisioner"

    def __init__(self, client: Client, clock: Clock, root: Path) -> None:
        super().__init__(client)
        self.root = root
        self.events = EventRecorder(client, LOCAL_PATH_PROVISIONER, clock)
        self.reclaimer: Controller | None = None

    async def reconcile(self, key: str) -> None:
        pvc = self.cache.get(key)
        if pvc is None or (pvc.get("metadata") or {}).get("deletionTimestamp"):
            self._claim_gone(key)
            return
        spec, meta = pvc.get("spec") or {}, pvc["metadata"]
        if spec.get("volumeName") or (pvc.get("status") or {}).get("phase") == "Bound":
            return
        class_name = spec.get("storageClassName")
        if not class_name:
            return
        try:
            sc = await self.client.get("storage.k8s.io/v1", "storageclasses", class_name)
        except APIError as e:
            if e.code == 404:
                return
            raise
        if sc.get("provisioner") != LOCAL_PATH_PROVISIONER:
            return
        namespace, claim = meta["namespace"], meta["name"]
        if sc.get("volumeBindingMode") == "WaitForFirstConsumer":
            pods, _ = await self.client.list("v1", "pods", namespace)
            if not _pods_use_claim(pods, claim):
                self.queue.add_after(key, CONSUMER_POLL_SECONDS)
                return
        await self._provision(pvc, sc)

    def _claim_gone(self, key: str) -> None:
        """Let the reclaimer look at the volumes bound to a claim that went away."""
        if self.reclaimer is None:
            return
        for pv_key, pv in self.reclaimer.cache.items():
            ref = (pv.get("spec") or {}).get("claimRef") or {}
            if f"{ref.get('namespace', '')}/{ref.get('name', '')}" == key:
                self.reclaimer.queue.add(pv_key)

    async def _provision(self, pvc: Obj, sc: Obj) -> None:
        meta, spec = pvc["metadata"], pvc.get("spec") or {}
        pv_name = f"pvc-{meta['uid']}"
        path = self.root / f"{pv_name}_{meta['namespace']}_{meta['name']}"
        path.mkdir(parents=True, exist_ok=True)
        storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "0")
        access_modes = spec.get("accessModes") or ["ReadWriteOnce"]
        pv = {
            "apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": pv_name, "annotations": {PROVISIONED_BY: LOCAL_PATH_PROVISIONER}},
            "spec": {
                "capacity": {"storage": storage},
                "accessModes": access_modes,
                "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy") or "Delete",
                "storageClassName": sc["metadata"]["name"],
                "volumeMode": spec.get("volumeMode") or "Filesystem",
                "hostPath": {"path": str(path), "type": "DirectoryOrCreate"},
                "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": meta["namespace"],
                             "name": meta["name"], "uid": meta["uid"],
                             "resourceVersion": meta.get("resourceVersion", "")},
            },
        }
        try:
            created = await self.client.create("v1", "persistentvolumes", pv)
        except APIError as e:
            if e.code != 409:
                raise
            created = await self.client.get("v1", "persistentvolumes", pv_name)
        await self.events.event(pvc, "Normal", "ProvisioningSucceeded", f"Successfully provisioned volume {pv_name}")
        created.setdefault("metadata", {}).setdefault("annotations", {})[BOUND_BY_CONTROLLER] = "yes"
        created = await self.client.update("v1", "persistentvolumes", created)
        created["status"] = {"phase": "Bound"}
        await self.client.update_status("v1", "persistentvolumes", created)
        claim = await self.client.get("v1", "persistentvolumeclaims", meta["name"], meta["namespace"])
        annotations = claim["metadata"].setdefault("annotations", {})
        annotations.update({BIND_COMPLETED: "yes", BOUND_BY_CONTROLLER: "yes",
                            STORAGE_PROVISIONER: LOCAL_PATH_PROVISIONER,
                            BETA_STORAGE_PROVISIONER: LOCAL_PATH_PROVISIONER})
        claim["spec"]["volumeName"] = pv_name
        claim = await self.client.update("v1", "persistentvolumeclaims", claim, meta["namespace"])
        claim["status"] = {"phase": "Bound", "accessModes": access_modes, "capacity": {"storage": storage}}
        await self.client.update_status("v1", "persistentvolumeclaims", claim, meta["namespace"])


class VolumeReclaimer(Controller):
    """Watches volumes; a bound volume whose claim is gone is Released, then deleted under reclaim Delete."""

    plural = "persistentvolumes"
    name = "persistentvolume-reclaimer"

    async def reconcile(self, key: str) -> None:
        pv = self.cache.get(key)
        if pv is None or (pv.get("metadata") or {}).get("deletionTimestamp"):
            return
        ref = (pv.get("spec") or {}).get("claimRef")
        if not ref or (pv.get("status") or {}).get("phase") not in ("Bound", "Released"):
            return
        try:
            claim = await self.client.get("v1", "persistentvolumeclaims", ref["name"], ref.get("namespace", ""))
            if claim["metadata"].get("uid") == ref.get("uid"):
                return
        except APIError as e:
            if e.code != 404:
                raise
        if pv["spec"].get("persistentVolumeReclaimPolicy") != "Delete":
            if pv["status"].get("phase") != "Released":
                pv["status"] = {"phase": "Released"}
                await self.client.update_status("v1", "persistentvolumes", pv)
            return
        host = (pv["spec"].get("hostPath") or {}).get("path")
        if host and (pv["metadata"].get("annotations") or {}).get(PROVISIONED_BY) == LOCAL_PATH_PROVISIONER:
            shutil.rmtree(host, ignore_errors=True)
        try:
            await self.client.delete("v1", "persistentvolumes", pv["metadata"]["name"], uid=pv["metadata"]["uid"])
        except APIError as e:
            if e.code not in (404, 409):
                raise


def volume_controllers(client: Client, clock: Clock, root: Path) -> list[Controller]:
    """The provisioner and the reclaimer, sharing the directory volumes live under."""
    provisioner, reclaimer = LocalPathProvisioner(client, clock, root), VolumeReclaimer(client)
    provisioner.reclaimer = reclaimer
    return [provisioner, reclaimer]
