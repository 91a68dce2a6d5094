"""Read a kubeconfig into what the benchmark needs: where the API server is and how to log in.

Only the parts of the format that a load generator can use are read (server, CA, TLS server name,
insecure-skip-tls-verify, bearer token or token file, client certificate and key, basic auth).
`exec` and `auth-provider` plugins are not run: a benchmark should not depend on a cloud CLI.
Inline ``*-data`` fields are written to private temporary files, because ``ssl`` and ``wrk`` take
file names.
"""

from __future__ import annotations

import atexit
import base64
import os
import shutil
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml


class KubeconfigError(Exception):
    """The kubeconfig is missing, malformed, or names a context/cluster/user it does not define."""


@dataclass
class ClusterAccess:
    """Address and credentials of one API server, as the benchmark uses them."""

    server: str
    host: str
    port: int
    scheme: str = "https"
    ca_file: str | None = None
    insecure: bool = False
    tls_server_name: str | None = None
    token: str | None = None
    client_cert_file: str | None = None
    client_key_file: str | None = None
    username: str | None = None
    password: str | None = None
    context: str = ""
    _ssl: ssl.SSLContext | None = field(default=None, repr=False)

    @property
    def is_tls(self) -> bool:
        return self.scheme == "https"

    @property
    def needs_client_cert(self) -> bool:
        """True when the only credential is a client certificate, which wrk cannot present."""
        return self.client_cert_file is not None

    def auth_headers(self) -> dict[str, str]:
        """HTTP headers that authenticate a request (empty for client-cert or anonymous access)."""
        if self.token:
            return {"Authorization": f"Bearer {self.token}"}
        if self.username is not None and self.password is not None:
            raw = f"{self.username}:{self.password}".encode()
            return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
        return {}

    def ssl_context(self) -> ssl.SSLContext:
        """A client TLS context that trusts the kubeconfig's CA and presents its client cert."""
        if self._ssl is None:
            ctx = ssl.create_default_context(cafile=self.ca_file)
            if self.insecure:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            if self.client_cert_file:
                ctx.load_cert_chain(self.client_cert_file, self.client_key_file)
            self._ssl = ctx
        return self._ssl

    def url(self, path: str) -> str:
        return self.server.rstrip("/") + path


_temp_dir: str | None = None


def _private_file(name: str, data: bytes) -> str:
    """Write credential bytes to a 0600 file in a per-process directory removed at exit."""
    global _temp_dir
    if _temp_dir is None:
        _temp_dir = tempfile.mkdtemp(prefix="kubefacade-bench-")
        atexit.register(shutil.rmtree, _temp_dir, True)
    path = os.path.join(_temp_dir, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return path


def _file_or_data(entry: dict[str, Any], key: str, base: Path, name: str) -> str | None:
    """Resolve ``key`` (a path, relative to the kubeconfig) or ``key-data`` (base64) to a file."""
    data = entry.get(f"{key}-data")
    if data:
        return _private_file(name, base64.b64decode(data))
    path = entry.get(key)
    if path:
        resolved = Path(path) if os.path.isabs(path) else base / path
        return str(resolved)
    return None


def _named(items: list[dict[str, Any]] | None, name: str, what: str) -> dict[str, Any]:
    for item in items or []:
        if item.get("name") == name:
            return item.get(what) or {}
    raise KubeconfigError(f"{what} {name!r} is not defined in the kubeconfig")


def default_kubeconfig_path() -> str:
    """$KUBECONFIG's first existing file, else ~/.kube/config (what kubectl would pick first)."""
    for candidate in os.environ.get("KUBECONFIG", "").split(os.pathsep):
        if candidate and os.path.exists(candidate):
            return candidate
    return os.path.expanduser("~/.kube/config")


def load_kubeconfig(path: str | None = None, context: str | None = None) -> ClusterAccess:
    """Parse a kubeconfig file and return the access for ``context`` (default: current-context)."""
    path = path or default_kubeconfig_path()
    try:
        with open(path, encoding="utf-8") as handle:
            config = yaml.safe_load(handle) or {}
    except OSError as exc:
        raise KubeconfigError(f"cannot read kubeconfig {path}: {exc}") from exc
    base = Path(path).resolve().parent
    context_name = context or config.get("current-context")
    if not context_name:
        contexts = config.get("contexts") or []
        if len(contexts) != 1:
            raise KubeconfigError(f"{path}: no current-context and no --context given")
        context_name = contexts[0]["name"]
    ctx = _named(config.get("contexts"), context_name, "context")
    cluster = _named(config.get("clusters"), ctx.get("cluster", ""), "cluster")
    user = _named(config.get("users"), ctx["user"], "user") if ctx.get("user") else {}

    server = cluster.get("server")
    if not server:
        raise KubeconfigError(f"cluster {ctx.get('cluster')!r} has no server")
    parts = urlsplit(server)
    scheme = parts.scheme or "https"
    port = parts.port or (443 if scheme == "https" else 80)

    token = user.get("token")
    if not token and user.get("tokenFile"):
        token = Path(_file_or_data(user, "tokenFile", base, "token") or "").read_text().strip()

    return ClusterAccess(
        server=f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}",
        host=parts.hostname or "localhost",
        port=port,
        scheme=scheme,
        ca_file=_file_or_data(cluster, "certificate-authority", base, "ca.crt"),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        tls_server_name=cluster.get("tls-server-name"),
        token=token,
        client_cert_file=_file_or_data(user, "client-certificate", base, "client.crt"),
        client_key_file=_file_or_data(user, "client-key", base, "client.key"),
        username=user.get("username"),
        password=user.get("password"),
        context=context_name,
    )
