"""Serving CustomResourceDefinitions: naming, establishing, the resource table, and cleanup on delete.

What kube-apiextensions' NamingConditionController, EstablishingController, the CRD handler and the
CRDFinalizer do together, as one level-triggered controller over CRDs:

- names: each requested name (plural, singular, shortNames, kind, listKind) is accepted unless another
  CRD of the group has accepted it; ``status.acceptedNames`` and the ``NamesAccepted`` condition
  (``NoConflicts`` / ``PluralConflict`` / ``SingularConflict`` / ``ShortNamesConflict`` / ``KindConflict``
  / ``ListKindConflict``, message ``"x" is already in use``) are written as upstream writes them, with
  ``Established`` True (``InitialNamesAccepted``) once names are accepted;
- serving: every served version becomes a ResourceTable entry (facade/crd_strategy.py), replaced when
  the CRD's spec or accepted names change and removed when the CRD goes, so discovery and OpenAPI
  follow at once (they rebuild on ``table.generation``);
- deletion: a CRD being deleted carries the ``customresourcecleanup.apiextensions.k8s.io`` finalizer
  (added by the CRD strategy's delete hook); this controller refuses new objects, deletes every
  custom resource, reports it in the ``Terminating`` condition, and removes the finalizer only when no
  object is left, so the CRD waits for objects that have finalizers of their own.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from controllers.base import Controller
from facade.crd_strategy import CLEANUP_FINALIZER, CustomResourceStrategy, served_infos
from facade.errors import APIError
from facade.resource_table import ResourceInfo
from facade.rest import DeleteOptions, RestStore, now_rfc3339

log = logging.getLogger("kubefacade.controllers.crd")

API_VERSION = "apiextensions.k8s.io/v1"
PLURAL = "customresourcedefinitions"
RECHECK = 0.5

Obj = dict[str, Any]


def find_condition(crd: Obj, ctype: str) -> Obj | None:
    for c in (crd.get("status") or {}).get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == ctype:
            return c
    return None


def set_condition(crd: Obj, cond: Obj) -> None:
    """apihelpers.SetCRDCondition: replace by type, keeping lastTransitionTime while status is unchanged."""
    status = crd.setdefault("status", {})
    conds = [c for c in status.get("conditions") or [] if isinstance(c, dict)]
    cond = {"type": cond["type"], "status": cond["status"], "lastTransitionTime": now_rfc3339(),
            "reason": cond.get("reason", ""), "message": cond.get("message", "")}
    for i, c in enumerate(conds):
        if c.get("type") == cond["type"]:
            if c.get("status") == cond["status"]:
                cond["lastTransitionTime"] = c.get("lastTransitionTime") or cond["lastTransitionTime"]
            conds[i] = cond
            break
    else:
        conds.append(cond)
    status["conditions"] = conds


def _equivalent(a: Obj | None, b: Obj | None) -> bool:
    if a is None or b is None:
        return a is b
    return all(a.get(k) == b.get(k) for k in ("type", "status", "reason", "message"))


def _in_use(requested: str, accepted: str, used: set[str]) -> str:
    if requested == accepted or requested not in used:
        return ""
    return f'"{requested}" is already in use'


def _names_in_group(crds: list[Obj], group: str, exclude: str) -> tuple[set[str], set[str]]:
    resources: set[str] = set()
    kinds: set[str] = set()
    for crd in crds:
        if (crd.get("spec") or {}).get("group") != group or crd["metadata"]["name"] == exclude:
            continue
        accepted = (crd.get("status") or {}).get("acceptedNames") or {}
        resources.update(x for x in (accepted.get("plural"), accepted.get("singular")) if x)
        resources.update(accepted.get("shortNames") or [])
        kinds.update(x for x in (accepted.get("kind"), accepted.get("listKind")) if x)
    return resources, kinds


def calculate_names(crd: Obj, others: list[Obj]) -> tuple[Obj, Obj, Obj]:
    """(acceptedNames, NamesAccepted condition, Established condition) as the naming controller computes them."""
    spec = crd.get("spec") or {}
    requested = spec.get("names") or {}
    accepted = dict((crd.get("status") or {}).get("acceptedNames") or {})
    resources, kinds = _names_in_group(others, spec.get("group") or "", crd["metadata"]["name"])
    new = dict(accepted)
    cond: Obj = {"type": "NamesAccepted", "status": "Unknown"}

    def conflict(reason: str, message: str) -> None:
        cond.update(status="False", reason=reason, message=message)

    for field, reason, used in (("plural", "PluralConflict", resources), ("singular", "SingularConflict", resources)):
        msg = _in_use(requested.get(field) or "", accepted.get(field) or "", used)
        if msg:
            conflict(reason, msg)
        elif requested.get(field):
            new[field] = requested[field]
    if list(requested.get("shortNames") or []) != list(accepted.get("shortNames") or []):
        have = set(accepted.get("shortNames") or [])
        msgs = []
        for short in requested.get("shortNames") or []:
            if short in have or short in (accepted.get("plural"), accepted.get("singular")):
                continue
            msg = _in_use(short, "", resources)
            if msg:
                msgs.append(msg)
        if msgs:
            conflict("ShortNamesConflict", msgs[0] if len(msgs) == 1 else "[" + ", ".join(msgs) + "]")
        elif requested.get("shortNames"):
            new["shortNames"] = list(requested["shortNames"])
        else:
            new.pop("shortNames", None)
    for field, reason in (("kind", "KindConflict"), ("listKind", "ListKindConflict")):
        msg = _in_use(requested.get(field) or "", accepted.get(field) or "", kinds)
        if msg:
            conflict(reason, msg)
        elif requested.get(field):
            new[field] = requested[field]
    if requested.get("categories"):
        new["categories"] = list(requested["categories"])
    else:
        new.pop("categories", None)
    if cond["status"] == "Unknown":
        cond.update(status="True", reason="NoConflicts", message="no conflicts found")
    established = find_condition(crd, "Established") or {
        "type": "Established", "status": "False", "reason": "NotAccepted", "message": "not all names are accepted"}
    if established.get("status") != "True" and cond["status"] == "True":
        established = {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                       "message": "the initial names have been accepted"}
    return new, cond, established


class CRDController(Controller):
    """Names, establishes, serves and cleans up CustomResourceDefinitions (see the module docstring)."""

    api_version = API_VERSION
    plural = PLURAL
    name = "crd-controller"

    def __init__(self, client: Any, rest: RestStore) -> None:
        super().__init__(client)
        self.rest = rest
        #: CRD name -> (fingerprint of what is served, the table keys it added)
        self.serving: dict[str, tuple[bytes, list[tuple[str, str, str]]]] = {}

    # -- table entries ---------------------------------------------------------------------------

    def _serve(self, crd: Obj) -> None:
        name = crd["metadata"]["name"]
        status = crd.get("status") or {}
        fingerprint = orjson.dumps([crd.get("spec"), status.get("acceptedNames")], option=orjson.OPT_SORT_KEYS)
        current = self.serving.get(name)
        if current is not None and current[0] == fingerprint:
            return
        infos = served_infos(crd)
        keys = [(i.group, i.version, i.plural) for i in infos]
        if current is not None:
            for key in current[1]:
                if key not in keys:
                    self.rest.table.remove(*key)
        for info in infos:
            self.rest.table.add(info)
        self.serving[name] = (fingerprint, keys)

    def _unserve(self, name: str) -> None:
        current = self.serving.pop(name, None)
        if current is None:
            return
        for key in current[1]:
            self.rest.table.remove(*key)

    def infos_of(self, name: str) -> list[ResourceInfo]:
        current = self.serving.get(name)
        if current is None:
            return []
        return [i for i in (self.rest.table.get(*k) for k in current[1]) if i is not None]

    # -- reconcile -------------------------------------------------------------------------------

    async def reconcile(self, key: str) -> None:
        crd = self.cache.get(key)
        if crd is None:
            self._unserve(key)
            group = key.split(".", 1)[1] if "." in key else ""
            for other in list(self.cache.values()):  # freed names may now be accepted elsewhere
                if (other.get("spec") or {}).get("group") == group:
                    self.queue.add(other["metadata"]["name"])
            return
        if crd["metadata"].get("deletionTimestamp"):
            await self._finalize(crd)
            return
        names, accepted_cond, established = calculate_names(crd, list(self.cache.values()))
        status = crd.get("status") or {}
        if status.get("acceptedNames") != names or not _equivalent(
                accepted_cond, find_condition(crd, "NamesAccepted")) or not _equivalent(
                established, find_condition(crd, "Established")):
            new = orjson.loads(orjson.dumps(crd))
            new.setdefault("status", {})["acceptedNames"] = names
            set_condition(new, accepted_cond)
            set_condition(new, established)
            try:
                crd = await self.client.update_status(API_VERSION, PLURAL, new)
            except APIError as e:
                if e.code in (404, 409):
                    self.queue.add_after(key, 0.01)
                    return
                raise
            self.cache[key] = crd
            group = (crd.get("spec") or {}).get("group")
            for other in list(self.cache.values()):  # names we released may free others of the group
                if other["metadata"]["name"] != key and (other.get("spec") or {}).get("group") == group:
                    if find_condition(other, "NamesAccepted") and (
                            find_condition(other, "NamesAccepted") or {}).get("status") != "True":
                        self.queue.add(other["metadata"]["name"])
        if (find_condition(crd, "Established") or {}).get("status") == "True":
            self._serve(crd)

    async def _finalize(self, crd: Obj) -> None:
        name = crd["metadata"]["name"]
        if CLEANUP_FINALIZER not in (crd["metadata"].get("finalizers") or []):
            return
        infos = self.infos_of(name)
        for info in infos:
            if isinstance(info.strategy, CustomResourceStrategy):
                info.strategy.terminating = True
        cond = find_condition(crd, "Terminating")
        if cond is None or cond.get("reason") != "InstanceDeletionInProgress":
            crd = await self._set_terminating(crd, "True", "InstanceDeletionInProgress",
                                              "CustomResource deletion is in progress")
        remaining = await self._delete_instances(infos)
        if remaining:
            await self._set_terminating(crd, "True", "InstanceDeletionCheck",
                                        f"could not confirm zero CustomResources remaining: {remaining} remaining")
            self.queue.add_after(name, RECHECK)
            return
        crd = await self._set_terminating(crd, "False", "InstanceDeletionCompleted", "removed all instances")
        new = orjson.loads(orjson.dumps(crd))
        new["metadata"]["finalizers"] = [f for f in new["metadata"].get("finalizers") or [] if f != CLEANUP_FINALIZER]
        await self.client.update(API_VERSION, PLURAL, new)

    async def _set_terminating(self, crd: Obj, status: str, reason: str, message: str) -> Obj:
        if _equivalent(find_condition(crd, "Terminating"),
                       {"type": "Terminating", "status": status, "reason": reason, "message": message}):
            return crd
        new = orjson.loads(orjson.dumps(crd))
        set_condition(new, {"type": "Terminating", "status": status, "reason": reason, "message": message})
        return await self.client.update_status(API_VERSION, PLURAL, new)

    async def _delete_instances(self, infos: list[ResourceInfo]) -> int:
        """Delete every custom resource of the CRD (all versions share one store key); how many remain."""
        if not infos:
            return 0
        info = infos[0]
        items, _, _ = await self.rest.store.list(info.store_key, "")
        remaining = 0
        for s in items:
            ns, _, obj_name = s.key.rpartition("/")
            meta = orjson.loads(s.data).get("metadata") or {}
            if not meta.get("deletionTimestamp"):
                try:
                    _, gone = await self.rest.delete(info, ns, obj_name, DeleteOptions())
                except APIError as e:
                    if e.code != 404:
                        raise
                    continue
                if gone:
                    continue
            remaining += 1
        return remaining

