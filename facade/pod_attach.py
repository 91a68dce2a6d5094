"""``pods/{name}/attach`` over WebSocket: the running container's output, as it is written, from now on.

Same channel protocols as exec (see facade/pod_exec.py). The process runtime starts containers with
stdin closed, so attach serves what kubelet serves for a container without ``stdin: true``: the
container's output from the moment of attaching until it exits, then a Success Status on the
error channel. Output is read from the container's log (the runtime writes both streams there),
so it arrives on the stdout channel.
"""

from __future__ import annotations

import asyncio
import contextlib

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from facade import errors
from facade.errors import APIError
from facade.pod_exec import ERROR, PROTOCOLS, STDOUT, _choose_protocol, _locate, _send
from runtime.logs import LogOptions


async def serve_attach(websocket: WebSocket, rest: object) -> None:
    """Stream the container's new output to the caller until it exits or the caller leaves."""
    from runtime import registry

    params = websocket.query_params
    namespace = websocket.path_params["namespace"]
    name = websocket.path_params["name"]
    protocol = _choose_protocol(websocket)
    try:
        if protocol is None:
            raise errors.bad_request("the websocket subprotocol must be one of " + ", ".join(PROTOCOLS))
        _, _, container = await _locate(rest, namespace, name, params.get("container", ""))
        pod = await rest.get_obj(rest.table.get("", "v1", "pods"), namespace, name)  # type: ignore[attr-defined]
        agent = registry.get(pod["spec"]["nodeName"])
        assert agent is not None
        stream = await agent.open_log(namespace, name, container, LogOptions(follow=True, tail_lines=0))
    except APIError as e:
        await websocket.accept(subprotocol=protocol)
        await _send(websocket, ERROR, orjson.dumps(e.status()))
        await websocket.close()
        return
    await websocket.accept(subprotocol=protocol)

    async def forward() -> None:
        async for chunk in stream:
            await _send(websocket, STDOUT, chunk)

    async def until_caller_leaves() -> None:
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass

    output = asyncio.create_task(forward())
    watcher = asyncio.create_task(until_caller_leaves())
    await asyncio.wait([output, watcher], return_when=asyncio.FIRST_COMPLETED)
    watcher.cancel()
    if not output.done():
        output.cancel()
        return
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
        if protocol != "channel.k8s.io":
            await _send(websocket, ERROR, orjson.dumps({"metadata": {}, "status": "Success"}))
        await websocket.close()
