"""Protobuf request bodies: what client-go's typed clients (kubectl create, auth, drain...) send.

Two halves: real kubectl against a running server, where an object created through protobuf must
read back exactly like the same object created from JSON; and the decoder on hand-built wire bytes.
"""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from facade.errors import APIError
from facade.protobuf.decode import decode_kubernetes_protobuf, go_duration, message_for
from facade.request import parse_body

PROTOBUF = "application/vnd.kubernetes.protobuf"

# --- a tiny protobuf writer for hand-built bodies -------------------------------------------------


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def vf(number: int, value: int) -> bytes:
    """A varint field."""
    return varint(number << 3) + varint(value)


def lf(number: int, payload: bytes | str) -> bytes:
    """A length-delimited field (string, bytes or message)."""
    if isinstance(payload, str):
        payload = payload.encode()
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def entry(key: str, value: bytes | str) -> bytes:
    return lf(1, key) + lf(2, value)


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    """``k8s\\0`` + runtime.Unknown{typeMeta, raw, contentEncoding, contentType} as gogo writes it."""
    return b"k8s\x00" + lf(1, lf(1, api_version) + lf(2, kind)) + lf(2, raw) + lf(3, "") + lf(4, "")


def meta(name: str, namespace: str = "", **labels: str) -> bytes:
    """ObjectMeta as gogo writes it: every non-pointer field, zero or not."""
    out = lf(1, name) + lf(2, "") + lf(3, namespace) + lf(4, "") + lf(5, "") + vf(7, 0) + lf(8, b"")
    for k, v in labels.items():
        out += lf(11, entry(k, v))
    return out


# --- decoding hand-built bytes ---------------------------------------------------------------------


def test_configmap_with_maps_and_zero_valued_metadata_decodes_to_its_json_form():
    raw = lf(1, meta("cm", "ns", app="web")) + lf(2, entry("a", "b")) + lf(2, entry("empty", ""))
    obj = decode_kubernetes_protobuf(envelope("v1", "ConfigMap", raw))
    assert obj == {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "cm", "namespace": "ns", "creationTimestamp": None, "labels": {"app": "web"}},
        "data": {"a": "b", "empty": ""},
    }


def test_secret_bytes_become_base64_and_immutable_false_is_kept_because_it_was_set():
    raw = lf(1, meta("s")) + lf(2, entry("k", b"\x00\xffv")) + lf(3, "Opaque") + vf(5, 0)
    obj = decode_kubernetes_protobuf(envelope("v1", "Secret", raw))
    assert obj["data"] == {"k": "AP92"}
    assert obj["type"] == "Opaque"
    assert obj["immutable"] is False


def test_absent_pointer_field_stays_absent():
    obj = decode_kubernetes_protobuf(envelope("v1", "Secret", lf(1, meta("s"))))
    assert "immutable" not in obj and "data" not in obj and "type" not in obj


def deployment_spec(replicas: int | None, min_ready: int = 0) -> bytes:
    container = lf(1, "app") + lf(2, "busybox") + lf(3, "sh") + lf(3, "-c") + lf(5, "") + lf(8, b"") + vf(16, 0)
    pod_spec = lf(2, container) + lf(3, "") + lf(6, "") + lf(8, "") + lf(9, "") + vf(11, 0) + vf(12, 0)
    template = lf(1, meta("", labels="x")) + lf(2, pod_spec)
    spec = b"" if replicas is None else vf(1, replicas)
    selector = lf(1, entry("app", "d"))
    return spec + lf(2, selector) + lf(3, template) + lf(4, lf(1, "")) + vf(5, min_ready) + vf(7, 0)


def test_deployment_replicas_zero_is_kept_while_omitempty_zeros_are_dropped():
    obj = decode_kubernetes_protobuf(envelope("apps/v1", "Deployment", lf(1, meta("d")) + lf(2, deployment_spec(0))))
    spec = obj["spec"]
    assert spec["replicas"] == 0
    assert "minReadySeconds" not in spec and "paused" not in spec
    assert spec["selector"] == {"matchLabels": {"app": "d"}}
    assert spec["strategy"] == {}  # a non-pointer struct is always rendered, as Go's encoding/json does
    container = spec["template"]["spec"]["containers"][0]
    assert container == {"name": "app", "image": "busybox", "command": ["sh", "-c"], "resources": {}}
    assert spec["template"]["spec"] == {"containers": [container]}


