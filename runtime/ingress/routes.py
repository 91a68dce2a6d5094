"""Which backend an HTTP request goes to, from the Ingresses this controller serves.

The rules follow the Ingress API documentation:

- hosts: an exact host beats a wildcard (``*.example.com`` matches exactly one extra label), which
  beats rules without a host. Once a host tier has rules for the request's host, the request stays
  there (as ingress-nginx gives each host its own server block): a path that matches nothing goes to
  a default backend, not to a less specific host.
- paths: ``Exact`` compares the whole path; ``Prefix`` compares ``/``-separated elements, so
  ``/foo`` matches ``/foo`` and ``/foo/bar`` but not ``/foobar``; ``ImplementationSpecific`` is
  treated as ``Prefix``. The longest path wins; at equal length Exact beats Prefix; then the oldest
  Ingress.
- default backend: ``spec.defaultBackend`` of an Ingress with rules for the host (oldest first),
  else of an Ingress without rules (oldest first: the controller-wide default), else none (the
  proxy answers 404 ``default backend - 404``, as ingress-nginx's default backend does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]


@dataclass(frozen=True)
class BackendRef:
    """A Service port an Ingress points at (port by number or by name); ``service`` empty for resources."""

    namespace: str
    service: str
    port_number: int = 0
    port_name: str = ""
    ingress: str = ""  # namespace/name of the Ingress that chose it

    @classmethod
    def from_spec(cls, backend: Obj | None, namespace: str, ingress: str) -> BackendRef | None:
        if not isinstance(backend, dict):
            return None
        svc = backend.get("service")
        if not isinstance(svc, dict):
            return cls(namespace, "", ingress=ingress)  # a resource backend: nothing to proxy to
        port = svc.get("port") if isinstance(svc.get("port"), dict) else {}
        return cls(namespace, str(svc.get("name") or ""), int(port.get("number") or 0), str(port.get("name") or ""),
                   ingress)


@dataclass(frozen=True)
class PathRule:
    exact: bool
    elements: tuple[str, ...]  # Prefix: the path's non-empty elements
    path: str
    backend: BackendRef
    order: tuple[str, str]  # (creationTimestamp, namespace/name): older Ingresses first

    def matches(self, path: str, elements: tuple[str, ...]) -> bool:
        if self.exact:
            return path == self.path
        return elements[:len(self.elements)] == self.elements

    def rank(self) -> tuple[int, int, tuple[str, str]]:
        """Sort key: longest path first, Exact before Prefix, then the oldest Ingress."""
        length = len(self.path) if self.exact else len("/" + "/".join(self.elements))
        return (-length, 0 if self.exact else 1, self.order)


@dataclass
class HostRoutes:
    paths: list[PathRule] = field(default_factory=list)
    defaults: list[tuple[tuple[str, str], BackendRef]] = field(default_factory=list)

    def finish(self) -> None:
        self.paths.sort(key=PathRule.rank)
        self.defaults.sort(key=lambda d: d[0])


def split_path(path: str) -> tuple[str, ...]:
    return tuple(e for e in path.split("/") if e)


def normalize_host(host: str) -> str:
    """The Host header without port or trailing dot, lower-cased (``[::1]:80`` keeps its brackets)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[:host.find("]") + 1] if "]" in host else host
    host = host.rsplit(":", 1)[0] if ":" in host else host
    return host.rstrip(".")


class RouteTable:
    """The merged rules of every served Ingress."""

    def __init__(self, ingresses: list[Obj]) -> None:
        self.exact: dict[str, HostRoutes] = {}
        self.wildcard: dict[str, HostRoutes] = {}  # "*.example.com" is kept under "example.com"
        self.any_host = HostRoutes()
        self.default: BackendRef | None = None
        defaults: list[tuple[tuple[str, str], BackendRef]] = []
        for ing in ingresses:
            md = ing.get("metadata") or {}
            ns = md.get("namespace") or ""
            ing_key = f"{ns}/{md.get('name', '')}"
            order = (str(md.get("creationTimestamp") or ""), ing_key)
            spec = ing.get("spec") or {}
            default = BackendRef.from_spec(spec.get("defaultBackend"), ns, ing_key)
            if default is not None and not spec.get("rules"):
                defaults.append((order, default))
            for rule in spec.get("rules") or []:
                if not isinstance(rule, dict):
                    continue
                routes = self._routes_for(str(rule.get("host") or "").lower())
                if default is not None:
                    routes.defaults.append((order, default))
                for p in ((rule.get("http") or {}).get("paths") or []):
                    backend = BackendRef.from_spec(p.get("backend"), ns, ing_key)
                    if backend is None:
                        continue
                    path = str(p.get("path") or "/")
                    routes.paths.append(PathRule(p.get("pathType") == "Exact", split_path(path), path, backend, order))
        for routes in [*self.exact.values(), *self.wildcard.values(), self.any_host]:
            routes.finish()
        if defaults:
            self.default = min(defaults, key=lambda d: d[0])[1]

    def backends(self) -> set[BackendRef]:
        """Every backend some request may go to."""
        out = {self.default} if self.default else set()
        for routes in [*self.exact.values(), *self.wildcard.values(), self.any_host]:
            out.update(p.backend for p in routes.paths)
            out.update(d for _, d in routes.defaults)
        return out

    def _routes_for(self, host: str) -> HostRoutes:
        if not host:
            return self.any_host
        if host.startswith("*."):
            return self.wildcard.setdefault(host[2:], HostRoutes())
        return self.exact.setdefault(host, HostRoutes())

    def host_routes(self, host: str) -> HostRoutes | None:
        """The most specific host tier that has rules for ``host`` (already normalized)."""
        if host in self.exact:
            return self.exact[host]
        _, dot, parent = host.partition(".")
        if dot and parent in self.wildcard:
            return self.wildcard[parent]
        if self.any_host.paths or self.any_host.defaults:
            return self.any_host
        return None

    def match(self, host: str, path: str) -> BackendRef | None:
        """The backend for a request, or None (404) when nothing matches and there is no default."""
        path = path.split("?", 1)[0].split("#", 1)[0] or "/"
        routes = self.host_routes(normalize_host(host))
        if routes is not None:
            elements = split_path(path)
            for rule in routes.paths:
                if rule.matches(path, elements):
                    return rule.backend
            if routes.defaults:
                return routes.defaults[0][1]
        return self.default
