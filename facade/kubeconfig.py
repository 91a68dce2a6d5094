"""The admin credential and the kubeconfig that points kubectl at this server."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

import yaml


def ensure_token(data_dir: Path) -> str:
    path = data_dir / "admin.token"
    if path.exists():
        return path.read_text().strip()
    token = secrets.token_urlsafe(32)
    path.write_text(token)
    path.chmod(0o600)
    return token


def write_kubeconfig(path: Path, server: str, ca_crt: Path, token: str) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{
            "name": "kubefacade",
            "cluster": {
                "server": server,
                "certificate-authority-data": base64.b64encode(ca_crt.read_bytes()).decode(),
            },
        }],
        "users": [{"name": "kubefacade-admin", "user": {"token": token}}],
        "contexts": [{
            "name": "kubefacade",
            "context": {"cluster": "kubefacade", "user": "kubefacade-admin", "namespace": "default"},
        }],
        "current-context": "kubefacade",
        "preferences": {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(config, sort_keys=False))
    tmp.chmod(0o600)
    tmp.replace(path)
