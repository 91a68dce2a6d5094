"""TLS for the Ingress HTTPS listener: one certificate per host from ``kubernetes.io/tls`` Secrets,
chosen by SNI, and a self-signed default for every other name (as ingress-nginx's "fake certificate").

``ssl`` loads certificates only from files, so each Secret's PEMs are written to a private file
under the data directory, loaded, and removed again.
"""

from __future__ import annotations

import base64
import datetime
import logging
import os
import ssl
import tempfile
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

Obj = dict[str, Any]
log = logging.getLogger("kubefacade.ingress")
DEFAULT_CN = "Kubefacade Ingress Controller Fake Certificate"


def self_signed_pem(common_name: str = DEFAULT_CN, dns: str = "ingress.local") -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM) of a fresh self-signed ECDSA P-256 certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns)]), critical=False)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


def _context(cert_pem: bytes, key_pem: bytes, work_dir: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.set_alpn_protocols(["http/1.1"])
    work_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, name = tempfile.mkstemp(dir=work_dir, suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(cert_pem.rstrip(b"\n") + b"\n" + key_pem)
        ctx.load_cert_chain(name)
    finally:
        os.unlink(name)
    return ctx


class CertStore:
    """Host name → SSLContext; ``context`` is the listener's context, switching per SNI name."""

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self.default = _context(*self_signed_pem(), work_dir)
        self.by_host: dict[str, ssl.SSLContext] = {}
        self._loaded: dict[tuple[str, str], ssl.SSLContext | None] = {}  # (secret key, resourceVersion)
        self.context = self.default  # the listener's context: its certificate is the default one
        self.context.sni_callback = self._pick

    def _pick(self, sock: Any, server_name: str | None, _ctx: ssl.SSLContext) -> None:
        sock.context = self.lookup(server_name or "")

    def lookup(self, server_name: str) -> ssl.SSLContext:
        host = server_name.lower().rstrip(".")
        if host in self.by_host:
            return self.by_host[host]
        _, dot, parent = host.partition(".")
        return self.by_host.get("*." + parent, self.default) if dot else self.default

    def secret_context(self, secret: Obj) -> ssl.SSLContext | None:
        """The context for a ``tls.crt``/``tls.key`` Secret (cached per resourceVersion), None when invalid."""
        md = secret.get("metadata") or {}
        key = (f"{md.get('namespace', '')}/{md.get('name', '')}", str(md.get("resourceVersion", "")))
        if key in self._loaded:
            return self._loaded[key]
        data = secret.get("data") or {}
        ctx = None
        try:
            ctx = _context(base64.b64decode(data.get("tls.crt") or ""), base64.b64decode(data.get("tls.key") or ""),
                           self.work_dir)
        except (ssl.SSLError, ValueError, OSError) as e:
            log.warning("ingress: secret %s holds no usable certificate: %s", key[0], e)
        self._loaded[key] = ctx
        return ctx

    def update(self, ingresses: list[Obj], secrets: dict[str, Obj]) -> None:
        """Recompute host → context from ``spec.tls`` of the served Ingresses (oldest Ingress wins a host)."""
        by_host: dict[str, ssl.SSLContext] = {}
        used: set[tuple[str, str]] = set()
        ordered = sorted(ingresses, key=lambda i: (i["metadata"].get("creationTimestamp", ""),
                                                   i["metadata"].get("namespace", ""), i["metadata"]["name"]))
        for ing in ordered:
            ns = ing["metadata"].get("namespace", "")
            spec = ing.get("spec") or {}
            for tls in spec.get("tls") or []:
                if not isinstance(tls, dict) or not tls.get("secretName"):
                    continue
                secret = secrets.get(f"{ns}/{tls['secretName']}")
                if secret is None:
                    continue
                ctx = self.secret_context(secret)
                md = secret["metadata"]
                used.add((f"{ns}/{md['name']}", str(md.get("resourceVersion", ""))))
                if ctx is None:
                    continue
                hosts = tls.get("hosts") or [r.get("host") for r in spec.get("rules") or []
                                             if isinstance(r, dict) and r.get("host")]
                for h in hosts:
                    by_host.setdefault(str(h).lower(), ctx)
        self.by_host = by_host
        self._loaded = {k: v for k, v in self._loaded.items() if k in used}
