"""The Client protocol over HTTPS to any API server, configured from a kubeconfig (aiohttp).

What lets a controller or a node agent (``kubefacade node``) run outside the server — against this
project or a real cluster. Errors come back as the server's own ``Status`` (an ``APIError`` with
its code, reason and message), so callers handle 404/409/410 exactly as in-process.
"""

from __future__ import annotations

import base64
import ssl
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import orjson
import yaml

from facade.errors import APIError

Obj = dict[str, Any]


def _data_file(data: str, suffix: str) -> str:
    f = tempfile.NamedTemporaryFile("wb", suffix=suffix, delete=False)  # noqa: SIM115 - read by ssl below
    f.write(base64.b64decode(data))
    f.close()
    return f.name


def load_kubeconfig(path: Path, context: str = "") -> tuple[str, ssl.SSLContext | bool, dict[str, str]]:
    """(server URL, TLS context, headers) of the kubeconfig's current (or named) context."""
    cfg = yaml.safe_load(Path(path).read_text()) or {}
    ctx_name = context or cfg.get("current-context", "")
    ctx = next((c["context"] for c in cfg.get("contexts") or [] if c.get("name") == ctx_name), {})
    cluster = next((c["cluster"] for c in cfg.get("clusters") or [] if c.get("name") == ctx.get("cluster")), {})
    user = next((u["user"] for u in cfg.get("users") or [] if u.get("name") == ctx.get("user")), {}) or {}
    base = Path(path).parent
    if cluster.get("insecure-skip-tls-verify"):
        tls: ssl.SSLContext | bool = False
    else:
        ca = cluster.get("certificate-authority")
        if cluster.get("certificate-authority-data"):
            ca = _data_file(cluster["certificate-authority-data"], ".crt")
        tls = ssl.create_default_context(cafile=str(base / ca) if ca else None)
    cert, key = user.get("client-certificate"), user.get("client-key")
    if user.get("client-certificate-data"):
        cert = _data_file(user["client-certificate-data"], ".crt")
        key = _data_file(user["client-key-data"], ".key")
    if cert and isinstance(tls, ssl.SSLContext):
        tls.load_cert_chain(str(base / cert), str(base / key) if key else None)
    headers = {"User-Agent": "kubefacade-node/v1.32.0"}
    token = user.get("token")
    if user.get("tokenFile"):
        token = (base / user["tokenFile"]).read_text().strip()
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return str(cluster.get("server", "")).rstrip("/"), tls, headers


def resource_path(api_version: str, plural: str, namespace: str = "", name: str = "", subresource: str = "") -> str:
    group, _, version = api_version.rpartition("/")
    path = f"/apis/{group}/{version}" if group else f"/api/{version}"
    if namespace:
        path += f"/namespaces/{quote(namespace)}"
    path += f"/{plural}"
    if name:
        path += f"/{quote(name)}"
    if subresource:
        path += f"/{subresource}"
    return path


def _error(status: int, body: bytes) -> APIError:
    try:
        doc = orjson.loads(body)
        return APIError(int(doc.get("code") or status), doc.get("reason", ""), doc.get("message", ""),
                        doc.get("details"))
    except (orjson.JSONDecodeError, AttributeError):
        return APIError(status, "", body.decode("utf-8", "replace")[:500])


async def _lines(content: aiohttp.StreamReader) -> AsyncIterator[bytes]:
    """The stream's newline-separated lines, however long: a watch event carries a whole object, and
    aiohttp's own line reader gives up past its buffer size (512 KiB), so a large ConfigMap or CRD
    would break the watch on every event."""
    buf = bytearray()
    async for chunk in content.iter_any():
        buf += chunk
        start = 0
        while (end := buf.find(b"\n", start)) >= 0:
            yield bytes(buf[start:end])
            start = end + 1
        del buf[:start]
    if buf:
        yield bytes(buf)


