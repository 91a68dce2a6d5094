"""``pods/{name}/attach`` over WebSocket: the running container's output from now on, and its stdin.

Same channel protocols as exec (see facade/pod_exec.py). Output is read from the container's log
(the runtime writes both streams there, a terminal's output as stdout), from the moment of attaching
until the container exits; then a Success Status goes on the error channel.

Input, as kubelet and containerd serve it: with ``stdin=true`` in the request and ``stdin: true`` on
the container, the stdin channel reaches the container's stdin, which the runtime keeps open for the
container's life (a container without ``stdin: true`` has none, and what is sent is dropped). When
the caller's stdin ends (v5's close signal, or the caller leaving) and the container has
``stdinOnce: true`` without a terminal, the container's stdin is closed, so the first attach session
is its only writer; otherwise it stays open for the next one. Resize messages reach a ``tty: true``
container's terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from facade import errors
from facade.errors import APIError
from facade.pod_exec import CLOSE, ERROR, PROTOCOLS, RESIZE, STDIN, STDOUT, _choose_protocol, _locate, _send
from runtime.logs import LogOptions


def _container_spec(pod: dict[str, Any], name: str) -> dict[str, Any]:
    spec = pod.get("spec") or {}
    for key in ("containers", "initContainers", "ephemeralContainers"):
        for c in spec.get(key) or []:
            if c.get("name") == name:
                return c  # type: ignore[no-any-return]
    return {}


async def serve_attach(websocket: WebSocket, rest: object) -> None:
    """Stream the container's new output to the caller, and the caller's stdin to the container."""
    from runtime import registry

    params = websocket.query_params
    namespace = websocket.path_params["namespace"]
    name = websocket.path_params["name"]
    protocol = _choose_protocol(websocket)
    want_stdin = params.get("stdin") in ("true", "1")
    try:
        if protocol is None:
            raise errors.bad_request("the websocket subprotocol must be one of " + ", ".join(PROTOCOLS))
        runtime, cid, container = await _locate(rest, namespace, name, params.get("container", ""))
        pod = await rest.get_obj(rest.table.get("", "v1", "pods"), namespace, name)  # type: ignore[attr-defined]
        agent = registry.get(pod["spec"]["nodeName"])
        assert agent is not None
        stream = await agent.open_log(namespace, name, container, LogOptions(follow=True, tail_lines=0))
    except APIError as e:
        await websocket.accept(subprotocol=protocol)
        await _send(websocket, ERROR, orjson.dumps(e.status()))
        await websocket.close()
        return
    spec = _container_spec(pod, container)
    stdin = None
    if want_stdin and spec.get("stdin") and hasattr(runtime, "container_input"):
        stdin = runtime.container_input(cid)
    close_after = bool(spec.get("stdinOnce")) and not spec.get("tty")
    await websocket.accept(subprotocol=protocol)

    async def forward() -> None:
        async for chunk in stream:
            await _send(websocket, STDOUT, chunk)

    def stdin_ended() -> None:
        if stdin is not None and close_after:
            stdin.close()

    async def from_caller() -> None:
        """Until the caller leaves: its stdin, stdin's end and terminal sizes."""
        while True:
            try:
                message = await websocket.receive()
            except (WebSocketDisconnect, RuntimeError):
                break
            if message["type"] == "websocket.disconnect":
                break
            raw = message.get("bytes")
            if raw is None and message.get("text") is not None:
                raw = message["text"].encode("latin-1", "replace")
            if not raw or stdin is None:
                continue
            channel, data = raw[0], raw[1:]
            if channel == STDIN and data:
                await stdin.write(data)
            elif channel == CLOSE and data[:1] == bytes([STDIN]):
                stdin_ended()
            elif channel == RESIZE:
                with contextlib.suppress(ValueError, KeyError, TypeError, orjson.JSONDecodeError):
                    size = orjson.loads(data)
                    stdin.resize(int(size["Width"]), int(size["Height"]))
        stdin_ended()

    output = asyncio.create_task(forward())
    watcher = asyncio.create_task(from_caller())
    await asyncio.wait([output, watcher], return_when=asyncio.FIRST_COMPLETED)
    if not output.done():
        output.cancel()
        return
    watcher.cancel()
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
        if protocol != "channel.k8s.io":
            await _send(websocket, ERROR, orjson.dumps({"metadata": {}, "status": "Success"}))
        await websocket.close()
