"""What server-side apply needs to know about a schema node, computed once per node.

structured-merge-diff sees every value through a schema atom: a struct (declared fields), a map
(``additionalProperties``), an atomic map or list (one leaf), an associative list (``set``, or
``map`` keyed by ``x-kubernetes-list-map-keys``) or a scalar. Where the schema says nothing (no
schema at all, RawExtension, ``x-kubernetes-preserve-unknown-fields``) values are *deduced*: objects
are granular maps whose every key is a member of its own, lists are atomic.

The same plans serve built-in kinds (``facade.schemas`` definitions) and custom resources (a CRD
version's ``openAPIV3Schema``, passed by the caller), so nothing here names a kind.

Paths are tuples of FieldsV1 tokens (``f:name``, ``k:{"name":"web"}``, ``v:"x"``), the same as
``facade.managed_fields`` uses, so both kinds of managedFields entries compare directly.
"""

from __future__ import annotations

from typing import Any

import orjson

from facade import schemas

Path = tuple[str, ...]

STRUCT, MAP, ATOMIC, DEDUCED = range(4)

_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

KEY_DEFAULTS: dict[tuple[str, str], Any] = {
    ("io.k8s.api.core.v1.ContainerPort", "protocol"): "TCP",
    ("io.k8s.api.core.v1.ServicePort", "protocol"): "TCP",
}
"""List-map key fields whose default kube-apiserver's OpenAPI carries (``+default="TCP"`` markers)
but the JSON schemas of the kubernetes-validate package leave out. Without them a port applied
without ``protocol`` could not be keyed; with them it is ``k:{"containerPort":80,"protocol":"TCP"}``
as upstream records it."""


