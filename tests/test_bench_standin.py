"""A tiny stand-in API server for the benchmark's tests: ConfigMaps and namespaces in a dict.

It is NOT kubefacade: it exists so that the benchmark can be tested on its own, over real TLS
with a bearer token, against a server whose behaviour the tests control (``--fail-every N``
answers every Nth create with a 500, so that error counting can be checked).

Run as a script it serves on 127.0.0.1 and writes a kubeconfig; ``start_standin`` does that.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

TOKEN = "standin-token"


def _status(code: int, reason: str, message: str):
    import orjson
    from starlette.responses import Response

    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}
    return Response(orjson.dumps(body), status_code=code, media_type="application/json")


def build_app(fail_every: int = 0):
    import orjson
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse, Response, StreamingResponse
    from starlette.routing import Route

    state = {"rv": 0, "creates": 0, "seq": 0}
    namespaces: dict[str, dict] = {"default": {}}
    watchers: dict[str, list[asyncio.Queue]] = {}

    def next_rv() -> str:
        state["rv"] += 1
        return str(state["rv"])

    def authorized(request) -> bool:
        return request.headers.get("authorization") == f"Bearer {TOKEN}"

    def json(obj, code: int = 200) -> Response:
        return Response(orjson.dumps(obj), status_code=code, media_type="application/json")

    async def readyz(request):
        return PlainTextResponse("ok")

    async def namespaces_create(request):
        if not authorized(request):
            return _status(401, "Unauthorized", "Unauthorized")
        body = orjson.loads(await request.body())
        meta = body.get("metadata", {})
        name = meta.get("name") or meta["generateName"] + os.urandom(3).hex()[:5]
        namespaces[name] = {}
        return json({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}, 201)

    async def namespace_delete(request):
        if not authorized(request):
            return _status(401, "Unauthorized", "Unauthorized")
        namespaces.pop(request.path_params["ns"], None)
        return json({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": request.path_params["ns"]}})

    def notify(ns: str, kind: str, obj: dict) -> None:
        line = orjson.dumps({"type": kind, "object": obj}) + b"\n"
        for queue in watchers.get(ns, []):
            queue.put_nowait(line)

    async def collection(request):
        if not authorized(request):
            return _status(401, "Unauthorized", "Unauthorized")
        ns = request.path_params["ns"]
        if ns not in namespaces:
            return _status(404, "NotFound", f'namespaces "{ns}" not found')
        store = namespaces[ns]
        if request.method == "POST":
            state["creates"] += 1
            if fail_every and state["creates"] % fail_every == 0:
                return _status(500, "InternalError", "injected failure")
            obj = orjson.loads(await request.body())
            meta = obj.setdefault("metadata", {})
            if not meta.get("name"):
                state["seq"] += 1
                meta["name"] = f"{meta['generateName']}{state['seq']:06d}"
            if meta["name"] in store:
                return _status(409, "AlreadyExists", f'configmaps "{meta["name"]}" already exists')
            meta["namespace"] = ns
            meta["resourceVersion"] = next_rv()
            store[meta["name"]] = obj
            notify(ns, "ADDED", obj)
            return json(obj, 201)
        if request.method == "DELETE":
            store.clear()
            return json({"kind": "Status", "apiVersion": "v1", "status": "Success"})
        if request.query_params.get("watch") in ("1", "true"):
            queue: asyncio.Queue = asyncio.Queue()
            watchers.setdefault(ns, []).append(queue)

            async def stream():
                try:
                    while True:
                        yield await queue.get()
                finally:
                    watchers[ns].remove(queue)

            return StreamingResponse(stream(), media_type="application/json")
        names = sorted(store)
        start = int(request.query_params.get("continue") or 0)
        limit = int(request.query_params.get("limit") or 0)
        end = start + limit if limit else len(names)
        meta = {"resourceVersion": str(state["rv"])}
        if end < len(names):
            meta["continue"] = str(end)
        return json({"apiVersion": "v1", "kind": "ConfigMapList", "metadata": meta,
                     "items": [store[n] for n in names[start:end]]})

    async def item(request):
        if not authorized(request):
            return _status(401, "Unauthorized", "Unauthorized")
        ns, name = request.path_params["ns"], request.path_params["name"]
        store = namespaces.get(ns, {})
        if name not in store:
            return _status(404, "NotFound", f'configmaps "{name}" not found')
        if request.method == "GET":
            return json(store[name])
        obj = orjson.loads(await request.body())
        obj["metadata"]["resourceVersion"] = next_rv()
        store[name] = obj
        notify(ns, "MODIFIED", obj)
        return json(obj)

    return Starlette(routes=[
        Route("/readyz", readyz),
        Route("/api/v1/namespaces", namespaces_create, methods=["POST"]),
        Route("/api/v1/namespaces/{ns}", namespace_delete, methods=["DELETE"]),
        Route("/api/v1/namespaces/{ns}/configmaps", collection, methods=["GET", "POST", "DELETE"]),
        Route("/api/v1/namespaces/{ns}/configmaps/{name}", item, methods=["GET", "PUT"]),
    ])


def write_certs(directory: Path) -> tuple[Path, Path, Path]:
    """A self-signed CA and a serving cert for 127.0.0.1/localhost."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "standin-ca")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(1)
          .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "standin")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_path, cert_path, key_path = directory / "ca.crt", directory / "server.crt", directory / "server.key"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return ca_path, cert_path, key_path


def write_kubeconfig(directory: Path, port: int, ca_path: Path) -> Path:
    path = directory / "kubeconfig"
    path.write_text(f"""apiVersion: v1
kind: Config
clusters:
- name: standin
  cluster:
    server: https://127.0.0.1:{port}
    certificate-authority: {ca_path.name}
users:
- name: standin
  user:
    token: {TOKEN}
contexts:
- name: standin
  context: {{cluster: standin, user: standin}}
current-context: standin
""")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_standin(directory: Path, fail_every: int = 0) -> tuple[subprocess.Popen, Path, int]:
    """Start the stand-in in a subprocess; return it, its kubeconfig and its port once ready."""
    import ssl
    import urllib.request

    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--port", str(port), "--dir", str(directory),
                             "--fail-every", str(fail_every)])
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"https://127.0.0.1:{port}/readyz", context=ctx, timeout=1).read()
            return proc, directory / "kubeconfig", port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("stand-in did not start")


if __name__ == "__main__":
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", "--data-dir", dest="dir", type=Path, required=True)
    parser.add_argument("--fail-every", type=int, default=0)
    opts = parser.parse_args()
    opts.dir.mkdir(parents=True, exist_ok=True)
    ca_file, cert_file, key_file = write_certs(opts.dir)
    write_kubeconfig(opts.dir, opts.port, ca_file)
    uvicorn.run(build_app(opts.fail_every), host="127.0.0.1", port=opts.port, log_level="warning",
                ssl_certfile=str(cert_file), ssl_keyfile=str(key_file))
