"""Service-account tokens: `kubectl create token`, the JWT's claims, bearer authentication, TokenReview,
and the token the node agent writes into a pod's kube-api-access volume."""

from __future__ import annotations

import base64
import json

import jwt
from conftest import Server
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from runtime_helpers import busybox, create, get_pod, node_name, phase, wait_for, wait_pod

ISSUER = "https://kubernetes.default.svc.cluster.local"


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def header_kid(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


def _sa_uid(server: Server, namespace: str, name: str = "default") -> str:
    def uid() -> str:
        code, _, body = server.request("GET", f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}")
        return json.loads(body)["metadata"]["uid"] if code == 200 else ""

    return wait_for(uid, what=f"serviceaccount {name}")


def _create_token(server: Server, namespace: str, *args: str) -> str:
    _sa_uid(server, namespace)
    return server.kubectl("create", "token", "default", "-n", namespace, *args).stdout.strip()


def test_create_token_claims_match_upstream(server: Server, namespace: str) -> None:
    token = _create_token(server, namespace, "--duration=1h")
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256" and header["kid"]
    claims = _claims(token)
    assert claims["iss"] == ISSUER
    assert claims["aud"] == [ISSUER]
    assert claims["sub"] == f"system:serviceaccount:{namespace}:default"
    assert claims["exp"] - claims["iat"] == 3600 and claims["nbf"] == claims["iat"]
    assert claims["jti"]
    assert claims["kubernetes.io"] == {
        "namespace": namespace,
        "serviceaccount": {"name": "default", "uid": _sa_uid(server, namespace)},
    }


def test_token_authenticates_as_the_service_account(server: Server, namespace: str) -> None:
    token = _create_token(server, namespace)
    out = server.kubectl("--token", token, "get", "pods", "-n", namespace)
    assert out.returncode == 0
    code, _, body = server.request("GET", f"/api/v1/namespaces/{namespace}/pods", token=token)
    assert code == 200, body
    who = json.loads(server.kubectl("--token", token, "auth", "whoami", "-o", "json").stdout)
    info = who["status"]["userInfo"]
    assert info["username"] == f"system:serviceaccount:{namespace}:default"
    assert info["uid"] == _sa_uid(server, namespace)
    assert info["groups"] == ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"]
    assert info["extra"]["authentication.kubernetes.io/credential-id"] == [f"JTI={_claims(token)['jti']}"]


def test_tampered_or_foreign_tokens_are_unauthorized(server: Server, namespace: str) -> None:
    token = _create_token(server, namespace)
    head, payload, sig = token.split(".")
    claims = _claims(token)
    claims["sub"] = "system:serviceaccount:kube-system:default"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    tampered = f"{head}.{forged_payload}.{sig}"
    foreign = jwt.encode(_claims(token), ec.generate_private_key(ec.SECP256R1()), algorithm="ES256")
    key = serialization.load_pem_private_key((server.data_dir / "sa.key").read_bytes(), None)
    expired_claims = {**_claims(token), "iat": _claims(token)["iat"] - 7200, "nbf": _claims(token)["iat"] - 7200,
                      "exp": _claims(token)["iat"] - 3600}
    expired = jwt.encode(expired_claims, key, algorithm="ES256", headers={"kid": header_kid(token)})
    resigned = jwt.encode(_claims(token), key, algorithm="ES256", headers={"kid": header_kid(token)})
    code, _, _ = server.request("GET", f"/api/v1/namespaces/{namespace}/pods", token=resigned)
    assert code == 200  # the server's own key (DATA_DIR/sa.key) signs and verifies
    for bad in (tampered, foreign, expired, token[:-4] + "AAAA"):
        code, _, body = server.request("GET", f"/api/v1/namespaces/{namespace}/pods", token=bad)
        assert code == 401, body
        status = json.loads(body)
        assert (status["kind"], status["reason"]) == ("Status", "Unauthorized")
    proc = server.kubectl("--token", tampered, "get", "pods", "-n", namespace, check=False)
    assert proc.returncode != 0 and "error: You must be logged in to the server" in proc.stderr


def test_token_request_validation(server: Server, namespace: str) -> None:
    _sa_uid(server, namespace)
    path = f"/api/v1/namespaces/{namespace}/serviceaccounts/default/token"
    short = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 599}}
    code, _, body = server.request("POST", path, json.dumps(short).encode())
    assert code == 422, body
    assert "spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes" in \
        json.loads(body)["message"]
    code, _, body = server.request("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/nobody/token",
                                   json.dumps({"spec": {}}).encode())
    assert code == 404 and json.loads(body)["message"] == 'serviceaccounts "nobody" not found'
    code, _, body = server.request("POST", path, json.dumps({"spec": {"audiences": ["vault"]}}).encode())
    assert code == 201, body
    answer = json.loads(body)
    assert answer["kind"] == "TokenRequest" and answer["spec"]["expirationSeconds"] == 3600
    assert _claims(answer["status"]["token"])["aud"] == ["vault"]
    code, _, _ = server.request("GET", f"/api/v1/namespaces/{namespace}/pods", token=answer["status"]["token"])
    assert code == 401  # not meant for this API server


