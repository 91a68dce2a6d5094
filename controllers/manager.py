"""Starts the in-process controllers of `kubefacade serve` and stops them on shutdown.

The set is built from ``controllers.controller_table``, the same name -> factory table that
``kubefacade controllers`` uses to run some of them against any API server.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from controllers.base import Controller
from controllers.client import InProcessClient
from controllers.clock import Clock, RealClock
from controllers.controller_table import Wiring, build
from controllers.node_lifecycle import DEFAULT_GRACE_SECONDS
from facade.rest import RestStore


class ControllerManager:
    """The controllers `kubefacade serve` runs in-process; each is also usable on its own."""

    def __init__(self, rest: RestStore, ca_pem: str, clock: Clock | None = None,
                 data_dir: Path | None = None, node_monitor_grace_period: float = DEFAULT_GRACE_SECONDS) -> None:
        self.clock = clock or RealClock()
        volumes_root = (data_dir or Path(tempfile.gettempdir()) / "kubefacade") / "volumes"
        wiring = Wiring(lambda manager: InProcessClient(rest, manager), self.clock, ca_pem, volumes_root,
                        node_monitor_grace_period, rest=rest)
        self.controllers: list[Controller] = build(wiring)

    def start(self) -> None:
        for c in self.controllers:
            c.start()

    async def stop(self) -> None:
        for c in self.controllers:
            await c.stop()
