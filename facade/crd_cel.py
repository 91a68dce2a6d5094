"""``x-kubernetes-validations``: CEL rules of a CRD schema, checked on every write of a custom resource.

Rules run with cel-python (a pure-Python CEL implementation). As in kube-apiextensions:

- a rule sees its node's value as ``self``; at the resource root ``self`` also has ``apiVersion``,
  ``kind`` and ``metadata`` (name and generateName only);
- a rule that uses ``oldSelf`` is a transition rule: it runs only on update, and only where the old
  object has a value at the same place (``optionalOldSelf`` rules run anyway, with ``oldSelf`` null);
- object properties, additionalProperties and ``map`` lists (by their keys) carry the old value down;
- a rule that is false gives ``<path>: Invalid value: "<type>": <message>`` (or ``failed rule: <rule>``),
  ``messageExpression`` replaces the message, ``reason`` changes the error type, ``fieldPath`` the path;
- an evaluation error gives ``<error> evaluating rule: <rule>``.

Programs are compiled once per rule (the first time a resource needs them) and kept with the schema node.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from facade.errors import FieldError, duplicate, forbidden, invalid, not_supported, required

if TYPE_CHECKING:
    import celpy

log = logging.getLogger("kubefacade.cel")

Node = dict[str, Any]
Obj = dict[str, Any]

_ENV: celpy.Environment | None = None  # celpy is imported on first use: ~0.25 s of start-up otherwise
_MISSING = object()


def _env() -> celpy.Environment:
    global _ENV
    if _ENV is None:
        import celpy

        _ENV = celpy.Environment()
    return _ENV


def _json_to_cel(value: Any) -> Any:
    import celpy

    return celpy.json_to_cel(value)


def _celtypes() -> Any:
    from celpy import celtypes

    return celtypes


def _uses_old_self(rule: str) -> bool:
    return "oldSelf" in rule


class CompiledRule:
    """One rule: its program, its message program, and whether it is a transition rule."""

    def __init__(self, spec: Obj) -> None:
        self.spec = spec
        self.rule = str(spec.get("rule") or "")
        self.program: Any = None
        self.message_program: Any = None
        self.error = ""
        env = _env()
        try:
            self.program = env.program(env.compile(self.rule))
        except Exception as e:  # noqa: BLE001 - a bad rule is reported, never raised
            self.error = _compile_message(e)
        message_expression = spec.get("messageExpression")
        if message_expression:
            try:
                self.message_program = env.program(env.compile(str(message_expression)))
            except Exception:  # noqa: BLE001
                self.message_program = None
        self.uses_old_self = _uses_old_self(self.rule)
        self.optional_old_self = bool(spec.get("optionalOldSelf"))

    def error_string(self) -> str:
        message = str(self.spec.get("message") or "").strip()
        return message or self.rule.strip()

    def default_message(self) -> str:
        message = str(self.spec.get("message") or "").strip()
        return message or f"failed rule: {self.rule.strip()}"


def _compile_message(e: Exception) -> str:
    text = str(e).strip()
    first = text.splitlines()[0] if text else type(e).__name__
    return f"compilation failed: ERROR: <input>: {first}"


def compile_errors(schema: Any, path: str) -> list[FieldError]:
    """Rules that do not compile, as CRD validation reports them (``...x-kubernetes-validations[i].rule``)."""
    errs: list[FieldError] = []
    _compile_walk(schema, path, errs)
    return errs


def _compile_walk(schema: Any, path: str, errs: list[FieldError]) -> None:
    if not isinstance(schema, dict):
        return
    for i, spec in enumerate(schema.get("x-kubernetes-validations") or []):
        if not isinstance(spec, dict):
            continue
        p = f"{path}.x-kubernetes-validations[{i}]"
        if not str(spec.get("rule") or "").strip():
            errs.append(required(f"{p}.rule", "rule is not specified"))
            continue
        compiled = CompiledRule(spec)
        if compiled.error:
            errs.append(invalid(f"{p}.rule", spec.get("rule"), compiled.error))
        reason = spec.get("reason")
        if reason and reason not in ("FieldValueInvalid", "FieldValueForbidden", "FieldValueRequired",
                                     "FieldValueDuplicate"):
            errs.append(not_supported(f"{p}.reason", reason, ["FieldValueDuplicate", "FieldValueForbidden",
                                                              "FieldValueInvalid", "FieldValueRequired"]))
    for name, prop in (schema.get("properties") or {}).items():
        _compile_walk(prop, f"{path}.properties[{name}]", errs)
    if isinstance(schema.get("items"), dict):
        _compile_walk(schema["items"], f"{path}.items", errs)
    if isinstance(schema.get("additionalProperties"), dict):
        _compile_walk(schema["additionalProperties"], f"{path}.additionalProperties", errs)


def has_rules(schema: Any) -> bool:
    """Whether any node of the schema has x-kubernetes-validations (then resources need the CEL walk)."""
    if not isinstance(schema, dict):
        return False
    if schema.get("x-kubernetes-validations"):
        return True
    if any(has_rules(p) for p in (schema.get("properties") or {}).values()):
        return True
    return has_rules(schema.get("items")) or has_rules(schema.get("additionalProperties"))


class CelValidator:
    """The CEL rules of one CRD version's schema; ``validate(new, old)`` walks the object with the schema."""

    def __init__(self, schema: Node) -> None:
        self.schema = schema
        self._compiled: dict[int, list[CompiledRule]] = {}
        self._has: dict[int, bool] = {}

    def _rules(self, node: Node) -> list[CompiledRule]:
        key = id(node)
        rules = self._compiled.get(key)
        if rules is None:
            rules = self._compiled[key] = [CompiledRule(s) for s in node.get("x-kubernetes-validations") or []
                                           if isinstance(s, dict)]
        return rules

    def _subtree_has_rules(self, node: Any) -> bool:
        if not isinstance(node, dict):
            return False
        key = id(node)
        found = self._has.get(key)
        if found is None:
            found = self._has[key] = has_rules(node)
        return found

    def validate(self, new: Obj, old: Obj | None) -> list[FieldError]:
        errs: list[FieldError] = []
        root_new = _root_view(new)
        root_old = _root_view(old) if old is not None else _MISSING
        self._walk(root_new, root_old, self.schema, "", errs, root=True)
        return errs

    def _walk(self, value: Any, old: Any, schema: Any, path: str, errs: list[FieldError], root: bool = False) -> None:
        if not isinstance(schema, dict) or value is None or not self._subtree_has_rules(schema):
            return
        if schema.get("x-kubernetes-validations"):
            self._check(value, old, schema, path, errs)
        for sub in schema.get("allOf") or []:
            if isinstance(sub, dict):
                self._walk(value, old, sub, path, errs)
        if isinstance(value, dict):
            old_map = old if isinstance(old, dict) else {}
            props = schema.get("properties") or {}
            additional = schema.get("additionalProperties")
            for k, v in value.items():
                if root and k in ("apiVersion", "kind", "metadata"):
                    continue
                sub = props.get(k)
                child = f"{path}.{k}" if path else k
                if sub is None and isinstance(additional, dict):
                    sub = additional
                    child = f"{path}[{k}]"
                if sub is not None:
                    self._walk(v, old_map.get(k, _MISSING), sub, child, errs)
        elif isinstance(value, list):
            items = schema.get("items")
            old_by_key: dict[Any, Any] = {}
            keys = schema.get("x-kubernetes-list-map-keys") or []
            correlate = schema.get("x-kubernetes-list-type") == "map" and isinstance(old, list)
            if correlate:
                for o in old:
                    if isinstance(o, dict):
                        old_by_key[tuple(repr(o.get(k)) for k in keys)] = o
            for i, v in enumerate(value):
                o: Any = _MISSING
                if correlate and isinstance(v, dict):
                    o = old_by_key.get(tuple(repr(v.get(k)) for k in keys), _MISSING)
                self._walk(v, o, items, f"{path}[{i}]", errs)

    def _check(self, value: Any, old: Any, schema: Node, path: str, errs: list[FieldError]) -> None:
        type_name = schema.get("type") or ""
        path = path or "<nil>"  # upstream's nil field.Path at the resource root
        activation: dict[str, Any] | None = None
        for compiled in self._rules(schema):
            if compiled.error:
                errs.append(invalid(path, type_name, f"rule compile error: {compiled.error}"))
                continue
            if compiled.program is None:
                continue
            if compiled.uses_old_self and old is _MISSING and not compiled.optional_old_self:
                continue
            if activation is None:
                activation = {"self": _json_to_cel(value)}
            act = dict(activation)
            if compiled.uses_old_self:
                act["oldSelf"] = _json_to_cel(None if old is _MISSING else old)
            try:
                result = compiled.program.evaluate(act)
            except Exception as e:  # noqa: BLE001 - CEL runtime errors are reported, as upstream does
                errs.append(invalid(path, type_name, f"{_eval_error(e)} evaluating rule: {compiled.error_string()}"))
                continue
            if isinstance(result, Exception):
                errs.append(invalid(path, type_name, f"{_eval_error(result)} evaluating rule: "
                                                     f"{compiled.error_string()}"))
                continue
            is_bool = isinstance(result, (bool, _celtypes().BoolType))
            if is_bool and bool(result):
                continue
            if not is_bool:
                errs.append(invalid(path, type_name, "rule did not evaluate to a bool evaluating rule: "
                                                     f"{compiled.error_string()}"))
                continue
            detail = compiled.default_message()
            if compiled.message_program is not None:
                try:
                    msg = compiled.message_program.evaluate(act)
                    if isinstance(msg, str) and str(msg).strip() and "\n" not in str(msg):
                        detail = str(msg).strip()
                except Exception:  # noqa: BLE001 - upstream falls back to the message
                    log.debug("messageExpression failed for rule %s", compiled.rule)
            field_path = str(compiled.spec.get("fieldPath") or "")
            at = path
            if field_path:
                at = field_path.lstrip(".") if path == "<nil>" else path + field_path
            errs.append(_for_reason(at, type_name, detail, compiled.spec.get("reason")))


def _for_reason(path: str, type_name: str, detail: str, reason: Any) -> FieldError:
    if reason == "FieldValueForbidden":
        return forbidden(path, detail)
    if reason == "FieldValueRequired":
        return required(path, detail)
    if reason == "FieldValueDuplicate":
        return duplicate(path, type_name)
    return invalid(path, type_name, detail)


def _eval_error(e: Any) -> str:
    args = getattr(e, "args", ())
    text = str(args[0]) if args else str(e)
    if text.startswith("no such member in mapping: "):
        return "no such key: " + text.split(": ", 1)[1].strip("'\"")
    if "divide by zero" in text or "division by zero" in text:
        return "division by zero"
    if "no such overload" in text or "no matching overload" in text:
        return "no such overload"
    return text


def _root_view(obj: Obj) -> Obj:
    """The resource root as rules see it: ObjectMeta reduced to name and generateName."""
    out = dict(obj)
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        out["metadata"] = {k: meta[k] for k in ("name", "generateName") if k in meta}
    return out
