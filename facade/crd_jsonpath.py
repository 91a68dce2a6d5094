"""The small JSONPath subset CRDs use: printer columns, scale paths and selectable fields.

``.spec.replicas``, ``.metadata.labels['app']``, ``.items[0]``, ``.items[*].name`` and filters such as
``.status.conditions[?(@.type=="Ready")].status`` (client-go's jsonpath with AllowMissingKeys, as the
apiextensions table convertor uses it). A path is parsed once and cached.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import orjson

Step = tuple[str, Any]  # ("key", name) | ("index", i) | ("all", None) | ("filter", (path, op, value))

_FILTER = re.compile(r"""^\?\(@((?:\.[\w\-/]+|\['[^']*'\])*)\s*(==|!=)\s*(?:"([^"]*)"|'([^']*)'|(-?\d+(?:\.\d+)?)|(true|false))\s*\)$""")


@lru_cache(maxsize=1024)
def parse(path: str) -> tuple[Step, ...]:
    """Steps of a path such as ``.status.conditions[?(@.type=="Ready")].status``; ValueError if unsupported."""
    p = path.strip()
    if p.startswith("{") and p.endswith("}"):
        p = p[1:-1]
    steps: list[Step] = []
    i = 0
    while i < len(p):
        c = p[i]
        if c == ".":
            j = i + 1
            while j < len(p) and p[j] not in ".[":
                j += 1
            name = p[i + 1:j]
            if not name:
                raise ValueError(f"invalid JSONPath {path!r}")
            steps.append(("key", name))
            i = j
        elif c == "[":
            depth = 0
            j = i
            quote = ""
            while j < len(p):
                ch = p[j]
                if quote:
                    if ch == quote:
                        quote = ""
                elif ch in "'\"":
                    quote = ch
                elif ch == "[":
                    depth += 1
                elif ch == "]":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            inner = p[i + 1:j].strip()
            if inner == "*":
                steps.append(("all", None))
            elif inner.startswith("'") and inner.endswith("'") or inner.startswith('"') and inner.endswith('"'):
                steps.append(("key", inner[1:-1]))
            elif inner.lstrip("-").isdigit():
                steps.append(("index", int(inner)))
            else:
                m = _FILTER.match(inner)
                if not m:
                    raise ValueError(f"invalid JSONPath {path!r}")
                sub = parse(m.group(1)) if m.group(1) else ()
                if m.group(3) is not None:
                    value: Any = m.group(3)
                elif m.group(4) is not None:
                    value = m.group(4)
                elif m.group(5) is not None:
                    value = float(m.group(5)) if "." in m.group(5) else int(m.group(5))
                else:
                    value = m.group(6) == "true"
                steps.append(("filter", (sub, m.group(2), value)))
            i = j + 1
        else:
            j = i
            while j < len(p) and p[j] not in ".[":
                j += 1
            steps.append(("key", p[i:j]))
            i = j
    return tuple(steps)


def find(obj: Any, path: str | tuple[Step, ...]) -> list[Any]:
    """Every value the path reaches (missing keys reach nothing)."""
    steps = parse(path) if isinstance(path, str) else path
    current = [obj]
    for kind, arg in steps:
        nxt: list[Any] = []
        for v in current:
            if kind == "key":
                if isinstance(v, dict) and arg in v:
                    nxt.append(v[arg])
            elif kind == "index":
                if isinstance(v, list) and -len(v) <= arg < len(v):
                    nxt.append(v[arg])
            elif kind == "all":
                if isinstance(v, list):
                    nxt.extend(v)
                elif isinstance(v, dict):
                    nxt.extend(v.values())
            else:
                sub, op, want = arg
                items = v if isinstance(v, list) else list(v.values()) if isinstance(v, dict) else []
                for item in items:
                    got = find(item, sub)
                    hit = bool(got) and _same(got[0], want)
                    if (op == "==" and hit) or (op == "!=" and got and not hit):
                        nxt.append(item)
        current = nxt
    return current


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)


def first(obj: Any, path: str) -> Any:
    found = find(obj, path)
    return found[0] if found else None


def text(value: Any) -> str:
    """How client-go's jsonpath prints one value: strings bare, JSON for the rest."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return orjson.dumps(value).decode()