def test_bound_token_dies_with_its_pod(server: Server, namespace: str) -> None:
    _sa_uid(server, namespace)
    pod = create(server, namespace, busybox("holder", "nowhere", "sleep 3600"))
    token = _create_token(server, namespace, "--bound-object-kind", "Pod", "--bound-object-name", "holder")
    assert _claims(token)["kubernetes.io"]["pod"] == {"name": "holder", "uid": pod["metadata"]["uid"]}
    code, _, _ = server.request("GET", f"/api/v1/namespaces/{namespace}/pods", token=token)
    assert code == 200
    server.kubectl("delete", "pod", "holder", "-n", namespace, "--grace-period=0", "--force")
    wait_for(lambda: get_pod(server, namespace, "holder") is None, what="pod removal")
    code, _, _ = server.request("GET", f"/api/v1/namespaces/{namespace}/pods", token=token)
    assert code == 401


def test_token_review_validates_service_account_tokens(server: Server, namespace: str) -> None:
    token = _create_token(server, namespace)
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}
    code, _, body = server.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews", json.dumps(review).encode())
    assert code == 201, body
    status = json.loads(body)["status"]
    assert status["authenticated"] is True and status["audiences"] == [ISSUER]
    assert status["user"]["username"] == f"system:serviceaccount:{namespace}:default"
    review["spec"]["audiences"] = ["vault"]  # a token for the API server is not one for another audience
    code, _, body = server.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews", json.dumps(review).encode())
    assert code == 201 and "authenticated" not in json.loads(body)["status"]
    del review["spec"]["audiences"]
    review["spec"]["token"] = token[:-4] + "AAAA"
    code, _, body = server.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews", json.dumps(review).encode())
    assert code == 201 and "authenticated" not in json.loads(body)["status"]


def test_deleted_service_account_invalidates_its_tokens(server: Server, namespace: str) -> None:
    create(server, namespace, {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "robot"}},
           "serviceaccounts")
    token = server.kubectl("create", "token", "robot", "-n", namespace).stdout.strip()
    code, _, _ = server.request("GET", f"/api/v1/namespaces/{namespace}/pods", token=token)
    assert code == 200
    server.kubectl("delete", "serviceaccount", "robot", "-n", namespace)
    code, _, _ = server.request("GET", f"/api/v1/namespaces/{namespace}/pods", token=token)
    assert code == 401


def test_pod_gets_a_bound_token_in_its_kube_api_access_volume(server: Server, namespace: str) -> None:
    _sa_uid(server, namespace)
    create(server, namespace, busybox("reader", node_name(server), "sleep 3600"))
    p = wait_pod(server, namespace, "reader", lambda p: phase(p) == "Running")
    volume = next(v["name"] for v in p["spec"]["volumes"] if v["name"].startswith("kube-api-access-"))
    base = "/var/run/secrets/kubernetes.io/serviceaccount"

    def cat(name: str) -> str:  # at the mountPath with pod isolation, under the pod's directory without it
        script = f"cat {base}/{name} 2>/dev/null || cat volumes/{volume}/{name}"
        return server.kubectl("exec", "reader", "-n", namespace, "--", "sh", "-c", script).stdout

    token = cat("token")
    claims = _claims(token)
    assert claims["sub"] == f"system:serviceaccount:{namespace}:default"
    assert claims["kubernetes.io"]["pod"] == {"name": "reader", "uid": p["metadata"]["uid"]}
    # asked for 3607 s: extended to a year, with the warnafter claim at the asked-for expiry (upstream default)
    assert claims["kubernetes.io"]["warnafter"] - claims["iat"] == 3607
    assert claims["exp"] - claims["iat"] == 365 * 24 * 3600
    assert cat("namespace") == namespace
    assert cat("ca.crt").startswith("-----BEGIN CERTIFICATE-----")
    code, _, body = server.request("GET", f"/api/v1/namespaces/{namespace}/pods/reader", token=token)
    assert code == 200, body


def test_bind_to_a_node_or_refuse_other_kinds(server: Server, namespace: str) -> None:
    _sa_uid(server, namespace)
    node = node_name(server)
    token = _create_token(server, namespace, "--bound-object-kind", "Node", "--bound-object-name", node)
    code, _, body = server.request("GET", f"/api/v1/nodes/{node}")
    assert _claims(token)["kubernetes.io"]["node"] == {"name": node, "uid": json.loads(body)["metadata"]["uid"]}
    code, _, _ = server.request("GET", f"/api/v1/namespaces/{namespace}/pods", token=token)
    assert code == 200
    request = {"spec": {"boundObjectRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}}}
    code, _, body = server.request("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/default/token",
                                   json.dumps(request).encode())
    assert code == 400
    assert json.loads(body)["message"] == "cannot bind token for object of type apps/v1, Kind=Deployment"
