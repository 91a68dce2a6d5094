"""The pod's /etc files and mount plan as kubelet and the container runtime make them (no root needed)."""

from __future__ import annotations

import os
from pathlib import Path

from runtime.interface import Mount
from runtime.pod_files import dns_config, hosts_file, pod_hostname, resolv_conf
from runtime.pod_mounts import MountPoints, container_binds, host_targets, mount_script

HOST_RESOLV = "# generated\nnameserver 192.168.1.1\nnameserver 192.168.1.2\nsearch corp.example lab.example\n" \
              "options timeout:2 rotate\n"


def pod(**spec: object) -> dict:
    return {"metadata": {"name": "web-0", "namespace": "shop"}, "spec": dict(spec)}


def test_hostname_is_spec_hostname_or_name_cut_to_63_without_trailing_dash() -> None:
    assert pod_hostname(pod()) == "web-0"
    assert pod_hostname(pod(hostname="db")) == "db"
    long = {"metadata": {"name": "a" * 62 + "-bbb", "namespace": "x"}, "spec": {}}
    assert pod_hostname(long) == "a" * 62
    assert pod_hostname(pod(hostname="db", subdomain="dbs", setHostnameAsFQDN=True)) == "db.dbs.shop.svc.cluster.local"


def test_cluster_first_uses_cluster_dns_then_host_searches() -> None:
    assert resolv_conf(pod(), HOST_RESOLV) == (
        "search shop.svc.cluster.local svc.cluster.local cluster.local corp.example lab.example\n"
        "nameserver 10.96.0.10\noptions ndots:5\n")


def test_default_and_host_network_cluster_first_use_the_hosts_resolver() -> None:
    host = ["192.168.1.1", "192.168.1.2"], ["corp.example", "lab.example"], ["timeout:2", "rotate"]
    assert dns_config(pod(dnsPolicy="Default"), HOST_RESOLV) == host
    assert dns_config(pod(hostNetwork=True), HOST_RESOLV) == host
    servers, _, _ = dns_config(pod(hostNetwork=True, dnsPolicy="ClusterFirstWithHostNet"), HOST_RESOLV)
    assert servers == ["10.96.0.10"]


def test_none_takes_only_dns_config_and_others_merge_it() -> None:
    cfg = {"nameservers": ["1.1.1.1", "10.96.0.10"], "searches": ["svc.cluster.local", "extra.example"],
           "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}
    assert resolv_conf(pod(dnsPolicy="None", dnsConfig=cfg), HOST_RESOLV) == (
        "search svc.cluster.local extra.example\nnameserver 1.1.1.1\nnameserver 10.96.0.10\n"
        "options ndots:2 edns0\n")
    servers, searches, options = dns_config(pod(dnsConfig=cfg), HOST_RESOLV)
    assert servers == ["10.96.0.10", "1.1.1.1"]  # duplicates dropped, order kept
    assert searches[-1] == "extra.example" and searches.count("svc.cluster.local") == 1
    assert options == ["ndots:2", "edns0"]


def test_hosts_file_for_pod_and_host_network() -> None:
    text = hosts_file(pod(hostAliases=[{"ip": "10.0.0.9", "hostnames": ["a.example", "b.example"]}]), ["10.244.0.7"])
    assert text.splitlines()[0] == "# Kubernetes-managed hosts file."
    assert "\n10.244.0.7\tweb-0\n\n# Entries added by HostAliases.\n10.0.0.9\ta.example\tb.example\n" in text
    assert "10.244.0.7\tweb-0.web.shop.svc.cluster.local\tweb-0\n" in hosts_file(pod(subdomain="web"), ["10.244.0.7"])
    host = hosts_file(pod(hostNetwork=True), ["192.0.2.2"], "127.0.0.1 localhost")
    assert host == "# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost\n"


def test_mounts_go_parents_first_and_nested_ones_are_made_inside_the_volume(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "conf").mkdir()
    (tmp_path / "hosts").write_text("")
    mounts = [Mount("conf", tmp_path / "conf", "/data/conf/", read_only=True), Mount("data", tmp_path / "data", "/data")]
    binds = container_binds(mounts, {"/etc/hosts": tmp_path / "hosts"})
    assert [b.target for b in binds] == ["/data", "/data/conf", "/etc/hosts"]
    assert host_targets(binds) == [("/data", True), ("/etc/hosts", False)]
    script = mount_script(binds, "/data")
    assert script.index("mount --rbind") < script.index("[ -e /data/conf ] || mkdir -p /data/conf")
    assert "mount -o remount,bind,ro /data/conf" in script and script.endswith('cd /data 2>/dev/null || true\nexec "$@"')
    own_hosts = container_binds([Mount("h", tmp_path / "data", "/etc/hosts")], {"/etc/hosts": tmp_path / "hosts"})
    assert [str(b.source) for b in own_hosts] == [str(tmp_path / "data")]  # the container's own volume wins


def test_mount_points_made_on_the_host_go_when_the_last_container_leaves(tmp_path: Path) -> None:
    points = MountPoints(tmp_path / "state")
    target = tmp_path / "made" / "deep"
    existing = tmp_path / "existing"
    existing.mkdir()
    points.acquire(f"{os.getpid()}:a", [(str(target), True), (str(existing), True)])
    points.acquire(f"{os.getpid()}:b", [(str(target), True)])
    assert target.is_dir()
    points.release(f"{os.getpid()}:a")
    assert target.is_dir()  # still held by b
    points.acquire("999999999:dead", [(str(tmp_path / "made" / "file"), False)])
    assert (tmp_path / "made" / "file").is_file()
    points.release(f"{os.getpid()}:b")
    assert not (tmp_path / "made").exists()  # a dead process's holds do not keep anything
    assert existing.is_dir()  # never made here, never removed