def test_deployment_without_replicas_on_the_wire_has_no_replicas():
    obj = decode_kubernetes_protobuf(envelope("apps/v1", "Deployment", lf(1, meta("d")) + lf(2, deployment_spec(None))))
    assert "replicas" not in obj["spec"]


def test_multi_byte_varints_and_negative_int32():
    spec = deployment_spec(300, min_ready=2**31 - 1)
    obj = decode_kubernetes_protobuf(envelope("apps/v1", "Deployment", lf(2, spec)))
    assert obj["spec"]["replicas"] == 300
    assert obj["spec"]["minReadySeconds"] == 2**31 - 1
    obj = decode_kubernetes_protobuf(envelope("apps/v1", "Deployment", lf(2, vf(1, -1))))
    assert obj["spec"]["replicas"] == -1


def test_int_or_string_as_int_and_as_string():
    int_port = vf(1, 0) + vf(2, 8080) + lf(3, "")
    str_port = vf(1, 1) + vf(2, 0) + lf(3, "http")
    ports = (lf(1, "a") + lf(2, "TCP") + vf(3, 80) + lf(4, int_port) + vf(5, 0)
             ), lf(1, "b") + lf(2, "TCP") + vf(3, 81) + lf(4, str_port) + vf(5, 0)
    raw = lf(1, meta("svc")) + lf(2, lf(1, ports[0]) + lf(1, ports[1]) + lf(4, "NodePort"))
    obj = decode_kubernetes_protobuf(envelope("v1", "Service", raw))
    assert [p["targetPort"] for p in obj["spec"]["ports"]] == [8080, "http"]
    assert obj["spec"]["ports"][0] == {"name": "a", "protocol": "TCP", "port": 80, "targetPort": 8080}


def test_quantities_in_a_resource_list_are_strings():
    hard = lf(1, entry("cpu", lf(1, "500m"))) + lf(1, entry("pods", lf(1, "2")))
    obj = decode_kubernetes_protobuf(envelope("v1", "ResourceQuota", lf(1, meta("q")) + lf(2, hard)))
    assert obj["spec"]["hard"] == {"cpu": "500m", "pods": "2"}


def test_time_and_micro_time_render_as_rfc3339_in_utc():
    ts = lf(1, b"") + lf(8, vf(1, 1700000000) + vf(2, 123456789))  # creationTimestamp
    obj = decode_kubernetes_protobuf(envelope("v1", "ConfigMap", lf(1, lf(1, "cm") + ts)))
    assert obj["metadata"]["creationTimestamp"] == "2023-11-14T22:13:20Z"
    event = lf(1, meta("e")) + lf(2, vf(1, 1700000000) + vf(2, 123456789)) + lf(7, "r")
    obj = decode_kubernetes_protobuf(envelope("events.k8s.io/v1", "Event", event))
    assert obj["eventTime"] == "2023-11-14T22:13:20.123456Z"


def test_go_duration_strings():
    assert [go_duration(n) for n in (0, 1, 1500, 2_000_000, 1_500_000_000, 60_000_000_000, 3_723_000_000_000,
                                     -90_000_000_000)] == ["0s", "1ns", "1.5µs", "2ms", "1.5s", "1m0s", "1h2m3s",
                                                           "-1m30s"]


def test_raw_extension_is_parsed_json():
    raw = lf(1, meta("rev")) + lf(2, lf(1, b'{"spec":{"a":1}}')) + vf(3, 2)
    obj = decode_kubernetes_protobuf(envelope("apps/v1", "ControllerRevision", raw))
    assert obj["data"] == {"spec": {"a": 1}}
    assert obj["revision"] == 2


def test_inline_volume_source_is_merged_into_the_volume():
    volume = lf(1, "scratch") + lf(2, lf(2, b""))  # VolumeSource.emptyDir = {}
    pod = lf(1, meta("p")) + lf(2, lf(1, volume) + lf(2, lf(1, "c") + lf(2, "img")))
    obj = decode_kubernetes_protobuf(envelope("v1", "Pod", pod))
    assert obj["spec"]["volumes"] == [{"name": "scratch", "emptyDir": {}}]


