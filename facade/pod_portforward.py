"""``pods/{name}/portforward`` over WebSocket (``v4.channel.k8s.io``), as the Python client speaks it.

Each requested port gets two channels, data (2i) and error (2i+1). The server opens both by
sending the port number (two bytes, little-endian) on each, then relays bytes between the data
channel and a TCP connection to the pod's port; a failure is written on the error channel, as
kubelet writes it.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from facade import errors
from facade.errors import APIError

PROTOCOL = "v4.channel.k8s.io"


async def _pod_runtime(rest: Any, namespace: str, name: str) -> tuple[Any, str, dict[str, Any]]:
    from runtime import registry

    info = rest.table.get("", "v1", "pods")
    pod = await rest.get_obj(info, namespace, name)
    node = (pod.get("spec") or {}).get("nodeName")
    if not node:
        raise errors.bad_request(f"pod {name} does not have a host assigned")
    if (pod.get("status") or {}).get("phase") != "Running":
        raise errors.bad_request("unable to upgrade connection: pod does not exist")
    agent = registry.get(node)
    if agent is None:
        raise errors.APIError(503, "ServiceUnavailable", f"no node agent for node {node} serves port-forward here")
    worker = agent.by_key.get(f"{namespace}/{name}")
    sandbox = getattr(getattr(worker, "sandbox", None), "id", "") if worker is not None else ""
    return agent.runtime, sandbox, pod


async def serve_portforward(websocket: WebSocket, rest: Any) -> None:
    namespace = websocket.path_params["namespace"]
    name = websocket.path_params["name"]
    offered = [p.strip() for h in websocket.headers.getlist("sec-websocket-protocol") for p in h.split(",")]
    protocol = PROTOCOL if PROTOCOL in offered else None
    try:
        raw_ports = [p for v in websocket.query_params.getlist("ports") for p in v.split(",") if p]
        if not raw_ports:
            raise errors.bad_request("query parameter \"port\" is required")
        ports = []
        for p in raw_ports:
            if not p.isdigit() or not 0 < int(p) < 65536:
                raise errors.bad_request(f'unable to parse "{p}" as a port: port out of range')
            ports.append(int(p))
        runtime, sandbox, pod = await _pod_runtime(rest, namespace, name)
    except APIError as e:
        await websocket.accept(subprotocol=protocol)
        await websocket.send_bytes(bytes([1]) + orjson.dumps(e.status()))
        await websocket.close()
        return
    await websocket.accept(subprotocol=protocol)
    uid = pod["metadata"].get("uid", "")
    writers: dict[int, asyncio.StreamWriter] = {}
    tasks: list[asyncio.Task[Any]] = []

    async def open_port(i: int, port: int) -> None:
        for channel in (2 * i, 2 * i + 1):
            await websocket.send_bytes(bytes([channel]) + port.to_bytes(2, "little"))
        try:
            reader, writer = await runtime.port_forward(sandbox, port)
        except (OSError, NotImplementedError) as e:
            message = (f"error forwarding port {port} to pod {uid}, uid : failed to connect to localhost:{port} "
                       f"inside namespace {namespace!r}: {e}")
            await websocket.send_bytes(bytes([2 * i + 1]) + message.encode())
            return
        writers[i] = writer
        while chunk := await reader.read(65536):
            await websocket.send_bytes(bytes([2 * i]) + chunk)

    for i, port in enumerate(ports):
        tasks.append(asyncio.create_task(open_port(i, port)))

    async def close_when_done() -> None:
        """Every pod-side connection has ended: end the stream, so the client sees EOF."""
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await websocket.close()

    closer = asyncio.create_task(close_when_done())
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            raw = message.get("bytes") or (message.get("text") or "").encode("latin-1", "replace")
            if len(raw) < 2 or raw[0] % 2:
                continue
            i = raw[0] // 2
            for _ in range(100):  # the connection may still be opening
                if i in writers or (i < len(tasks) and tasks[i].done()):
                    break
                await asyncio.sleep(0.01)
            writer = writers.get(i)
            if writer is not None:
                writer.write(raw[1:])
                with contextlib.suppress(ConnectionError):
                    await writer.drain()
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        closer.cancel()
        for t in tasks:
            t.cancel()
        for w in writers.values():
            w.close()
