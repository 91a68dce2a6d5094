"""authorization.k8s.io/v1: the access-review kinds ``kubectl auth can-i`` uses.

SelfSubjectAccessReview, SubjectAccessReview, LocalSubjectAccessReview and SelfSubjectRulesReview
are create-only and never stored (pkg/registry/authorization/*). The access reviews return the
request object (managedFields included) with ``status``; the rules review builds a fresh object.
Validation and its messages follow pkg/apis/authorization/validation; the error names an empty kind
(``.authorization.k8s.io "" is invalid``) because upstream reads it from the decoded internal
object, whose TypeMeta is cleared.

No authorizer exists yet, so every request this server authenticates is allowed. The answers say
so: ``allowed: true`` with a reason naming that nothing restricts the user, and rules that cover
everything. When RBAC lands, ``decide`` and ``rules_for`` are the two places that change.
"""

from __future__ import annotations

from typing import Any

from facade import errors, identity
from facade.errors import FieldError, invalid, required
from facade.kinds.authentication import record_create_fields
from facade.kinds.group_support import go_struct, invalid_raw
from facade.resource_table import ResourceInfo, Strategy

Obj = dict[str, Any]

GROUP = "authorization.k8s.io"
NO_AUTHORIZER_REASON = ("no authorizer restricts this user: kubefacade enforces no RBAC yet, "
                        "so every authenticated request is allowed")


def decide(user: str, groups: list[str], attributes: Obj) -> tuple[bool, bool, str]:
    """(allowed, denied, reason) for one request's attributes; the one authorizer there is."""
    return True, False, NO_AUTHORIZER_REASON


def rules_for(user: identity.UserInfo, namespace: str) -> Obj:
    """SubjectRulesReviewStatus: what ``user`` may do in ``namespace`` (everything, for now)."""
    return {
        "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
        "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
        "incomplete": False,
    }


def _is_empty(value: Any) -> bool:
    return value in (None, "", 0, [], {}, False)


def _selector_errors(sel: Any, path: str) -> list[FieldError]:
    """validateResourceAttributes for fieldSelector / labelSelector (AuthorizeWithSelectors, on in 1.32).

    Requirements themselves are not checked: upstream accepts unknown operators there on purpose.
    """
    if not isinstance(sel, dict):
        return []
    errs: list[FieldError] = []
    raw, reqs = sel.get("rawSelector"), sel.get("requirements")
    if raw and reqs:
        errs.append(invalid(f"{path}.rawSelector", raw, "may not specified at the same time as requirements"))
    elif not raw and not reqs:
        errs.append(required(f"{path}.requirements",
                             f"when {path} is specified, requirements or rawSelector is required"))
    return errs


def validate_spec(spec: Obj, subject: bool) -> list[FieldError]:
    """ValidateSubjectAccessReviewSpec (``subject``) or ValidateSelfSubjectAccessReviewSpec."""
    errs: list[FieldError] = []
    ra, nra = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if ra is not None and nra is not None:
        errs.append(invalid_raw("spec.nonResourceAttributes", go_struct(nra),
                                "cannot be specified in combination with resourceAttributes"))
    if ra is None and nra is None:
        errs.append(invalid("spec.resourceAttributes", "null",
                            "exactly one of nonResourceAttributes or resourceAttributes must be specified"))
    if subject and not spec.get("user") and not spec.get("groups"):
        errs.append(invalid("spec.user", spec.get("user") or "", "at least one of user or group must be specified"))
    if isinstance(ra, dict):
        errs += _selector_errors(ra.get("fieldSelector"), "spec.resourceAttributes.fieldSelector")
        errs += _selector_errors(ra.get("labelSelector"), "spec.resourceAttributes.labelSelector")
    return errs


def metadata_errors(meta: Obj, allow_namespace: bool) -> list[FieldError]:
    """Review objects carry no metadata but managedFields (and a LocalSubjectAccessReview's namespace)."""
    rest = {k: v for k, v in meta.items() if k != "managedFields" and not (allow_namespace and k == "namespace")}
    if all(_is_empty(v) for v in rest.values()):
        return []
    detail = "must be empty except for namespace" if allow_namespace else "must be empty"
    return [invalid_raw("metadata", go_struct(meta), detail)]