class RemoteClient:
    """A Client over HTTPS; one aiohttp session, opened lazily on the running loop."""

    def __init__(self, server: str, tls: ssl.SSLContext | bool, headers: dict[str, str],
                 field_manager: str = "kubelet") -> None:
        self.server = server
        self.tls = tls
        self.headers = headers
        self.field_manager = field_manager
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_kubeconfig(cls, path: Path, context: str = "", field_manager: str = "kubelet") -> RemoteClient:
        return cls(*load_kubeconfig(path, context), field_manager=field_manager)

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers=self.headers, connector=aiohttp.TCPConnector(ssl=self.tls, limit=64),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def request(self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None,
                      content_type: str = "application/json") -> Obj:
        data = orjson.dumps(body) if body is not None else None
        headers = {"Content-Type": content_type, "Accept": "application/json"} if data is not None else {
            "Accept": "application/json"}
        async with self.session().request(method, self.server + path, data=data, params=params,
                                          headers=headers, timeout=aiohttp.ClientTimeout(total=60)) as resp:
            raw = await resp.read()
            if resp.status >= 300:
                raise _error(resp.status, raw)
            return orjson.loads(raw) if raw else {}

    async def get(self, api_version: str, plural: str, name: str, namespace: str = "") -> Obj:
        return await self.request("GET", resource_path(api_version, plural, namespace, name))

    async def list(self, api_version: str, plural: str, namespace: str = "", label_selector: str = "",
                   field_selector: str = "") -> tuple[list[Obj], str]:
        params = {k: v for k, v in (("labelSelector", label_selector), ("fieldSelector", field_selector)) if v}
        out = await self.request("GET", resource_path(api_version, plural, namespace), params=params)
        kind = out.get("kind", "")[:-4]  # items of a list come without apiVersion/kind
        for item in out.get("items") or []:
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
        return out.get("items") or [], (out.get("metadata") or {}).get("resourceVersion", "")

    async def watch(self, api_version: str, plural: str, resource_version: str, namespace: str = "",
                    label_selector: str = "", field_selector: str = "") -> AsyncIterator[tuple[str, Obj]]:
        params = {"watch": "1", "resourceVersion": resource_version, "allowWatchBookmarks": "false"}
        params.update({k: v for k, v in (("labelSelector", label_selector), ("fieldSelector", field_selector)) if v})
        url = self.server + resource_path(api_version, plural, namespace) + "?" + urlencode(params)
        async with self.session().get(url, timeout=aiohttp.ClientTimeout(total=None, sock_read=None)) as resp:
            if resp.status >= 300:
                raise _error(resp.status, await resp.read())
            async for line in _lines(resp.content):
                if not line.strip():
                    continue
                ev = orjson.loads(line)
                if ev.get("type") == "ERROR":
                    obj = ev.get("object") or {}
                    raise APIError(int(obj.get("code") or 500), obj.get("reason", ""), obj.get("message", ""))
                yield ev["type"], ev["object"]

    async def create(self, api_version: str, plural: str, obj: Obj, namespace: str = "") -> Obj:
        return await self.request("POST", resource_path(api_version, plural, namespace), obj,
                                  params={"fieldManager": self.field_manager})

    async def update(self, api_version: str, plural: str, obj: Obj, namespace: str = "") -> Obj:
        return await self.request("PUT", resource_path(api_version, plural, namespace, obj["metadata"]["name"]), obj,
                                  params={"fieldManager": self.field_manager})

    async def update_status(self, api_version: str, plural: str, obj: Obj, namespace: str = "") -> Obj:
        path = resource_path(api_version, plural, namespace, obj["metadata"]["name"], "status")
        return await self.request("PUT", path, obj, params={"fieldManager": self.field_manager})

    async def patch(self, api_version: str, plural: str, name: str, patch: Obj, namespace: str = "",
                    patch_type: str = "application/merge-patch+json", subresource: str = "",
                    shared: bool = False) -> Obj:
        return await self.request("PATCH", resource_path(api_version, plural, namespace, name, subresource), patch,
                                  params={"fieldManager": self.field_manager}, content_type=patch_type)

    async def delete(self, api_version: str, plural: str, name: str, namespace: str = "",
                     propagation_policy: str = "", uid: str = "",
                     grace_period_seconds: int | None = None) -> Obj | None:
        body: Obj = {"apiVersion": "v1", "kind": "DeleteOptions"}
        if propagation_policy:
            body["propagationPolicy"] = propagation_policy
        if uid:
            body["preconditions"] = {"uid": uid}
        if grace_period_seconds is not None:
            body["gracePeriodSeconds"] = grace_period_seconds
        out = await self.request("DELETE", resource_path(api_version, plural, namespace, name), body)
        return None if out.get("kind") == "Status" else out

    async def bind(self, pod: str, node: str, namespace: str) -> None:
        binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": pod, "namespace": namespace},
                   "target": {"apiVersion": "v1", "kind": "Node", "name": node}}
        await self.request("POST", resource_path("v1", "pods", namespace, pod, "binding"), binding)
