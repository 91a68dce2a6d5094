"""Pod isolation of the process runtime as root: each pod its own network namespace (own IP on the
node's bridge) and hostname, each container its own mount namespace with its volumes at their
mountPath and the pod's /etc/hosts, /etc/hostname and /etc/resolv.conf.

Needs root on Linux with iproute2 and util-linux; without them these tests skip on a user's machine
and fail in CI (CI=true).
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import urllib.request
import uuid
from pathlib import Path

import pytest
from conftest import Server, start_server, stop_server
from runtime_helpers import busybox, create, get_pod, node_name, phase, wait_for, wait_pod

from runtime.pod_files import resolv_conf

Obj = dict


@pytest.fixture(scope="module")
def node(server: Server) -> Obj:
    """The server's process node, which must isolate its pods (skip without root, fail in CI)."""
    code, _, body = server.request("GET", f"/api/v1/nodes/{node_name(server)}")
    assert code == 200, body
    obj = json.loads(body)
    annotations = obj["metadata"].get("annotations") or {}
    if annotations.get("kubefacade.io/pod-isolation") != "netns":
        why = annotations.get("kubefacade.io/isolation", "the node does not isolate pods")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must run the pod isolation tests: {why}")
        pytest.skip(why)
    return obj


def running(p: Obj) -> bool:
    return phase(p) == "Running" and all(c.get("ready") for c in (p.get("status") or {}).get("containerStatuses") or [])


def start(server: Server, ns: str, pod: Obj, timeout: float = 30) -> Obj:
    create(server, ns, pod)
    return wait_pod(server, ns, pod["metadata"]["name"], running, timeout=timeout)


def web(name: str, node: Obj, port: int = 8080) -> Obj:
    """A pod serving its own name over HTTP on ``port``, ready once the kubelet's httpGet probe (which
    dials the pod's IP) passes."""
    script = f'cd "$(mktemp -d)" && echo {name} > index.html && exec python3 -m http.server {port}'
    pod = busybox(name, node["metadata"]["name"], script)
    pod["spec"]["containers"][0]["readinessProbe"] = {"httpGet": {"port": port}, "periodSeconds": 1}
    return pod


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read().decode().strip()


def kexec(server: Server, ns: str, pod: str, *command: str, container: str = "", check: bool = True,
          ) -> subprocess.CompletedProcess:
    args = ["exec", pod, "-n", ns] + (["-c", container] if container else []) + ["--", *command]
    return server.kubectl(*args, check=check)


def test_node_says_pods_are_isolated_and_gives_its_pod_cidr(node: Obj) -> None:
    assert node["metadata"]["annotations"]["kubefacade.io/pod-isolation"] == "netns"
    cidr = node["spec"]["podCIDR"]
    assert node["spec"]["podCIDRs"] == [cidr]
    assert ipaddress.ip_network(cidr).num_addresses >= 4


def test_two_pods_listen_on_the_same_port_each_at_its_own_ip(server: Server, namespace: str, node: Obj) -> None:
    pods = [start(server, namespace, web(name, node)) for name in ("web-a", "web-b")]
    ips = [p["status"]["podIP"] for p in pods]
    assert ips[0] != ips[1]
    cidr = ipaddress.ip_network(node["spec"]["podCIDR"])
    for pod, ip in zip(pods, ips, strict=True):
        assert ipaddress.ip_address(ip) in cidr
        assert pod["status"]["podIPs"] == [{"ip": ip}]
        assert pod["status"]["hostIP"] != ip
    assert [fetch(f"http://{ip}:8080/") for ip in ips] == ["web-a", "web-b"]


def test_pod_reaches_another_pod_by_ip(server: Server, namespace: str, node: Obj) -> None:
    target = start(server, namespace, web("target", node))
    start(server, namespace, busybox("client", node["metadata"]["name"], "sleep 3600"))
    ip = target["status"]["podIP"]
    code = f"import urllib.request; print(urllib.request.urlopen('http://{ip}:8080/', timeout=5).read().decode())"
    assert kexec(server, namespace, "client", "python3", "-c", code).stdout == "target\n\n"


