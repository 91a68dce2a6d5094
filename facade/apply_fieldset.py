"""Field sets of server-side apply: what an applied configuration owns, and what changed between two objects.

``config_fields`` is structured-merge-diff's ``ToFieldSet`` of an applied configuration (validating
it on the way, as converting the patch to a typed value does): every scalar, atomic value, null or
empty object, every associative list item and every key of a map (``additionalProperties``) is a
member; declared struct fields that hold something are only path prefixes.

``compare`` is ``TypedValue.Compare``: the members added, modified and removed between two objects.
Where upstream would also mark a whole field as added because the Go zero value omits it (a nil map
or slice), we mark maps and lists that are not required fields; structs are present in Go's zero
value and are never marked themselves.
"""

from __future__ import annotations

from typing import Any

from facade.apply_schema import (
    ATOMIC,
    DEDUCED,
    MAP,
    ApplyTypeError,
    Path,
    Plan,
    item_token,
    path_string,
    token_string,
)

_MISSING: Any = object()


def config_fields(obj: Any, pl: Plan, path: Path = ()) -> set[Path]:
    """The field set an applied configuration claims; raises ApplyTypeError for an invalid one."""
    out: set[Path] = set()
    _fields(obj, pl, path, out)
    return out


def _fields(value: Any, pl: Plan, path: Path, out: set[Path]) -> None:
    if isinstance(value, dict):
        if pl.shape == ATOMIC:
            out.add(path)
            return
        for k, v in value.items():
            sub = pl.child(k)
            if sub is None:
                raise ApplyTypeError(path_string((*path, "f:" + k)), "field not declared in schema")
            cpl, declared = sub
            p = (*path, "f:" + k)
            _fields(v, cpl, p, out)
            if v is None or not declared or (type(v) is dict and not v):
                out.add(p)
        return
    if isinstance(value, list):
        lt = pl.list_type
        if lt == "atomic":
            out.add(path)
            return
        ipl = pl.item_plan()
        seen: set[str] = set()
        for i, item in enumerate(value):
            try:
                tok = item_token(item, pl)
            except ApplyTypeError as e:
                raise ApplyTypeError(path_string(path), f"element {i}: {e.detail}") from None
            if tok in seen:
                raise ApplyTypeError(path_string(path), f"duplicate entries for key {token_string(tok)}")
            seen.add(tok)
            p = (*path, tok)
            if lt == "map":
                _fields(item, ipl, p, out)
            out.add(p)
        return
    out.add(path)


class Comparison:
    """Members added, modified and removed from one object to another."""

    __slots__ = ("added", "modified", "removed")

    def __init__(self) -> None:
        self.added: set[Path] = set()
        self.modified: set[Path] = set()
        self.removed: set[Path] = set()

    def changed(self) -> set[Path]:
        return self.added | self.modified


def compare(lhs: Any, rhs: Any, pl: Plan) -> Comparison:
    """What changed from ``lhs`` to ``rhs`` (both whole objects or subtrees of the same node)."""
    c = Comparison()
    _cmp(lhs, rhs, pl, (), False, c)
    return c


def _cmp(lhs: Any, rhs: Any, pl: Plan, path: Path, member: bool, c: Comparison) -> None:
    if lhs is rhs:
        return  # merge hands back unchanged subtrees as the same object
    ltype, rtype = type(lhs), type(rhs)
    if (ltype is dict or lhs is _MISSING) and (rtype is dict or rhs is _MISSING) and pl.shape != ATOMIC:
        if (lhs is _MISSING or not lhs) and (rhs is _MISSING or not rhs):
            _leaf(lhs, rhs, path, c)
            return
        lm = lhs if ltype is dict else {}
        rm = rhs if rtype is dict else {}
        for k, lv in lm.items():
            sub = pl.child(k)
            cpl, declared = sub if sub is not None else (pl, False)
            _cmp(lv, rm.get(k, _MISSING), cpl, (*path, "f:" + k), _nilable(declared, cpl, k, lv, pl), c)
        for k, rv in rm.items():
            if k in lm:
                continue
            sub = pl.child(k)
            cpl, declared = sub if sub is not None else (pl, False)
            _cmp(_MISSING, rv, cpl, (*path, "f:" + k), _nilable(declared, cpl, k, rv, pl), c)
        if member and path:
            if lhs is _MISSING:
                c.added.add(path)
            elif rhs is _MISSING:
                c.removed.add(path)
        return
    if (ltype is list or lhs is _MISSING) and (rtype is list or rhs is _MISSING) and pl.list_type != "atomic":
        if (lhs is _MISSING or not lhs) and (rhs is _MISSING or not rhs):
            _leaf(lhs, rhs, path, c)
            return
        litems = _index(lhs, pl) if ltype is list else {}
        ritems = _index(rhs, pl) if rtype is list else {}
        ipl = pl.item_plan()
        for tok, lv in litems.items():
            _cmp(lv, ritems.get(tok, _MISSING), ipl, (*path, tok), True, c)
        for tok, rv in ritems.items():
            if tok not in litems:
                _cmp(_MISSING, rv, ipl, (*path, tok), True, c)
        if member and path:
            if lhs is _MISSING:
                c.added.add(path)
            elif rhs is _MISSING:
                c.removed.add(path)
        return
    _leaf(lhs, rhs, path, c)


def _nilable(declared: bool, cpl: Plan, key: str, value: Any, parent: Plan) -> bool:
    """Whether a field is itself a member when it appears or disappears (a Go nil map or slice)."""
    if not declared:
        return True
    return key not in parent.required and (cpl.shape in (MAP, DEDUCED) or type(value) is list)


def _leaf(lhs: Any, rhs: Any, path: Path, c: Comparison) -> None:
    if lhs is _MISSING:
        if rhs is not _MISSING:
            c.added.add(path)
    elif rhs is _MISSING:
        c.removed.add(path)
    elif lhs != rhs or type(lhs) is not type(rhs):
        c.modified.add(path)


def _index(items: list[Any], pl: Plan) -> dict[str, Any]:
    """Items by token, first occurrence winning; items that cannot be keyed get a positional token."""
    out: dict[str, Any] = {}
    for i, item in enumerate(items):
        try:
            tok = item_token(item, pl)
        except ApplyTypeError:
            tok = f"i:{i}"
        out.setdefault(tok, item)
    return out


MISSING = _MISSING
