"""Backends and HTTP clients for the Ingress controller tests.

The backend is a small Python HTTP/1.1 server run as a pod on the process backend: GET answers JSON
with its name, the path and the request headers (``/stream`` sends one chunk, and the second only
once ``/release`` was asked for); POST answers the byte count and SHA-256 of the
body (chunked or not); ``close`` mode closes the connection after each answer; ``ws`` mode is a
WebSocket echo server (the venv has ``websockets``).
"""

from __future__ import annotations

import datetime
import http.client
import json
import socket
import ssl
import sys
import tempfile
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

BACKEND = r'''
import hashlib, json, socket, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

name, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
release = threading.Event()

if mode == "ws":
    from websockets.sync.server import serve

    def echo(ws):
        for message in ws:
            ws.send(name + ":" + message)

    with serve(echo, "0.0.0.0", port) as server:
        server.serve_forever()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, obj):
        body = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if mode == "close":  # a new connection per request, as busybox httpd answers
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/release":
            release.set()
        if self.path == "/stream":  # one chunk now, the next once /release was asked for
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"6\r\nfirst\n\r\n")
            self.wfile.flush()
            release.wait(30)
            self.wfile.write(b"7\r\nsecond\n\r\n0\r\n\r\n")
            return
        self.reply({"name": name, "path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}})

    def do_POST(self):
        digest, count = hashlib.sha256(), 0

        def take(n):
            nonlocal count
            while n:
                chunk = self.rfile.read(min(n, 65536))
                if not chunk:
                    raise ConnectionError("body cut short")
                digest.update(chunk)
                count += len(chunk)
                n -= len(chunk)

        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                take(size)
                self.rfile.readline()
        else:
            take(int(self.headers.get("Content-Length") or 0))
        self.reply({"name": name, "count": count, "sha256": digest.hexdigest(),
                    "chunked": "chunked" in self.headers.get("Transfer-Encoding", "")})

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def server_bind(self):
        # replicas of one Deployment share the host network on the process backend: share the port
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()


Server(("0.0.0.0", port), Handler).serve_forever()
'''

_script_dir = Path(tempfile.mkdtemp(prefix="kubefacade-ingress-backend-"))
SCRIPT = _script_dir / "backend.py"
SCRIPT.write_text(BACKEND)


def backend_container(name_expr: str, port: int, mode: str = "http") -> dict[str, Any]:
    """A container running the backend; ``name_expr`` is a shell word (e.g. ``"$POD_NAME"``)."""
    return {
        "name": "c", "image": "busybox",
        "command": ["sh", "-c", f"exec {sys.executable} {SCRIPT} {name_expr} {port} {mode}"],
        "ports": [{"name": "http", "containerPort": port}],
        "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        "readinessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 1},
    }


def backend_pod(name: str, app: str, node: str, port: int, mode: str = "http") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": app}},
            "spec": {"nodeName": node, "terminationGracePeriodSeconds": 1,
                     "containers": [backend_container(name, port, mode)]}}


def service(name: str, app: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": app}, "ports": [{"name": "web", "port": 80, "targetPort": "http"}]}}


def rule(host: str, *paths: tuple[str, str, str]) -> dict[str, Any]:
    """An Ingress rule: ``paths`` are (path, pathType, service)."""
    out: dict[str, Any] = {"http": {"paths": [
        {"path": p, "pathType": t, "backend": {"service": {"name": s, "port": {"number": 80}}}} for p, t, s in paths]}}
    if host:
        out["host"] = host
    return out


def ingress(name: str, *rules: dict[str, Any], **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"rules": list(rules), **spec} if rules else dict(spec)
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": name}, "spec": body}


def get(port: int, host: str, path: str = "/", sock: socket.socket | None = None) -> tuple[int, bytes]:
    """(status, body) of a GET through the ingress; (0, b"") when the connection fails."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    if sock is not None:
        conn.sock = sock
    try:
        conn.request("GET", path, headers={"Host": host})
        r = conn.getresponse()
        return r.status, r.read()
    except OSError:
        return 0, b""
    finally:
        conn.close()


def name_of(port: int, host: str, path: str = "/") -> str:
    """The backend's name that answered, or "<status> <body>" when it was the proxy itself."""
    status, body = get(port, host, path)
    if status == 200:
        try:
            return json.loads(body)["name"]
        except ValueError:
            pass
    return f"{status} {body.decode(errors='replace').strip()}"


def tls_get(port: int, sni: str, cafile: str | None, path: str = "/") -> tuple[int, bytes, str]:
    """GET over TLS with SNI ``sni``: (status, body, subject CN of the certificate served)."""
    ctx = ssl.create_default_context(cafile=cafile) if cafile else ssl._create_unverified_context()
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock = ctx.wrap_socket(raw, server_hostname=sni)
    der = sock.getpeercert(binary_form=True) or b""
    cn = x509.load_der_x509_certificate(der).subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    status, body = get(port, sni, path, sock=sock)
    return status, body, str(cn)


def make_cert(host: str, directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for ``host`` (which is also its CN): (cert file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    crt, pem = directory / "tls.crt", directory / "tls.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    return crt, pem
