"""Service-account tokens: the TokenRequest subresource, and authenticating the JWTs it issues.

``POST /api/v1/namespaces/{ns}/serviceaccounts/{name}/token`` (``kubectl create token``) answers an
authentication.k8s.io/v1 TokenRequest as pkg/registry/core/serviceaccount/storage/token.go does:
audiences default to the API audience, ``expirationSeconds`` to 3600 (at least 600), and a
``boundObjectRef`` (Pod, Secret or Node, v1, optionally with its uid) ties the token to that object.

The token is a JWT with the claims of pkg/serviceaccount/claims.go: ``iss``, ``sub``
(``system:serviceaccount:<ns>:<name>``), ``aud``, ``exp``, ``iat``, ``nbf``, ``jti`` and the private
``kubernetes.io`` claim (namespace, serviceaccount {name, uid}, and pod/secret/node {name, uid} when bound).
It is signed ES256 with a P-256 key kept in the data directory (``sa.key``; kube-apiserver's
--service-account-signing-key-file accepts ECDSA keys as well as RSA), through PyJWT.

Authentication (facade/app.py, TokenReview) checks the signature, issuer, audience and time, and —
as upstream's validator does — that the ServiceAccount (same uid) and a bound Pod (same uid, not
being deleted) still exist.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from facade import errors
from facade.identity import ALL_AUTHENTICATED, UserInfo, service_account_groups

if TYPE_CHECKING:
    from facade.rest import RestStore

Obj = dict[str, Any]

ISSUER = "https://kubernetes.default.svc.cluster.local"
API_AUDIENCES = (ISSUER,)
DEFAULT_EXPIRATION_SECONDS = 3600
MIN_EXPIRATION_SECONDS = 600
MAX_EXPIRATION_SECONDS = 1 << 32
GROUP_VERSION = "authentication.k8s.io/v1"
#: what a token may be bound to (Node: ServiceAccountTokenNodeBinding, beta and on in 1.32) and their plurals
BINDABLE_KINDS = {"Pod": "pods", "Secret": "secrets", "Node": "nodes"}
#: the lifetime ServiceAccount admission asks for in kube-api-access volumes, and what it is extended to
WARN_ONLY_EXPIRATION_SECONDS = 3607
EXTENDED_EXPIRATION_SECONDS = 365 * 24 * 60 * 60
VERIFIED_CACHE_SIZE = 4096


class Signer:
    """One ECDSA P-256 key: signs tokens, verifies them; ``kid`` is the key's public-key fingerprint."""

    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        self.key = key
        self.public = key.public_key()
        der = self.public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.kid = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")
        self._verified: dict[str, Obj] = {}

    def sign(self, claims: Obj) -> str:
        return jwt.encode(claims, self.key, algorithm="ES256", headers={"kid": self.kid})

    def verify(self, token: str, audiences: list[str] | tuple[str, ...]) -> Obj | None:
        """The token's claims when its signature, issuer, audience and times are right, else None.

        Signatures already checked are remembered (a bounded map; the times and audience are checked
        on every use), so a pod's repeated requests do not pay an ECDSA verification each.
        """
        claims = self._verified.get(token)
        if claims is None:
            try:
                claims = jwt.decode(token, self.public, algorithms=["ES256"], issuer=ISSUER,
                                    options={"require": ["exp", "iat", "nbf", "sub", "iss", "aud"],
                                             "verify_aud": False})
            except jwt.PyJWTError:
                return None
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                self._verified.pop(next(iter(self._verified)))
            self._verified[token] = claims
        now = time.time()
        if not (claims.get("nbf", 0) <= now < claims.get("exp", 0)):
            return None
        aud = claims.get("aud")
        aud = [aud] if isinstance(aud, str) else aud or []
        if not any(a in aud for a in audiences):
            return None
        return claims


_signer: Signer | None = None


def load_signing_key(data_dir: Path) -> Signer:
    """The server's signing key from ``<data_dir>/sa.key``, created on first use (kept across restarts)."""
    global _signer
    path = data_dir / "sa.key"
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
    else:
        key = ec.generate_private_key(ec.SECP256R1())
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
        path.chmod(0o600)
    _signer = Signer(key)
    return _signer


