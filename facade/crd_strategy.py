"""The Strategy of custom resources: one instance per served version of a CRD.

It plays the part of apiextensions' customResourceStrategy and its schema-coercing decoder:

- defaults: nulls of non-nullable fields dropped, schema defaults applied, unknown fields pruned
  (facade/crd_schema.py), on create, update and status update alike;
- create clears status when the status subresource is on; update keeps the old status then, and any
  change outside metadata bumps ``metadata.generation`` (CRs always start at generation 1);
- validation: the structural schema, embedded resources, list-type invariants, the scale paths, and
  the CEL rules unless an earlier error makes them moot (upstream's "blocking" errors);
- selectable fields from the CRD's ``selectableFields``; the Table printer from
  ``additionalPrinterColumns`` (NAME first; a lone Age column when the CRD defines none);
- versions with ``conversion: None`` share one storage key; objects are stored with the storage
  version's apiVersion and read back with the requested one (``MultiVersionStrategy``).
"""

from __future__ import annotations

from typing import Any

from facade import crd_jsonpath, crd_schema
from facade.crd_cel import CelValidator, has_rules
from facade.errors import APIError, FieldError, invalid
from facade.patch.gojson import go_type
from facade.printers.format import age, created_doc, name_doc
from facade.resource_table import Column, Printer, ResourceInfo, Strategy

Obj = dict[str, Any]

CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
_BLOCKING = ("FieldValueNotSupported", "FieldValueRequired", "FieldValueTooLong", "FieldValueTooMany",
             "FieldValueTypeInvalid")
_MAX_INT32 = 2**31 - 1


class CustomResourceStrategy(Strategy):
    name_rule = "subdomain"
    tracks_generation = True

    def __init__(self, group: str, version: str, schema: Obj, *, has_status: bool = False,
                 scale: Obj | None = None, selectable: list[str] | None = None, storage_version: str = "",
                 plural: str = "") -> None:
        self.group = group
        self.version = version
        self.schema = schema
        self.has_status = has_status
        self.scale = scale
        self.selectable = list(selectable or [])
        self.field_labels = tuple(p.lstrip(".") for p in self.selectable)
        self.storage_version = storage_version or version
        self.plural = plural
        self.cel = CelValidator(schema) if has_rules(schema) else None
        #: set while the CRD is being deleted: creates are refused, as upstream does
        self.terminating = False

    # -- decoding: nulls, defaults, pruning --------------------------------------------------------

    def coerce(self, obj: Obj) -> list[str]:
        """Nulls, defaults, pruning, in upstream's order; returns the pruned (unknown) field paths."""
        crd_schema.drop_nulls(obj, self.schema)
        crd_schema.apply_defaults(obj, self.schema)
        return crd_schema.prune(obj, self.schema)

    def unknown_fields(self, obj: Obj) -> list[str]:
        """The paths pruning would drop from ``obj`` (``spec.foo``), for fieldValidation; obj is unchanged."""
        import copy

        return crd_schema.prune(copy.deepcopy(obj), self.schema)

    def defaults(self, obj: Obj) -> None:
        self.coerce(obj)

    def prepare_for_create(self, obj: Obj) -> None:
        if self.has_status:
            obj.pop("status", None)
        obj.setdefault("metadata", {})["generation"] = 1

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        if self.has_status:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)

    def prepare_for_status_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_status_update(new, old)
        self.coerce(new)

    def generation_changed(self, new: Obj, old: Obj) -> bool:
        keys = (set(new) | set(old)) - {"metadata"}
        return any(new.get(k) != old.get(k) for k in keys)

    # -- validation --------------------------------------------------------------------------------

    def _validate(self, obj: Obj, old: Obj | None) -> list[FieldError]:
        errs = crd_schema.validate(obj, self.schema)
        errs += self._validate_scale(obj)
        errs += crd_schema.validate_embedded(obj, self.schema)
        if old is None or not crd_schema.validate_list_types(old, self.schema):
            errs += crd_schema.validate_list_types(obj, self.schema)
        if self.cel is not None:
            if any(e.type in _BLOCKING for e in errs):
                errs.append(invalid("<nil>", "null", "some validation rules were not checked because the object was "
                                                   "invalid; correct the existing errors to complete validation"))
            else:
                errs += self.cel.validate(obj, old)
        return errs

    def _validate_scale(self, obj: Obj) -> list[FieldError]:
        """customResourceValidator.ValidateScaleSpec/Status: the replica paths hold int32s (paths as written)."""
        if not self.scale:
            return []
        errs: list[FieldError] = []
        for key in ("specReplicasPath", "statusReplicasPath"):
            path = self.scale.get(key) or ""
            if not path:
                continue
            value: Any = obj
            fields = path.lstrip(".").split(".")
            for i, f in enumerate(fields):
                if not isinstance(value, dict) or f not in value:
                    value = None
                    break
                value = value[f]
                if i < len(fields) - 1 and value is not None and not isinstance(value, dict):
                    errs.append(invalid(path, 0, f"{'.' + '.'.join(fields[:i + 1])} accessor error: "
                                                 f"{crd_jsonpath.text(value)} is of the type {go_type(value)}, "
                                                 "expected map[string]interface{}"))
                    value = None
                    break
            if value is None:
                continue
            if not isinstance(value, int) or isinstance(value, bool):
                errs.append(invalid(path, 0, f"{'.' + '.'.join(fields)} accessor error: {crd_jsonpath.text(value)} "
                                             f"is of the type {go_type(value)}, expected int64"))
            elif value < 0:
                errs.append(invalid(path, value, "should be a non-negative integer"))
            elif value > _MAX_INT32:
                errs.append(invalid(path, value, f"should be less than or equal to {_MAX_INT32}"))
        return errs

    def validate(self, obj: Obj) -> list[FieldError]:
        return self._validate(obj, None)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return self._validate(new, old)

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return self._validate(new, old)

    # -- selection, lifecycle ----------------------------------------------------------------------

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        out: dict[str, str] = {}
        for path, label in zip(self.selectable, self.field_labels, strict=True):
            found = crd_jsonpath.find(obj, path)
            out[label] = crd_jsonpath.text(found[0]) if found and found[0] is not None else ""
        return out

    async def before_create(self, obj: Obj, ctx: Any) -> None:
        if self.terminating:
            raise APIError(405, "MethodNotAllowed", "create not allowed while custom resource definition is "
                                                    "terminating",
                           details={"group": self.group, "kind": self.plural})




