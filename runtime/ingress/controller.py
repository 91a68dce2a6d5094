"""The built-in Ingress controller: IngressClass ``kubefacade`` (the default class), an HTTP and an
HTTPS listener on the serve host, and ``status.loadBalancer`` of every Ingress it serves.

It keeps informers (list + watch caches) of Ingresses and IngressClasses, and once it serves an
Ingress also of Services, EndpointSlices and TLS Secrets. The route table and the certificates are
rebuilt after any change to what they read; each request picks among the backend's ready endpoints
at the moment it arrives, round-robin, so a pod that stops being ready stops getting requests as
soon as its EndpointSlice says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from pathlib import Path
from typing import Any

from controllers.clock import RealClock
from controllers.event_recorder import NORMAL, EventRecorder
from controllers.informer import Informer
from facade.admission_ingress import LEGACY_CLASS_ANNOTATION, default_class_name
from facade.errors import APIError
from runtime.ingress.certs import CertStore
from runtime.ingress.ingress_class import CONTROLLER_NAME, NET, ensure_class
from runtime.ingress.proxy import Decision, HttpProxy
from runtime.ingress.routes import BackendRef, RouteTable
from runtime.proxy.backends import Backends, ready_endpoints

Obj = dict[str, Any]
log = logging.getLogger("kubefacade.ingress")

NOT_FOUND = b"default backend - 404"
UNAVAILABLE = b"503 Service Temporarily Unavailable\n"
EVENT_COMPONENT = "kubefacade-ingress-controller"
RETRY_LISTEN_SECONDS = 5.0
#: watched from the start; Services, EndpointSlices and TLS Secrets only once an Ingress is served
ALWAYS_WATCHED = ("ingresses", "classes")


def served(ingresses: list[Obj], classes: list[Obj]) -> list[Obj]:
    """The Ingresses whose class is handled by this controller.

    A class is ours when its ``spec.controller`` is ours. An Ingress names its class in
    ``spec.ingressClassName``, else in the deprecated ``kubernetes.io/ingress.class`` annotation,
    else it gets the default class (the newest class annotated as default), as ingress-nginx reads it.
    """
    ours = {c["metadata"]["name"] for c in classes if (c.get("spec") or {}).get("controller") == CONTROLLER_NAME}
    default = default_class_name(classes)
    out = []
    for ing in ingresses:
        cls = (ing.get("spec") or {}).get("ingressClassName")
        if cls is None:
            cls = (ing["metadata"].get("annotations") or {}).get(LEGACY_CLASS_ANNOTATION)
        if cls is None:
            cls = default
        if cls in ours:
            out.append(ing)
    return out


class _FieldSelected:
    """A client whose lists and watches carry one field selector (an Informer of TLS Secrets only)."""

    def __init__(self, client: Any, field_selector: str) -> None:
        self.client = client
        self.field_selector = field_selector

    async def list(self, api_version: str, plural: str, namespace: str = "", label_selector: str = "",
                   field_selector: str = "") -> tuple[list[Obj], str]:
        return await self.client.list(api_version, plural, namespace, label_selector, self.field_selector)

    def watch(self, api_version: str, plural: str, resource_version: str, namespace: str = "",
              label_selector: str = "", field_selector: str = "") -> Any:
        return self.client.watch(api_version, plural, resource_version, namespace, label_selector,
                                 self.field_selector)


class IngressController:
    """Routes HTTP(S) requests by the served Ingresses to ready endpoints, and reports where."""

    def __init__(self, client: Any, work_dir: Path, listen_host: str = "127.0.0.1", http_port: int = 8080,
                 https_port: int = 8443, status_ip: str = "127.0.0.1") -> None:
        self.client = client
        self.listen_host = listen_host
        self.ports = {"http": http_port, "https": https_port}
        self.status_ip = status_ip
        tls_only = _FieldSelected(client, "type=kubernetes.io/tls")
        self.informers = {name: Informer(c, api, plural, f"ingress-{plural}") for name, c, api, plural in (
            ("ingresses", client, NET, "ingresses"), ("classes", client, NET, "ingressclasses"),
            ("services", client, "v1", "services"), ("slices", client, "discovery.k8s.io/v1", "endpointslices"),
            ("secrets", tls_only, "v1", "secrets"))}
        self.slices_by_service: dict[tuple[str, str], dict[str, Obj]] = {}
        self.informers["slices"].add_handler(self._on_slice)
        for name in ("ingresses", "classes", "secrets"):
            self.informers[name].add_handler(self._on_change)
        self.routes = RouteTable([])
        self.certs = CertStore(work_dir)
        self.backends: dict[BackendRef, Backends] = {}
        self.servers: dict[str, asyncio.AbstractServer] = {}
        self._dirty = asyncio.Event()
        self._warned: set[str] = set()
        self._synced: dict[str, int] = {}  # uid -> generation an Event was recorded for
        self.events = EventRecorder(client, EVENT_COMPONENT, RealClock())
        self._tasks: list[asyncio.Task[Any]] = []

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        await ensure_class(self.client)
        for name in ALWAYS_WATCHED:
            self.informers[name].start()
        await asyncio.gather(*(self.informers[name].synced.wait() for name in ALWAYS_WATCHED))
        self.rebuild()
        await self.listen()
        self._tasks.append(asyncio.create_task(self._loop(), name="ingress-controller"))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for inf in self.informers.values():
            await inf.stop()
        for srv in self.servers.values():
            srv.close()
        self.servers.clear()

    async def listen(self) -> None:
        """Open the listeners not open yet; a port in use is retried later and reported once."""
        for scheme, port in self.ports.items():
            if not port or scheme in self.servers:
                continue
            proxy = HttpProxy(self.route, scheme, port)
            ssl_ctx = self.certs.context if scheme == "https" else None
            try:
                self.servers[scheme] = await asyncio.start_server(
                    proxy.handle, self.listen_host, port, ssl=ssl_ctx, reuse_address=True, backlog=1024,
                    ssl_handshake_timeout=10 if ssl_ctx else None)
            except OSError as e:
                if scheme not in self._warned:
                    self._warned.add(scheme)
                    log.warning("ingress controller cannot listen on %s:%s (%s): %s; retrying",
                                self.listen_host, port, scheme, e)
                continue
            self._dirty.set()  # the reported ports change

    # -- informer handlers ---------------------------------------------------------------------

    def _on_change(self, _type: str, _obj: Obj, _old: Obj | None) -> None:
        self._dirty.set()

    def _on_slice(self, ev_type: str, obj: Obj, old: Obj | None) -> None:
        md = obj.get("metadata") or {}
        key = f"{md.get('namespace', '')}/{md.get('name', '')}"
        for o in (old, obj):
            svc = ((o or {}).get("metadata", {}).get("labels") or {}).get("kubernetes.io/service-name")
            if svc:
                self.slices_by_service.get((md.get("namespace", ""), svc), {}).pop(key, None)
        svc = (md.get("labels") or {}).get("kubernetes.io/service-name")
        if svc and ev_type != "DELETED":
            self.slices_by_service.setdefault((md.get("namespace", ""), svc), {})[key] = obj

    # -- routing -------------------------------------------------------------------------------

    def served(self) -> list[Obj]:
        return served(list(self.informers["ingresses"].cache.values()),
                      list(self.informers["classes"].cache.values()))

    def rebuild(self) -> None:
        ingresses = self.served()
        if ingresses:  # Services, slices and TLS Secrets are cached once there is something to route
            for inf in self.informers.values():
                inf.start()
        self.routes = RouteTable(ingresses)
        live = self.routes.backends()
        self.backends = {k: v for k, v in self.backends.items() if k in live}
        self.certs.update(ingresses, self.informers["secrets"].cache)

    def endpoints(self, ref: BackendRef) -> list[tuple[str, int]] | None:
        """The ready (ip, port)s of a backend; None when the Service or its port does not exist."""
        svc = self.informers["services"].cache.get(f"{ref.namespace}/{ref.service}")
        if svc is None or not ref.service:
            return None
        spec = svc.get("spec") or {}
        port = next((p for p in spec.get("ports") or []
                     if (ref.port_name and p.get("name") == ref.port_name)
                     or (ref.port_number and p.get("port") == ref.port_number)), None)
        if spec.get("type") == "ExternalName":
            target = ref.port_number or (port or {}).get("port") or 0
            return [(spec["externalName"], int(target))] if spec.get("externalName") and target else []
        if port is None:
            return None
        slices = list(self.slices_by_service.get((ref.namespace, ref.service), {}).values())
        return ready_endpoints(svc, port, slices, "", False)

    def route(self, host: str, target: str) -> Decision:
        """The proxy's router: where a request for ``host`` and ``target`` goes."""
        if self._dirty.is_set():
            self.rebuild()
        ref = self.routes.match(host, target)
        if ref is None:
            return Decision(404, NOT_FOUND)
        eps = self.endpoints(ref)
        if not eps:
            return Decision(503, UNAVAILABLE)
        b = self.backends.setdefault(ref, Backends())
        b.endpoints = eps
        first = b.pick("")
        rest = [e for e in eps if e != first]
        return Decision(endpoints=[first, *rest] if first else eps)

    # -- status --------------------------------------------------------------------------------

    def wanted_status(self) -> list[Obj]:
        ports = [{"port": port, "protocol": "TCP"} for scheme, port in self.ports.items() if scheme in self.servers]
        if not ports:
            return []
        try:
            ipaddress.ip_address(self.status_ip)
        except ValueError:  # served on a host name (--host localhost): reported as one
            return [{"hostname": self.status_ip, "ports": ports}]
        return [{"ip": self.status_ip, "ports": ports}]

    async def write_status(self) -> None:
        wanted = self.wanted_status()
        mine = self.served()
        ours = {id(i) for i in mine}
        await self.record_syncs(mine)
        for ing in list(self.informers["ingresses"].cache.values()):
            current = ((ing.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
            if id(ing) in ours:
                target = wanted
            elif current and current == wanted:
                target = []  # no longer ours: take back the address we reported
            else:
                continue
            if current == target or (id(ing) in ours and not target):
                continue
            md = ing["metadata"]
            try:
                out = await self.client.patch(NET, "ingresses", md["name"],
                                              {"status": {"loadBalancer": {"ingress": target or None}}},
                                              md.get("namespace", ""), subresource="status")
                self.informers["ingresses"].remember(out)
            except APIError as e:
                if e.code != 404:
                    log.warning("ingress status of %s/%s: %s", md.get("namespace"), md["name"], e.message)

    async def record_syncs(self, ingresses: list[Obj]) -> None:
        """A ``Sync`` Event per served Ingress and generation, as ingress-nginx records them."""
        live = set()
        for ing in ingresses:
            md = ing["metadata"]
            live.add(md.get("uid", ""))
            if self._synced.get(md.get("uid", "")) != md.get("generation"):
                self._synced[md.get("uid", "")] = md.get("generation", 0)
                await self.events.event({"apiVersion": NET, "kind": "Ingress", **ing}, NORMAL, "Sync",
                                        "Scheduled for sync")
        self._synced = {k: v for k, v in self._synced.items() if k in live}

    async def _loop(self) -> None:
        next_listen = 0.0
        loop = asyncio.get_running_loop()
        while True:
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._dirty.wait(), RETRY_LISTEN_SECONDS)
                if self._dirty.is_set():
                    self._dirty.clear()
                    await asyncio.sleep(0.02)  # batch a burst of events into one rebuild
                    self.rebuild()
                    await self.write_status()
                if len(self.servers) < sum(1 for p in self.ports.values() if p) and loop.time() >= next_listen:
                    next_listen = loop.time() + RETRY_LISTEN_SECONDS
                    await self.listen()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep serving with the last good state
                log.exception("ingress controller sync failed")
                await asyncio.sleep(1)
