"""Human-readable rendering of the benchmark's reports (the JSON form is the dict itself)."""

from __future__ import annotations

from typing import Any


def _num(value: Any, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}{unit}"
    return f"{value:,}{unit}"


def _cpu(phase: dict[str, Any]) -> str:
    per = phase.get("server_cpu_s_per_1k_ops")
    return f"  server CPU {per:.3f} s/1k ops" if per is not None else ""


def _errors(phase: dict[str, Any]) -> str:
    if not phase.get("errors"):
        return ""
    statuses = phase.get("statuses") or {}
    bad = {code: n for code, n in statuses.items() if not code.startswith("2")}
    sockets = {k: n for k, n in (phase.get("socket_errors") or {}).items() if n}
    detail = ", ".join([f"HTTP {c}: {n}" for c, n in bad.items()] + [f"{k}: {n}" for k, n in sockets.items()])
    return f"  ERRORS {phase['errors']}" + (f" ({detail})" if detail else "")


def format_report(report: dict[str, Any]) -> str:
    """The main bench's report as an aligned table, one line a phase."""
    lines = [
        f"server {report['server']}  (pids {report.get('server_pids') or 'unknown'})",
        f"{report['objects']:,} objects, {report['concurrency']} connections, "
        f"{report['duration_s']:g} s per timed phase, generator {report['generator']}",
    ]
    if report["generator"] == "python":
        lines.append("(Python load generator: its own CPU limits these rates; they are a lower bound)")
    lines.append("")
    phases = report["phases"]
    for name in ("create", "get", "update"):
        phase = phases.get(name)
        if not phase:
            continue
        lat = phase["latency_ms"]
        lines.append(
            f"{name:<13}{_num(phase['ops_per_s'], ' ops/s'):>16}   p50 {_num(lat['p50'], ' ms', 2):>10}"
            f"   p99 {_num(lat['p99'], ' ms', 2):>10}   ({_num(phase['ok'])} ok){_cpu(phase)}{_errors(phase)}"
        )
    for name, label in (("list_paged", "list paged"), ("list_unpaged", "list unpaged")):
        phase = phases.get(name)
        if phase:
            extra = f", {phase['pages']} pages of {phase['page_size']}" if "pages" in phase else ""
            lines.append(f"{label:<13}{_num(phase['ms'], ' ms'):>16}   ({_num(phase['objects'])} objects{extra})"
                         f"{_cpu(phase)}{_errors(phase)}")
    watch = phases.get("watch")
    if watch:
        lat = watch.get("latency_ms") or {}
        lines.append(f"{'watch':<13}{'':>16}   p50 {_num(lat.get('p50'), ' ms', 2):>10}   p99 "
                     f"{_num(lat.get('p99'), ' ms', 2):>10}   ({watch.get('events', 0)} events, "
                     f"{watch.get('missed', 0)} missed, {watch.get('before_response', 0)} before the response)"
                     f"{_errors(watch)}")
        full = watch.get("from_request_ms") or {}
        lines.append(f"{'':<13}{'':>16}   write sent to event: p50 {_num(full.get('p50'), ' ms', 2)}, "
                     f"p99 {_num(full.get('p99'), ' ms', 2)}")
    if report.get("error"):
        lines.append(f"error: {report['error']}")
    lines.append("")
    lines.append(f"errors: {report['errors']}" + ("" if report["errors"] else " (every response was 2xx)"))
    return "\n".join(lines)


def format_startup(report: dict[str, Any]) -> str:
    runs = ", ".join(f"{ms:.0f}" for ms in report["runs_ms"])
    return f"start-up to /readyz: median {report['median_ms']:.0f} ms  (runs: {runs} ms)"


def format_memory(report: dict[str, Any]) -> str:
    lines = [f"resident memory (VmRSS) of `{' '.join(report['command'])}`:"]
    lines.append(f"  {'empty':>10}: {report['baseline_rss_mib']:.1f} MiB")
    for step in report["steps"]:
        lines.append(f"  {step['objects']:>10,}: {step['rss_mib']:.1f} MiB  "
                     f"({step['value_bytes']} B values, created in {step['create_s']:.1f} s, "
                     f"{step['errors']} errors)")
    return "\n".join(lines)
