"""`kubefacade bench scale`: how long the controllers take to bring many pods where they are asked to be.

Three scenarios, each timed from its first write to the condition a user waits for:

- ``rollout``: a Deployment of ``--replicas`` pods (default 1,000) reaches Available (set-up, reported
  but not the figure), then its image changes; the figure is the time to a complete rollout, as
  ``kubectl rollout status`` judges it (observedGeneration current, updatedReplicas ==
  status.replicas == availableReplicas == spec.replicas).
- ``deployments``: ``--count`` Deployments (default 100) of ``--replicas`` (default 10) are created;
  the figure is the time until every one is Available with all its replicas updated.
- ``sim``: ``--pods`` pods (default 30,000) from Deployments of ``--replicas`` (default 100) on
  ``--nodes`` simulated nodes (default 1,000); the figure is the time until every pod is Running.

By default the command starts its own ``kubefacade serve --sim-nodes N --no-node`` on a free port in a
temporary data directory; ``--kubeconfig`` runs the same scenario against any cluster instead. The
report adds the server's CPU seconds over the timed part and its peak resident memory (VmHWM).
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import orjson

from conformance.httpclient import Connection, HTTPError
from conformance.kubeconfig import ClusterAccess, KubeconfigError, load_kubeconfig
from conformance.procstat import cpu_seconds, is_local_host, peak_rss_bytes, pids_listening_on
from conformance.serverbench import DEFAULT_SERVER_CMD, serving

MIB = 1024 * 1024
IMAGE = "registry.k8s.io/pause:3.9"
NEW_IMAGE = "registry.k8s.io/pause:3.10"
SCENARIOS = ("rollout", "deployments", "sim")


@dataclass
class Target:
    """The cluster a scenario drives: its access, the server PIDs to account (maybe none)."""

    access: ClusterAccess
    pids: list[int]


def deployment(name: str, replicas: int, image: str = IMAGE) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": "app", "image": image}]}}},
    }


def deployments_path(namespace: str) -> str:
    return f"/apis/apps/v1/namespaces/{quote(namespace)}/deployments"


def check(what: str, resp: Any) -> Any:
    if not resp.ok:
        raise HTTPError(what, resp)
    return resp.json()


def rollout_complete(dep: dict[str, Any]) -> bool:
    """What `kubectl rollout status` waits for (and Available with every replica updated)."""
    spec, status, meta = dep.get("spec") or {}, dep.get("status") or {}, dep.get("metadata") or {}
    want = int(spec.get("replicas", 1))
    return (int(status.get("observedGeneration") or 0) >= int(meta.get("generation") or 0)
            and int(status.get("updatedReplicas") or 0) == want
            and int(status.get("replicas") or 0) == want
            and int(status.get("availableReplicas") or 0) == want)


def wait_for(conn: Connection, path: str, done: Any, timeout: float, poll: float) -> tuple[float, int]:
    """Poll ``path`` (a list) until ``done(items)``; (the monotonic time it held, polls made)."""
    deadline = time.monotonic() + timeout
    polls = 0
    while True:
        body = check(f"GET {path}", conn.request("GET", path))
        polls += 1
        if done(body.get("items") or []):
            return time.monotonic(), polls
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not reached within {timeout:g} s on {path}")
        time.sleep(poll)


def all_complete(count: int) -> Any:
    return lambda items: len(items) == count and all(rollout_complete(d) for d in items)


def pods_running(conn: Connection, namespace: str, want: int) -> bool:
    """Every pod of the namespace Running, and ``want`` of them (two cheap requests, limit=1)."""
    base = f"/api/v1/namespaces/{quote(namespace)}/pods?limit=1"
    others = check("listing pods", conn.request("GET", base + "&fieldSelector=" + quote("status.phase!=Running")))
    if others.get("items"):
        return False
    body = check("listing pods", conn.request("GET", base))
    total = len(body.get("items") or []) + int((body.get("metadata") or {}).get("remainingItemCount") or 0)
    return total == want


def create_namespace(conn: Connection, scenario: str) -> str:
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"generateName": f"scale-{scenario}-"}}
    return check("creating the namespace", conn.request("POST", "/api/v1/namespaces", body))["metadata"]["name"]


def wait_nodes(conn: Connection, count: int, timeout: float) -> int:
    """Wait until at least ``count`` nodes report Ready=True; how many do."""
    deadline = time.monotonic() + timeout
    while True:
        items = check("listing nodes", conn.request("GET", "/api/v1/nodes")).get("items") or []
        ready = sum(1 for n in items if any(c.get("type") == "Ready" and c.get("status") == "True"
                                            for c in (n.get("status") or {}).get("conditions") or []))
        if ready >= count or time.monotonic() > deadline:
            return ready
        time.sleep(0.5)


class Meter:
    """Wall time and the server's CPU seconds from this object's creation to ``result(end)``."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.cpu0 = cpu_seconds(pids) if pids else None
        self.t0 = time.monotonic()

    def result(self, end: float) -> dict[str, Any]:
        out: dict[str, Any] = {"elapsed_s": round(end - self.t0, 2)}
        cpu = cpu_seconds(self.pids) if self.pids else None
        if cpu is not None and self.cpu0 is not None:
            out["server_cpu_s"] = round(cpu - self.cpu0, 2)
        return out


