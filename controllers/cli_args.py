"""The `kubefacade controllers` arguments, kept apart from controllers/cli.py so that registering the
subcommand imports nothing heavy: `kubefacade serve` starts without loading aiohttp and every
controller module (that cost ~0.4 s of its start-up)."""

from __future__ import annotations

import argparse
from typing import Any


def _run_controllers(args: argparse.Namespace) -> int:
    from controllers.cli import _controllers

    return _controllers(args)


def add_controllers_command(sub: Any) -> None:
    p = sub.add_parser("controllers", help="run controllers against any API server (a kubeconfig)")
    p.add_argument("--kubeconfig", default="", help="default: $KUBECONFIG, else ~/.kube/config")
    p.add_argument("--context", default="")
    p.add_argument("--only", default="", help="comma-separated controller names to run (default: all; see --list)")
    p.add_argument("--exclude", default="", help="comma-separated controller names not to run")
    p.add_argument("--controllers", default="",
                   help="kube-controller-manager's form instead of --only/--exclude: '*' all, 'foo' on, '-foo' off")
    p.add_argument("--list", action="store_true", help="print the controller names and exit")
    p.add_argument("--root-ca-file", default="",
                   help="CA bundle root-ca-cert-publisher puts in kube-root-ca.crt (default: the kubeconfig's CA)")
    p.add_argument("--data-dir", default="~/.kubefacade-controllers",
                   help="where local-path-provisioner creates volume directories")
    p.add_argument("--node-monitor-grace-period", type=float, default=40.0,
                   help="seconds a node may stay silent before nodelifecycle turns its conditions Unknown")
    p.add_argument("--log-level", default="warning")
    p.set_defaults(func=_run_controllers)
