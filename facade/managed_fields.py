"""``metadata.managedFields`` for Update operations, in the FieldsV1 ``f:``/``k:``/``v:`` notation.

A field set is a Python ``set`` of paths; a path is a tuple of FieldsV1 tokens such as
``("f:spec", "f:containers", 'k:{"name":"web"}', "f:image")``. Leaves and list items / maps that are
themselves members are in the set; ``to_fields_v1`` writes the members that have children as
``".": {}``, as structured-merge-diff does.

An Update by manager M takes ownership of every field it changed (compared with the stored object),
and those fields leave every other manager's set; sets that become empty are dropped.
"""

from __future__ import annotations

from typing import Any

import orjson

from facade import schemas

Path = tuple[str, ...]

_IGNORED_META = {
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
}


def _key_token(item: dict[str, Any], keys: list[str]) -> str:
    picked = {k: item.get(k) for k in sorted(keys) if k in item}
    return "k:" + orjson.dumps(picked).decode()


_OBJECT, _MAP, _ATOMIC_MAP, _LEAF_OBJECT = range(4)
_plans: dict[int, tuple[int, str, Any, list[str]]] = {}
_fields: dict[tuple[int, str], Any] = {}


def _plan(node: schemas.Node) -> tuple[int, str, Any, list[str]]:
    """(object handling, list type, item node, list-map keys) of a schema node, computed once per node."""
    plan = _plans.get(id(node))
    if plan is None:
        resolved = schemas.resolve(node)
        if schemas.is_open_object(node):
            obj = _LEAF_OBJECT
        elif schemas.map_type(node) == "atomic":
            obj = _ATOMIC_MAP
        elif "additionalProperties" in resolved and "properties" not in resolved:
            obj = _MAP
        else:
            obj = _OBJECT
        plan = _plans[id(node)] = (obj, schemas.list_type(node), schemas.items(node), schemas.list_map_keys(node))
    return plan


def _field(node: schemas.Node | None, name: str) -> Any:
    if node is None:
        return None
    key = (id(node), name)
    try:
        return _fields[key]
    except KeyError:
        sub = _fields[key] = schemas.field(node, name)
        return sub


def _walk(value: Any, node: schemas.Node | None, path: Path, out: dict[Path, Any]) -> None:
    if isinstance(value, dict):
        kind = _OBJECT if node is None else _plan(node)[0]
        if kind == _LEAF_OBJECT:
            out[path] = value
            return
        if path and kind == _ATOMIC_MAP:
            out[path] = value
            return
        if path and kind == _MAP:
            out[path] = None
        for k, v in value.items():
            _walk(v, _field(node, k), (*path, "f:" + k), out)
        return
    if isinstance(value, list) and node is not None:
        _, ltype, item_node, keys = _plan(node)
        if ltype == "map":
            for item in value:
                if not isinstance(item, dict):
                    out[path] = value
                    return
            for item in value:
                p = (*path, _key_token(item, keys))
                out[p] = None
                for k, v in item.items():
                    _walk(v, _field(item_node, k), (*p, "f:" + k), out)
            return
        if ltype == "set":
            for item in value:
                out[(*path, "v:" + orjson.dumps(item).decode())] = item
            return
    out[path] = value


def field_paths(obj: dict[str, Any], schema: schemas.Node | None, only: tuple[str, ...] | None = None,
                skip: tuple[str, ...] = ()) -> dict[Path, Any]:
    """Every managed path of ``obj`` with its leaf value (None for inner members)."""
    out: dict[Path, Any] = {}
    for top, value in obj.items():
        if top in ("apiVersion", "kind") or top in skip or (only is not None and top not in only):
            continue
        node = _field(schema, top)
        if top == "metadata" and isinstance(value, dict):
            for k, v in value.items():
                if k in _IGNORED_META:
                    continue
                _walk(v, _field(node, k), ("f:metadata", "f:" + k), out)
            continue
        _walk(value, node, ("f:" + top,), out)
    return out


