"""`kubefacade bench server-time`: server time of single heavy requests, measured in-process.

The issue's bars for these are server time, without sockets or a client: a server-side apply of a
50-container Deployment, and a CRD with a 200-property schema created and established. Each figure
is the median of several runs, in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import orjson


def _crd(i: int, properties: int) -> dict[str, Any]:
    props = {f"field{n}": {"type": "string" if n % 3 else "integer", "description": f"field {n}"}
             for n in range(properties)}
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"things{i}.bench.kubefacade.io"},
        "spec": {"group": "bench.kubefacade.io", "scope": "Namespaced",
                 "names": {"plural": f"things{i}", "singular": f"thing{i}", "kind": f"Thing{i}"},
                 "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                     "type": "object", "properties": {"spec": {"type": "object", "properties": props}}}}}]},
    }


def _deployment(containers: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "big", "namespace": "default"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "big"}}, "template": {
            "metadata": {"labels": {"app": "big"}},
            "spec": {"containers": [
                {"name": f"c{n}", "image": f"busybox:1.{n}", "ports": [{"containerPort": 8000 + n}],
                 "env": [{"name": "N", "value": str(n)}], "resources": {"requests": {"cpu": "10m"}}}
                for n in range(containers)]}}},
    }


async def _crd_times(runs: int, properties: int) -> list[float]:
    from controllers.client import InProcessClient
    from controllers.crd import CRDController
    from facade.kinds import builtin_table
    from facade.rest import RestStore, WriteOptions
    from storage.memory import MemoryStore

    rest = RestStore(MemoryStore(), builtin_table())
    controller = CRDController(InProcessClient(rest, "kube-apiserver"), rest)
    info = rest.table.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    assert info is not None
    out: list[float] = []
    for i in range(runs):
        body = _crd(i, properties)
        start = time.perf_counter()
        stored = await rest.create(info, "", body, WriteOptions(field_manager="kubectl"))
        controller.cache[body["metadata"]["name"]] = orjson.loads(stored.data)  # type: ignore[union-attr]
        await controller.reconcile(body["metadata"]["name"])
        out.append(time.perf_counter() - start)
        if rest.table.get("bench.kubefacade.io", "v1", f"things{i}") is None:
            raise RuntimeError("the CRD was not established")
    return out


async def _apply_times(runs: int, containers: int) -> list[float]:
    from facade.apply import apply_to_store
    from facade.bootstrap import bootstrap
    from facade.kinds import builtin_table
    from facade.rest import RestStore, WriteOptions
    from storage.memory import MemoryStore

    rest = RestStore(MemoryStore(), builtin_table())
    await bootstrap(rest)
    info = rest.table.get("apps", "v1", "deployments")
    assert info is not None
    out: list[float] = []
    for i in range(runs):
        body = _deployment(containers)
        body["spec"]["template"]["metadata"]["labels"]["run"] = str(i)  # every apply changes something
        start = time.perf_counter()
        await apply_to_store(rest, info, "default", "big", body, "kubectl", False, WriteOptions())
        out.append(time.perf_counter() - start)
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="kubefacade bench server-time")
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args(argv)
    crd = asyncio.run(_crd_times(args.runs, 200))
    print(f"CRD with a 200-property schema, created and established: median {statistics.median(crd) * 1000:.1f} ms")
    try:
        apply = asyncio.run(_apply_times(args.runs, 50))
    except ImportError as e:
        print(f"server-side apply of a 50-container Deployment: not measured ({e})")
    else:
        print(f"server-side apply of a 50-container Deployment: median {statistics.median(apply) * 1000:.1f} ms")
    return 0
