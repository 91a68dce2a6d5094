"""Service-account tokens for projected volumes, requested as kubelet's token manager requests them.

A ``serviceAccountToken`` projection (``{audience, expirationSeconds, path}``, 3600 s by default;
the ``kube-api-access-*`` volume ServiceAccount admission adds asks for 3607 s) becomes a POST to
``serviceaccounts/<pod's account>/token`` bound to the pod (``boundObjectRef`` kind Pod with its
uid), so the token dies with the pod. In-process agents call the issuer directly; remote agents
go over HTTP. The token is fetched when the pod's volumes are set up and, as kubelet's token
manager does, fetched again once 80 % of its lifetime has passed (at least daily), on the agent's clock.
"""

from __future__ import annotations

from typing import Any

from facade.errors import APIError
from runtime.env import ConfigError

Obj = dict[str, Any]

DEFAULT_EXPIRATION_SECONDS = 3600


def token_request(pod: Obj, source: Obj) -> Obj:
    """The TokenRequest kubelet sends for one projection of ``pod``."""
    meta = pod.get("metadata") or {}
    audience = source.get("audience") or ""
    return {
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
        "spec": {
            "audiences": [audience] if audience else None,
            "expirationSeconds": int(source.get("expirationSeconds") or DEFAULT_EXPIRATION_SECONDS),
            "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": meta.get("name", ""),
                               "uid": meta.get("uid", "")},
        },
    }


async def fetch_token(client: Any, pod: Obj, source: Obj) -> bytes:
    """The token for one ``serviceAccountToken`` projection; ConfigError (a failed mount) when refused."""
    meta = pod.get("metadata") or {}
    namespace = meta.get("namespace", "")
    account = (pod.get("spec") or {}).get("serviceAccountName") or "default"
    body = token_request(pod, source)
    try:
        rest = getattr(client, "rest", None)
        if rest is not None:  # InProcessClient: the server's own issuer, no socket
            from facade.service_account_token import issue

            out = await issue(rest, namespace, account, body)
        elif hasattr(client, "request"):  # RemoteClient
            from controllers.remote_client import resource_path

            out = await client.request("POST", resource_path("v1", "serviceaccounts", namespace, account, "token"),
                                       body)
        else:
            raise ConfigError("failed to fetch token: this node agent's client cannot request tokens")
    except APIError as e:
        raise ConfigError(f"failed to fetch token: {e.message}") from None
    return str((out.get("status") or {}).get("token", "")).encode()


#: kubelet refreshes a token once 80 % of its lifetime has passed, and at least daily
REFRESH_FRACTION = 0.8
MAX_REFRESH_SECONDS = 24 * 3600.0


def token_projections(pod: Obj) -> list[tuple[str, Obj, int]]:
    """(volume name, serviceAccountToken source, file mode) for every token projection of the pod."""
    out = []
    for vol in (pod.get("spec") or {}).get("volumes") or []:
        proj = vol.get("projected") if isinstance(vol, dict) else None
        if not isinstance(proj, dict):
            continue
        for source in proj.get("sources") or []:
            if isinstance(source, dict) and isinstance(source.get("serviceAccountToken"), dict):
                out.append((str(vol.get("name", "")), source["serviceAccountToken"], int(proj.get("defaultMode", 0o644))))
    return out


async def refresh_tokens(client: Any, pod: Obj, volumes_dir: Any, clock: Any) -> None:
    """Rewrite each projected token before it expires (kubelet's token manager), until cancelled."""
    import os

    projections = token_projections(pod)
    if not projections:
        return
    while True:
        wait = min(min(REFRESH_FRACTION * float(src.get("expirationSeconds") or DEFAULT_EXPIRATION_SECONDS),
                       MAX_REFRESH_SECONDS) for _, src, _ in projections)
        await clock.sleep(wait)
        for volume, source, mode in projections:
            try:
                data = await fetch_token(client, pod, source)
            except ConfigError:
                continue  # kept as it is; retried at the next round
            target = volumes_dir / volume / str(source.get("path") or "token")
            tmp = target.with_name(f".{target.name}.tmp")
            try:
                tmp.write_bytes(data)
                os.chmod(tmp, mode)
                os.replace(tmp, target)  # atomic: a reader sees the old token or the new one
            except OSError:
                continue