def test_update_body_metadata_with_owner_references_and_managed_fields():
    owner = lf(5, "apps/v1") + lf(1, "ReplicaSet") + lf(3, "rs") + lf(4, "u-1") + vf(6, 1) + vf(7, 0)
    managed = (lf(1, "kube-controller-manager") + lf(2, "Update") + lf(3, "v1") + lf(4, vf(1, 1700000000))
               + lf(6, "FieldsV1") + lf(7, lf(1, b'{"f:metadata":{"f:labels":{}}}')) + lf(8, ""))
    metadata = (lf(1, "p") + lf(3, "ns") + lf(5, "uid-9") + lf(6, "42") + vf(7, 3) + lf(8, vf(1, 1700000000))
                + lf(13, owner) + lf(14, "example.com/keep") + lf(17, managed))
    obj = decode_kubernetes_protobuf(envelope("v1", "Pod", lf(1, metadata)))
    assert obj["metadata"] == {
        "name": "p", "namespace": "ns", "uid": "uid-9", "resourceVersion": "42", "generation": 3,
        "creationTimestamp": "2023-11-14T22:13:20Z",
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u-1",
                             "controller": True, "blockOwnerDeletion": False}],
        "finalizers": ["example.com/keep"],
        "managedFields": [{"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1",
                           "time": "2023-11-14T22:13:20Z", "fieldsType": "FieldsV1",
                           "fieldsV1": {"f:metadata": {"f:labels": {}}}}],
    }


def test_probe_handler_is_inlined_and_its_port_is_an_int_or_string():
    http_get = lf(1, "/healthz") + lf(2, vf(1, 1) + lf(3, "http")) + lf(3, "") + lf(4, "HTTP")
    probe = lf(1, lf(2, http_get)) + vf(2, 0) + vf(3, 1) + vf(4, 10) + vf(5, 1) + vf(6, 3)
    container = lf(1, "c") + lf(2, "img") + lf(8, b"") + lf(10, probe)
    obj = decode_kubernetes_protobuf(envelope("v1", "Pod", lf(2, lf(2, container))))
    assert obj["spec"]["containers"][0]["livenessProbe"] == {
        "httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"},
        "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}


def test_map_of_string_lists_in_a_subject_access_review():
    extra = lf(5, entry("scopes", lf(1, "a") + lf(1, "b")))
    spec = lf(1, lf(2, "get") + lf(5, "pods")) + lf(3, "alice") + lf(4, "system:authenticated") + extra + lf(6, "")
    obj = decode_kubernetes_protobuf(envelope("authorization.k8s.io/v1", "SubjectAccessReview", lf(2, spec)))
    assert obj["spec"] == {"resourceAttributes": {"verb": "get", "resource": "pods"}, "user": "alice",
                           "groups": ["system:authenticated"], "extra": {"scopes": ["a", "b"]}}
    assert obj["status"] == {"allowed": False}  # a non-pointer struct with a non-omitempty bool, as Go prints it


def test_packed_and_unpacked_repeated_integers_both_decode():
    packed = lf(4, varint(1000) + varint(2000))
    unpacked = vf(4, 1000) + vf(4, 2000)
    for groups in (packed, unpacked):
        pod = lf(2, lf(14, groups))  # spec.securityContext.supplementalGroups
        obj = decode_kubernetes_protobuf(envelope("v1", "Pod", pod))
        assert obj["spec"]["securityContext"]["supplementalGroups"] == [1000, 2000]


def test_unknown_field_numbers_are_skipped():
    raw = lf(1, meta("cm")) + vf(99, 5) + lf(100, "junk")
    obj = decode_kubernetes_protobuf(envelope("v1", "ConfigMap", raw))
    assert obj["metadata"]["name"] == "cm"


@pytest.mark.parametrize("api_version", ["v1", "meta.k8s.io/v1", "apps/v1", "batch/v1"])
def test_delete_options_in_any_group_version(api_version):
    raw = vf(1, 0) + lf(2, lf(1, "uid-1")) + lf(4, "Foreground")
    obj = decode_kubernetes_protobuf(envelope(api_version, "DeleteOptions", raw))
    assert obj == {"apiVersion": api_version, "kind": "DeleteOptions", "gracePeriodSeconds": 0,
                   "preconditions": {"uid": "uid-1"}, "propagationPolicy": "Foreground"}