class ApplyTypeError(Exception):
    """A structured-merge-diff validation error: ``<path>: <message>``."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.detail = message


class Plan:
    """How values at one schema node are merged, compared and owned."""

    __slots__ = ("shape", "props", "extra", "open", "list_type", "keys", "item", "required", "nullable",
                 "key_defaults", "_children", "_item_plan")

    def __init__(self, node: schemas.Node | None) -> None:
        self._children: dict[str, tuple[Plan, bool]] = {}
        self._item_plan: Plan | None = None
        if node is None:
            self.shape, self.props, self.extra, self.open = DEDUCED, {}, None, True
            self.list_type, self.keys, self.item, self.required, self.nullable = "atomic", [], None, (), True
            self.key_defaults: dict[str, Any] = {}
            return
        r = schemas.resolve(node)
        self.props = r.get("properties") or {}
        extra = r.get("additionalProperties")
        self.extra = extra if isinstance(extra, dict) else None
        preserve = bool(r.get("x-kubernetes-preserve-unknown-fields") or node.get("x-kubernetes-preserve-unknown-fields"))
        if schemas.map_type(node) == "atomic":
            self.shape = ATOMIC
        elif self.props:
            self.shape = STRUCT
        elif self.extra is not None:
            self.shape = MAP
        elif schemas.is_open_object(node) or preserve:
            self.shape = DEDUCED
        else:
            self.shape = STRUCT  # a typed scalar or an empty struct: no undeclared keys
        self.open = self.shape == DEDUCED or (self.shape == STRUCT and preserve) or self.extra is not None
        self.list_type = schemas.list_type(node)
        self.keys = schemas.list_map_keys(node)
        self.item = schemas.items(node)
        self.required = tuple(r.get("required") or ())
        self.nullable = bool(r.get("nullable") or node.get("nullable"))
        self.key_defaults = {}
        if self.keys and self.item is not None:
            item_name = schemas.ref_name(self.item) or ""
            item_props = schemas.resolve(self.item).get("properties") or {}
            for k in self.keys:
                default = (item_props.get(k) or {}).get("default")
                if default is None:
                    default = KEY_DEFAULTS.get((item_name, k))
                if default is not None:
                    self.key_defaults[k] = default

    def child(self, key: str) -> tuple[Plan, bool] | None:
        """(plan of field ``key``, declared) or None when the schema does not allow the field."""
        try:
            return self._children[key]
        except KeyError:
            pass
        sub = self.props.get(key)
        if sub is not None:
            out: tuple[Plan, bool] | None = (plan(sub), True)
        elif self.extra is not None:
            out = (plan(self.extra), False)
        elif self.open:
            out = (DEDUCED_PLAN, False)
        else:
            out = None
        if out is not None:
            self._children[key] = out
        return out

    def item_plan(self) -> Plan:
        if self._item_plan is None:
            self._item_plan = plan(self.item) if self.item is not None else DEDUCED_PLAN
        return self._item_plan


_plans: dict[int, Plan] = {}
DEDUCED_PLAN = Plan(None)


def plan(node: schemas.Node | None) -> Plan:
    """The plan of a schema node, cached by node identity (schemas are loaded once and never change)."""
    if node is None:
        return DEDUCED_PLAN
    p = _plans.get(id(node))
    if p is None:
        p = _plans[id(node)] = Plan(node)
        _keepalive.append(node)
    return p


_keepalive: list[Any] = []
"""Schema nodes whose id() keys ``_plans``: kept referenced so an id is never reused (CRD schemas)."""


def root_plan(schema: schemas.Node | None) -> Plan:
    """The plan of a whole object. ``metadata`` is always ObjectMeta, as for every kind upstream."""
    p = plan(schema)
    if "metadata" not in p._children:
        meta = schemas.definitions().get(_OBJECT_META)
        p._children["metadata"] = (plan(meta), True)
    return p


def json_token(value: Any) -> str:
    return orjson.dumps(value).decode()


def item_token(item: Any, pl: Plan) -> str:
    """The FieldsV1 token of an associative list item (``k:{...}`` or ``v:...``); ApplyTypeError if none."""
    if pl.keys:
        if item is None:
            raise ApplyTypeError("", "associative list with keys may not have a null element")
        if not isinstance(item, dict):
            raise ApplyTypeError("", "associative list with keys may not have non-map elements")
        picked: dict[str, Any] = {}
        for k in sorted(pl.keys):
            if k in item:
                picked[k] = item[k]
            elif k in pl.key_defaults:
                picked[k] = pl.key_defaults[k]
            else:
                raise ApplyTypeError(
                    "", f'associative list with keys has an element that omits key field "{k}" (and doesn\'t have '
                        "default value)")
        return "k:" + orjson.dumps(picked).decode()
    if isinstance(item, dict):
        raise ApplyTypeError("", "associative list without keys has an element that's a map type")
    if isinstance(item, list):
        raise ApplyTypeError("", "not supported: associative list with lists as elements")
    if item is None:
        raise ApplyTypeError("", "associative list without keys has an element that's an explicit null")
    return "v:" + orjson.dumps(item).decode()


def _go_value(v: Any) -> str:
    """structured-merge-diff's value.ToString."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return orjson.dumps(v).decode()
    if isinstance(v, float):
        return repr(v) if not v.is_integer() else str(int(v))
    if isinstance(v, int):
        return str(v)
    if isinstance(v, list):
        return "[" + ",".join(_go_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "".join(f"{k}={_go_value(x)}" for k, x in v.items())
    return str(v)


def token_string(tok: str) -> str:
    """One FieldsV1 token as fieldpath.PathElement prints it: ``.name``, ``[name="web"]``, ``[="x"]``."""
    kind, body = tok[:2], tok[2:]
    if kind == "f:":
        return "." + body
    if kind == "k:":
        fields = orjson.loads(body)
        return "[" + ",".join(f"{k}={_go_value(v)}" for k, v in fields.items()) + "]"
    if kind == "v:":
        return "[=" + _go_value(orjson.loads(body)) + "]"
    if kind == "i:":
        return "[" + body + "]"
    return tok


def path_string(path: Path) -> str:
    """A path as conflicts and validation errors print it: ``.spec.containers[name="web"].image``."""
    return "".join(token_string(t) for t in path)