class MultiVersionStrategy(CustomResourceStrategy):
    """Several versions, ``conversion: None``: only apiVersion differs between the stored and served forms."""

    def to_storage(self, obj: Obj) -> Obj:
        out = dict(obj)
        out["apiVersion"] = f"{self.group}/{self.storage_version}"
        return out

    def from_storage(self, obj: Obj) -> Obj:
        obj["apiVersion"] = f"{self.group}/{self.version}"
        return obj


# ------------------------------------------------------------------------------------------ printer


def _cell(column: Obj, obj: Obj) -> Any:
    path = column.get("jsonPath") or ""
    try:
        found = crd_jsonpath.find(obj, path)
    except ValueError:
        return None
    if not found:
        return None
    value = found[0]
    kind = column.get("type") or "string"
    if value is None:
        return None
    if kind == "string":
        return crd_jsonpath.text(value)
    if kind == "integer":
        if isinstance(value, bool):
            return None
        if isinstance(value, (int, float)):
            return int(value)
        return None
    if kind == "number":
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if kind == "boolean":
        return value if isinstance(value, bool) else None
    if kind == "date":
        if isinstance(value, str):
            text = age(value)
            return "<invalid>" if text == "<unknown>" else text
        return None
    return None


def printer_for_columns(columns: list[Obj] | None) -> Printer:
    """The apiextensions table convertor: NAME, then the CRD's columns (or AGE when it has none)."""
    cols = list(columns or []) or [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp",
                                    "description": created_doc()}]
    defs = [Column("Name", "string", "name", name_doc())]
    for c in cols:
        defs.append(Column(
            str(c.get("name") or ""), str(c.get("type") or "string"), str(c.get("format") or ""),
            str(c.get("description") or f"Custom resource definition column (in JSONPath format): {c.get('jsonPath')}"),
            int(c.get("priority") or 0),
        ))

    def cells(obj: Obj) -> list[Any]:
        return [(obj.get("metadata") or {}).get("name", ""), *(_cell(c, obj) for c in cols)]

    return Printer(defs, cells)


# -------------------------------------------------------------------------------- resource entries


def served_infos(crd: Obj) -> list[ResourceInfo]:
    """One ResourceInfo per served version of an accepted CRD, named by its ``status.acceptedNames``."""
    spec = crd.get("spec") or {}
    status = crd.get("status") or {}
    names = status.get("acceptedNames") or spec.get("names") or {}
    group = spec.get("group") or ""
    versions = [v for v in spec.get("versions") or [] if isinstance(v, dict)]
    storage = next((v.get("name") for v in versions if v.get("storage")), "") or ""
    multi = len(versions) > 1
    namespaced = spec.get("scope") == "Namespaced"
    out: list[ResourceInfo] = []
    for v in versions:
        if not v.get("served"):
            continue
        schema = ((v.get("schema") or {}).get("openAPIV3Schema")) or {"type": "object",
                                                                        "x-kubernetes-preserve-unknown-fields": True}
        subs = v.get("subresources") or {}
        subresources = tuple(s for s in ("scale", "status") if isinstance(subs.get(s), dict))
        selectable = [str(f.get("jsonPath") or "") for f in v.get("selectableFields") or [] if isinstance(f, dict)]
        cls = MultiVersionStrategy if multi else CustomResourceStrategy
        strategy = cls(group, v["name"], schema, has_status="status" in subresources,
                       scale=subs.get("scale") if "scale" in subresources else None,
                       selectable=selectable, storage_version=storage, plural=names.get("plural") or "")
        out.append(ResourceInfo(
            group, v["name"], names.get("kind") or "", names.get("plural") or "", names.get("singular") or "",
            namespaced, tuple(names.get("shortNames") or ()), tuple(names.get("categories") or ()),
            subresources=subresources, strategy=strategy,
            printer=printer_for_columns(v.get("additionalPrinterColumns")), crd=schema,
        ))
    return out
