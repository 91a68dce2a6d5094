"""`kubefacade bench nodeport`: the report a user gets (fields, both backends, both targets), run
at a tiny duration against a server the bench starts itself. No figure is asserted: speed is what
the bench measures, not what a unit test can pin down.

It needs wrk and busybox (busybox httpd is the measured pod): without them the test skips on a
user's machine and fails in CI (CI=true), where .ci/run and .ci/dockerd.sh install both.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from conformance.nodeportbench import format_nodeport
from conformance.plainwrk import result_from
from conformance.wrk_runner import parse_result


def require(tool: str) -> None:
    if shutil.which(tool) is None:
        why = f"{tool} is not installed (apt-get install {'wrk' if tool == 'wrk' else 'busybox-static'})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must run the NodePort bench: {why}")
        pytest.skip(why)


def run_bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "facade.cli", "bench", "nodeport", *args],
                          capture_output=True, text=True, timeout=240)


def nft_tables() -> str:
    if os.geteuid() != 0 or shutil.which("nft") is None:
        return ""
    return subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout


def test_nodeport_bench_reports_direct_and_nodeport_figures_for_both_backends() -> None:
    require("wrk")
    require("busybox")
    proc = run_bench("--duration", "1", "--connections", "4", "--json")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    report = json.loads(proc.stdout)
    assert report["connections"] == 4 and report["threads"] == 2 and report["duration_s"] == 1
    assert report["errors"] == 0
    assert report["proxy_mode"] in ("userspace", "nftables DNAT (userspace for sessionAffinity ClientIP)")
    assert set(report["variants"]) == {"httpd", "keepalive"}
    for variant in report["variants"].values():
        assert len(set(variant["pods"])) == 2  # two distinct ready endpoints behind the Service
        assert 30000 <= variant["node_port"] <= 32767
        assert variant["nodeport"]["url"] == f"http://127.0.0.1:{variant['node_port']}/"
        assert variant["direct"]["url"] == f"http://{variant['pods'][0]}/"
        for where in ("direct", "nodeport"):
            run = variant[where]
            assert run["requests"] > 0 and run["req_per_s"] > 0 and run["error_total"] == 0
            assert set(run["latency_ms"]) >= {"p50", "p90", "p99", "max"}
        expected = round(variant["nodeport"]["latency_ms"]["p99"] - variant["direct"]["latency_ms"]["p99"], 3)
        assert variant["added_p99_ms"] == expected
    assert report["variants"]["httpd"]["backend"] == "busybox httpd (Connection: close)"
    assert set(report["bar"]) == {"req_per_s", "added_p99_ms", "met"}
    text = format_nodeport(report)
    assert re.search(r"nodeport\s+http://127\.0\.0\.1:\d+/ .* req/s\s+p50 [\d.]+ ms\s+p99 [\d.]+ ms", text)
    assert "added latency: p50" in text
    for pid in report["server_pids"]:  # the stopped server left no DNAT rules behind
        assert f"kubefacade_np_{pid}" not in nft_tables()


def test_nodeport_bench_without_a_reachable_cluster_says_why() -> None:
    require("wrk")
    proc = run_bench("--kubeconfig", "/nonexistent/kubeconfig")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and "/nonexistent/kubeconfig" in proc.stderr


def test_plain_wrk_result_line_is_read_into_rates_and_milliseconds() -> None:
    line = ('KUBEFACADE_WRK_RESULT {"requests":2000,"duration_us":1000000,"bytes":1,"errors":{"connect":0,'
            '"read":0,"write":0,"status":10,"timeout":0},"latency_us":{"p50":1500,"p90":2000,"p99":4250,'
            '"p999":9000,"max":12000,"mean":1600.5}}')
    result = result_from(parse_result("Running 1s test\n" + line + "\n"))
    report = result.report()
    assert report["req_per_s"] == 1990.0  # answers with status >= 400 are not throughput
    assert report["error_total"] == 10
    assert report["latency_ms"]["p99"] == 4.25
