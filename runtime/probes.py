"""Probe handlers: exec, httpGet, tcpSocket and grpc (runtime/grpc_probe.py), with kubelet's failure messages.

The timing (initialDelaySeconds, periodSeconds, thresholds) lives in the pod worker, on the agent's
clock; this module only runs one probe attempt and says whether it passed, and why not.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from runtime.interface import Runtime

Obj = dict[str, Any]


def resolve_port(port: Any, container: Obj) -> int | None:
    """A probe port: a number, or the name of one of the container's ports."""
    if isinstance(port, int):
        return port
    if isinstance(port, str) and port.isdigit():
        return int(port)
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return int(p.get("containerPort", 0))
    return None


async def http_get(action: Obj, host: str, port: int, timeout: float,
                   user_agent: str = "kube-probe/1.32") -> tuple[int | None, str]:
    """One GET as kubelet's prober and lifecycle handler send it: (status code, "") or (None, Go's error text)."""
    scheme = (action.get("scheme") or "HTTP").lower()
    path = action.get("path") or "/"
    if not path.startswith("/"):
        path = "/" + path
    url = f"{scheme}://{host}:{port}{path}"
    headers = {"Host": f"{host}:{port}", "User-Agent": user_agent, "Accept": "*/*", "Connection": "close"}
    for h in action.get("httpHeaders") or []:
        headers[h.get("name", "")] = h.get("value", "")
    ctx = None
    if scheme == "https":
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port, ssl=ctx), timeout)
    except TimeoutError:
        return None, f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)'
    except OSError as e:
        return None, f'Get "{url}": dial tcp {host}:{port}: connect: {_errno_text(e)}'
    try:
        request = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        writer.write(request.encode())
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout)
    except (TimeoutError, OSError):
        return None, f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)'
    finally:
        writer.close()
    parts = line.decode("latin-1").split(" ", 2)
    try:
        return int(parts[1]), ""
    except (IndexError, ValueError):
        return None, f'Get "{url}": malformed HTTP response {line[:40]!r}'


async def _http_get(action: Obj, host: str, port: int, timeout: float) -> tuple[bool, str]:
    code, err = await http_get(action, host, port, timeout)
    if code is None:
        return False, err
    if 200 <= code < 400:
        return True, ""
    return False, f"HTTP probe failed with statuscode: {code}"


def _errno_text(e: OSError) -> str:
    return (e.strerror or str(e)).lower()


async def _tcp(host: str, port: int, timeout: float) -> tuple[bool, str]:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except TimeoutError:
        return False, f"dial tcp {host}:{port}: i/o timeout"
    except OSError as e:
        return False, f"dial tcp {host}:{port}: connect: {_errno_text(e)}"
    writer.close()
    return True, ""


async def run_probe(probe: Obj, container: Obj, container_id: str, pod_ip: str,
                    runtime: Runtime) -> tuple[bool, str]:
    """One attempt: (passed, failure output) as kubelet's prober reports them."""
    timeout = float(probe.get("timeoutSeconds") or 1)
    if "exec" in probe:
        command = list((probe["exec"] or {}).get("command") or [])
        if not command:
            return False, "exec probe has no command"
        result = await runtime.exec_sync(container_id, command, timeout)
        if result.exit_code == -1:
            return False, f"command \"{' '.join(command)}\" timed out"
        if result.exit_code != 0:
            return False, result.output.decode("utf-8", "replace")
        return True, ""
    if "httpGet" in probe:
        action = probe["httpGet"] or {}
        port = resolve_port(action.get("port"), container)
        if port is None:
            return False, f"unable to resolve port {action.get('port')!r}"
        return await _http_get(action, action.get("host") or pod_ip, port, timeout)
    if "tcpSocket" in probe:
        action = probe["tcpSocket"] or {}
        port = resolve_port(action.get("port"), container)
        if port is None:
            return False, f"unable to resolve port {action.get('port')!r}"
        return await _tcp(action.get("host") or pod_ip, port, timeout)
    if "grpc" in probe:
        from runtime.grpc_probe import grpc_probe

        action = probe["grpc"] or {}
        port = action.get("port")
        if not isinstance(port, int) or isinstance(port, bool):
            return False, f"unable to resolve port {port!r}"
        return await grpc_probe(pod_ip, port, str(action.get("service") or ""), timeout)
    return False, "probe has no handler"
