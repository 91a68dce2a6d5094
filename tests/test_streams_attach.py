"""`kubectl attach` and the Python client's attach stream: a running container's new output, live."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time

from kubernetes import client
from kubernetes.stream import stream

# Ticks until a file named "stop" appears in its working directory (which `kubectl exec` shares).
TICKER = 'i=0; while [ ! -f stop ]; do i=$((i+1)); echo tick $i; sleep 0.1; done; echo bye'


def _ticking_pod(server, ns: str, name: str, script: str = TICKER) -> None:
    server.request("POST", "/api/v1/namespaces", json.dumps({"metadata": {"name": ns}}).encode())
    server.kubectl("run", name, "-n", ns, "--image=busybox", "--restart=Never", "--command", "--",
                   "sh", "-c", script)
    server.kubectl("wait", "--for=condition=Ready", f"pod/{name}", "-n", ns, "--timeout=30s")


def test_kubectl_attach_streams_new_output_until_the_container_exits(server):
    ns = "attach-" + os.urandom(3).hex()
    _ticking_pod(server, ns, "ticker")
    time.sleep(0.5)  # the real clock drives the container's own sleep: let ticks accumulate first
    env = dict(os.environ, KUBECONFIG=str(server.kubeconfig))
    attach = subprocess.Popen(["kubectl", "attach", "ticker", "-n", ns], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env)
    try:
        first = attach.stdout.readline()
        server.kubectl("exec", "ticker", "-n", ns, "--", "touch", "stop")
        rest, _ = attach.communicate(timeout=30)
    finally:
        attach.kill()
    assert attach.returncode == 0
    assert int(re.fullmatch(r"tick (\d+)\n", first).group(1)) > 1  # what was written before is not replayed
    assert rest.endswith("bye\n")


def test_python_client_attach_reads_live_output(server, api):
    ns = "attach-" + os.urandom(3).hex()
    _ticking_pod(server, ns, "ticker")
    resp = stream(client.CoreV1Api(api).connect_get_namespaced_pod_attach, "ticker", ns,
                  stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
    seen = ""
    for _ in range(100):
        resp.update(timeout=0.2)
        seen += resp.read_stdout()
        if seen.count("\n") >= 2:
            break
    resp.close()
    assert re.match(r"tick \d+\ntick \d+\n", seen)


def test_attach_to_an_unknown_container_is_refused_on_the_error_channel(server, api):
    ns = "attach-" + os.urandom(3).hex()
    _ticking_pod(server, ns, "idle", "sleep 3600")
    resp = stream(client.CoreV1Api(api).connect_get_namespaced_pod_attach, "idle", ns, container="nope",
                  stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
    resp.run_forever(timeout=10)
    status = json.loads(resp.read_channel(3))
    assert status["status"] == "Failure"
    assert status["reason"] == "BadRequest"
    assert "nope" in status["message"]
