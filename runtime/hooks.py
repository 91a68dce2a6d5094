"""Container lifecycle hooks (postStart, preStop) as kubelet's handler runner runs them.

pkg/kubelet/lifecycle/handlers.go runs one ``LifecycleHandler``: ``exec`` (a command in the
container; any non-zero exit fails it), ``httpGet`` (a GET to the pod IP unless ``host`` is given;
only a failed connection fails it — the status code is not checked) or ``sleep`` (on the agent's
clock). A failure yields the message kubelet builds (``Exec lifecycle hook ([sh -c exit 1]) for
Container "c" in Pod "p_ns(uid)" failed - error: ...``); the Events themselves say only
``PostStartHook failed`` / ``PreStopHook failed`` so that secrets in the output never reach the API.

The timing rules live in the pod worker (``runtime/pod_worker.py``): a postStart runs right after the
container starts and before it counts as running; a failing one kills the container; a preStop runs
before SIGTERM and its time counts within the grace period (at least 2 s are left for SIGTERM).
"""

from __future__ import annotations

import asyncio
from typing import Any

from controllers.clock import Clock
from runtime.interface import Runtime
from runtime.probes import http_get, resolve_port

Obj = dict[str, Any]

#: kubelet's minimumGracePeriodInSeconds: a container always gets this long after SIGTERM
MINIMUM_GRACE_SECONDS = 2.0
#: exec hooks run without a deadline in kubelet; ours is generous but finite
EXEC_HOOK_TIMEOUT = 3600.0
HTTP_HOOK_TIMEOUT = 10.0


def go_string_list(items: list[str]) -> str:
    """How Go's %v prints a []string: ``[sh -c exit 1]``."""
    return "[" + " ".join(items) + "]"


def pod_ref(pod: Obj) -> str:
    """format.Pod: ``name_namespace(uid)``."""
    meta = pod.get("metadata") or {}
    return f"{meta.get('name', '')}_{meta.get('namespace', '')}({meta.get('uid', '')})"


async def run_handler(handler: Obj, container: Obj, pod: Obj, container_id: str, pod_ip: str,
                      runtime: Runtime, clock: Clock, timeout: float = EXEC_HOOK_TIMEOUT) -> str:
    """Run one lifecycle handler; returns "" on success, else kubelet's failure message."""
    name = str(container.get("name", ""))
    where = f'for Container "{name}" in Pod "{pod_ref(pod)}" failed'
    if handler.get("exec") is not None:
        command = [str(c) for c in (handler["exec"] or {}).get("command") or []]
        if not command:
            return f"Exec lifecycle hook ([]) {where} - error: no command given, message: \"\""
        result = await runtime.exec_sync(container_id, command, timeout)
        if result.exit_code == 0:
            return ""
        output = result.output.decode("utf-8", "replace")
        if result.exit_code == -1:
            err = f"command '{' '.join(command)}' timed out"
        else:
            err = f"command '{' '.join(command)}' exited with {result.exit_code}: {output}"
        return f"Exec lifecycle hook ({go_string_list(command)}) {where} - error: {err}, message: {_go_quote(output)}"
    if handler.get("httpGet") is not None:
        action = handler["httpGet"] or {}
        port = resolve_port(action.get("port"), container)
        path = action.get("path") or ""
        if port is None:
            return f"HTTP lifecycle hook ({path}) {where} - error: unable to resolve port {action.get('port')!r}"
        code, err = await http_get(action, action.get("host") or pod_ip, port, min(timeout, HTTP_HOOK_TIMEOUT),
                                   "kube-lifecycle/1.32")
        if code is None:
            return f"HTTP lifecycle hook ({path}) {where} - error: {err}"
        return ""
    if handler.get("sleep") is not None:
        await clock.sleep(float((handler["sleep"] or {}).get("seconds") or 0))
        return ""
    return f"Cannot run handler: invalid handler: {handler}"


def _go_quote(text: str) -> str:
    """Go's %q of a string (close enough: JSON escaping matches for printable text)."""
    import json

    return json.dumps(text)


async def within(coro: Any, seconds: float, clock: Clock) -> tuple[bool, Any]:
    """Run ``coro`` for at most ``seconds`` of the clock: (finished, its result or None).

    An unfinished hook is abandoned (cancelled), as kubelet stops waiting for a preStop at the end
    of the grace period.
    """
    task = asyncio.ensure_future(coro)
    timer = asyncio.ensure_future(clock.sleep(max(0.0, seconds)))
    try:
        await asyncio.wait([task, timer], return_when=asyncio.FIRST_COMPLETED)
    finally:
        timer.cancel()
    if task.done():
        return True, task.result()
    task.cancel()
    return False, None