def run_rollout(conn: Connection, target: Target, args: argparse.Namespace, ns: str) -> dict[str, Any]:
    path = deployments_path(ns)
    setup = Meter(target.pids)
    check("creating the Deployment", conn.request("POST", path, deployment("rollout", args.replicas)))
    end, _ = wait_for(conn, path, all_complete(1), args.timeout, args.poll)
    report: dict[str, Any] = {"replicas": args.replicas, "setup": setup.result(end)}
    timed = Meter(target.pids)
    set_image(conn, f"{path}/rollout", NEW_IMAGE)
    end, polls = wait_for(conn, path, all_complete(1), args.timeout, args.poll)
    report.update(timed.result(end), polls=polls)
    return report


def set_image(conn: Connection, path: str, image: str) -> None:
    """GET and PUT the Deployment with another image (retried on Conflict, as kubectl set image)."""
    for _ in range(10):
        dep = check("reading the Deployment", conn.request("GET", path))
        dep["spec"]["template"]["spec"]["containers"][0]["image"] = image
        resp = conn.request("PUT", path, dep)
        if resp.status != 409:
            check("changing the image", resp)
            return
    raise HTTPError("changing the image", resp)


def run_deployments(conn: Connection, target: Target, args: argparse.Namespace, ns: str) -> dict[str, Any]:
    path = deployments_path(ns)
    timed = Meter(target.pids)
    for i in range(args.count):
        check("creating a Deployment", conn.request("POST", path, deployment(f"app-{i}", args.replicas)))
    created = time.monotonic() - timed.t0
    end, polls = wait_for(conn, path, all_complete(args.count), args.timeout, args.poll)
    return {"count": args.count, "replicas": args.replicas, "creates_s": round(created, 2),
            **timed.result(end), "polls": polls}


def run_sim(conn: Connection, target: Target, args: argparse.Namespace, ns: str) -> dict[str, Any]:
    path = deployments_path(ns)
    per = max(1, min(args.replicas, args.pods))
    count = math.ceil(args.pods / per)
    timed = Meter(target.pids)
    left = args.pods
    for i in range(count):
        check("creating a Deployment", conn.request("POST", path, deployment(f"app-{i}", min(per, left))))
        left -= per
    created = time.monotonic() - timed.t0
    _, polls = wait_for(conn, path, all_complete(count), args.timeout, args.poll)
    deadline = time.monotonic() + args.timeout
    while not pods_running(conn, ns, args.pods):
        if time.monotonic() > deadline:
            raise TimeoutError(f"pods not all Running within {args.timeout:g} s")
        time.sleep(args.poll)
    end = time.monotonic()
    return {"nodes": args.nodes, "pods": args.pods, "deployments": count, "replicas": per,
            "creates_s": round(created, 2), **timed.result(end), "polls": polls}


RUNNERS = {"rollout": run_rollout, "deployments": run_deployments, "sim": run_sim}