def test_eviction_and_self_subject_access_review_map_to_their_messages():
    assert message_for("policy/v1", "Eviction") == "k8s.io.api.policy.v1.Eviction"
    assert message_for("authorization.k8s.io/v1", "SelfSubjectAccessReview") == (
        "k8s.io.api.authorization.v1.SelfSubjectAccessReview")
    assert message_for("v1", "Pod") == "k8s.io.api.core.v1.Pod"
    assert message_for("v1", "Nope") is None
    raw = lf(1, meta("p", "ns")) + lf(2, vf(1, 0))
    assert decode_kubernetes_protobuf(envelope("policy/v1", "Eviction", raw))["deleteOptions"] == {
        "gracePeriodSeconds": 0}


@pytest.mark.parametrize(("body", "message"), [
    (b"", "empty data"),
    (b'{"kind":"x"}', "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]"),
    (b"k8s\x00", "empty body"),
    (envelope("v1", "", b""), "Object 'Kind' is missing in 'runtime.TypeMeta{APIVersion:\"v1\", Kind:\"\"}'"),
    (envelope("v1", "Frob", b""), 'no kind "Frob" is registered for version "v1"'),
    (envelope("v1", "ConfigMap", b"\x0a\x05ab"), 'ConfigMap in version "v1" cannot be handled as a ConfigMap: '
                                                 "unexpected EOF"),
    (envelope("v1", "ConfigMap", vf(1, 3)), 'ConfigMap in version "v1" cannot be handled as a ConfigMap: '
                                            "proto: wrong wireType = 0 for field Metadata"),
    (envelope("v1", "ConfigMap", b"\x00\x01"), "proto: ConfigMap: illegal tag 0 (wire type 0)"),
    (envelope("v1", "ConfigMap", b"\x08" + b"\xff" * 11), "proto: integer overflow"),
])
def test_malformed_bodies_are_400_bad_request(body, message):
    with pytest.raises(APIError) as e:
        decode_kubernetes_protobuf(body)
    assert e.value.code == 400 and e.value.reason == "BadRequest"
    assert message in e.value.message


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.sampled_from([("v1", "Pod"), ("apps/v1", "Deployment"), ("v1", "Secret"),
                                                 ("batch/v1", "CronJob"), ("v1", "DeleteOptions")]))
def test_arbitrary_bytes_never_raise_anything_but_a_bad_request(raw, gvk):
    for body in (envelope(*gvk, raw), b"k8s\x00" + raw):
        try:
            obj = decode_kubernetes_protobuf(body)
        except APIError as e:
            assert e.code == 400
        else:
            json.dumps(obj)


# --- real kubectl ----------------------------------------------------------------------------------

VOLATILE_META = ("uid", "creationTimestamp", "resourceVersion", "managedFields")


def _normalized(server, resource: str, name: str, namespace: str | None) -> dict:
    args = ["get", resource, name, "-o", "json"] + (["-n", namespace] if namespace else [])
    obj = json.loads(server.kubectl(*args).stdout)
    text = json.dumps(obj).replace(obj["metadata"]["uid"], "UID")
    obj = json.loads(text)
    for key in VOLATILE_META:
        obj["metadata"].pop(key, None)
    obj.pop("status", None)  # written by controllers, on their own schedule
    obj["metadata"].get("annotations", {}).pop("deployment.kubernetes.io/revision", None)
    if not obj["metadata"].get("annotations", True):
        del obj["metadata"]["annotations"]
    spec = obj.get("spec", {})
    if obj["kind"] == "Service":  # allocated
        spec.pop("clusterIP", None)
        spec.pop("clusterIPs", None)
        for port in spec.get("ports", []):
            port.pop("nodePort", None)
    return obj


