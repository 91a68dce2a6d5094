"""The one resource table (DESIGN.md contract 2).

Each served resource is one ``ResourceInfo``: names, scope, verbs, subresources, its ``Strategy``
(defaults, validation, spec/status split, selectable fields) and its ``Printer`` (Table columns).
Discovery, OpenAPI, routing and Table output all read this table; the generic REST code never
names a kind. Built-in kinds register in ``facade/kinds/``; CRDs add entries at run time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from facade.errors import FieldError

Obj = dict[str, Any]

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class Column:
    """A Table column as ``meta.k8s.io/v1`` TableColumnDefinition describes it."""

    name: str
    type: str = "string"  # string, integer, number, boolean, date
    format: str = ""  # "name" for the NAME column, "date" ...
    description: str = ""
    priority: int = 0  # 1 = shown only with -o wide


@dataclass
class Printer:
    """What ``kubectl get`` shows for a kind: the columns and a function giving one row's cells.

    ``cells(obj)`` returns one value per column, in order (NAME first), already rendered the way
    kube-apiserver's printers render them (AGE as "5m", as kubectl shows it).
    """

    columns: list[Column]
    cells: Callable[[Obj], list[Any]]


class Strategy:
    """Per-kind behaviour, in the style of k8s.io/apiserver's RESTCreateStrategy/RESTUpdateStrategy.

    The defaults are right for a plain kind without a status subresource (ConfigMap).
    Subclasses override what their kind needs; each method receives plain JSON dicts.
    """

    #: how metadata.name is validated: "subdomain" (DNS-1123 subdomain), "label" (DNS-1123 label),
    #: "dns1035" (DNS-1035 label) or "path" (any name that is a valid path segment).
    name_rule: str = "subdomain"
    #: the status subresource is served: status is reset on create and kept on main-resource update.
    has_status: bool = False
    #: spec changes bump metadata.generation (kinds with a spec; ConfigMap has none).
    tracks_generation: bool = False
    #: the top-level fields a status update may change (besides metadata labels/annotations).
    status_fields: tuple[str, ...] = ("status",)
    #: metadata a status update may change (Deployments: annotations, which is how the deployment
    #: controller writes its revision annotation without bumping the generation).
    status_metadata: tuple[str, ...] = ()
    #: create-only kinds that are answered, never stored (TokenReview, SubjectAccessReview): a
    #: create calls ``answer`` instead of the generic flow, as their upstream REST has no store.
    answers_create: bool = False

    async def answer(self, obj: Obj, namespace: str, field_manager: str, ctx: Any) -> Obj:
        """The response to a create of an ``answers_create`` kind (the request object with status)."""
        return obj

    def defaults(self, obj: Obj) -> None:
        """Set Kubernetes' defaults in place (runs on every create, update, patch and apply)."""

    def prepare_for_create(self, obj: Obj) -> None:
        """Clear what a client may not set on create (e.g. status where a status subresource exists)."""
        if self.has_status:
            obj.pop("status", None)
            self.initial_status(obj)

    def initial_status(self, obj: Obj) -> None:
        """Status a newly created object starts with (e.g. a Pod's phase Pending)."""

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        """Main-resource update: keep the old status where a status subresource owns it."""
        if self.has_status:
            for f in self.status_fields:
                if f in old:
                    new[f] = old[f]
                else:
                    new.pop(f, None)

    def prepare_for_status_update(self, new: Obj, old: Obj) -> None:
        """Status update: everything but status (and metadata) comes from the old object."""
        for k in list(new):
            if k not in self.status_fields and k not in ("metadata", "apiVersion", "kind"):
                del new[k]
        for k, v in old.items():
            if k not in self.status_fields and k not in ("metadata", "apiVersion", "kind"):
                new[k] = v

    def generation_changed(self, new: Obj, old: Obj) -> bool:
        """Whether the update changes what ``metadata.generation`` counts (spec by default)."""
        ignore = set(self.status_fields) | {"metadata", "apiVersion", "kind"}
        keys = (set(new) | set(old)) - ignore
        return any(new.get(k) != old.get(k) for k in keys)

    def validate(self, obj: Obj) -> list[FieldError]:
        """Kind-specific validation on create (metadata is validated generically)."""
        return []

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        """Kind-specific validation on update: the create rules plus immutable fields."""
        return self.validate(new)

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return []

    #: DELETE answers with the object (pods, services) instead of a Success Status, as upstream does.
    return_deleted_object: bool = False
    #: PUT of a missing object creates it (upstream's AllowCreateOnUpdate).
    allow_create_on_update: bool = False

    def keep_on_delete(self, obj: Obj) -> bool:
        """True while the object must stay marked rather than go (a Namespace with spec.finalizers).

        May update ``obj`` for the marked state (a Namespace's status.phase becomes Terminating).
        """
        return False

    def deletion_grace(self, obj: Obj, requested: int | None) -> int:
        """Seconds an object stays marked for deletion before it goes (pods on a node); 0 = now."""
        return 0

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        """Fields a fieldSelector may use, beyond metadata.name and metadata.namespace."""
        return {}

    def to_storage(self, obj: Obj) -> Obj:
        """The form this version is stored in (autoscaling/v1 HPAs are stored as v2); identity by default."""
        return obj

    def from_storage(self, obj: Obj) -> Obj:
        """This version's form of a stored object; the inverse of ``to_storage``."""
        return obj

    async def before_create(self, obj: Obj, ctx: Any) -> None:
        """Allocation that needs the store (e.g. a Service's clusterIP); ctx is the generic REST store."""

    async def before_update(self, new: Obj, old: Obj, ctx: Any) -> None:
        """Allocation on update (e.g. a Service changing type to NodePort)."""

    async def after_delete(self, obj: Obj, ctx: Any) -> None:
        """Release what before_create allocated."""


