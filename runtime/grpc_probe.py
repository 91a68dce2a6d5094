"""gRPC probes: the gRPC health checking protocol (``grpc.health.v1.Health/Check``), as kubelet's
pkg/probe/grpc sends it — over HTTP/2 cleartext to podIP:port, with the probe's optional ``service``
name and the user agent ``kube-probe/1.32`` — and with its failure messages:

- no connection within the timeout: ``timeout: failed to connect service "10.0.0.5:9000" within 1s:
  context deadline exceeded`` (kubelet dials with WithBlock, so a refused port reads the same)
- a server without the health service: ``this server does not implement the grpc health protocol
  (grpc.health.v1.Health): <message>``
- a slow answer: ``timeout: health rpc did not complete within 1s``
- any other RPC error: ``error: health rpc probe failed: rpc error: code = NotFound desc = ...``
- an answer other than SERVING: ``service unhealthy (responded with "NOT_SERVING")``

The client is grpcio's with grpcio-health-checking's stubs, run in a worker thread (the blocking API
needs no integration with the agent's event loop).
"""

from __future__ import annotations

import asyncio
import time

USER_AGENT = "kube-probe/1.32"


def _go_seconds(seconds: float) -> str:
    """Go's Duration String for a probe timeout (whole seconds in practice): ``1s``, ``1m30s``."""
    whole = int(seconds)
    if whole == seconds and whole < 60:
        return f"{whole}s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{rest:g}s" if minutes else f"{seconds:g}s"


def _go_code(name: str) -> str:
    """gRPC status code as Go's codes.Code String prints it: NOT_FOUND -> NotFound."""
    return "OK" if name == "OK" else "".join(part.capitalize() for part in name.split("_"))


def check_blocking(host: str, port: int, service: str, timeout: float) -> tuple[bool, str]:
    """One Check call; (healthy, failure message)."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    addr = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    started = time.monotonic()
    channel = grpc.insecure_channel(addr, options=[("grpc.primary_user_agent", USER_AGENT),
                                                   ("grpc.enable_retries", 0)])
    try:
        try:
            grpc.channel_ready_future(channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            return False, (f'timeout: failed to connect service "{addr}" within {_go_seconds(timeout)}: '
                           "context deadline exceeded")
        left = max(timeout - (time.monotonic() - started), 0.001)
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            resp = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=left)
        except grpc.RpcError as e:
            code = e.code() if hasattr(e, "code") else grpc.StatusCode.UNKNOWN
            details = e.details() if hasattr(e, "details") else str(e)
            if code == grpc.StatusCode.UNIMPLEMENTED:
                return False, ("this server does not implement the grpc health protocol (grpc.health.v1.Health): "
                               f"{details}")
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                return False, f"timeout: health rpc did not complete within {_go_seconds(timeout)}"
            return False, f"error: health rpc probe failed: rpc error: code = {_go_code(code.name)} desc = {details}"
        if resp.status != health_pb2.HealthCheckResponse.SERVING:
            name = health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)
            return False, f'service unhealthy (responded with "{name}")'
        return True, ""
    finally:
        channel.close()


async def grpc_probe(host: str, port: int, service: str, timeout: float) -> tuple[bool, str]:
    """The probe attempt, off the event loop."""
    return await asyncio.to_thread(check_blocking, host, port, service, timeout)
