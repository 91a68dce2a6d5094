"""Every `kubectl create <generator>` against the server: the line kubectl prints and what is stored."""

from __future__ import annotations

import base64
import json
import os

import pytest


@pytest.fixture(scope="module")
def ns(server) -> str:
    name = "create-gen-" + os.urandom(3).hex()
    server.kubectl("create", "namespace", name)
    return name


def get(server, ns: str, *what: str) -> dict:
    return json.loads(server.kubectl("get", *what, "-n", ns, "-o", "json").stdout)


def test_create_namespace_is_active_with_its_name_label(server):
    name = "gen-ns-" + os.urandom(3).hex()
    assert server.kubectl("create", "namespace", name).stdout.strip() == f"namespace/{name} created"
    ns = json.loads(server.kubectl("get", "ns", name, "-o", "json").stdout)
    assert ns["status"]["phase"] == "Active"
    assert ns["spec"]["finalizers"] == ["kubernetes"]
    assert ns["metadata"]["labels"]["kubernetes.io/metadata.name"] == name


def test_create_configmap_from_literals_and_files(server, ns, tmp_path):
    (tmp_path / "app.properties").write_text("color=blue\n")
    out = server.kubectl("create", "configmap", "gen-cm", "--from-literal=a=1",
                         f"--from-file={tmp_path / 'app.properties'}", "-n", ns).stdout
    assert out.strip() == "configmap/gen-cm created"
    assert get(server, ns, "cm", "gen-cm")["data"] == {"a": "1", "app.properties": "color=blue\n"}


def test_create_secret_generic_tls_and_docker_registry(server, ns):
    assert server.kubectl("create", "secret", "generic", "gen-s", "--from-literal=pw=hunter2",
                          "-n", ns).stdout.strip() == "secret/gen-s created"
    s = get(server, ns, "secret", "gen-s")
    assert s["type"] == "Opaque" and base64.b64decode(s["data"]["pw"]) == b"hunter2"

    cert, key = server.data_dir / "server.crt", server.data_dir / "server.key"
    assert server.kubectl("create", "secret", "tls", "gen-tls", f"--cert={cert}", f"--key={key}",
                          "-n", ns).stdout.strip() == "secret/gen-tls created"
    tls = get(server, ns, "secret", "gen-tls")
    assert tls["type"] == "kubernetes.io/tls" and set(tls["data"]) == {"tls.crt", "tls.key"}

    assert server.kubectl("create", "secret", "docker-registry", "gen-reg", "--docker-server=r.example.com",
                          "--docker-username=u", "--docker-password=p", "-n", ns).stdout.strip() == \
        "secret/gen-reg created"
    reg = get(server, ns, "secret", "gen-reg")
    assert reg["type"] == "kubernetes.io/dockerconfigjson"
    assert "r.example.com" in json.loads(base64.b64decode(reg["data"][".dockerconfigjson"]))["auths"]


def test_create_secret_tls_with_a_mismatched_type_is_invalid(server, ns):
    body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bad-tls", "namespace": ns},
            "type": "kubernetes.io/tls", "data": {}}
    proc = server.kubectl("create", "-f", "-", input=json.dumps(body), check=False)
    assert proc.returncode == 1
    assert 'The Secret "bad-tls" is invalid' in proc.stderr
    assert "data[tls.crt]: Required value" in proc.stderr


def test_create_serviceaccount(server, ns):
    assert server.kubectl("create", "serviceaccount", "gen-sa", "-n", ns).stdout.strip() == \
        "serviceaccount/gen-sa created"
    assert get(server, ns, "sa", "gen-sa")["metadata"]["name"] == "gen-sa"