def run_scenario(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    with Connection(target.access, timeout=max(120.0, args.timeout)) as conn:
        ns = create_namespace(conn, args.scenario)
        try:
            result = RUNNERS[args.scenario](conn, target, args, ns)
        finally:
            if not args.keep:
                conn.request("DELETE", f"/api/v1/namespaces/{quote(ns)}")
    result["namespace"] = ns
    return result


def server_figures(pids: list[int]) -> dict[str, Any]:
    out: dict[str, Any] = {"server_pids": pids}
    peaks = [peak_rss_bytes(p) for p in pids]
    if pids and all(p is not None for p in peaks):
        out["server_peak_rss_mib"] = round(sum(p or 0 for p in peaks) / MIB, 1)
    cpu = cpu_seconds(pids) if pids else None
    if cpu is not None:
        out["server_cpu_total_s"] = round(cpu, 2)
    return out


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Run the scenario on the given cluster, or on a server of its own; the report as a dict."""
    nodes = args.nodes if args.scenario == "sim" else args.sim_nodes
    report: dict[str, Any] = {"scenario": args.scenario}
    if args.kubeconfig:
        access = load_kubeconfig(args.kubeconfig, args.context)
        pids = [args.server_pid] if args.server_pid else (
            pids_listening_on(access.port) if is_local_host(access.host) else [])
        report["server"] = access.server
        report.update(run_scenario(Target(access, pids), args))
        report.update(server_figures(pids))
        return report
    cmd = [*(shlex.split(args.server_cmd) if args.server_cmd else DEFAULT_SERVER_CMD),
           "--sim-nodes", str(nodes), "--no-node", *shlex.split(args.server_args)]
    started = time.monotonic()
    with serving(cmd, "kubefacade-scale-", ready_timeout=max(120.0, nodes * 0.5)) as server:
        access = load_kubeconfig(str(server.kubeconfig))
        with Connection(access) as conn:
            ready = wait_nodes(conn, nodes, timeout=max(60.0, nodes * 0.2))
        report.update(command=cmd, sim_nodes=nodes, nodes_ready=ready,
                      server_ready_s=round(time.monotonic() - started, 2))
        pids = server.pids()
        report.update(run_scenario(Target(access, pids), args))
        report.update(server_figures(pids))
        return report


def format_scale(report: dict[str, Any]) -> str:
    lines = [f"scenario {report['scenario']}: {report.get('elapsed_s')} s"]
    for key in ("replicas", "count", "nodes", "pods", "deployments", "creates_s", "server_cpu_s",
                "server_peak_rss_mib", "server_cpu_total_s", "server_ready_s", "nodes_ready"):
        if key in report:
            lines.append(f"  {key}: {report[key]}")
    if "setup" in report:
        lines.append(f"  setup (first Available): {report['setup']}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kubefacade bench scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", choices=SCENARIOS)
    parser.add_argument("--replicas", type=int, default=None,
                        help="pods per Deployment (rollout 1000, deployments 10, sim 100)")
    parser.add_argument("--count", type=int, default=100, help="Deployments (deployments scenario)")
    parser.add_argument("--nodes", type=int, default=1000, help="simulated nodes (sim scenario)")
    parser.add_argument("--pods", type=int, default=30_000, help="pods in all (sim scenario)")
    parser.add_argument("--sim-nodes", type=int, default=100,
                        help="simulated nodes of the server started for rollout/deployments (default 100)")
    parser.add_argument("--kubeconfig", help="run against this cluster instead of starting a server")
    parser.add_argument("--context", help="kubeconfig context")
    parser.add_argument("--server-pid", type=int, help="server PID for CPU/RSS (default: found by port)")
    parser.add_argument("--server-cmd", default=None, help="command that serves (default python -m facade.cli serve)")
    parser.add_argument("--server-args", default="", help="more arguments for the server started here")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for each condition")
    parser.add_argument("--poll", type=float, default=0.2, help="seconds between status polls")
    parser.add_argument("--keep", action="store_true", help="keep the namespace afterwards")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def main(argv: list[str]) -> int:
    """`kubefacade bench scale SCENARIO [options]`; the process exit status."""
    args = build_parser().parse_args(argv)
    if args.replicas is None:
        args.replicas = {"rollout": 1000, "deployments": 10, "sim": 100}[args.scenario]
    try:
        report = measure(args)
    except (HTTPError, KubeconfigError, TimeoutError, RuntimeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() if args.json else format_scale(report))
    return 0
