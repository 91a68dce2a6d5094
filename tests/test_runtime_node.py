"""The node agent registers its Node and Lease as kubelet does."""

from __future__ import annotations

import json

from conftest import Server
from runtime_helpers import node_name


def test_node_is_registered_ready_with_kubelet_conditions(server: Server) -> None:
    name = node_name(server)
    node = json.loads(server.kubectl("get", "node", name, "-o", "json").stdout)
    conds = {c["type"]: c for c in node["status"]["conditions"]}
    assert [c["type"] for c in node["status"]["conditions"]] == ["MemoryPressure", "DiskPressure", "PIDPressure",
                                                                  "Ready"]
    assert (conds["Ready"]["status"], conds["Ready"]["reason"], conds["Ready"]["message"]) == (
        "True", "KubeletReady", "kubelet is posting ready status")
    assert (conds["MemoryPressure"]["reason"], conds["MemoryPressure"]["message"]) == (
        "KubeletHasSufficientMemory", "kubelet has sufficient memory available")
    assert conds["DiskPressure"]["reason"] == "KubeletHasNoDiskPressure"
    assert conds["PIDPressure"]["message"] == "kubelet has sufficient PID available"
    assert all(c["lastHeartbeatTime"] and c["lastTransitionTime"] for c in conds.values())
    status = node["status"]
    assert set(status["capacity"]) >= {"cpu", "memory", "pods", "ephemeral-storage"}
    assert status["capacity"]["pods"] == "110"
    assert status["allocatable"]["cpu"] == status["capacity"]["cpu"]
    assert status["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
    assert status["nodeInfo"]["kubeletVersion"] == "v1.32.0"
    assert status["nodeInfo"]["containerRuntimeVersion"].startswith("process://")
    assert status["nodeInfo"]["operatingSystem"] == "linux"
    assert {a["type"] for a in status["addresses"]} == {"InternalIP", "Hostname"}
    labels = node["metadata"]["labels"]
    assert labels["kubernetes.io/hostname"] == name and labels["kubernetes.io/os"] == "linux"
    annotations = node["metadata"]["annotations"]
    isolated = annotations["kubefacade.io/pod-isolation"] == "netns"  # as root on Linux (runtime/pod_isolation.py)
    assert isolated or annotations["kubefacade.io/pod-isolation"] == "none"
    assert ("with pod isolation" if isolated else "without isolation") in annotations["kubefacade.io/isolation"]
    out = server.kubectl("get", "nodes").stdout
    assert name in out and " Ready " in out and "v1.32.0" in out


def test_node_lease_is_held_by_the_node(server: Server) -> None:
    name = node_name(server)
    lease = json.loads(server.kubectl("get", "lease", name, "-n", "kube-node-lease", "-o", "json").stdout)
    assert lease["spec"]["holderIdentity"] == name
    assert lease["spec"]["leaseDurationSeconds"] == 40
    assert lease["spec"]["renewTime"].endswith("Z") and "." in lease["spec"]["renewTime"]
    owner = lease["metadata"]["ownerReferences"][0]
    node = json.loads(server.kubectl("get", "node", name, "-o", "json").stdout)
    assert (owner["kind"], owner["name"], owner["uid"]) == ("Node", name, node["metadata"]["uid"])


def test_python_client_reads_the_node(server: Server, api) -> None:
    from kubernetes import client

    nodes = client.CoreV1Api(api).list_node().items
    node = next(n for n in nodes if n.metadata.name == node_name(server))
    assert node.status.node_info.kubelet_version == "v1.32.0"
    assert node.status.daemon_endpoints.kubelet_endpoint.port == 10250


def test_stopping_the_server_stops_its_containers() -> None:
    import subprocess
    import uuid

    from conftest import start_server, stop_server
    from runtime_helpers import busybox, create, phase, wait_pod

    marker = f"sleep 4{uuid.uuid4().int % 10**6:06d}"
    s = start_server()
    try:
        create(s, "default", busybox("outlived", node_name(s), marker))
        wait_pod(s, "default", "outlived", lambda p: phase(p) == "Running")
        assert subprocess.run(["pgrep", "-f", marker], capture_output=True).returncode == 0
    finally:
        stop_server(s)
    assert subprocess.run(["pgrep", "-f", marker], capture_output=True).returncode == 1
