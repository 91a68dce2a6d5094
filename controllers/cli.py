"""`kubefacade controllers`: some or all of the controllers on their own, against any kubeconfig.

The same controllers ``kubefacade serve`` runs in-process (``controllers.controller_table``), here
over ``RemoteClient``: against a ``kubefacade serve --no-controllers`` or a real API server, which
is how their behaviour can be compared with kube-controller-manager's. ``--only``/``--exclude``
take kube-controller-manager's ``--controllers`` names; ``--list`` prints them.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from controllers.controller_table import (
    SPECS,
    UnknownController,
    all_names,
    describe,
    in_process_only,
    resolve,
)
from facade.errors import APIError

USER_AGENT = "kubefacade-controllers/v1.32.0"




def listing() -> str:
    """One line per name: the name, kube-controller-manager's canonical name, what it does."""
    rows = []
    for s in SPECS:
        for name, canonical in zip(s.names, s.canonical, strict=True):
            note = "  [in-process only]" if s.in_process_only else ""
            rows.append(f"{name:<26}{canonical:<44}{describe(s, name)}{note}")
    return "\n".join(rows)


def default_kubeconfig() -> Path:
    env = os.environ.get("KUBECONFIG", "")
    first = next((p for p in env.split(os.pathsep) if p), "")
    return Path(first or "~/.kube/config").expanduser()


def kubeconfig_ca(path: Path, context: str = "") -> str | None:
    """The PEM of the CA the kubeconfig's cluster is verified with, if it names one."""
    cfg = yaml.safe_load(path.read_text()) or {}
    ctx_name = context or cfg.get("current-context", "")
    ctx = next((c.get("context") or {} for c in cfg.get("contexts") or [] if c.get("name") == ctx_name), {})
    cluster = next((c.get("cluster") or {} for c in cfg.get("clusters") or []
                    if c.get("name") == ctx.get("cluster")), {})
    if cluster.get("certificate-authority-data"):
        return base64.b64decode(cluster["certificate-authority-data"]).decode()
    if cluster.get("certificate-authority"):
        return (path.parent / cluster["certificate-authority"]).read_text()
    return None


def pick(only: str, exclude: str, controllers: str = "") -> list[str]:
    """The names to run, in the table's order; raises ``UnknownController``.

    ``controllers`` is kube-controller-manager's ``--controllers`` list: for each name the first entry
    naming it (``foo`` or ``-foo``) decides, and ``*`` turns on every name no entry decides.
    """
    if controllers.strip():
        decided: dict[str, bool] = {}
        star = False
        for entry in (e.strip() for e in controllers.split(",")):
            if entry == "*":
                star = True
            elif entry:
                for name in resolve([entry.removeprefix("-")]):
                    decided.setdefault(name, not entry.startswith("-"))
        return [n for n in all_names() if decided.get(n, star)]
    wanted = resolve(only.split(",")) if only.strip() else set(all_names())
    wanted -= resolve(exclude.split(","))
    return [n for n in all_names() if n in wanted]


def _fail(message: str) -> int:
    print(f"kubefacade controllers: {message}", file=sys.stderr)
    return 2


async def _run(args: argparse.Namespace, names: list[str], target: tuple[str, Any, dict[str, str]],
               ca_pem: str | None) -> None:
    from controllers.clock import RealClock
    from controllers.controller_table import Wiring, build
    from controllers.discovery import RemoteResources
    from controllers.remote_client import RemoteClient

    server, tls, headers = target
    headers = {**headers, "User-Agent": USER_AGENT}
    clients: list[RemoteClient] = []

    def client(manager: str) -> RemoteClient:
        c = RemoteClient(server, tls, headers, field_manager=manager)
        clients.append(c)
        return c

    discovery = RemoteResources(client("kubefacade-controllers-discovery"))
    controllers: list[Any] = []
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        if {"namespace", "garbagecollector"} & set(names):
            await discovery.refresh()  # fails here, with exit code 1, when the server cannot be reached
            discovery.start()
        volumes_root = Path(args.data_dir).expanduser() / "volumes"
        wiring = Wiring(client, RealClock(), ca_pem, volumes_root, args.node_monitor_grace_period,
                        discovery=discovery)
        controllers = build(wiring, names)
        for c in controllers:
            c.start()
        print(f"kubefacade controllers ({', '.join(names)}) running against {server}", flush=True)
        await stop.wait()
    finally:
        for c in controllers:
            await c.stop()
        await discovery.stop()
        for cl in clients:
            await cl.close()


def _requested(args: argparse.Namespace) -> set[str]:
    """The names asked for by name (not through ``*`` or by default)."""
    if args.controllers.strip():
        return resolve(e for e in args.controllers.split(",") if e.strip() not in ("*", "") and
                       not e.strip().startswith("-"))
    return resolve(args.only.split(",")) if args.only.strip() else set()


def _controllers(args: argparse.Namespace) -> int:
    if args.list:
        print(listing())
        return 0
    if args.controllers.strip() and (args.only.strip() or args.exclude.strip()):
        return _fail("--controllers replaces --only and --exclude; give one or the other")
    try:
        names = pick(args.only, args.exclude, args.controllers)
        requested = _requested(args)
    except UnknownController as e:
        return _fail(f"{e} (kubefacade controllers --list shows them)")
    local_only = in_process_only(names)
    if local_only.keys() & requested:
        return _fail("; ".join(f'"{n}" cannot run here: {why}' for n, why in local_only.items() if n in requested))
    names = [n for n in names if n not in local_only]
    if not names:
        return _fail("no controllers left to run")
    kubeconfig = Path(args.kubeconfig).expanduser() if args.kubeconfig else default_kubeconfig()
    if not kubeconfig.is_file():
        return _fail(f"kubeconfig {kubeconfig} not found (--kubeconfig, or $KUBECONFIG)")
    from controllers.remote_client import load_kubeconfig

    try:
        target = load_kubeconfig(kubeconfig, args.context)
        ca_pem = Path(args.root_ca_file).expanduser().read_text() if args.root_ca_file else \
            kubeconfig_ca(kubeconfig, args.context)
    except (OSError, ValueError, KeyError, AttributeError, yaml.YAMLError) as e:
        return _fail(f"kubeconfig {kubeconfig}: {e}")
    if not target[0]:
        return _fail(f"kubeconfig {kubeconfig}: no server for context {args.context or '(current)'!r}")
    if "root-ca-cert-publisher" in names and ca_pem is None:
        if "root-ca-cert-publisher" in requested:
            return _fail('"root-ca-cert-publisher" needs a CA: --root-ca-file, or a kubeconfig that names one')
        names.remove("root-ca-cert-publisher")
    logging.basicConfig(level=getattr(logging, args.log_level.upper(), logging.WARNING),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_run(args, names, target, ca_pem))
    except (OSError, aiohttp.ClientError) as e:  # the server is not there (discovery at start-up)
        print(f"kubefacade controllers: {e}", file=sys.stderr)
        return 1
    except APIError as e:
        print(f"kubefacade controllers: {e.code} {e.reason}: {e.message}", file=sys.stderr)
        return 1
    return 0