def signer() -> Signer:
    """The configured signer, or a key for this process only (embedded servers without a data directory)."""
    global _signer
    if _signer is None:
        _signer = Signer(ec.generate_private_key(ec.SECP256R1()))
    return _signer


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("eyJ")


# -- TokenRequest ------------------------------------------------------------------------------------


def _invalid(name: str, field: str, value: Any, detail: str) -> errors.APIError:
    return errors.invalid_error("TokenRequest", "authentication.k8s.io", name,
                                [errors.invalid(field, value, detail)])


def _validate_spec(name: str, spec: Obj) -> None:
    seconds = spec.get("expirationSeconds")
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        raise _invalid(name, "spec.expirationSeconds", seconds, "must be an integer number of seconds")
    if seconds < MIN_EXPIRATION_SECONDS:
        raise _invalid(name, "spec.expirationSeconds", seconds, "may not specify a duration less than 10 minutes")
    if seconds > MAX_EXPIRATION_SECONDS:
        raise _invalid(name, "spec.expirationSeconds", seconds, "may not specify a duration larger than 2^32 seconds")
    audiences = spec.get("audiences")
    if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
        raise errors.bad_request("spec.audiences must be a list of strings")


async def issue(rest: RestStore, namespace: str, name: str, body: Any) -> Obj:
    """Answer one TokenRequest for the ServiceAccount ``namespace/name``; raises Status errors."""
    if not isinstance(body, dict):
        raise errors.bad_request("the body must be a TokenRequest object")
    if body.get("apiVersion") not in (None, "", GROUP_VERSION) or body.get("kind") not in (None, "", "TokenRequest"):
        raise errors.bad_request(f"the body must be a {GROUP_VERSION} TokenRequest, not "
                                 f"{body.get('apiVersion')}, Kind={body.get('kind')}")
    if not isinstance(body.get("spec") or {}, dict):
        raise errors.bad_request("spec must be a TokenRequestSpec object")
    spec = dict(body.get("spec") or {})
    if not spec.get("audiences"):
        spec["audiences"] = list(API_AUDIENCES)
    if spec.get("expirationSeconds") is None:
        spec["expirationSeconds"] = DEFAULT_EXPIRATION_SECONDS
    _validate_spec(name, spec)
    sa = await rest.get_obj(_info(rest, "", "serviceaccounts"), namespace, name)
    sa_meta = sa["metadata"]
    if sa_meta.get("deletionTimestamp"):
        raise errors.conflict("serviceaccounts", "", name, "the ServiceAccount is being deleted")
    k8s: Obj = {"namespace": namespace, "serviceaccount": {"name": name, "uid": sa_meta.get("uid", "")}}
    ref = spec.get("boundObjectRef")
    if ref:
        await _bind(rest, namespace, ref, k8s)
    now = int(time.time())
    seconds = int(spec["expirationSeconds"])
    lifetime = seconds
    if seconds == WARN_ONLY_EXPIRATION_SECONDS and "pod" in k8s:
        # --service-account-extend-token-expiration (on by default): kubelet's kube-api-access tokens
        # stay valid for a year, with a warnafter claim at the time they were asked to expire
        k8s["warnafter"] = now + seconds
        lifetime = EXTENDED_EXPIRATION_SECONDS
    jti = str(uuid.uuid4())
    claims = {
        "aud": list(spec["audiences"]),
        "exp": now + lifetime,
        "iat": now,
        "iss": ISSUER,
        "jti": jti,
        "kubernetes.io": k8s,
        "nbf": now,
        "sub": f"system:serviceaccount:{namespace}:{name}",
    }
    token = signer().sign(claims)
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + seconds))
    return {
        "kind": "TokenRequest",
        "apiVersion": GROUP_VERSION,
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None},
        "spec": {"audiences": list(spec["audiences"]), "expirationSeconds": seconds,
                 "boundObjectRef": ref or None},
        "status": {"token": token, "expirationTimestamp": expires},
    }


def _info(rest: RestStore, group: str, plural: str) -> Any:
    info = rest.table.get(group, "v1", plural)
    if info is None:
        raise errors.not_found_error(plural, group, "")
    return info


