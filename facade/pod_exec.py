"""``pods/{name}/exec`` over WebSocket: the channel protocols kubectl 1.32 and the Python client speak.

Subprotocols ``v5.channel.k8s.io`` (kubectl's default), ``v4.channel.k8s.io`` (the Python client)
and ``channel.k8s.io``. Every message starts with its channel: 0 stdin, 1 stdout, 2 stderr, 3 the
error channel (v4+: a ``Status`` — Success, or NonZeroExitCode with the exit code as a cause),
4 resize (``{"Width":80,"Height":24}``), and in v5 255 with 0 after it to close stdin. The command
runs where the node agent runs the container: for the process runtime, a host process in the
container's working directory with the container's environment; ``tty=true`` gives it a
pseudo-terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pty
import signal
import struct
import termios
from typing import Any

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from facade import errors
from facade.errors import APIError

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io", "channel.k8s.io")
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255


def _choose_protocol(websocket: WebSocket) -> str | None:
    offered = [p.strip() for h in websocket.headers.getlist("sec-websocket-protocol") for p in h.split(",")]
    for p in PROTOCOLS:
        if p in offered:
            return p
    return None


def _exit_status(code: int, command: list[str]) -> dict[str, Any]:
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: error executing command {_go_list(command)}, "
        f"exit code {code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def _controlling_tty(tty_path: str) -> Any:
    """For the child: a new session whose controlling terminal is the pty (so job control works).

    Opening the terminal by name after ``setsid`` makes it the controlling one, whatever the event
    loop has or has not set up on fd 0 when it runs ``preexec_fn`` (uvloop runs it early).
    """

    def setup() -> None:
        os.setsid()
        os.close(os.open(tty_path, os.O_RDWR))

    return setup


def _go_list(items: list[str]) -> str:
    return "[" + " ".join(items) + "]"


async def _locate(rest: Any, namespace: str, name: str, container: str) -> tuple[Any, str, str]:
    """(runtime, container id, container name) of the running container, or the APIError kubelet gives."""
    from facade.pod_logs import resolve_container
    from runtime import registry

    info = rest.table.get("", "v1", "pods")
    pod = await rest.get_obj(info, namespace, name)
    container = resolve_container(pod, container)
    node = (pod.get("spec") or {}).get("nodeName")
    if not node:
        raise errors.bad_request(f"pod {name} does not have a host assigned")
    agent = registry.get(node)
    if agent is None:
        raise errors.APIError(503, "ServiceUnavailable", f"no node agent for node {node} serves exec in this process")
    worker = agent.by_key.get(f"{namespace}/{name}")
    rec = worker.record(container) if worker is not None else None
    if rec is None or not rec.running or not rec.id:
        raise errors.bad_request(f"unable to upgrade connection: container not found (\"{container}\")")
    if not hasattr(agent.runtime, "exec_environment"):
        raise errors.bad_request(f"the {agent.runtime.name} runtime does not run commands in containers")
    return agent.runtime, rec.id, container


async def serve_exec(websocket: WebSocket, rest: Any) -> None:
    params = websocket.query_params
    namespace = websocket.path_params["namespace"]
    name = websocket.path_params["name"]
    protocol = _choose_protocol(websocket)
    command = params.getlist("command")
    tty = params.get("tty") in ("true", "1")
    want_stdin = params.get("stdin") in ("true", "1")
    try:
        if not command:
            raise errors.bad_request("you must specify at least 1 command")
        if protocol is None:
            raise errors.bad_request("the websocket subprotocol must be one of " + ", ".join(PROTOCOLS))
        runtime, cid, _ = await _locate(rest, namespace, name, params.get("container", ""))
        cwd, env = runtime.exec_environment(cid)
        asked = command  # what the Status names, even where a host program runs it (docker exec)
        if hasattr(runtime, "exec_command"):  # a backend whose containers are not host processes (docker)
            command = runtime.exec_command(cid, command, tty, want_stdin)
    except APIError as e:
        await websocket.accept(subprotocol=protocol)
        await _send(websocket, ERROR, orjson.dumps(e.status()))
        await websocket.close()
        return
    await websocket.accept(subprotocol=protocol)
    await _run(websocket, protocol, command, cwd, env, tty, want_stdin, asked)


async def _send(websocket: WebSocket, channel: int, data: bytes) -> None:
    await websocket.send_bytes(bytes([channel]) + data)


async def _run(websocket: WebSocket, protocol: str, command: list[str], cwd: str, env: dict[str, str],
               tty: bool, want_stdin: bool, asked: list[str] | None = None) -> None:
    loop = asyncio.get_running_loop()
    master = None
    try:
        if tty:
            master, slave = pty.openpty()
            proc = await asyncio.create_subprocess_exec(
                *command, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env,
                preexec_fn=_controlling_tty(os.ttyname(slave)))
            os.close(slave)
        else:
            proc = await asyncio.create_subprocess_exec(
                *command, stdin=asyncio.subprocess.PIPE if want_stdin else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=cwd, env=env,
                start_new_session=True)
    except OSError as e:
        message = f'exec: "{command[0]}": {e.strerror or e}'
        status = {"metadata": {}, "status": "Failure", "message": message, "reason": "InternalError",
                  "details": {"causes": [{"message": message}]}, "code": 500}
        await _send(websocket, ERROR, orjson.dumps(status))
        await websocket.close()
        return

    async def pump_pipe(reader: asyncio.StreamReader, channel: int) -> None:
        while chunk := await reader.read(65536):
            await _send(websocket, channel, chunk)

    async def pump_pty() -> None:
        assert master is not None
        queue: asyncio.Queue[bytes] = asyncio.Queue()

        def readable() -> None:
            try:
                data = os.read(master, 65536)
            except OSError:
                data = b""
            queue.put_nowait(data)
            if not data:
                loop.remove_reader(master)

        loop.add_reader(master, readable)
        while data := await queue.get():
            await _send(websocket, STDOUT, data)

    async def pump_input() -> None:
        while True:
            try:
                message = await websocket.receive()
            except (WebSocketDisconnect, RuntimeError):
                return
            if message["type"] == "websocket.disconnect":
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                return
            raw = message.get("bytes")
            if raw is None and message.get("text") is not None:
                raw = message["text"].encode("latin-1", "replace")
            if not raw:
                continue
            channel, data = raw[0], raw[1:]
            if channel == STDIN and data:
                if master is not None:
                    os.write(master, data)
                elif proc.stdin is not None:
                    proc.stdin.write(data)
                    with contextlib.suppress(ConnectionResetError, BrokenPipeError):
                        await proc.stdin.drain()
            elif channel == RESIZE and master is not None:
                with contextlib.suppress(ValueError, KeyError, OSError, orjson.JSONDecodeError):
                    size = orjson.loads(data)
                    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", size["Height"], size["Width"], 0, 0))
            elif channel == CLOSE and data[:1] == bytes([STDIN]):
                if master is not None:
                    os.write(master, b"\x04")
                elif proc.stdin is not None:
                    proc.stdin.close()

    outputs = [asyncio.create_task(pump_pty())] if master is not None else [
        asyncio.create_task(pump_pipe(proc.stdout, STDOUT)),  # type: ignore[arg-type]
        asyncio.create_task(pump_pipe(proc.stderr, STDERR)),  # type: ignore[arg-type]
    ]
    inputs = asyncio.create_task(pump_input())
    try:
        code = await proc.wait()
        await asyncio.wait(outputs, timeout=5)
    finally:
        inputs.cancel()
        for t in outputs:
            t.cancel()
        if master is not None:
            with contextlib.suppress(ValueError, OSError):
                loop.remove_reader(master)
            os.close(master)
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
        if protocol == "channel.k8s.io":
            await _send(websocket, ERROR, b"" if code == 0 else f"command terminated with exit code {code}".encode())
        else:
            await _send(websocket, ERROR, orjson.dumps(_exit_status(code, asked or command)))
        await websocket.close()
