"""authentication.k8s.io/v1: SelfSubjectReview and TokenReview, the create-only review kinds.

Neither is stored: a POST is answered from the request's user (facade/identity.py) and the
response is the object with its status, as pkg/registry/authentication/{selfsubjectreview,
tokenreview} answer. SelfSubjectReview builds a fresh object (creationTimestamp now, no
managedFields); TokenReview returns the request object, managedFields included, with its status.
``kubectl auth whoami`` reads the first.

The admin token is checked as kube-apiserver checks a static token file: audience-agnostic, so a
review naming audiences authenticates only if they include the server's API audience. Service-account
JWTs (facade/service_account_token.py) carry their own audiences: the review's (or the API's) must
meet them, and ``status.audiences`` is what they have in common.
"""

from __future__ import annotations

from typing import Any

from facade import errors, identity
from facade.managed_fields import update_managed_fields
from facade.resource_table import ResourceInfo, Strategy

Obj = dict[str, Any]

GROUP = "authentication.k8s.io"
#: kube-apiserver's --api-audiences default (the service-account issuer kubeadm sets)
API_AUDIENCES = ("https://kubernetes.default.svc.cluster.local",)


def record_create_fields(obj: Obj, field_manager: str, group: str, kind: str) -> None:
    """managedFields as the create handler records them before a review's REST Create runs."""
    if field_manager:
        from facade.rest import now_rfc3339
        from facade.schemas import definition

        update_managed_fields(obj, None, field_manager, f"{group}/v1", definition(group, "v1", kind), now_rfc3339())


class SelfSubjectReviewStrategy(Strategy):
    name_rule = "path"
    answers_create = True

    async def answer(self, obj: Obj, namespace: str, field_manager: str, ctx: Any) -> Obj:
        from facade.rest import now_rfc3339

        user = identity.current_user.get()
        return {
            "kind": "SelfSubjectReview",
            "apiVersion": f"{GROUP}/v1",
            "metadata": {"creationTimestamp": now_rfc3339()},
            "status": {"userInfo": user.as_api()},
        }


class TokenReviewStrategy(Strategy):
    name_rule = "path"
    answers_create = True

    async def answer(self, obj: Obj, namespace: str, field_manager: str, ctx: Any) -> Obj:
        spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
        token = spec.get("token") or ""
        if not token:
            raise errors.bad_request("token is required for TokenReview in authentication")
        record_create_fields(obj, field_manager, GROUP, "TokenReview")
        obj["metadata"].setdefault("creationTimestamp", None)
        requested = [a for a in spec.get("audiences") or [] if isinstance(a, str)]
        audiences = [a for a in API_AUDIENCES if a in requested] if requested else list(API_AUDIENCES)
        user = identity.authenticate_token(token) if audiences else None
        if user is None:  # a service-account JWT: its own audiences, checked against those asked for
            from facade.service_account_token import authenticate, looks_like_jwt

            if looks_like_jwt(token):
                wanted = requested or list(API_AUDIENCES)
                user = await authenticate(ctx, token, wanted)
                audiences = _token_audiences(token, wanted)
        status: Obj = {"user": {}}
        if user is not None:
            status = {"authenticated": True, "user": user.as_api(), "audiences": audiences}
        obj["status"] = status
        return obj


def _token_audiences(token: str, wanted: list[str]) -> list[str]:
    """The audiences a (verified) JWT and the review have in common, in the review's order."""
    import jwt

    try:
        aud = jwt.decode(token, options={"verify_signature": False}).get("aud") or []
    except jwt.PyJWTError:
        return []
    aud = [aud] if isinstance(aud, str) else list(aud)
    return [a for a in wanted if a in aud]


RESOURCES: list[ResourceInfo] = [
    ResourceInfo(GROUP, "v1", "SelfSubjectReview", "selfsubjectreviews", "selfsubjectreview", False,
                 verbs=("create",), strategy=SelfSubjectReviewStrategy()),
    ResourceInfo(GROUP, "v1", "TokenReview", "tokenreviews", "tokenreview", False,
                 verbs=("create",), strategy=TokenReviewStrategy()),
]
