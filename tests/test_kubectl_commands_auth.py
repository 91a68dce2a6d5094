"""`kubectl auth whoami` / `auth can-i` and the review kinds behind them (authentication.k8s.io,
authorization.k8s.io): create-only, never stored, answered with the request's user."""

from __future__ import annotations

import json

import pytest


def post(server, path: str, body: dict, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    code, _, out = server.request("POST", path, json.dumps(body).encode(), headers)
    return code, json.loads(out)


SSAR = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
SAR = "/apis/authorization.k8s.io/v1/subjectaccessreviews"


def test_auth_whoami_shows_the_admin_user_and_its_groups(server):
    lines = server.kubectl("auth", "whoami").stdout.splitlines()
    assert lines[0].split() == ["ATTRIBUTE", "VALUE"]
    assert lines[1].split() == ["Username", "kubernetes-admin"]
    assert lines[2].split(None, 1) == ["Groups", "[system:masters system:authenticated]"]


def test_auth_whoami_as_another_user_reports_the_impersonated_identity(server):
    review = json.loads(server.kubectl("auth", "whoami", "--as=jane", "--as-group=devs", "-o", "json").stdout)
    assert review["kind"] == "SelfSubjectReview"
    assert review["status"]["userInfo"] == {"username": "jane", "groups": ["devs", "system:authenticated"]}
    sa = json.loads(server.kubectl("auth", "whoami", "--as=system:serviceaccount:ns1:robot", "-o", "json").stdout)
    assert sa["status"]["userInfo"]["groups"] == [
        "system:serviceaccounts", "system:serviceaccounts:ns1", "system:authenticated"]


def test_impersonating_a_group_without_a_user_is_an_internal_error(server):
    code, status = post(server, "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                        {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
                        {"Impersonate-Group": "devs"})
    assert code == 500
    assert status["reason"] == "InternalError"
    assert status["message"] == "Internal error occurred: requested [{Group  devs    }] without impersonating a user"


def test_auth_can_i_says_yes_for_the_admin(server):
    assert server.kubectl("auth", "can-i", "create", "pods").stdout.strip() == "yes"
    assert server.kubectl("auth", "can-i", "delete", "deployments.apps", "-A").stdout.strip() == "yes"
    assert server.kubectl("auth", "can-i", "get", "/healthz").stdout.strip() == "yes"
    assert server.kubectl("auth", "can-i", "list", "secrets", "--as=jane").stdout.strip() == "yes"


def test_auth_can_i_list_shows_rules_covering_everything(server):
    lines = server.kubectl("auth", "can-i", "--list").stdout.splitlines()
    assert lines[0].split() == ["Resources", "Non-Resource", "URLs", "Resource", "Names", "Verbs"]
    rows = [line.split() for line in lines[1:]]
    assert ["*.*", "[]", "[]", "[*]"] in rows
    assert ["[*]", "[]", "[*]"] in rows


def test_self_subject_access_review_is_answered_with_a_truthful_reason(server):
    code, review = post(server, SSAR, {
        "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"verb": "get", "resource": "pods", "namespace": "default"}},
    })
    assert code == 201
    assert review["status"]["allowed"] is True
    assert "no authorizer restricts this user" in review["status"]["reason"]
    assert review["metadata"]["creationTimestamp"] is None
    assert "uid" not in review["metadata"]
    assert review["spec"]["resourceAttributes"] == {"verb": "get", "resource": "pods", "namespace": "default"}


def test_subject_access_review_asks_about_the_named_user(server):
    code, review = post(server, SAR, {
        "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
        "spec": {"user": "jane", "groups": ["devs"], "nonResourceAttributes": {"verb": "get", "path": "/metrics"}},
    }, {"User-Agent": "tester/1.0"})
    assert code == 201
    assert review["status"]["allowed"] is True
    assert review["metadata"]["managedFields"][0]["manager"] == "tester"
    assert review["metadata"]["managedFields"][0]["operation"] == "Update"


def test_subject_access_review_validation_messages(server):
    code, status = post(server, SAR, {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                                      "spec": {}})
    assert code == 422
    assert status["reason"] == "Invalid"
    assert status["message"] == (
        '.authorization.k8s.io "" is invalid: [spec.resourceAttributes: Invalid value: "null": exactly one of '
        "nonResourceAttributes or resourceAttributes must be specified, spec.user: Invalid value: \"\": at least "
        "one of user or group must be specified]")
    code, status = post(server, SSAR, {"spec": {"resourceAttributes": {"verb": "get"}},
                                       "metadata": {"name": "named"}})
    assert code == 422
    assert "metadata: Invalid value:" in status["message"] and status["message"].endswith(": must be empty")


def test_local_subject_access_review_must_match_its_namespace(server, namespace):
    path = f"/apis/authorization.k8s.io/v1/namespaces/{namespace}/localsubjectaccessreviews"
    code, review = post(server, path, {"spec": {"user": "jane", "resourceAttributes": {
        "verb": "list", "resource": "configmaps", "namespace": namespace}}})
    assert code == 201 and review["status"]["allowed"] is True
    assert review["metadata"]["namespace"] == namespace
    code, status = post(server, path, {"spec": {"user": "jane", "resourceAttributes": {
        "verb": "list", "resource": "configmaps", "namespace": "other"}}})
    assert code == 422
    assert 'spec.resourceAttributes.namespace: Invalid value: "other": must match metadata.namespace' in \
        status["message"]


def test_self_subject_rules_review_needs_a_namespace(server):
    path = "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews"
    code, status = post(server, path, {"spec": {}})
    assert code == 400 and status["message"] == "no namespace on request"
    code, review = post(server, path, {"spec": {"namespace": "default"}})
    assert code == 201
    assert review["status"]["incomplete"] is False
    assert review["status"]["resourceRules"] == [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]


def test_token_review_authenticates_the_admin_token_only(server):
    path = "/apis/authentication.k8s.io/v1/tokenreviews"
    code, review = post(server, path, {"spec": {"token": server.token}})
    assert code == 201
    assert review["status"] == {
        "authenticated": True,
        "user": {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]},
        "audiences": ["https://kubernetes.default.svc.cluster.local"],
    }
    code, review = post(server, path, {"spec": {"token": "not-a-token"}})
    assert code == 201 and review["status"] == {"user": {}}
    code, review = post(server, path, {"spec": {"token": server.token, "audiences": ["vault"]}})
    assert review["status"] == {"user": {}}
    code, status = post(server, path, {"spec": {}})
    assert code == 400 and status["message"] == "token is required for TokenReview in authentication"


@pytest.mark.parametrize("plural", ["selfsubjectaccessreviews", "subjectaccessreviews", "selfsubjectrulesreviews"])
def test_review_kinds_are_create_only_and_never_stored(server, plural):
    proc = server.kubectl("get", f"{plural}.authorization.k8s.io", check=False)
    assert proc.returncode == 1
    assert "Error from server (MethodNotAllowed): the server does not allow this method on the requested " \
           "resource" in proc.stderr
    resources = json.loads(server.request("GET", "/apis/authorization.k8s.io/v1")[2])["resources"]
    assert {r["name"]: r["verbs"] for r in resources}[plural] == ["create"]


def test_review_kinds_through_the_python_client(api):
    from kubernetes import client

    authz = client.AuthorizationV1Api(api)
    body = client.V1SelfSubjectAccessReview(spec=client.V1SelfSubjectAccessReviewSpec(
        resource_attributes=client.V1ResourceAttributes(verb="watch", resource="secrets", namespace="default")))
    assert authz.create_self_subject_access_review(body).status.allowed is True
    who = client.AuthenticationV1Api(api).create_self_subject_review(client.V1SelfSubjectReview())
    assert who.status.user_info.username == "kubernetes-admin"
