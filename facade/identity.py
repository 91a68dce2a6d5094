"""Who is making a request: the authenticated user, and who they act as through impersonation.

kube-apiserver attaches a ``user.Info`` (name, uid, groups, extra) to each request's context; the
review kinds (SelfSubjectReview, SelfSubjectAccessReview, ...) answer about that user. Here the
bearer-token middleware (facade/app.py) sets ``current_user`` for the request, so the review
strategies read it without the generic REST code passing a user around.

Impersonation follows k8s.io/apiserver's impersonation filter: ``Impersonate-User``,
``Impersonate-Group`` (repeatable), ``Impersonate-Uid`` and ``Impersonate-Extra-<key>`` headers;
``system:authenticated`` is added unless a group says otherwise; a service-account user name
brings its fixed groups. Every authenticated user may impersonate while no authorizer restricts it.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from urllib.parse import unquote

from facade import errors

ALL_AUTHENTICATED = "system:authenticated"
ALL_UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS = "system:anonymous"
PRIVILEGED_GROUP = "system:masters"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
EXTRA_PREFIX = "impersonate-extra-"


@dataclass(frozen=True)
class UserInfo:
    """k8s.io/apiserver's user.DefaultInfo."""

    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: dict[str, list[str]] = field(default_factory=dict)

    def as_api(self) -> dict[str, object]:
        """authentication.k8s.io/v1 UserInfo (empty fields omitted, as Go's omitempty does)."""
        out: dict[str, object] = {"username": self.name}
        if self.uid:
            out["uid"] = self.uid
        if self.groups:
            out["groups"] = list(self.groups)
        if self.extra:
            out["extra"] = {k: list(v) for k, v in self.extra.items()}
        return out


#: the one user the admin bearer token authenticates as (kubeadm's admin.conf user, in system:masters)
ADMIN = UserInfo("kubernetes-admin", groups=(PRIVILEGED_GROUP, ALL_AUTHENTICATED))
#: requests when the server runs without a token: nobody is authenticated
ANONYMOUS_USER = UserInfo(ANONYMOUS, groups=(ALL_UNAUTHENTICATED,))
#: in-process callers (controllers through InProcessClient) act as kube-apiserver's loopback user
LOOPBACK = UserInfo("system:apiserver", groups=(PRIVILEGED_GROUP, ALL_AUTHENTICATED))

current_user: ContextVar[UserInfo] = ContextVar("current_user", default=LOOPBACK)

#: bearer tokens this process accepts (the admin token of each app built here), for TokenReview
_tokens: dict[str, UserInfo] = {}


def register_token(token: str, user: UserInfo) -> None:
    _tokens[token] = user


def authenticate_token(token: str) -> UserInfo | None:
    """The user a bearer token authenticates as, or None (static-token semantics: no error text)."""
    for known, user in _tokens.items():
        if hmac.compare_digest(known.encode(), token.encode()):
            return user
    return None


def service_account_groups(namespace: str) -> tuple[str, ...]:
    return ("system:serviceaccounts", f"system:serviceaccounts:{namespace}")


def _split_service_account(username: str) -> tuple[str, str] | None:
    if not username.startswith(SERVICE_ACCOUNT_PREFIX):
        return None
    parts = username[len(SERVICE_ACCOUNT_PREFIX):].split(":")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        return None
    return parts[0], parts[1]


def _go_refs(refs: list[tuple[str, str, str, str, str]]) -> str:
    """The ``%v`` of the ObjectReferences the impersonation filter reports in its error."""
    return "[" + " ".join("{" + f"{kind} {ns} {name}  {api_version}  {path}" + "}"
                          for kind, ns, name, api_version, path in refs) + "]"


def impersonate(requestor: UserInfo, headers: Iterable[tuple[bytes, bytes]]) -> UserInfo:
    """The user a request acts as: ``requestor`` itself, or whom its Impersonate-* headers name.

    Raises a 500 InternalError for groups, extra or uid without a user, as kube-apiserver does.
    """
    user_name = ""
    uid = ""
    groups: list[str] = []
    extra: dict[str, list[str]] = {}
    seen = False
    for raw_key, raw_value in headers:
        if raw_key[:1] not in (b"i", b"I"):  # most requests carry no Impersonate-* header at all
            continue
        key = raw_key.decode("latin-1").lower()
        if not key.startswith("impersonate-"):
            continue
        value = raw_value.decode("latin-1")
        seen = True
        if key == "impersonate-user":
            user_name = user_name or value
        elif key == "impersonate-group":
            groups.append(value)
        elif key == "impersonate-uid":
            uid = uid or value
        elif key.startswith(EXTRA_PREFIX):
            extra.setdefault(unquote(key[len(EXTRA_PREFIX):]), []).append(value)
    if not seen:
        return requestor
    if not user_name:
        if not (groups or extra or uid):
            return requestor
        refs = [("Group", "", g, "", "") for g in groups]
        refs += [("UserExtra", "", v, "authentication.k8s.io/v1", k) for k, vs in extra.items() for v in vs]
        if uid:
            refs.append(("UID", "", uid, "authentication.k8s.io/v1", ""))
        raise errors.internal(f"requested {_go_refs(refs)} without impersonating a user")
    sa = _split_service_account(user_name)
    if sa is not None and not groups:
        groups = list(service_account_groups(sa[0]))
    if user_name != ANONYMOUS:
        if not any(g in (ALL_AUTHENTICATED, ALL_UNAUTHENTICATED) for g in groups):
            groups.append(ALL_AUTHENTICATED)
    elif ALL_UNAUTHENTICATED not in groups:
        groups.append(ALL_UNAUTHENTICATED)
    return UserInfo(user_name, uid, tuple(groups), extra)
