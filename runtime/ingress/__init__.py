"""The built-in Ingress controller (IngressClass ``kubefacade``): see README.md in this folder.

``start_ingress`` creates the IngressClass at once (so that the DefaultIngressClass admission sees
it from the first request on) and starts the proxy in the background a moment later: importing
h11 and making the default certificate then stay off the API server's start-up path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

from runtime.ingress.ingress_class import ensure_class

log = logging.getLogger("kubefacade.ingress")
START_DELAY = 0.2  # seconds after the API is built: uvicorn binds its socket meanwhile


def status_address(host: str) -> str:
    """The address reported in ``status.loadBalancer``: the listen address, or the host's for a wildcard bind."""
    host = host.strip("[]")
    if host in ("", "0.0.0.0", "::"):
        from facade.bootstrap import advertise_address

        return advertise_address("127.0.0.1") or "127.0.0.1"
    return host


class IngressService:
    """The controller of ``kubefacade serve``, started in the background; ``stop`` stops it."""

    def __init__(self) -> None:
        self.controller: Any = None
        self.task: asyncio.Task[None] | None = None

    async def run(self, client: Any, work_dir: Path, host: str, http_port: int, https_port: int) -> None:
        await asyncio.sleep(START_DELAY)
        from runtime.ingress.controller import IngressController

        ctl = IngressController(client, work_dir, host.strip("[]") or "0.0.0.0", http_port, https_port,
                                status_address(host))
        self.controller = ctl
        try:
            await ctl.start()
        except Exception:  # noqa: BLE001 - the API keeps serving without its Ingress controller
            log.exception("the ingress controller did not start")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(BaseException):
                await self.task
        if self.controller is not None:
            await self.controller.stop()


async def start_ingress(rest: Any, data_dir: Path, host: str, http_port: int, https_port: int) -> IngressService:
    """Start the controller of ``kubefacade serve`` (in-process client, listeners on ``host``)."""
    from controllers.client import InProcessClient

    client = InProcessClient(rest, "ingress-controller")
    await ensure_class(client)
    service = IngressService()
    service.task = asyncio.create_task(service.run(client, data_dir / "ingress", host, http_port, https_port),
                                       name="ingress-controller-start")
    return service