def test_create_deployment_job_and_cronjob(server, ns):
    assert server.kubectl("create", "deployment", "gen-d", "--image=nginx:1.25", "--port=80", "--replicas=2",
                          "-n", ns).stdout.strip() == "deployment.apps/gen-d created"
    d = get(server, ns, "deploy", "gen-d")
    assert d["spec"]["selector"] == {"matchLabels": {"app": "gen-d"}}
    assert d["spec"]["template"]["spec"]["containers"][0]["ports"] == [{"containerPort": 80, "protocol": "TCP"}]

    assert server.kubectl("create", "job", "gen-j", "--image=busybox", "-n", ns, "--", "echo", "hi").stdout.strip() \
        == "job.batch/gen-j created"
    j = get(server, ns, "job", "gen-j")
    assert j["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert j["spec"]["backoffLimit"] == 6 and j["spec"]["completionMode"] == "NonIndexed"
    assert j["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"] == j["metadata"]["uid"]

    assert server.kubectl("create", "cronjob", "gen-cj", "--image=busybox", "--schedule=*/5 * * * *", "-n", ns,
                          "--", "date").stdout.strip() == "cronjob.batch/gen-cj created"
    cj = get(server, ns, "cronjob", "gen-cj")
    assert cj["spec"]["concurrencyPolicy"] == "Allow" and cj["spec"]["successfulJobsHistoryLimit"] == 3
    assert server.kubectl("create", "job", "gen-from-cj", "--from=cronjob/gen-cj", "-n", ns).stdout.strip() == \
        "job.batch/gen-from-cj created"
    jf = get(server, ns, "job", "gen-from-cj")
    assert jf["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert jf["metadata"]["ownerReferences"][0]["kind"] == "CronJob"


def test_create_cronjob_with_a_bad_schedule_is_invalid(server, ns):
    proc = server.kubectl("create", "cronjob", "bad-cj", "--image=busybox", "--schedule=not a schedule",
                          "-n", ns, check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        'error: failed to create cronjob: CronJob.batch "bad-cj" is invalid: spec.schedule: Invalid value: '
        '"not a schedule": expected exactly 5 fields, found 3: [not a schedule]')


@pytest.mark.parametrize("kind,type_,extra", [
    ("clusterip", "ClusterIP", []),
    ("nodeport", "NodePort", []),
    ("loadbalancer", "LoadBalancer", []),
])
def test_create_service_generators_allocate_what_their_type_needs(server, ns, kind, type_, extra):
    name = f"gen-svc-{kind}"
    assert server.kubectl("create", "service", kind, name, "--tcp=80:8080", *extra, "-n", ns).stdout.strip() == \
        f"service/{name} created"
    svc = get(server, ns, "svc", name)
    assert svc["spec"]["type"] == type_
    assert svc["spec"]["clusterIP"].startswith("10.")
    assert svc["spec"]["ports"][0]["targetPort"] == 8080
    assert ("nodePort" in svc["spec"]["ports"][0]) == (type_ != "ClusterIP")


def test_create_service_externalname(server, ns):
    assert server.kubectl("create", "service", "externalname", "gen-ext", "--external-name=example.com",
                          "-n", ns).stdout.strip() == "service/gen-ext created"
    svc = get(server, ns, "svc", "gen-ext")
    assert svc["spec"]["type"] == "ExternalName" and "clusterIP" not in svc["spec"]


def test_create_rbac_generators(server, ns):
    suffix = os.urandom(2).hex()
    assert server.kubectl("create", "role", "gen-role", "--verb=get,list", "--resource=pods,deployments.apps",
                          "-n", ns).stdout.strip() == "role.rbac.authorization.k8s.io/gen-role created"
    role = get(server, ns, "role", "gen-role")
    assert {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]} in role["rules"]
    assert {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list"]} in role["rules"]
    assert server.kubectl("create", "rolebinding", "gen-rb", "--role=gen-role", "--user=jane",
                          f"--serviceaccount={ns}:default", "-n", ns).stdout.strip() == \
        "rolebinding.rbac.authorization.k8s.io/gen-rb created"
    rb = get(server, ns, "rolebinding", "gen-rb")
    assert rb["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "gen-role"}
    cr, crb = f"gen-cr-{suffix}", f"gen-crb-{suffix}"
    assert server.kubectl("create", "clusterrole", cr, "--verb=get", "--non-resource-url=/logs/*").stdout.strip() \
        == f"clusterrole.rbac.authorization.k8s.io/{cr} created"
    assert server.kubectl("create", "clusterrolebinding", crb, f"--clusterrole={cr}",
                          "--group=devs").stdout.strip() == f"clusterrolebinding.rbac.authorization.k8s.io/{crb} created"
    binding = json.loads(server.kubectl("get", "clusterrolebinding", crb, "-o", "json").stdout)
    assert binding["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "devs"}]
    server.kubectl("delete", "clusterrolebinding", crb)
    server.kubectl("delete", "clusterrole", cr)


def test_create_quota_priorityclass_ingress_and_pdb(server, ns):
    assert server.kubectl("create", "quota", "gen-q", "--hard=pods=10,requests.cpu=2", "-n", ns).stdout.strip() \
        == "resourcequota/gen-q created"
    assert get(server, ns, "quota", "gen-q")["spec"]["hard"] == {"pods": "10", "requests.cpu": "2"}

    pc = "gen-pc-" + os.urandom(2).hex()
    assert server.kubectl("create", "priorityclass", pc, "--value=1000", "--description=test").stdout.strip() == \
        f"priorityclass.scheduling.k8s.io/{pc} created"
    got = json.loads(server.kubectl("get", "pc", pc, "-o", "json").stdout)
    assert got["value"] == 1000 and got["preemptionPolicy"] == "PreemptLowerPriority"
    server.kubectl("delete", "pc", pc)

    assert server.kubectl("create", "ingress", "gen-ing", "--rule=foo.example.com/bar*=svc1:80",
                          "-n", ns).stdout.strip() == "ingress.networking.k8s.io/gen-ing created"
    ing = get(server, ns, "ingress", "gen-ing")
    path = ing["spec"]["rules"][0]["http"]["paths"][0]
    assert path["pathType"] == "Prefix" and path["backend"]["service"] == {"name": "svc1", "port": {"number": 80}}

    assert server.kubectl("create", "poddisruptionbudget", "gen-pdb", "--selector=app=web", "--min-available=1",
                          "-n", ns).stdout.strip() == "poddisruptionbudget.policy/gen-pdb created"
    assert get(server, ns, "pdb", "gen-pdb")["spec"]["minAvailable"] == 1


def test_system_priority_classes_exist_from_the_start(server):
    out = server.kubectl("get", "priorityclasses", "-o", "name").stdout.split()
    assert "priorityclass.scheduling.k8s.io/system-node-critical" in out
    assert "priorityclass.scheduling.k8s.io/system-cluster-critical" in out
    pc = json.loads(server.kubectl("get", "pc", "system-cluster-critical", "-o", "json").stdout)
    assert pc["value"] == 2000000000


def test_create_dry_run_server_stores_nothing(server, ns):
    out = server.kubectl("create", "configmap", "dry", "--from-literal=a=b", "--dry-run=server", "-n", ns,
                         "-o", "json").stdout
    assert json.loads(out)["metadata"]["uid"]
    assert server.kubectl("get", "cm", "dry", "-n", ns, check=False).returncode == 1