def _spec(obj: Obj) -> Obj:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def _status(user: str, groups: list[str], spec: Obj) -> Obj:
    attributes = spec.get("resourceAttributes") or spec.get("nonResourceAttributes") or {}
    allowed, denied, reason = decide(user, groups, attributes)
    status: Obj = {"allowed": allowed}
    if denied:
        status["denied"] = True
    if reason:
        status["reason"] = reason
    return status


def _invalid(errs: list[FieldError]) -> None:
    if errs:
        raise errors.invalid_error("", GROUP, "", errs)


class SubjectAccessReviewStrategy(Strategy):
    """Reviews of a named user's access (cluster-wide); the caller's own identity does not matter."""

    name_rule = "path"
    answers_create = True
    kind = "SubjectAccessReview"

    async def answer(self, obj: Obj, namespace: str, field_manager: str, ctx: Any) -> Obj:
        spec = _spec(obj)
        _invalid(validate_spec(spec, True) + metadata_errors(obj["metadata"], False))
        return _finish(obj, field_manager, self.kind, spec.get("user") or "", list(spec.get("groups") or []))


class LocalSubjectAccessReviewStrategy(Strategy):
    name_rule = "path"
    answers_create = True

    async def answer(self, obj: Obj, namespace: str, field_manager: str, ctx: Any) -> Obj:
        spec = _spec(obj)
        meta = obj["metadata"]
        errs = validate_spec(spec, True) + metadata_errors(meta, True)
        ra = spec.get("resourceAttributes")
        if isinstance(ra, dict) and (ra.get("namespace") or "") != (meta.get("namespace") or ""):
            errs.append(invalid("spec.resourceAttributes.namespace", ra.get("namespace") or "",
                                "must match metadata.namespace"))
        if spec.get("nonResourceAttributes") is not None:
            errs.append(invalid_raw("spec.nonResourceAttributes", go_struct(spec["nonResourceAttributes"]),
                                    "disallowed on this kind of request"))
        _invalid(errs)
        if not namespace:
            raise errors.bad_request(f"namespace is required on this type: {namespace}")
        return _finish(obj, field_manager, "LocalSubjectAccessReview", spec.get("user") or "",
                       list(spec.get("groups") or []))


class SelfSubjectAccessReviewStrategy(Strategy):
    """Reviews of the caller's own access: the spec names no user, the request's user is asked about."""

    name_rule = "path"
    answers_create = True

    async def answer(self, obj: Obj, namespace: str, field_manager: str, ctx: Any) -> Obj:
        spec = _spec(obj)
        _invalid(validate_spec(spec, False) + metadata_errors(obj["metadata"], False))
        user = identity.current_user.get()
        return _finish(obj, field_manager, "SelfSubjectAccessReview", user.name, list(user.groups))


class SelfSubjectRulesReviewStrategy(Strategy):
    name_rule = "path"
    answers_create = True

    async def answer(self, obj: Obj, namespace: str, field_manager: str, ctx: Any) -> Obj:
        review_namespace = _spec(obj).get("namespace") or ""
        if not review_namespace:
            raise errors.bad_request("no namespace on request")
        return {
            "kind": "SelfSubjectRulesReview",
            "apiVersion": f"{GROUP}/v1",
            "metadata": {"creationTimestamp": None},
            "spec": {},
            "status": rules_for(identity.current_user.get(), review_namespace),
        }


def _finish(obj: Obj, field_manager: str, kind: str, user: str, groups: list[str]) -> Obj:
    record_create_fields(obj, field_manager, GROUP, kind)
    obj["metadata"].setdefault("creationTimestamp", None)
    obj["status"] = _status(user, groups, _spec(obj))
    return obj


RESOURCES: list[ResourceInfo] = [
    ResourceInfo(GROUP, "v1", "LocalSubjectAccessReview", "localsubjectaccessreviews", "localsubjectaccessreview",
                 True, verbs=("create",), strategy=LocalSubjectAccessReviewStrategy()),
    ResourceInfo(GROUP, "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", "selfsubjectaccessreview",
                 False, verbs=("create",), strategy=SelfSubjectAccessReviewStrategy()),
    ResourceInfo(GROUP, "v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews", "selfsubjectrulesreview",
                 False, verbs=("create",), strategy=SelfSubjectRulesReviewStrategy()),
    ResourceInfo(GROUP, "v1", "SubjectAccessReview", "subjectaccessreviews", "subjectaccessreview",
                 False, verbs=("create",), strategy=SubjectAccessReviewStrategy()),
]
