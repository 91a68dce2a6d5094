"""The generic REST store: create, get, list, update, patch, delete for any entry of the table.

In the style of k8s.io/apiserver's genericregistry.Store: the flow (defaults, strategy, metadata
rules, validation, preconditions, managed fields, the store write) is the same for every kind; a
kind changes only its ``Strategy``. HTTP parsing lives in ``facade/handlers.py``; the in-process
Client calls these methods directly, so both take the same admission and validation path.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from facade import errors, schemas
from facade.admission_ingress import default_ingress_class
from facade.admission_quota import admit_create, admit_update
from facade.admission_storage import default_storage_class
from facade.decode import decode_object
from facade.errors import APIError, FieldError
from facade.managed_fields import update_managed_fields
from facade.resource_table import ResourceInfo, ResourceTable
from facade.validation import NAME_RULES, validate_annotations, validate_labels, validate_name
from storage.interface import KeyExists, KeyNotFound, PreconditionFailed, Store, Stored

Obj = dict[str, Any]

_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"
_GENERATE_SUFFIX = 5
MAX_GENERATE_PREFIX = 63 - _GENERATE_SUFFIX


# Admission run on every create after validation (LimitRanger, ResourceQuota); append to extend.
ADMISSION_STEPS: list[Any] = [default_storage_class, default_ingress_class, admit_create]
# Admission run on every update of the main resource after validation (ResourceQuota); append to extend.
UPDATE_ADMISSION_STEPS: list[Any] = [admit_update]

_now_cache: list[Any] = [0, ""]


def now_rfc3339() -> str:
    """The current time as Kubernetes writes timestamps (whole seconds), formatted once per second."""
    t = int(time.time())
    if _now_cache[0] != t:
        _now_cache[0] = t
        _now_cache[1] = datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return _now_cache[1]


_SUFFIX_SPACE = len(_NAME_CHARS) ** _GENERATE_SUFFIX


def _name_suffix() -> str:
    """generateName's five random characters from upstream's alphabet (no vowels, no 0/1/3)."""
    n = random.randrange(_SUFFIX_SPACE)
    out = []
    for _ in range(_GENERATE_SUFFIX):
        n, d = divmod(n, len(_NAME_CHARS))
        out.append(_NAME_CHARS[d])
    return "".join(out)


_uid_pool = bytearray()


def new_uid() -> str:
    """A random (version 4) UUID string, formatted directly: uuid.uuid4() costs ~3 % of a create.

    The random bytes come from os.urandom 4 KiB at a time: one getrandom call per uid cost as much.
    """
    if not _uid_pool:
        _uid_pool.extend(os.urandom(4096))
    n = int.from_bytes(_uid_pool[-16:])
    del _uid_pool[-16:]
    n = (n & ~(0xF000 << 64) | (0x4000 << 64)) & ~(0xC000 << 48) | (0x8000 << 48)
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def object_key(namespace: str, name: str) -> str:
    return f"{namespace}/{name}" if namespace else name


@dataclass
class WriteOptions:
    dry_run: bool = False
    field_manager: str = ""
    subresource: str = ""


@dataclass
class DeleteOptions:
    dry_run: bool = False
    propagation_policy: str = ""
    grace_period_seconds: int | None = None
    precondition_uid: str = ""
    precondition_rv: str = ""


NAMESPACES = "namespaces"
#: ObjectMeta collections that kube-apiserver never writes out when empty (``omitempty`` Go maps/slices)
_OMITEMPTY_META = ("labels", "annotations", "finalizers", "ownerReferences")


class RestStore:
    """Generic operations over the store, one resource-table entry at a time."""

    def __init__(self, store: Store, table: ResourceTable) -> None:
        self.store = store
        self.table = table
        self._schemas: dict[int, schemas.Node | None] = {}

    # -- helpers for strategies ----------------------------------------------------------------

    async def list_all(self, store_key: str) -> list[Obj]:
        items, _, _ = await self.store.list(store_key)
        return [orjson.loads(s.data) for s in items]

    def schema_for(self, info: ResourceInfo) -> schemas.Node | None:
        """The kind's schema (None for custom resources, whose schema lives in their CRD)."""
        if info.crd is not None:
            return None
        try:
            return self._schemas[id(info)]
        except KeyError:
            schema = self._schemas[id(info)] = schemas.definition(info.group, info.version, info.kind)
            return schema

    # -- reads -----------------------------------------------------------------------------------

    async def get(self, info: ResourceInfo, namespace: str, name: str) -> Stored:
        stored = await self.store.get(info.store_key, object_key(namespace, name))
        if stored is None:
            raise errors.not_found_error(info.plural, info.group, name)
        return stored

    async def get_obj(self, info: ResourceInfo, namespace: str, name: str) -> Obj:
        return info.load((await self.get(info, namespace, name)).data)

    # -- shared checks ---------------------------------------------------------------------------

    def _check_type(self, info: ResourceInfo, obj: Any) -> Obj:
        if not isinstance(obj, dict):
            raise errors.bad_request(f"Object '{info.kind}' is not a valid object: the body must be a JSON object")
        api_version = obj.get("apiVersion")
        kind = obj.get("kind")
        if api_version not in (None, "") and api_version != info.group_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version "
                f"({info.group_version})"
            )
        if kind not in (None, "") and kind != info.kind:
            raise errors.bad_request(
                f"the kind in the data ({kind}) does not match the expected kind ({info.kind})"
            )
        obj["apiVersion"] = info.group_version
        obj["kind"] = info.kind
        schema = self.schema_for(info)
        if schema is not None:
            decode_object(obj, schema, info.kind, info.version)
        meta = obj.get("metadata")
        if meta is None:
            obj["metadata"] = {}
        elif not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        else:
            for f in _OMITEMPTY_META:  # Go's omitempty: an empty map or list is not there at all
                if f in meta and not meta[f] and isinstance(meta[f], (dict, list)):
                    del meta[f]
        return obj

    def _check_namespace(self, info: ResourceInfo, obj: Obj, namespace: str) -> None:
        meta = obj["metadata"]
        if info.namespaced:
            ns = meta.get("namespace")
            if ns and ns != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)

    def validate_metadata(self, info: ResourceInfo, obj: Obj, creating: bool) -> list[FieldError]:
        meta = obj["metadata"]
        errs: list[FieldError] = []
        gen = meta.get("generateName")
        if creating and gen and not meta.get("name"):
            errs += [
                errors.invalid("metadata.generateName", gen, m)
                for m in NAME_RULES[info.strategy.name_rule](gen + "a" * _GENERATE_SUFFIX)
                if "must be no more than" not in m
            ]
        if not errs:
            errs += validate_name(meta.get("name"), info.strategy.name_rule)
        if info.namespaced and not meta.get("namespace"):
            errs.append(errors.required("metadata.namespace"))
        errs += validate_labels(meta.get("labels"), "metadata.labels")
        errs += validate_annotations(meta.get("annotations"), "metadata.annotations")
        for i, ref in enumerate(meta.get("ownerReferences") or []):
            path = f"metadata.ownerReferences[{i}]"
            if not isinstance(ref, dict):
                errs.append(errors.invalid(path, ref, "must be an object"))
                continue
            for f in ("apiVersion", "kind", "name", "uid"):
                if not ref.get(f):
                    if f == "apiVersion":
                        errs.append(errors.invalid(f"{path}.apiVersion", ref.get(f, ""), "version must not be empty"))
                    elif f == "kind":
                        errs.append(errors.invalid(f"{path}.kind", ref.get(f, ""), "kind must not be empty"))
                    elif f == "name":
                        errs.append(errors.invalid(f"{path}.name", ref.get(f, ""), "name must not be empty"))
                    else:
                        errs.append(errors.invalid(f"{path}.uid", ref.get(f, ""), "uid must not be empty"))
        controllers = [r for r in meta.get("ownerReferences") or [] if isinstance(r, dict) and r.get("controller")]
        if len(controllers) > 1:
            names = ", ".join(f"{r.get('kind')}/{r.get('name')}" for r in controllers)
            errs.append(
                errors.invalid(
                    "metadata.ownerReferences",
                    meta.get("ownerReferences"),
                    f"Only one reference can have Controller set to true. Found \"true\" in references for {names}",
                )
            )
        fins = meta.get("finalizers") or []
        if not isinstance(fins, list):
            errs.append(errors.invalid("metadata.finalizers", fins, "must be a list"))
        return errs

    async def _check_namespace_exists(self, info: ResourceInfo, namespace: str, name: str) -> None:
        if not info.namespaced:
            return
        stored = await self.store.get(NAMESPACES, namespace)
        if stored is None:
            raise errors.not_found_error("namespaces", "", namespace)
        if b'"deletionTimestamp"' in stored.data:
            ns = orjson.loads(stored.data)
            if ns["metadata"].get("deletionTimestamp"):
                raise errors.forbidden_error(
                    info.plural,
                    info.group,
                    name,
                    f"unable to create new content in namespace {namespace} because it is being terminated",
                )

    def _invalid(self, info: ResourceInfo, obj: Obj, errs: list[FieldError]) -> None:
        if errs:
            meta = obj.get("metadata") or {}
            raise errors.invalid_error(info.kind, info.group, meta.get("name") or meta.get("generateName", ""), errs)

    @staticmethod
    def _storage_form(info: ResourceInfo, obj: Obj) -> Obj:
        return info.strategy.to_storage(obj) if info.converts else obj

    def _fields(self, info: ResourceInfo, obj: Obj) -> dict[str, str] | None:
        f = info.strategy.selectable_fields(obj)
        return f or None

    async def put(self, info: ResourceInfo, key: str, obj: Obj, current: Stored) -> Stored:
        """Store ``obj`` as the version after ``current`` (storage's PreconditionFailed if another
        write got in between, KeyNotFound if it is gone): the last step of every update."""
        return await self.store.update(info.store_key, key, self._storage_form(info, obj), self._fields(info, obj),
                                       expected_rv=current.rv)

    # -- create ----------------------------------------------------------------------------------

    async def create(self, info: ResourceInfo, namespace: str, obj: Any, opts: WriteOptions) -> Stored | Obj:
        """Create; returns the stored version, or the would-be object for dry runs."""
        obj = self._check_type(info, obj)
        self._check_namespace(info, obj, namespace)
        if info.strategy.answers_create:  # review kinds: answered, never stored
            return await info.strategy.answer(obj, namespace, opts.field_manager, self)
        meta = obj["metadata"]
        for f in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                  "selfLink"):
            meta.pop(f, None)
        if meta.get("resourceVersion"):
            raise errors.bad_request("resourceVersion should not be set on objects to be created")
        strategy = info.strategy
        strategy.defaults(obj)
        name_given = bool(meta.get("name"))
        if not name_given and meta.get("generateName"):
            prefix = meta["generateName"][:MAX_GENERATE_PREFIX]
            meta["name"] = prefix + _name_suffix()
        self._invalid(info, obj, self.validate_metadata(info, obj, True))
        await self._check_namespace_exists(info, namespace, meta.get("name", ""))
        if opts.field_manager:
            update_managed_fields(
                obj, None, opts.field_manager, info.group_version, self.schema_for(info), now_rfc3339(),
                status_fields=strategy.status_fields if strategy.has_status else (),
            )
        meta["uid"] = new_uid()
        meta["creationTimestamp"] = now_rfc3339()
        if strategy.tracks_generation:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        strategy.prepare_for_create(obj)
        self._invalid(info, obj, strategy.validate(obj))
        for step in ADMISSION_STEPS:
            await step(self, info, namespace, obj)
        if opts.dry_run:
            key = object_key(namespace, meta["name"])
            if await self.store.get(info.store_key, key) is not None:
                raise errors.already_exists(info.plural, info.group, meta["name"])
            return obj
        await strategy.before_create(obj, self)
        key = object_key(namespace, meta["name"])
        for _attempt in range(8):
            try:
                return await self.store.create(info.store_key, key, self._storage_form(info, obj),
                                               self._fields(info, obj))
            except KeyExists:
                if name_given or not meta.get("generateName"):
                    await strategy.after_delete(obj, self)
                    raise errors.already_exists(info.plural, info.group, meta["name"]) from None
                meta["name"] = meta["generateName"][:MAX_GENERATE_PREFIX] + _name_suffix()
                key = object_key(namespace, meta["name"])
        raise errors.already_exists(info.plural, info.group, meta["name"])

    # -- update ----------------------------------------------------------------------------------

    def _merge_system_meta(self, new: Obj, old: Obj) -> None:
        nm, om = new["metadata"], old["metadata"]
        for f in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"):
            if f in om:
                nm[f] = om[f]
            else:
                nm.pop(f, None)
        nm.pop("selfLink", None)

    async def update(
        self, info: ResourceInfo, namespace: str, name: str, obj: Any, opts: WriteOptions
    ) -> Stored | Obj:
        obj = self._check_type(info, obj)
        self._check_namespace(info, obj, namespace)
        meta = obj["metadata"]
        if meta.get("name") and meta["name"] != name:
            raise errors.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
            )
        meta["name"] = name
        current = await self.get(info, namespace, name)
        rv = meta.get("resourceVersion")
        expected = 0
        if rv:
            try:
                expected = int(rv)
            except ValueError:
                raise errors.bad_request(f"invalid resource version: {rv}") from None
            if expected != current.rv:
                raise errors.conflict(info.plural, info.group, name, errors.MODIFIED)
        return await self._write_update(info, namespace, name, obj, info.load(current.data), current, opts)

    async def _write_update(
        self, info: ResourceInfo, namespace: str, name: str, new: Obj, old: Obj, current: Stored, opts: WriteOptions
    ) -> Stored | Obj:
        strategy = info.strategy
        new["apiVersion"], new["kind"] = info.group_version, info.kind
        if opts.subresource != "status":
            strategy.defaults(new)
        self._merge_system_meta(new, old)
        if opts.subresource == "finalize":  # namespaces/finalize changes spec.finalizers and nothing else
            finalizers = (new.get("spec") or {}).get("finalizers")
            new.clear()
            new.update(orjson.loads(orjson.dumps(old)))
            new.setdefault("spec", {})["finalizers"] = finalizers or []
        elif opts.subresource == "status":
            strategy.prepare_for_status_update(new, old)
            nm, om = new["metadata"], old["metadata"]
            for f in ("labels", "annotations", "finalizers", "ownerReferences"):
                if f in strategy.status_metadata:
                    continue
                if f in om:
                    nm[f] = om[f]
                else:
                    nm.pop(f, None)
        elif opts.subresource != "binding":  # binding sets spec.nodeName and PodScheduled itself
            strategy.prepare_for_update(new, old)
            if strategy.tracks_generation and strategy.generation_changed(new, old):
                new["metadata"]["generation"] = int(old["metadata"].get("generation") or 1) + 1
        errs = self.validate_metadata(info, new, False)
        if opts.subresource in ("status", "finalize"):
            errs += strategy.validate_status_update(new, old)
        elif opts.subresource != "binding":
            errs += strategy.validate_update(new, old)
        self._invalid(info, new, errs)
        if not opts.subresource:
            for step in UPDATE_ADMISSION_STEPS:
                await step(self, info, namespace, new, old)
        if opts.field_manager:
            update_managed_fields(
                new, old, opts.field_manager, info.group_version, self.schema_for(info), now_rfc3339(),
                subresource=opts.subresource, status_fields=strategy.status_fields if strategy.has_status else (),
            )
        elif "managedFields" in old["metadata"]:
            new["metadata"].setdefault("managedFields", old["metadata"]["managedFields"])
        new["metadata"]["resourceVersion"] = old["metadata"].get("resourceVersion")
        if _same(new, old):
            return current
        if opts.dry_run:
            return new
        if opts.subresource != "status":
            await strategy.before_update(new, old, self)
        key = object_key(namespace, name)
        if await self._finalized(info, key, new, current):
            return _deleted_marker(new)
        try:
            return await self.put(info, key, new, current)
        except PreconditionFailed:
            raise errors.conflict(info.plural, info.group, name, errors.MODIFIED) from None
        except KeyNotFound:
            raise errors.not_found_error(info.plural, info.group, name) from None

    async def _finalized(self, info: ResourceInfo, key: str, new: Obj, current: Stored) -> bool:
        """An update that removes the last finalizer of an object being deleted deletes it."""
        meta = new["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers") and not info.strategy.keep_on_delete(new):
            try:
                await self.store.delete(info.store_key, key, expected_rv=current.rv)
            except PreconditionFailed:
                raise errors.conflict(info.plural, info.group, meta.get("name", ""), errors.MODIFIED) from None
            await info.strategy.after_delete(new, self)
            return True
        return False

    async def guaranteed_update(
        self,
        info: ResourceInfo,
        namespace: str,
        name: str,
        mutate: Any,
        opts: WriteOptions,
        retries: int = 5,
    ) -> Stored | Obj:
        """Read, apply ``mutate(obj) -> obj``, write; retry when another write got in between."""
        for attempt in range(retries):
            current = await self.get(info, namespace, name)
            old = info.load(current.data)
            new = mutate(info.load(current.data))
            new = self._check_type(info, new)
            self._check_namespace(info, new, namespace)
            if new["metadata"].get("name", name) != name:
                raise errors.bad_request(
                    f"the name of the object ({new['metadata'].get('name')}) does not match the name on the URL ({name})"
                )
            new["metadata"]["name"] = name
            rv = new["metadata"].get("resourceVersion")
            if rv and rv != old["metadata"].get("resourceVersion"):
                raise errors.conflict(info.plural, info.group, name, errors.MODIFIED)
            try:
                return await self._write_update(info, namespace, name, new, old, current, opts)
            except APIError as e:
                if e.reason != "Conflict" or attempt == retries - 1 or rv:
                    raise
        raise errors.conflict(info.plural, info.group, name, errors.MODIFIED)

    # -- delete ----------------------------------------------------------------------------------

    async def delete(
        self, info: ResourceInfo, namespace: str, name: str, opts: DeleteOptions
    ) -> tuple[Obj, bool]:
        """Delete or mark for deletion. Returns (object, deleted_now)."""
        key = object_key(namespace, name)
        for _attempt in range(5):
            current = await self.get(info, namespace, name)
            obj = info.load(current.data)
            meta = obj["metadata"]
            if opts.precondition_uid and opts.precondition_uid != meta.get("uid"):
                raise errors.conflict(
                    info.plural, info.group, name,
                    f"Precondition failed: UID in precondition: {opts.precondition_uid}, UID in object meta: {meta.get('uid')}",
                )
            if opts.precondition_rv and opts.precondition_rv != meta.get("resourceVersion"):
                raise errors.conflict(
                    info.plural, info.group, name,
                    f"Precondition failed: ResourceVersion in precondition: {opts.precondition_rv}, "
                    f"ResourceVersion in object meta: {meta.get('resourceVersion')}",
                )
            keep = info.strategy.keep_on_delete(obj)  # first: it may add a finalizer (CRD cleanup)
            finalizers = list(meta.get("finalizers") or [])
            policy = opts.propagation_policy
            if policy == "Orphan" and "orphan" not in finalizers:
                finalizers.append("orphan")
            elif policy == "Foreground" and "foregroundDeletion" not in finalizers:
                finalizers.append("foregroundDeletion")
            grace = info.strategy.deletion_grace(obj, opts.grace_period_seconds)
            if not finalizers and not grace and not keep:
                if opts.dry_run:
                    return obj, True
                try:
                    gone = await self.store.delete(info.store_key, key, expected_rv=current.rv)
                except PreconditionFailed:
                    continue
                except KeyNotFound:
                    raise errors.not_found_error(info.plural, info.group, name) from None
                await info.strategy.after_delete(obj, self)
                return info.load(gone.data), True
            if meta.get("deletionTimestamp"):
                if finalizers == list(meta.get("finalizers") or []):
                    return obj, False
            else:
                meta["deletionTimestamp"] = (datetime.now(UTC) + timedelta(seconds=grace or 0)).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                )
                meta["deletionGracePeriodSeconds"] = grace or 0
            meta["finalizers"] = finalizers
            if opts.dry_run:
                return obj, False
            try:
                stored = await self.put(info, key, obj, current)
            except PreconditionFailed:
                continue
            return info.load(stored.data), False
        raise errors.conflict(info.plural, info.group, name, errors.MODIFIED)


def _same(new: Obj, old: Obj) -> bool:
    """Whether an update changes nothing but managedFields timestamps (then nothing is written)."""
    if new == old:
        return True
    n = dict(new)
    o = dict(old)
    n["metadata"] = {k: v for k, v in new["metadata"].items() if k != "managedFields"}
    o["metadata"] = {k: v for k, v in old["metadata"].items() if k != "managedFields"}
    if n != o:
        return False
    strip = [{k: v for k, v in e.items() if k != "time"} for e in new["metadata"].get("managedFields") or []]
    strip_old = [{k: v for k, v in e.items() if k != "time"} for e in old["metadata"].get("managedFields") or []]
    return strip == strip_old


def _deleted_marker(obj: Obj) -> Obj:
    return obj