CREATES = [
    ("namespace", "namespace", False, ["create", "namespace", "{name}"]),
    ("configmap", "configmap", True, ["create", "configmap", "{name}", "--from-literal=a=b", "--from-literal=e="]),
    ("secret", "secret", True, ["create", "secret", "generic", "{name}", "--from-literal=k=v", "--type=Opaque"]),
    ("deployment", "deployment", True, ["create", "deployment", "{name}", "--replicas=0", "--image=busybox",
                                        "--port=8080", "--", "sh", "-c", "sleep 1"]),
    ("job", "job", True, ["create", "job", "{name}", "--image=busybox", "--", "true"]),
    ("cronjob", "cronjob", True, ["create", "cronjob", "{name}", "--image=busybox", "--schedule=*/5 * * * *",
                                  "--restart=OnFailure"]),
    ("service", "service", True, ["create", "service", "nodeport", "{name}", "--tcp=80:8080"]),
    ("role", "role", True, ["create", "role", "{name}", "--verb=get,list", "--resource=pods,deployments.apps",
                            "--resource-name=x"]),
    ("clusterrolebinding", "clusterrolebinding", False,
     ["create", "clusterrolebinding", "{name}", "--clusterrole=view", "--user=bob", "--group=devs",
      "--serviceaccount=default:sa"]),
    ("quota", "resourcequota", True, ["create", "quota", "{name}", "--hard=cpu=1,memory=1Gi,pods=2",
                                      "--scopes=BestEffort"]),
    ("priorityclass", "priorityclass", False, ["create", "priorityclass", "{name}", "--value=0",
                                               "--description=d", "--preemption-policy=Never"]),
    ("ingress", "ingress", True, ["create", "ingress", "{name}", "--rule=foo.com/bar*=svc1:8080,tls=sec",
                                  "--class=nginx"]),
    ("pdb", "pdb", True, ["create", "pdb", "{name}", "--selector=app=x", "--min-available=0"]),
    ("serviceaccount", "serviceaccount", True, ["create", "serviceaccount", "{name}"]),
    ("configmap-binary-file", "configmap", True, ["create", "configmap", "{name}", "--from-file={dir}/blob.bin",
                                                  "--from-file=text={dir}/text.txt"]),
    ("secret-tls", "secret", True, ["create", "secret", "tls", "{name}", "--cert={dir}/tls.crt",
                                    "--key={dir}/tls.key"]),
    ("secret-docker-registry", "secret", True, ["create", "secret", "docker-registry", "{name}",
                                                "--docker-server=r.example", "--docker-username=u",
                                                "--docker-password=p"]),
    ("clusterrole-aggregation", "clusterrole", False, ["create", "clusterrole", "{name}",
                                                       "--aggregation-rule=rbac.example/agg=true"]),
    ("clusterrole-rules", "clusterrole", False, ["create", "clusterrole", "{name}", "--verb=get",
                                                 "--non-resource-url=/healthz"]),
    ("rolebinding", "rolebinding", True, ["create", "rolebinding", "{name}", "--clusterrole=view", "--user=u"]),
    ("service-externalname", "service", True, ["create", "service", "externalname", "{name}",
                                               "--external-name=foo.example"]),
    ("service-clusterip-headless", "service", True, ["create", "service", "clusterip", "{name}",
                                                     "--clusterip=None"]),
    ("deployment-with-port", "deployment", True, ["create", "deployment", "{name}", "--image=nginx", "--port=80",
                                                  "--replicas=3"]),
]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> str:
    """Inputs for --from-file and secret tls: bytes that are not UTF-8, and a real key pair."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    d = tmp_path_factory.mktemp("pbfiles")
    (d / "blob.bin").write_bytes(bytes(range(256)))
    (d / "text.txt").write_text("line one\nline two\n")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pb.example")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    (d / "tls.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "tls.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    return str(d)


def _run(server, args: list[str], name: str, namespace: str | None, *extra: str, files: str = "") -> str:
    argv = [a.replace("{name}", name).replace("{dir}", files) for a in args]
    at = argv.index("--") if "--" in argv else len(argv)  # flags go before the container command
    argv[at:at] = (["-n", namespace] if namespace else []) + list(extra)
    return server.kubectl(*argv).stdout


@pytest.mark.parametrize(("resource", "namespaced", "args"), [c[1:] for c in CREATES], ids=[c[0] for c in CREATES])
def test_kubectl_create_through_protobuf_reads_back_like_the_json_created_object(server, namespace, files, resource,
                                                                                 namespaced, args):
    suffix = os.urandom(3).hex()
    pb_name, js_name = f"pb-{suffix}", f"js-{suffix}"
    ns = namespace if namespaced else None
    _run(server, args, pb_name, ns, files=files)  # typed client: protobuf body
    manifest = _run(server, args, js_name, ns, "--dry-run=client", "-o", "json", files=files)
    server.kubectl("create", "-f", "-", *(["-n", ns] if ns else []), input=manifest)  # JSON body
    from_pb = json.dumps(_normalized(server, resource, pb_name, ns), sort_keys=True).replace(pb_name, js_name)
    from_json = json.dumps(_normalized(server, resource, js_name, ns), sort_keys=True)
    assert json.loads(from_pb) == json.loads(from_json)


def test_kubectl_create_really_sends_protobuf(server, namespace):
    out = server.kubectl("create", "configmap", "via-pb", "-n", namespace, "--from-literal=a=b", "-v=8")
    assert f"Content-Type: {PROTOBUF}" in out.stderr
    assert json.loads(server.kubectl("get", "cm", "via-pb", "-n", namespace, "-o", "json").stdout)["data"] == {
        "a": "b"}


def test_deployment_created_with_zero_replicas_keeps_zero(server, namespace):
    server.kubectl("create", "deployment", "zero", "-n", namespace, "--replicas=0", "--image=busybox")
    obj = json.loads(server.kubectl("get", "deploy", "zero", "-n", namespace, "-o", "json").stdout)
    assert obj["spec"]["replicas"] == 0


def test_kubectl_auth_can_i_and_whoami_send_reviews_as_protobuf(server):
    assert server.kubectl("auth", "can-i", "create", "pods").stdout.strip() == "yes"
    assert "Username" in server.kubectl("auth", "whoami").stdout


def test_delete_with_protobuf_delete_options_honours_preconditions(server, namespace):
    body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "gone"}}).encode()
    code, _, out = server.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", body)
    assert code == 201, out
    options = envelope("v1", "DeleteOptions", lf(2, lf(1, "not-the-uid")))
    code, _, out = server.request("DELETE", f"/api/v1/namespaces/{namespace}/configmaps/gone", options,
                                  headers={"Content-Type": PROTOBUF})
    assert code == 409, out
    assert "Precondition failed: UID in precondition: not-the-uid" in json.loads(out)["message"]
    options = envelope("v1", "DeleteOptions", vf(1, 0))
    code, _, out = server.request("DELETE", f"/api/v1/namespaces/{namespace}/configmaps/gone", options,
                                  headers={"Content-Type": PROTOBUF})
    assert code == 200, out


def test_protobuf_body_through_parse_body():
    raw = lf(1, meta("cm"))
    assert parse_body(envelope("v1", "ConfigMap", raw), PROTOBUF + "; charset=utf-8")["metadata"]["name"] == "cm"


def test_malformed_protobuf_over_http_is_a_400_status(server, namespace):
    code, _, out = server.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", b"k8s\x00\x0a\x05ab",
                                  headers={"Content-Type": PROTOBUF})
    status = json.loads(out)
    assert code == 400 and status["reason"] == "BadRequest" and status["kind"] == "Status"
    assert status["message"] == "unexpected EOF"


def test_pod_eviction_as_protobuf(server, namespace):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "victim"},
           "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    code, _, out = server.request("POST", f"/api/v1/namespaces/{namespace}/pods", json.dumps(pod).encode())
    assert code == 201, out
    eviction = envelope("policy/v1", "Eviction", lf(1, meta("victim", namespace)) + lf(2, vf(1, 0)))
    code, _, out = server.request("POST", f"/api/v1/namespaces/{namespace}/pods/victim/eviction", eviction,
                                  headers={"Content-Type": PROTOBUF})
    assert code == 201, out



# A pod template exercising pointer zeros (kept), omitempty fields, inline volume sources and probe
# handlers, quantities and int-or-strings. It holds no omitempty zero values: Go drops those, so the
# protobuf copy could not carry them back.
RICH_TEMPLATE = {
    "metadata": {"labels": {"app": "rich"}, "annotations": {"a": ""}},
    "spec": {
        "restartPolicy": "OnFailure",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": 0,
        "activeDeadlineSeconds": 100,
        "securityContext": {"runAsNonRoot": False, "runAsUser": 0, "fsGroup": 2000, "supplementalGroups": [1, 2],
                            "sysctls": [{"name": "net.core.somaxconn", "value": "1024"}]},
        "nodeSelector": {"disk": "ssd"},
        "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 0}],
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]}]}}},
        "volumes": [
            {"name": "scratch", "emptyDir": {}},
            {"name": "mem", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
            {"name": "cfg", "configMap": {"name": "cm", "optional": False, "defaultMode": 420,
                                          "items": [{"key": "a", "path": "a.txt", "mode": 0}]}},
            {"name": "sec", "secret": {"secretName": "s", "optional": True}},
            {"name": "proj", "projected": {"sources": [{"serviceAccountToken": {"path": "t",
                                                                                "expirationSeconds": 3600}},
                                                       {"downwardAPI": {"items": [{"path": "n", "fieldRef": {
                                                           "fieldPath": "metadata.name"}}]}}]}},
        ],
        "initContainers": [{"name": "init", "image": "busybox", "command": ["true"],
                            "restartPolicy": "Always"}],
        "containers": [{
            "name": "main", "image": "nginx:1.25", "args": ["-g", "daemon off;"], "workingDir": "/w",
            "ports": [{"containerPort": 80, "name": "http", "protocol": "TCP"}, {"containerPort": 53, "protocol": "UDP"}],
            "env": [{"name": "EMPTY"}, {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}}},
                    {"name": "OPT", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k", "optional": False}}}],
            "envFrom": [{"prefix": "P_", "configMapRef": {"name": "cm"}}],
            "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "0"}},
            "volumeMounts": [{"name": "scratch", "mountPath": "/s", "subPath": "x"}],
            "livenessProbe": {"httpGet": {"path": "/", "port": "http", "httpHeaders": [{"name": "X", "value": ""}]},
                              "periodSeconds": 5, "terminationGracePeriodSeconds": 1},
            "readinessProbe": {"exec": {"command": ["cat", "/tmp/ok"]}, "failureThreshold": 1},
            "startupProbe": {"tcpSocket": {"port": 80}, "timeoutSeconds": 2},
            "lifecycle": {"preStop": {"sleep": {"seconds": 1}}},
            "securityContext": {"privileged": False, "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]}, "runAsGroup": 0},
            "stdin": True,
        }],
    },
}


def test_job_from_cronjob_carries_a_rich_pod_template_through_protobuf_unchanged(server, namespace):
    """``kubectl create job --from=cronjob/x`` reads the CronJob (JSON) and creates the Job with the Go
    typed client (protobuf): the template must come back field for field."""
    cronjob = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "rich", "namespace": namespace},
               "spec": {"schedule": "0 0 1 1 *", "suspend": True, "jobTemplate": {"spec": {
                   "backoffLimit": 0, "parallelism": 0, "completions": 1, "template": RICH_TEMPLATE}}}}
    server.kubectl("create", "-f", "-", input=json.dumps(cronjob))
    out = server.kubectl("create", "job", "rich-now", "--from=cronjob/rich", "-n", namespace, "-v=8")
    assert f"Content-Type: {PROTOBUF}" in out.stderr
    cj = json.loads(server.kubectl("get", "cronjob", "rich", "-n", namespace, "-o", "json").stdout)
    job = json.loads(server.kubectl("get", "job", "rich-now", "-n", namespace, "-o", "json").stdout)
    assert {k: job["spec"][k] for k in ("backoffLimit", "parallelism", "completions")} == {
        "backoffLimit": 0, "parallelism": 0, "completions": 1}
    template = job["spec"]["template"]
    for label in ("batch.kubernetes.io/controller-uid", "controller-uid", "batch.kubernetes.io/job-name",
                  "job-name"):
        template["metadata"]["labels"].pop(label, None)
    assert template == cj["spec"]["jobTemplate"]["spec"]["template"]


# --- the table ------------------------------------------------------------------------------------


def test_fields_json_is_what_the_extractor_reads_from_kubectl_on_path():
    pytest.importorskip("google.protobuf")
    import shutil
    from pathlib import Path

    from facade.protobuf import extract

    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("no kubectl on PATH")
    table = extract.build_table(Path(os.path.realpath(kubectl)).read_bytes())
    committed = json.loads(extract.DEFAULT_OUT.read_bytes())
    assert table["messages"] == committed["messages"]
    assert table["kinds"] == committed["kinds"]
    assert table["lists"] == committed["lists"]
    rows = {r[1]: r for r in table["messages"]["k8s.io.api.apps.v1.DeploymentSpec"]}
    assert rows["replicas"][4] & extract.POINTER and not rows["minReadySeconds"][4] & extract.POINTER
    assert rows["replicas"][0] == 1 and rows["progressDeadlineSeconds"][0] == 9


def test_an_unknown_content_type_is_415_and_lists_protobuf_among_the_accepted_types():
    with pytest.raises(APIError) as e:
        parse_body(b"x", "text/plain")
    assert e.value.code == 415
    assert e.value.message == ("the body of the request was in an unknown format - accepted media types include: "
                               "application/json, application/yaml, application/vnd.kubernetes.protobuf")
