"""managedFields entries as server-side apply works with them: decode, identify, sort, encode; conflicts.

An entry is identified as k8s.io/apimachinery's managedfields does it (BuildManagerIdentifier): by
manager, operation and subresource, plus apiVersion for Update entries only, so that an applier
keeps one entry whatever version it applies with. Entries are written in upstream's order:
Apply before Update, then by time (whole seconds), manager, apiVersion and subresource.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from facade import errors
from facade.apply_schema import Path, path_string
from facade.managed_fields import from_fields_v1

APPLY = "Apply"
UPDATE = "Update"


@dataclass
class ManagerEntry:
    manager: str
    operation: str
    api_version: str
    subresource: str = ""
    time: str | None = None
    fields: set[Path] = field(default_factory=set)

    @property
    def identity(self) -> tuple[str, str, str, str]:
        return (self.manager, self.operation, self.api_version if self.operation == UPDATE else "",
                self.subresource)

    def describe(self) -> str:
        """The manager as conflict messages print it (printManager)."""
        out = f'"{self.manager}"'
        if self.subresource:
            out += f' with subresource "{self.subresource}"'
        if self.operation == UPDATE:
            out += f" using {self.api_version}"
        return out

    def encode(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"manager": self.manager, "operation": self.operation, "apiVersion": self.api_version}
        if self.time is not None:
            entry["time"] = self.time
        entry["fieldsType"] = "FieldsV1"
        entry["fieldsV1"] = fields_v1(self.fields)
        if self.subresource:
            entry["subresource"] = self.subresource
        return entry


def _token_order(tok: str) -> tuple[bool, str]:
    return (tok.startswith("i:"), tok)


def _ordered(node: dict[str, Any]) -> dict[str, Any]:
    if not node:
        return node
    out: dict[str, Any] = {".": {}} if "." in node else {}
    for tok in sorted((t for t in node if t != "."), key=_token_order):
        out[tok] = _ordered(node[tok])
    return out


def fields_v1(paths: set[Path]) -> dict[str, Any]:
    """A field set in FieldsV1 form: a member with children is written ``".": {}``, as upstream serializes.

    Children come in structured-merge-diff's order: field names, then keys, then values, then
    indices, each sorted.
    """
    root: dict[str, Any] = {}
    leaves: list[dict[str, Any]] = []
    for p in paths:
        cur = root
        for tok in p:
            nxt = cur.get(tok)
            if nxt is None:
                nxt = cur[tok] = {}
            cur = nxt
        leaves.append(cur)
    for node in leaves:
        if node and "." not in node:
            node["."] = {}
    return _ordered(root)


def decode_entries(raw: Any) -> list[ManagerEntry]:
    """The entries of ``metadata.managedFields``; malformed ones are skipped rather than failing a write."""
    out: list[ManagerEntry] = []
    for e in raw if isinstance(raw, list) else []:
        if not isinstance(e, dict):
            continue
        fields_v1 = e.get("fieldsV1")
        try:
            fields = from_fields_v1(fields_v1) if isinstance(fields_v1, dict) else set()
        except (AttributeError, TypeError):
            fields = set()
        out.append(ManagerEntry(
            manager=str(e.get("manager") or ""),
            operation=str(e.get("operation") or UPDATE),
            api_version=str(e.get("apiVersion") or ""),
            subresource=str(e.get("subresource") or ""),
            time=e.get("time"),
            fields=fields,
        ))
    return out


def _sort_key(e: ManagerEntry) -> tuple[str, str, str, str, str]:
    # RFC 3339 times in UTC with whole seconds sort as strings; a missing time is the epoch.
    t = (e.time or "1970-01-01T00:00:00Z")[:19]
    return (e.operation, t, e.manager, e.api_version, e.subresource)


def encode_entries(entries: list[ManagerEntry]) -> list[dict[str, Any]]:
    return [e.encode() for e in sorted((e for e in entries if e.fields), key=_sort_key)]


def sort_encoded(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Encoded entries in upstream's order (used for entries written by Update operations too)."""
    def key(e: dict[str, Any]) -> tuple[str, str, str, str, str]:
        return (str(e.get("operation") or ""), str(e.get("time") or "1970-01-01T00:00:00Z")[:19],
                str(e.get("manager") or ""), str(e.get("apiVersion") or ""), str(e.get("subresource") or ""))
    return sorted(entries, key=key)


def conflict_error(conflicts: list[tuple[ManagerEntry, Path]]) -> errors.APIError:
    """The 409 of an apply that would change fields other managers own (NewConflictError)."""
    conflicts = sorted(conflicts, key=lambda c: (c[0].describe(), c[1]))
    causes = [{"reason": "FieldManagerConflict", "message": f"conflict with {m.describe()}",
               "field": path_string(p)} for m, p in conflicts]
    if len(conflicts) == 1:
        m, p = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {m.describe()}: {path_string(p)}"
    else:
        lines: list[str] = []
        by_manager: dict[str, list[Path]] = {}
        for m, p in conflicts:
            by_manager.setdefault(m.describe(), []).append(p)
        for name in sorted(by_manager):
            lines.append(f"conflicts with {name}:")
            lines.extend(f"- {path_string(p)}" for p in by_manager[name])
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return errors.APIError(409, "Conflict", message, {"causes": causes})
