"""The benchmark (`kubefacade bench`): its report's shape, that failures are counted, and its parts.

Most tests run a tiny bench (a few hundred objects, about a second a phase) against the stand-in
server of test_bench_standin.py; one runs it against the real `kubefacade serve`.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import sys
import time
from pathlib import Path

import pytest
from test_bench_standin import start_standin

from conformance import bench, serverbench
from conformance.httpclient import Connection
from conformance.kubeconfig import KubeconfigError, load_kubeconfig
from conformance.procstat import cpu_seconds, pids_listening_on, rss_bytes
from conformance.stats import percentile, summary_ms
from conformance.wrk_runner import parse_result, result_from_json, run_wrk

needs_wrk = pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
STANDIN = str(Path(__file__).with_name("test_bench_standin.py"))
TINY = ["--objects", "300", "--duration", "1", "--concurrency", "8", "--list-runs", "1", "--watch-events", "20"]


@pytest.fixture
def standin(tmp_path):
    proc, kubeconfig, port = start_standin(tmp_path)
    yield kubeconfig, proc
    proc.kill()
    proc.wait()


@pytest.fixture
def failing_standin(tmp_path):
    """A stand-in that answers every 5th create with 500 InternalError."""
    proc, kubeconfig, port = start_standin(tmp_path, fail_every=5)
    yield kubeconfig, proc
    proc.kill()
    proc.wait()


# --- kubeconfig -------------------------------------------------------------------------------

def write_config(path: Path, cluster: dict, user: dict) -> Path:
    import yaml

    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "cl", "cluster": cluster}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "c", "context": {"cluster": "cl", "user": "u"}}],
    }))
    return path


def test_kubeconfig_inline_ca_data_is_written_to_a_private_file(tmp_path):
    pem = b"-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----\n"
    cfg = write_config(tmp_path / "kc", {"server": "https://10.0.0.1:6443",
                                         "certificate-authority-data": base64.b64encode(pem).decode()},
                       {"token": "t0k"})
    access = load_kubeconfig(str(cfg))
    assert (access.host, access.port, access.scheme) == ("10.0.0.1", 6443, "https")
    assert Path(access.ca_file).read_bytes() == pem
    assert os.stat(access.ca_file).st_mode & 0o077 == 0
    assert access.auth_headers() == {"Authorization": "Bearer t0k"}


def test_kubeconfig_relative_paths_and_token_file_resolve_next_to_the_kubeconfig(tmp_path):
    (tmp_path / "token").write_text("from-file\n")
    cfg = write_config(tmp_path / "kc", {"server": "https://example.test", "certificate-authority": "ca.crt"},
                       {"tokenFile": "token"})
    access = load_kubeconfig(str(cfg))
    assert access.port == 443
    assert access.ca_file == str(tmp_path / "ca.crt")
    assert access.token == "from-file"


def test_kubeconfig_client_certificate_is_recognised_as_unusable_by_wrk(tmp_path):
    cfg = write_config(tmp_path / "kc", {"server": "https://127.0.0.1:1"},
                       {"client-certificate": "/x/c.crt", "client-key": "/x/c.key"})
    access = load_kubeconfig(str(cfg))
    assert access.needs_client_cert and access.auth_headers() == {}


def test_kubeconfig_unknown_context_is_an_error(tmp_path):
    cfg = write_config(tmp_path / "kc", {"server": "https://127.0.0.1:1"}, {})
    with pytest.raises(KubeconfigError, match="context 'nope' is not defined"):
        load_kubeconfig(str(cfg), context="nope")


# --- /proc and statistics ------------------------------------------------------------------------

def test_cpu_seconds_grow_while_a_process_computes():
    before = cpu_seconds([os.getpid()])
    deadline = time.process_time() + 0.1
    while time.process_time() < deadline:
        pass
    assert cpu_seconds([os.getpid()]) - before >= 0.05
    assert rss_bytes(os.getpid()) > 1024 * 1024


def test_server_pid_is_found_from_its_listening_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        assert os.getpid() in pids_listening_on(sock.getsockname()[1])


def test_percentiles_interpolate_between_samples():
    assert percentile([], 50) is None
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile(list(range(101)), 99) == 99
    assert summary_ms([0.001, 0.002, 0.003])["p50"] == 2.0


# --- wrk -------------------------------------------------------------------------------------------

def test_wrk_result_counts_non_2xx_and_socket_errors_as_failures():
    line = ('Running 1s test\nKUBEFACADE_WRK_RESULT {"requests":10,"duration_us":1000000,"bytes":5,'
            '"first_us":1000000,"last_us":1500000,"errors":{"connect":1,"read":0,"write":0,"status":3,"timeout":2},'
            '"statuses":{"201":6,"409":1,"500":3},"latency_us":{"min":1,"mean":2.0,"max":3,"p50":2000,"p90":2,'
            '"p99":3000,"p999":3}}\n')
    result = result_from_json(parse_result(line))
    assert result.ok == 6
    assert result.failed == 4 + 3
    assert result.elapsed_s == 0.5
    assert result.ops_per_s == 12.0
    assert result.report()["latency_ms"]["p99"] == 3.0


@needs_wrk
def test_wrk_counts_404s_of_a_missing_object_and_none_as_ok(standin):
    access = load_kubeconfig(str(standin[0]))
    path = "/api/v1/namespaces/default/configmaps/missing"
    result = run_wrk(access, "get", path, [path], connections=4, threads=1, duration_s=1)
    assert result.requests > 0
    assert result.statuses == {404: result.requests}
    assert result.ok == 0 and result.failed == result.requests


@needs_wrk
def test_capped_create_sends_exactly_n_requests_and_ends_early(standin):
    access = load_kubeconfig(str(standin[0]))
    started = time.monotonic()
    result = run_wrk(access, "create", "/api/v1/namespaces/default/configmaps", ["default", "123", "16", "2"],
                     connections=8, threads=2, duration_s=60, capped=True)
    assert time.monotonic() - started < 20
    assert result.statuses == {201: 123}
    with Connection(access) as conn:
        assert len(conn.request("GET", "/api/v1/namespaces/default/configmaps").json()["items"]) == 123


# --- the whole bench -----------------------------------------------------------------------------

@needs_wrk
def test_tiny_bench_reports_every_phase_with_rates_and_latencies(standin, capsys):
    kubeconfig, proc = standin
    assert bench.main(["--kubeconfig", str(kubeconfig), *TINY, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["errors"] == 0
    assert report["server_pids"] == [proc.pid]
    phases = report["phases"]
    assert set(phases) == {"create", "list_paged", "list_unpaged", "get", "update", "watch"}
    assert phases["create"]["ok"] == 300 and phases["create"]["statuses"] == {"201": 300}
    for name in ("create", "get", "update"):
        assert phases[name]["ops_per_s"] > 0
        assert 0 < phases[name]["latency_ms"]["p50"] <= phases[name]["latency_ms"]["p99"]
        assert phases[name]["server_cpu_s_per_1k_ops"] is not None
    assert phases["list_paged"]["objects"] == 300 and phases["list_paged"]["pages"] == 1
    assert phases["list_unpaged"]["objects"] == 300 and phases["list_unpaged"]["ms"] > 0
    assert phases["watch"]["events"] == 20 and phases["watch"]["missed"] == 0
    assert phases["watch"]["latency_ms"]["p99"] is not None


@needs_wrk
def test_bench_deletes_its_namespace_afterwards(standin, capsys):
    kubeconfig, _ = standin
    bench.main(["--kubeconfig", str(kubeconfig), *TINY, "--json"])
    namespace = json.loads(capsys.readouterr().out)["namespace"]
    with Connection(load_kubeconfig(str(kubeconfig))) as conn:
        assert conn.request("GET", f"/api/v1/namespaces/{namespace}/configmaps").status == 404


@needs_wrk
def test_failed_creates_are_counted_reported_and_fail_the_run(failing_standin, capsys):
    kubeconfig, _ = failing_standin
    assert bench.main(["--kubeconfig", str(kubeconfig), *TINY, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    create = report["phases"]["create"]
    assert create["statuses"] == {"201": 240, "500": 60}
    assert create["ok"] == 240 and create["errors"] == 60
    assert report["errors"] >= 60
    assert report["phases"]["list_paged"]["objects"] == 240


@needs_wrk
def test_human_report_names_the_failures(failing_standin, capsys):
    kubeconfig, _ = failing_standin
    assert bench.main(["--kubeconfig", str(kubeconfig), *TINY]) == 1
    out = capsys.readouterr().out
    assert "ERRORS 60 (HTTP 500: 60)" in out
    assert "errors: 60" in out


def test_a_refused_token_stops_the_bench_with_the_servers_answer(standin, tmp_path, capsys):
    kubeconfig, _ = standin
    bad = tmp_path / "bad-kubeconfig"
    bad.write_text(kubeconfig.read_text().replace("standin-token", "wrong").replace(
        "certificate-authority: ca.crt", f"certificate-authority: {kubeconfig.parent / 'ca.crt'}"))
    assert bench.main(["--kubeconfig", str(bad), *TINY]) == 2
    assert "HTTP 401" in capsys.readouterr().err


# --- start-up and memory ----------------------------------------------------------------------------

def test_startup_is_timed_for_each_run():
    report = serverbench.measure_startup([sys.executable, STANDIN], runs=2)
    assert len(report["runs_ms"]) == 2
    assert all(ms > 0 for ms in report["runs_ms"])
    assert min(report["runs_ms"]) <= report["median_ms"] <= max(report["runs_ms"])


@needs_wrk
def test_memory_is_read_after_each_stored_count():
    report = serverbench.measure_memory([sys.executable, STANDIN], [100, 250], value_bytes=64)
    assert [step["objects"] for step in report["steps"]] == [100, 250]
    assert [step["stored"] for step in report["steps"]] == [100, 250]
    assert all(step["errors"] == 0 and step["rss_mib"] > 10 for step in report["steps"])


# --- against the real server -------------------------------------------------------------------------

@needs_wrk
def test_tiny_bench_against_kubefacade_serve_has_no_errors(tmp_path, capsys):
    pytest.importorskip("facade.server")
    server = serverbench.launch(serverbench.DEFAULT_SERVER_CMD, tmp_path / "data")
    try:
        serverbench.wait_ready(server)
        assert bench.main(["--kubeconfig", str(tmp_path / "data" / "kubeconfig"), *TINY, "--json"]) == 0
    finally:
        server.stop()
    report = json.loads(capsys.readouterr().out)
    assert report["errors"] == 0
    assert report["phases"]["create"]["statuses"] == {"201": 300}
    assert report["phases"]["watch"]["events"] == 20


# --- the Python load generator (for client-certificate kubeconfigs) -----------------------------------

def test_python_generator_reports_the_same_shape_and_says_so(standin, capsys):
    kubeconfig, _ = standin
    assert bench.main(["--kubeconfig", str(kubeconfig), *TINY, "--generator", "python", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["generator"] == "python" and report["errors"] == 0
    assert report["phases"]["create"]["statuses"] == {"201": 300}
    for name in ("create", "get", "update"):
        assert report["phases"][name]["ops_per_s"] > 0
        assert report["phases"][name]["latency_ms"]["p50"] > 0


def test_python_generator_counts_failed_creates_too(failing_standin, capsys):
    kubeconfig, _ = failing_standin
    assert bench.main(["--kubeconfig", str(kubeconfig), *TINY, "--generator", "python"]) == 1
    out = capsys.readouterr().out
    assert "lower bound" in out
    assert "ERRORS 60 (HTTP 500: 60)" in out


def test_client_certificate_kubeconfig_picks_the_python_generator(tmp_path):
    from conformance.phases import pick_generator

    cfg = write_config(tmp_path / "kc", {"server": "https://127.0.0.1:1"},
                       {"client-certificate": "/x/c.crt", "client-key": "/x/c.key"})
    assert pick_generator(load_kubeconfig(str(cfg)), "auto") == "python"
    assert pick_generator(load_kubeconfig(str(cfg)), "wrk") == "wrk"