def to_fields_v1(paths: set[Path]) -> dict[str, Any]:
    """The fieldsV1 tree of ``paths``: keys sorted, a member that also has children marked by "."."""
    root: dict[str, Any] = {}
    owned: set[int] = set()  # ids of the nodes that are themselves in ``paths``
    for p in sorted(paths):  # parents before children, siblings in order: the tree comes out sorted
        cur = root
        for tok in p:
            nxt = cur.get(tok)
            if nxt is None:
                if not cur and id(cur) in owned:
                    cur["."] = {}  # "." sorts before every "f:"/"k:"/"v:"/"i:" key
                nxt = cur[tok] = {}
            cur = nxt
        owned.add(id(cur))
    return root


def _has_member(tree: dict[str, Any], path: Path) -> bool:
    """Whether ``path`` is a member of the fieldsV1 ``tree`` (as ``from_fields_v1`` would list it)."""
    cur: Any = tree
    for tok in path:
        cur = cur.get(tok) if isinstance(cur, dict) else None
        if cur is None:
            return False
    return not cur or (isinstance(cur, dict) and "." in cur)


def from_fields_v1(tree: dict[str, Any], prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    for tok, sub in tree.items():
        if tok == ".":
            out.add(prefix)
            continue
        p = (*prefix, tok)
        if not sub:
            out.add(p)
        else:
            out |= from_fields_v1(sub, p)
    return out


def update_managed_fields(
    new: dict[str, Any],
    old: dict[str, Any] | None,
    manager: str,
    api_version: str,
    schema: schemas.Node | None,
    now: str,
    subresource: str = "",
    status_fields: tuple[str, ...] = (),
) -> None:
    """Record an Update by ``manager`` in ``new['metadata']['managedFields']`` (in place)."""
    only = status_fields if subresource == "status" else None
    skip = () if subresource == "status" else status_fields
    new_paths = field_paths(new, schema, only, skip)
    old_paths = field_paths(old, schema, only, skip) if old is not None else {}
    changed = {p for p, v in new_paths.items() if p not in old_paths or old_paths[p] != v}
    removed = set(old_paths) - set(new_paths)
    meta = new.setdefault("metadata", {})
    entries: list[dict[str, Any]] = list(meta.get("managedFields") or (old or {}).get("metadata", {}).get(
        "managedFields") or [])
    if not changed and not removed and any(
        e.get("manager") == manager and e.get("operation") == "Update" for e in entries
    ):
        meta["managedFields"] = entries
        return
    result: list[dict[str, Any]] = []
    mine: set[Path] = set(changed)
    lost = changed | removed
    own_tree: dict[str, Any] | None = None
    own: set[Path] = set()
    for e in entries:
        same = (
            e.get("manager") == manager
            and e.get("operation") == "Update"
            and e.get("apiVersion") == api_version
            and (e.get("subresource") or "") == subresource
        )
        tree = e.get("fieldsV1")
        if not same and isinstance(tree, dict) and tree and (
                (e.get("subresource") or "") != subresource or not any(_has_member(tree, p) for p in lost)):
            result.append(e)  # loses nothing: its set (and so its tree) stays as it is
            continue
        try:
            owned = from_fields_v1(tree or {})
        except AttributeError:
            owned = set()
        if same:
            mine |= owned
            if own_tree is None and isinstance(tree, dict):
                own_tree, own = tree, owned
            continue
        if (e.get("subresource") or "") == subresource:
            owned -= lost
        if owned:
            e = dict(e)
            e["fieldsV1"] = to_fields_v1(owned)
            result.append(e)
    mine = {p for p in mine if p in new_paths}
    if mine or not result:
        entry: dict[str, Any] = {
            "manager": manager,
            "operation": "Update",
            "apiVersion": api_version,
            "time": now,
            "fieldsType": "FieldsV1",
            # the same set as this manager's entry already holds: that tree, not a rebuilt one
            "fieldsV1": own_tree if own_tree is not None and mine == own else to_fields_v1(mine),
        }
        if subresource:
            entry["subresource"] = subresource
        if mine:
            result.append(entry)
    if result:
        meta["managedFields"] = result
    else:
        meta.pop("managedFields", None)


def manager_from_user_agent(user_agent: str) -> str:
    """kube-apiserver's default manager name: the user agent up to its first '/' (at most 128 chars)."""
    return (user_agent.split("/", 1)[0] or "unknown")[:128]
