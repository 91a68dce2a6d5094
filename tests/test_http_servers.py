"""Both HTTP servers: uvicorn (the HTTP/1.1 default) and hypercorn (HTTP/2 through ALPN, --http2)."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.conftest import Server, start_server, stop_server


@pytest.fixture(scope="module")
def h2_server():
    s = start_server("--http2")
    yield s
    stop_server(s)


def curl_http_version(server: Server, path: str) -> tuple[str, str]:
    out = subprocess.run(
        ["curl", "-s", "--http2", "--cacert", str(server.ca), "-H", f"Authorization: Bearer {server.token}",
         "-o", "/dev/null", "-w", "%{http_version} %{http_code}", server.url + path],
        capture_output=True, text=True, timeout=20, check=True,
    ).stdout.split()
    return out[0], out[1]


def test_default_server_speaks_http_1_1(server):
    assert curl_http_version(server, "/api/v1/namespaces") == ("1.1", "200")


def test_http2_server_negotiates_h2(h2_server):
    assert curl_http_version(h2_server, "/api/v1/namespaces") == ("2", "200")


def test_kubectl_works_over_http2_including_watch(h2_server):
    assert "namespace/default" in h2_server.kubectl("get", "ns", "-o", "name").stdout
    body = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"over-h2"}}'
    assert h2_server.request("POST", "/api/v1/namespaces/default/configmaps", body)[0] == 201
    env = dict(os.environ, KUBECONFIG=str(h2_server.kubeconfig))
    proc = subprocess.run(["kubectl", "get", "cm", "-n", "default", "-w", "--request-timeout=3s"],
                          capture_output=True, text=True, env=env, timeout=30)
    assert "over-h2" in proc.stdout