def test_exec_runs_in_the_pods_namespaces(server: Server, namespace: str, node: Obj) -> None:
    pod = start(server, namespace, busybox("where", node["metadata"]["name"], "sleep 3600"))
    assert kexec(server, namespace, "where", "hostname").stdout == "where\n"
    assert kexec(server, namespace, "where", "cat", "/etc/hostname").stdout == "where\n"
    addr = kexec(server, namespace, "where", "ip", "-o", "-4", "addr", "show", "dev", "eth0").stdout
    assert f" {pod['status']['podIP']}/" in addr
    hosts = kexec(server, namespace, "where", "cat", "/etc/hosts").stdout
    assert hosts.startswith("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n")
    assert hosts.endswith(f"\n{pod['status']['podIP']}\twhere\n")


def test_hostname_subdomain_and_host_aliases(server: Server, namespace: str, node: Obj) -> None:
    spec = {"hostname": "db-0", "subdomain": "db",
            "hostAliases": [{"ip": "10.1.2.3", "hostnames": ["foo.remote", "bar.remote"]}]}
    pod = start(server, namespace, busybox("named", node["metadata"]["name"], "sleep 3600", **spec))
    assert kexec(server, namespace, "named", "hostname").stdout == "db-0\n"
    hosts = kexec(server, namespace, "named", "cat", "/etc/hosts").stdout
    ip = pod["status"]["podIP"]
    assert f"\n{ip}\tdb-0.db.{namespace}.svc.cluster.local\tdb-0\n" in hosts
    assert hosts.endswith("\n\n# Entries added by HostAliases.\n10.1.2.3\tfoo.remote\tbar.remote\n")


def test_config_map_volume_appears_at_its_mount_path(server: Server, namespace: str, node: Obj) -> None:
    create(server, namespace, {"metadata": {"name": "app"}, "data": {"greeting": "hello"}}, "configmaps")
    mount = f"/kf-test-{uuid.uuid4().hex[:8]}/config"  # nowhere on the host
    pod = busybox("cm", node["metadata"]["name"], "sleep 3600")
    pod["spec"]["volumes"] = [{"name": "cfg", "configMap": {"name": "app"}}]
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "cfg", "mountPath": mount}]
    start(server, namespace, pod)
    assert kexec(server, namespace, "cm", "cat", f"{mount}/greeting").stdout == "hello"
    assert not Path(mount, "greeting").exists()  # the volume is mounted in the container only
    server.kubectl("delete", "pod", "cm", "-n", namespace)
    assert not Path(mount).parent.exists()  # the mount point made for it is gone with the container


def test_empty_dir_is_shared_by_two_containers_and_read_only_refuses_writes(server: Server, namespace: str,
                                                                            node: Obj) -> None:
    pod = busybox("pair", node["metadata"]["name"], "echo from-writer > /shared/msg; sleep 3600")
    reader = {"name": "reader", "image": "busybox", "command": ["sleep", "3600"],
              "volumeMounts": [{"name": "shared", "mountPath": "/shared", "readOnly": True}]}
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "shared", "mountPath": "/shared"}]
    pod["spec"]["containers"].append(reader)
    pod["spec"]["volumes"] = [{"name": "shared", "emptyDir": {}}]
    start(server, namespace, pod)
    wait_for(lambda: kexec(server, namespace, "pair", "cat", "/shared/msg", container="reader",
                           check=False).stdout == "from-writer\n", what="the writer's file in the reader")
    denied = kexec(server, namespace, "pair", "sh", "-c", "echo x > /shared/other", container="reader", check=False)
    assert denied.returncode != 0 and "Read-only file system" in denied.stderr
    assert kexec(server, namespace, "pair", "sh", "-c", "echo y > /shared/other && cat /shared/other",
                 container="c").stdout == "y\n"


