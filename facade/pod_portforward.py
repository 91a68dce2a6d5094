"""``pods/{name}/portforward`` over WebSocket: ``v4.channel.k8s.io`` (the Python client) or SPDY tunnelled.

kubectl 1.32 asks for subprotocol ``SPDY/3.1+portforward.k8s.io``: SPDY/3.1 frames carried in binary
messages, served by facade/spdy_portforward.py (its plain ``Upgrade: SPDY/3.1`` fallback is
facade/spdy_upgrade.py). What follows describes the channel protocol.

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
from facade.handlers import status_response
from facade.spdy_portforward import TUNNEL_PROTOCOL, PortForwardSession, forward_error

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
    """The handler follows the subprotocol: SPDY tunnelled in WebSocket (kubectl) or channels (Python client)."""
    namespace = websocket.path_params["namespace"]
    name = websocket.path_params["name"]
    offered = [p.strip() for h in websocket.headers.getlist("sec-websocket-protocol") for p in h.split(",")]
    if TUNNEL_PROTOCOL in offered:
        await serve_spdy_tunnel(websocket, rest, namespace, name)
        return
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
            await websocket.send_bytes(bytes([2 * i + 1]) + forward_error(sandbox or uid, port, e).encode())
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


async def serve_spdy_tunnel(websocket: WebSocket, rest: Any, namespace: str, name: str) -> None:
    """kubectl 1.32: SPDY/3.1 frames in binary WebSocket messages, read and written as one byte stream.

    A pod that cannot be reached refuses the upgrade with its Status (kubectl then tries the plain
    SPDY upgrade, which answers the same).
    """
    try:
        runtime, sandbox, _ = await _pod_runtime(rest, namespace, name)
    except APIError as e:
        if "websocket.http.response" in websocket.scope.get("extensions", {}):
            await websocket.send_denial_response(status_response(e))
        else:
            await websocket.close(1011, e.message[:120])
        return
    await websocket.accept(subprotocol=TUNNEL_PROTOCOL)

    async def receive() -> bytes:
        while True:
            try:
                message = await websocket.receive()
            except (WebSocketDisconnect, RuntimeError):
                return b""
            if message["type"] == "websocket.disconnect":
                return b""
            data = message.get("bytes") or (message.get("text") or "").encode()
            if data:
                return data

    async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await runtime.port_forward(sandbox, port)  # type: ignore[no-any-return]

    session = PortForwardSession(websocket.send_bytes, connect, sandbox)
    await session.run(receive)
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
        await websocket.close()
