"""One server-side apply on plain dicts: merge, prune, conflicts, ownership — no HTTP, no store.

The flow is k8s.io/apimachinery's managedfields stack around structured-merge-diff's Updater.Apply:

1. an object that has fields but no managedFields gets a ``before-first-apply`` Update entry owning
   them (skipNonApplied), so a first applier conflicts with what was there;
2. the configuration is merged into the live object and what the applier stopped applying is pruned;
3. live and new are compared: another manager owning an added or modified member is a conflict
   (409 unless ``force``, which takes the field away from it); removed members leave every set;
4. for manager ``kubectl`` only, conflicts on fields that still match the client-side
   ``last-applied-configuration`` are allowed (lastAppliedManager), and that annotation, when
   present, is rewritten from the configuration (lastAppliedUpdater);
5. the applier's entry becomes exactly the configuration's field set; its time changes only when
   the object did.

Only the part of the object the endpoint writes takes part: the main resource leaves the status
fields alone, the status subresource touches nothing else (the strategies reset the rest anyway).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson

from facade.apply_fieldset import compare, config_fields
from facade.apply_managers import APPLY, UPDATE, ManagerEntry, conflict_error, decode_entries, encode_entries
from facade.apply_merge import merge, prune
from facade.apply_schema import Path, Plan, root_plan
from facade.schemas import Node

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
CLIENT_SIDE_APPLY_KUBECTL = "kubectl"
BEFORE_FIRST_APPLY = "before-first-apply"
MAX_ANNOTATIONS_SIZE = 256 * 1024

STRIPPED_META = frozenset({
    "name", "namespace", "creationTimestamp", "selfLink", "uid", "clusterName", "generation",
    "managedFields", "resourceVersion",
})
"""Metadata nobody owns (stripMetaManager), besides apiVersion and kind."""


@dataclass
class Scope:
    """Which part of the object an endpoint writes: the status fields for /status, the rest otherwise."""

    subresource: str
    status_fields: tuple[str, ...]

    def view(self, obj: Any) -> dict[str, Any]:
        """The writable part of an object, with the unowned metadata left out."""
        if not isinstance(obj, dict):
            return {}
        if self.subresource == "status":
            return {k: v for k, v in obj.items() if k in self.status_fields}
        out = {k: v for k, v in obj.items() if k not in self.status_fields and k not in ("apiVersion", "kind")}
        meta = out.get("metadata")
        if isinstance(meta, dict) and meta:
            kept = {k: v for k, v in meta.items() if k not in STRIPPED_META}
            if kept:
                out["metadata"] = kept
            else:
                del out["metadata"]  # only unowned fields: nothing of metadata is claimed
        return out


@dataclass
class ApplyResult:
    obj: dict[str, Any]
    changed: bool


def apply_config(
    live: dict[str, Any] | None,
    config: dict[str, Any],
    manager: str,
    api_version: str,
    schema: Node | None,
    *,
    force: bool,
    now: str,
    subresource: str = "",
    status_fields: tuple[str, ...] = (),
) -> ApplyResult:
    """Apply ``config`` as ``manager`` to ``live`` (None to create); the new object carries managedFields.

    Raises ``ApplyTypeError`` for a configuration the schema refuses and an ``APIError`` 409 for
    conflicts. ``live`` and ``config`` are not changed.
    """
    pl = root_plan(schema)
    scope = Scope(subresource, status_fields)
    creating = live is None
    live_obj: dict[str, Any] = live if live is not None else {}
    entries = decode_entries((live_obj.get("metadata") or {}).get("managedFields"))

    config_set = config_fields(scope.view(config), pl)
    if not creating and not entries:
        owned = compare({}, scope.view(live_obj), pl).added
        if owned:
            entries.append(ManagerEntry(BEFORE_FIRST_APPLY, UPDATE, api_version, subresource, now, owned))

    me = ManagerEntry(manager, APPLY, api_version, subresource)
    mine = next((e for e in entries if e.identity == me.identity), None)
    others = [e for e in entries if e is not mine]

    merged = merge(live_obj, config, pl)
    if mine is not None and mine.fields and not mine.fields <= config_set:  # else nothing was given up
        merged = orjson.loads(orjson.dumps(merged))  # prune edits in place; live shares subtrees with merged
        owned_now = set(config_set)
        for e in others:
            owned_now |= e.fields
        prune(merged, mine.fields, owned_now, pl)

    diff = compare(scope.view(live_obj), scope.view(merged), pl)
    changed_paths = diff.changed()
    conflicts = [(e, p) for e in others for p in sorted(e.fields & changed_paths)] if changed_paths else []
    if conflicts and not force:
        if manager == CLIENT_SIDE_APPLY_KUBECTL:
            allowed = _allowed_by_last_applied(live_obj, pl, scope)
            conflicts_left = [(e, p) for e, p in conflicts if p not in allowed]
            if conflicts_left:
                raise conflict_error(conflicts_left)
        else:
            raise conflict_error(conflicts)
    kept: list[ManagerEntry] = []
    for e in others:
        if changed_paths:
            e.fields -= changed_paths
        if diff.removed:
            e.fields -= diff.removed
        if e.fields:
            kept.append(e)

    changed = merged is not live_obj and merged != live_obj
    me.fields = config_set
    me.time = now if changed else (mine.time if mine is not None else None)
    if me.fields:
        kept.append(me)

    meta = merged.setdefault("metadata", {})
    if merged is live_obj or meta is live_obj.get("metadata"):
        merged = dict(merged)
        meta = merged["metadata"] = dict(meta)
    if manager == CLIENT_SIDE_APPLY_KUBECTL and (meta.get("annotations") or {}).get(LAST_APPLIED):
        _set_last_applied(meta, config)
    encoded = encode_entries(kept)
    if encoded:
        meta["managedFields"] = encoded
    else:
        meta.pop("managedFields", None)
    return ApplyResult(merged, changed or encoded != (live_obj.get("metadata") or {}).get("managedFields"))


def _allowed_by_last_applied(live: dict[str, Any], pl: Plan, scope: Scope) -> set[Path]:
    """Fields kubectl may take over from client-side apply: in last-applied and still as it says."""
    raw = ((live.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    if not raw:
        return set()
    try:
        last = json.loads(raw)
    except ValueError:
        return set()
    if not isinstance(last, dict) or last.get("apiVersion") != live.get("apiVersion"):
        return set()
    try:
        fields = config_fields(scope.view(last), pl)
    except Exception:  # an annotation the schema refuses allows nothing, as upstream's error path does
        return set()
    diff = compare(scope.view(last), scope.view(live), pl)
    return fields - diff.modified - diff.added - diff.removed


def _set_last_applied(meta: dict[str, Any], config: dict[str, Any]) -> None:
    """Rewrite the client-side apply annotation from the applied configuration (without itself)."""
    cfg = json.loads(json.dumps(config))
    cfg_meta = cfg.get("metadata")
    if isinstance(cfg_meta, dict) and isinstance(cfg_meta.get("annotations"), dict):
        cfg_meta["annotations"].pop(LAST_APPLIED, None)
    text = go_json(cfg) + "\n"
    annotations = dict(meta.get("annotations") or {})
    annotations[LAST_APPLIED] = text
    if sum(len(k) + len(v) for k, v in annotations.items() if isinstance(v, str)) > MAX_ANNOTATIONS_SIZE:
        annotations.pop(LAST_APPLIED)
    meta["annotations"] = annotations


def go_json(value: Any) -> str:
    """JSON as Go's encoding/json writes a map: sorted keys, no spaces, HTML characters escaped."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


__all__ = ["ApplyResult", "apply_config", "go_json"]