@dataclass(eq=False)
class ResourceInfo:
    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    #: subresources served, e.g. ("status", "scale"); binding/eviction/log/exec are named here too
    subresources: tuple[str, ...] = ()
    strategy: Strategy = field(default_factory=Strategy)
    printer: Printer | None = None
    #: resource key shared by other versions of the same resource (e.g. autoscaling v1 and v2 HPAs)
    storage_resource: str = ""
    #: for custom resources: the CRD's schema for validation/pruning (None for built-in kinds)
    crd: Obj | None = None

    @property
    def converts(self) -> bool:
        """Whether stored objects differ from this version's form (see Strategy.to_storage)."""
        return type(self.strategy).to_storage is not Strategy.to_storage

    def load(self, data: bytes) -> Obj:
        """A stored version's bytes as this version's object."""
        obj = orjson.loads(data)
        return self.strategy.from_storage(obj) if self.converts else obj

    def emit(self, data: bytes) -> bytes:
        """A stored version's bytes as this version's JSON (the bytes themselves when no conversion)."""
        return orjson.dumps(self.strategy.from_storage(orjson.loads(data))) if self.converts else data

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """``deployments.apps``; the store's key for the resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def store_key(self) -> str:
        return self.storage_resource or self.qualified


class ResourceTable:
    """All served resources, indexed for routing (group, version, plural) and for kinds."""

    def __init__(self) -> None:
        self._by_path: dict[tuple[str, str, str], ResourceInfo] = {}
        self._by_kind: dict[tuple[str, str, str], ResourceInfo] = {}
        self.generation = 0  # bumped on every change, so discovery caches know when to rebuild

    def add(self, info: ResourceInfo) -> None:
        self._by_path[(info.group, info.version, info.plural)] = info
        self._by_kind[(info.group, info.version, info.kind)] = info
        self.generation += 1

    def remove(self, group: str, version: str, plural: str) -> None:
        info = self._by_path.pop((group, version, plural), None)
        if info is not None:
            self._by_kind.pop((group, version, info.kind), None)
            self.generation += 1

    def get(self, group: str, version: str, plural: str) -> ResourceInfo | None:
        return self._by_path.get((group, version, plural))

    def by_kind(self, group: str, version: str, kind: str) -> ResourceInfo | None:
        return self._by_kind.get((group, version, kind))

    def __iter__(self) -> Iterator[ResourceInfo]:
        return iter(list(self._by_path.values()))

    def group_versions(self) -> dict[str, list[str]]:
        """Group name -> served versions (preferred first), in registration order."""
        out: dict[str, list[str]] = {}
        for info in self._by_path.values():
            versions = out.setdefault(info.group, [])
            if info.version not in versions:
                versions.append(info.version)
        return out