def test_resolv_conf_follows_the_dns_policy(server: Server, namespace: str, node: Obj) -> None:
    cases = {
        "cluster-first": {},
        "default": {"dnsPolicy": "Default"},
        "none": {"dnsPolicy": "None", "dnsConfig": {"nameservers": ["1.1.1.1"], "searches": ["example.com"],
                                                    "options": [{"name": "ndots", "value": "2"}]}},
        "merged": {"dnsConfig": {"nameservers": ["8.8.8.8"], "searches": ["corp.example"],
                                 "options": [{"name": "ndots", "value": "1"}, {"name": "edns0"}]}},
    }
    for name, spec in cases.items():
        start(server, namespace, busybox(name, node["metadata"]["name"], "sleep 3600", **spec))
    got = {name: kexec(server, namespace, name, "cat", "/etc/resolv.conf").stdout for name in cases}
    host = Path("/etc/resolv.conf").read_text()
    assert got["cluster-first"].startswith(
        f"search {namespace}.svc.cluster.local svc.cluster.local cluster.local")
    assert got["cluster-first"].endswith("nameserver 10.96.0.10\noptions ndots:5\n")
    assert got["default"] == resolv_conf({"spec": {"dnsPolicy": "Default"}}, host)
    assert got["none"] == "search example.com\nnameserver 1.1.1.1\noptions ndots:2\n"
    assert got["merged"].endswith("nameserver 10.96.0.10\nnameserver 8.8.8.8\noptions ndots:1 edns0\n")
    assert got["merged"].split("\n")[0].endswith(" corp.example")


def test_deleting_a_pod_removes_its_network_namespace(server: Server, namespace: str, node: Obj) -> None:
    pod = start(server, namespace, busybox("gone", node["metadata"]["name"], "sleep 3600"))
    uid = pod["metadata"]["uid"]
    assert len(pod_netns(uid)) == 1
    server.kubectl("delete", "pod", "gone", "-n", namespace)
    wait_for(lambda: get_pod(server, namespace, "gone") is None, what="the pod to go")
    wait_for(lambda: not pod_netns(uid), what="its netns to go")
    ip = pod["status"]["podIP"]
    assert ip not in subprocess.run(["ip", "-o", "-4", "addr"], capture_output=True, text=True).stdout


def test_host_network_pod_keeps_the_hosts_network_and_name(server: Server, namespace: str, node: Obj) -> None:
    pod = start(server, namespace, busybox("hostnet", node["metadata"]["name"], "sleep 3600", hostNetwork=True))
    assert pod["status"]["podIP"] == pod["status"]["hostIP"]
    assert kexec(server, namespace, "hostnet", "hostname").stdout == os.uname().nodename + "\n"
    hosts = kexec(server, namespace, "hostnet", "cat", "/etc/hosts").stdout
    assert hosts.startswith("# Kubernetes-managed hosts file (host network).\n")


def test_no_pod_isolation_flag_keeps_pods_on_the_host_network() -> None:
    s = start_server("--no-pod-isolation", "--node-name", "shared-net-" + uuid.uuid4().hex[:6])
    try:
        name = node_name(s)
        code, _, body = s.request("GET", f"/api/v1/nodes/{name}")
        annotations = json.loads(body)["metadata"]["annotations"]
        assert annotations["kubefacade.io/pod-isolation"] == "none"
        ns = "plain"
        s.request("POST", "/api/v1/namespaces", json.dumps({"metadata": {"name": ns}}).encode())
        create(s, ns, busybox("flat", name, "sleep 3600"))
        pod = wait_pod(s, ns, "flat", lambda p: phase(p) == "Running", timeout=30)
        assert pod["status"]["podIP"] == pod["status"]["hostIP"]
        assert kexec(s, ns, "flat", "hostname").stdout == os.uname().nodename + "\n"
    finally:
        stop_server(s)


def pod_netns(uid: str) -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.split() and line.split()[0].endswith(f"_{uid}")]


def test_a_new_run_of_a_node_removes_what_a_killed_run_left(node: Obj) -> None:
    name = "crashed-" + uuid.uuid4().hex[:6]
    s = start_server("--node-name", name)
    try:
        s.request("POST", "/api/v1/namespaces", json.dumps({"metadata": {"name": "left"}}).encode())
        pod = start(s, "left", busybox("orphan", name, "sleep 3600"))
    finally:
        s.process.kill()  # no chance to clean up
        s.process.wait()
    left = pod_netns(pod["metadata"]["uid"])
    assert len(left) == 1
    pids = subprocess.run(["ip", "netns", "pids", left[0]], capture_output=True, text=True).stdout.split()
    for pid in pids:  # the killed server's containers outlive it (each has its own session)
        os.kill(int(pid), 9)
    s2 = start_server("--node-name", name)
    try:
        assert pod_netns(pod["metadata"]["uid"]) == []
    finally:
        stop_server(s2)
