"""`kubefacade node`: an agent in its own process, talking to the API server over HTTPS only."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile

from conftest import free_port, start_server, stop_server
from runtime_helpers import busybox, create, cstatus, get_pod, phase, wait_for, wait_pod


def test_separate_node_process_registers_and_runs_pods() -> None:
    server = start_server("--no-node")
    data_dir = tempfile.mkdtemp(prefix="kubefacade-node-")
    port = free_port()
    agent = subprocess.Popen(
        [sys.executable, "-m", "facade.cli", "node", "--kubeconfig", str(server.kubeconfig), "--name", "remote-1",
         "--runtime", "process", "--data-dir", data_dir, "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def node_ready() -> bool:
            code, _, body = server.request("GET", "/api/v1/nodes/remote-1")
            if code != 200:
                return False
            conds = json.loads(body)["status"]["conditions"]
            return any(c["type"] == "Ready" and c["status"] == "True" for c in conds)

        wait_for(node_ready, timeout=15, what="remote node Ready")
        assert server.kubectl("get", "nodes").stdout.count("\n") == 2  # header + remote-1 only
        create(server, "default", busybox("remote-pod", "remote-1", "echo hi; sleep 3600"))
        p = wait_pod(server, "default", "remote-pod", lambda p: phase(p) == "Running")
        assert cstatus(p)["containerID"].startswith("process://")
        logs = wait_for(lambda: server.kubectl("logs", "remote-pod").stdout, what="logs through the node endpoint")
        assert logs == "hi\n"
        assert server.kubectl("logs", "remote-pod", "--tail=1", "--timestamps").stdout.endswith("Z hi\n")
        missing = server.kubectl("logs", "remote-pod", "--previous", check=False)
        assert 'previous terminated container "c" in pod "remote-pod" not found' in missing.stderr
        server.kubectl("delete", "pod", "remote-pod", "--wait=false")
        wait_for(lambda: get_pod(server, "default", "remote-pod") is None, what="pod removed by the remote agent")
        code, _, body = server.request("GET", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/remote-1")
        assert code == 200 and json.loads(body)["spec"]["holderIdentity"] == "remote-1"
    finally:
        agent.terminate()
        agent.wait(10)
        stop_server(server)
