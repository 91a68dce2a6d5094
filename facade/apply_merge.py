"""Merging an applied configuration into the live object, and pruning what its applier gave up.

``merge`` follows structured-merge-diff's ``TypedValue.Merge``: the configuration wins for every
scalar and atomic value; structs and maps merge key by key; associative lists merge item by item,
keeping the live order for items the configuration does not mention and the configuration's order
for the ones it does (the ``sharedOrder`` walk of merge.go). A null in the configuration clears the
field, as decoding a null into a Go struct does (custom resources keep nulls where ``nullable``).

``prune`` is ``Updater.prune``: a field, list item or map key goes when the applier owned it last
time, does not apply it now, and no manager (the applier's new set included) owns it or anything
below a named field of it. Neither function changes its inputs except ``prune``, which edits the
freshly merged object in place.
"""

from __future__ import annotations

from typing import Any

from facade.apply_fieldset import MISSING
from facade.apply_schema import ATOMIC, ApplyTypeError, Path, Plan, item_token


def merge(lhs: Any, rhs: Any, pl: Plan) -> Any:
    """``rhs`` (the configuration) merged into ``lhs`` (the live value).

    Whatever the configuration leaves as it is comes back as the very ``lhs`` object, so that
    ``compare`` can skip unchanged subtrees by identity (a re-apply of an unchanged configuration
    is then one walk of the configuration, not of the whole object).
    """
    if lhs is MISSING or lhs is None:
        return rhs
    if rhs is MISSING:
        return lhs
    tl, tr = type(lhs), type(rhs)
    if tl is dict and tr is dict and pl.shape != ATOMIC:
        if not lhs and not rhs:
            return lhs
        out: dict[str, Any] | None = None
        for k, v in rhs.items():
            sub = pl.child(k)
            cpl = sub[0] if sub is not None else pl
            old = lhs.get(k, MISSING)
            if v is None and not cpl.nullable:
                if old is not MISSING:
                    if out is None:
                        out = dict(lhs)
                    out.pop(k, None)
                continue
            new = merge(old, v, cpl)
            if new is not old:
                if out is None:
                    out = dict(lhs)
                out[k] = new
        return lhs if out is None else out
    if tl is list and tr is list and pl.list_type != "atomic" and (lhs or rhs):
        merged = _merge_list(lhs, rhs, pl)
        if len(merged) == len(lhs) and all(a is b for a, b in zip(merged, lhs, strict=True)):
            return lhs
        return merged
    if tl is tr and lhs == rhs:
        return lhs
    return rhs


def _merge_list(lhs: list[Any], rhs: list[Any], pl: Plan) -> list[Any]:
    ipl = pl.item_plan()
    r_pes = [item_token(x, pl) for x in rhs]  # the configuration was validated already
    r_items = dict(zip(r_pes, rhs, strict=True))
    l_pes: list[str] = []
    l_items: dict[str, Any] = {}
    for i, x in enumerate(lhs):
        try:
            tok = item_token(x, pl)
        except ApplyTypeError:
            tok = f"i:{i}"
        if tok in l_items:
            continue
        l_items[tok] = x
        l_pes.append(tok)
    shared = [pe for pe in r_pes if pe in l_items]
    next_shared = shared.pop(0) if shared else None
    out: list[Any] = []
    merged_rhs: set[str] = set()
    li = ri = 0
    ln, rn = len(l_pes), len(r_pes)
    while li < ln or ri < rn:
        if li < ln and ri < rn:
            pe = l_pes[li]
            if pe == r_pes[ri]:
                merged_rhs.add(pe)
                out.append(merge(l_items[pe], r_items[pe], ipl))
                li += 1
                ri += 1
                next_shared = shared.pop(0) if shared else None
                continue
            if pe in r_items and next_shared is not None and next_shared != pe:
                li += 1  # a shared item, but not the one due now: the configuration's order places it
                continue
        if li < ln:
            pe = l_pes[li]
            if pe not in r_items:
                out.append(l_items[pe])
                li += 1
                continue
            if pe in merged_rhs:
                li += 1
                continue
        if ri < rn:
            pe = r_pes[ri]
            merged_rhs.add(pe)
            out.append(merge(l_items.get(pe, MISSING), r_items[pe], ipl))
            ri += 1
            if next_shared is not None and next_shared == pe:
                next_shared = shared.pop(0) if shared else None
    return out


def _prefixes(paths: set[Path]) -> set[Path]:
    return {p[:i] for p in paths for i in range(1, len(p))}


_KEEP_TOP = frozenset({"apiVersion", "kind", "metadata"})


def prune(obj: dict[str, Any], last: set[Path], owned: set[Path], pl: Plan) -> None:
    """Remove, in place, what the applier owned last time (``last``) and nobody owns now (``owned``)."""
    if not last:
        return
    last_pre = _prefixes(last)
    owned_pre = _prefixes(owned)
    _prune_map(obj, pl, (), last, last_pre, owned, owned_pre, top=True)


def _prune_map(value: dict[str, Any], pl: Plan, path: Path, last: set[Path], last_pre: set[Path],
               owned: set[Path], owned_pre: set[Path], top: bool = False) -> None:
    for k in list(value):
        p = (*path, "f:" + k)
        in_last = p in last
        if not in_last and p not in last_pre:
            continue
        sub = pl.child(k)
        cpl, declared = sub if sub is not None else (pl, False)
        if not (top and k in _KEEP_TOP):
            in_last = in_last or (declared and p in last_pre)
            in_owned = p in owned or (declared and p in owned_pre)
            if in_last and not in_owned:
                del value[k]
                continue
        if p in last_pre:
            child = value[k]
            before = bool(child)
            _prune_value(child, cpl, p, last, last_pre, owned, owned_pre)
            if before and not child and not (top and k in _KEEP_TOP):
                del value[k]


def _prune_value(value: Any, pl: Plan, path: Path, last: set[Path], last_pre: set[Path],
                 owned: set[Path], owned_pre: set[Path]) -> None:
    if type(value) is dict and pl.shape != ATOMIC:
        _prune_map(value, pl, path, last, last_pre, owned, owned_pre)
    elif type(value) is list and pl.list_type != "atomic":
        ipl = pl.item_plan()
        keep: list[Any] = []
        for tok, item in _tokens(value, pl):
            p = (*path, tok)
            if p in last and p not in owned:
                continue
            if p in last_pre:
                before = bool(item)
                _prune_value(item, ipl, p, last, last_pre, owned, owned_pre)
                if before and not item and isinstance(item, (dict, list)):
                    continue
            keep.append(item)
        value[:] = keep


def _tokens(items: list[Any], pl: Plan) -> list[tuple[str, Any]]:
    out = []
    for i, x in enumerate(items):
        try:
            out.append((item_token(x, pl), x))
        except ApplyTypeError:
            out.append((f"i:{i}", x))
    return out


__all__ = ["merge", "prune"]