async def _bind(rest: RestStore, namespace: str, ref: Any, k8s: Obj) -> None:
    """Check the bound object (kind, apiVersion, existence, uid) and record it in the claims."""
    if not isinstance(ref, dict):
        raise errors.bad_request("spec.boundObjectRef must be an object")
    kind, api_version, obj_name = ref.get("kind", ""), ref.get("apiVersion", ""), ref.get("name", "")
    if kind not in BINDABLE_KINDS or api_version != "v1":
        group, _, version = str(api_version).rpartition("/")
        raise errors.bad_request(f"cannot bind token for object of type {group}/{version}, Kind={kind}")
    plural = BINDABLE_KINDS[kind]
    obj = await rest.get_obj(_info(rest, "", plural), "" if kind == "Node" else namespace, obj_name)
    uid = obj["metadata"].get("uid", "")
    if ref.get("uid") and ref["uid"] != uid:
        raise errors.conflict(kind, "", obj_name, f"the UID in the bound object reference ({ref['uid']}) does not "
                              "match the UID in record. The object might have been deleted and then recreated")
    k8s[kind.lower()] = {"name": obj_name, "uid": uid}
    node = (obj.get("spec") or {}).get("nodeName") if kind == "Pod" else ""
    if node:
        try:
            node_obj = await rest.get_obj(_info(rest, "", "nodes"), "", node)
            k8s["node"] = {"name": node, "uid": node_obj["metadata"].get("uid", "")}
        except errors.APIError:
            pass


async def serve_token_request(handler: Any, request: Any, t: Any) -> Any:
    """The HTTP endpoint: POST serviceaccounts/{name}/token."""
    from facade.handlers import json_response
    from facade.request import parse_body

    body = await handler._read_body(request)
    doc = parse_body(body, request.headers.get("content-type", "")) if body else {}
    out = await issue(handler.rest, t.namespace, t.name, doc)
    return json_response(orjson.dumps(out), 201)


# -- authentication ---------------------------------------------------------------------------------


async def authenticate(rest: RestStore | None, token: str,
                       audiences: list[str] | tuple[str, ...] = API_AUDIENCES) -> UserInfo | None:
    """The service account a token authenticates as, or None (bad signature, expired, objects gone)."""
    if not looks_like_jwt(token):
        return None
    claims = signer().verify(token, audiences)
    if claims is None:
        return None
    k8s = claims.get("kubernetes.io")
    if not isinstance(k8s, dict):
        return None
    namespace = k8s.get("namespace", "")
    sa = k8s.get("serviceaccount") or {}
    name = sa.get("name", "")
    if claims.get("sub") != f"system:serviceaccount:{namespace}:{name}":
        return None
    extra: dict[str, list[str]] = {}
    if rest is not None:
        try:
            sa_obj = await rest.get_obj(_info(rest, "", "serviceaccounts"), namespace, name)
        except errors.APIError:
            return None
        if sa.get("uid") and sa_obj["metadata"].get("uid") != sa["uid"]:
            return None
        if sa_obj["metadata"].get("deletionTimestamp"):
            return None
        for kind in ("pod", "secret", "node"):  # a bound token dies with the object it is bound to
            bound = k8s.get(kind)
            if kind == "node" and isinstance(k8s.get("pod"), dict):
                continue  # a pod's token names its node for information only
            if not isinstance(bound, dict):
                continue
            try:
                obj = await rest.get_obj(_info(rest, "", BINDABLE_KINDS[kind.capitalize()]),
                                         "" if kind == "node" else namespace, bound.get("name", ""))
            except errors.APIError:
                return None
            if obj["metadata"].get("uid") != bound.get("uid") or obj["metadata"].get("deletionTimestamp"):
                return None
    pod = k8s.get("pod")
    if isinstance(pod, dict):
        extra["authentication.kubernetes.io/pod-name"] = [pod.get("name", "")]
        extra["authentication.kubernetes.io/pod-uid"] = [pod.get("uid", "")]
    if claims.get("jti"):
        extra["authentication.kubernetes.io/credential-id"] = [f"JTI={claims['jti']}"]
    node = k8s.get("node")
    if isinstance(node, dict):
        extra["authentication.kubernetes.io/node-name"] = [node.get("name", "")]
        extra["authentication.kubernetes.io/node-uid"] = [node.get("uid", "")]
    return UserInfo(f"system:serviceaccount:{namespace}:{name}", sa.get("uid", ""),
                    (*service_account_groups(namespace), ALL_AUTHENTICATED), extra)
