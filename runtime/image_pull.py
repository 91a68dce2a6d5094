"""Images by ``imagePullPolicy``, with the Events kubelet's image manager records (pkg/kubelet/images).

- present and policy not ``Always``: Normal ``Pulled`` ``Container image "x" already present on machine``
- ``Never`` and absent: Warning ``ErrImageNeverPull`` ``Container image "x" is not present with pull
  policy of Never``; the container waits with that reason
- otherwise a pull: Normal ``Pulling`` ``Pulling image "x"``, then Normal ``Pulled`` ``Successfully pulled
  image "x" in 1.2s (1.2s including waiting). Image size: N bytes.`` — or Warning ``Failed``
  ``Failed to pull image "x": <why>`` and ``Error: ErrImagePull``; while the pull back-off (10 s,
  doubling to 5 min, per pod and image) lasts: Normal ``BackOff`` ``Back-off pulling image "x"`` and
  ``Error: ImagePullBackOff``.

A backend says what it has through two optional methods: ``image_size(config) -> int | None`` (None:
not present) and ``pull_image(config) -> int`` (the size; raises ``RuntimeError_`` with reason
``ErrImagePull``, or another reason when the backend cannot pull at all). A backend without them
has every image present. The process backend pulls nothing: an image is present there when the
container's command or the image's known entrypoint resolves on the host (``runtime/process.py``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from runtime.events import NORMAL, WARNING
from runtime.interface import ContainerConfig, RuntimeError_
from runtime.pod_status import ContainerRecord

if TYPE_CHECKING:
    from runtime.pod_worker import PodWorker

PULL_BACKOFF_INITIAL = 10.0
PULL_BACKOFF_MAX = 300.0


def go_duration_ms(seconds: float) -> str:
    """Go's Duration.String of a duration truncated to milliseconds: ``0s``, ``770ms``, ``1.038s``, ``1m2.5s``."""
    ms = int(seconds * 1000)
    if ms == 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    minutes, ms = divmod(ms, 60_000)
    hours, minutes = divmod(minutes, 60)
    secs = f"{ms // 1000}.{ms % 1000:03d}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{hours}h{minutes}m{secs}"
    if minutes:
        return f"{minutes}m{secs}"
    return secs


def pull_policy(spec: dict[str, Any]) -> str:
    """The container's imagePullPolicy, defaulted as the API server does (``:latest`` or no tag: Always)."""
    policy = spec.get("imagePullPolicy")
    if policy:
        return str(policy)
    image = str(spec.get("image", ""))
    last = image.rsplit("/", 1)[-1]
    if "@" in last:
        return "IfNotPresent"
    return "Always" if ":" not in last or last.endswith(":latest") else "IfNotPresent"


async def ensure_image(worker: PodWorker, rec: ContainerRecord, config: ContainerConfig) -> bool:
    """Make the container's image available by its policy; False when the container must wait."""
    runtime = worker.agent.runtime
    image = config.image
    size_of = getattr(runtime, "image_size", None)
    pull = getattr(runtime, "pull_image", None)
    present = await size_of(config) if size_of is not None else 0
    policy = pull_policy(rec.spec)
    if present is not None and policy != "Always":
        await worker.emit(NORMAL, "Pulled", f'Container image "{image}" already present on machine', rec.name)
        return True
    if policy == "Never":
        message = f'Container image "{image}" is not present with pull policy of Never'
        await worker.emit(WARNING, "ErrImageNeverPull", message, rec.name)
        await _wait(worker, rec, "ErrImageNeverPull", message, "ErrImageNeverPull")
        return False
    if pull is None:
        await worker.emit(NORMAL, "Pulled", f'Container image "{image}" already present on machine', rec.name)
        return True
    clock = worker.agent.clock
    key = image
    backoff = worker.pull_backoff.get(key)
    if backoff is not None and clock.now() < backoff[1] + backoff[0]:
        message = f'Back-off pulling image "{image}"'
        await worker.emit(NORMAL, "BackOff", message, rec.name)
        await _wait(worker, rec, "ImagePullBackOff", message, "ImagePullBackOff",
                    backoff[1] + backoff[0] - clock.now())
        return False
    await worker.emit(NORMAL, "Pulling", f'Pulling image "{image}"', rec.name)
    started = time.monotonic()
    try:
        size = await pull(config)
    except RuntimeError_ as e:
        if e.reason != "ErrImagePull":  # the backend cannot pull at all: a plain creation failure
            await worker.config_failed(rec, e.reason, e.message)
            return False
        delay = PULL_BACKOFF_INITIAL if backoff is None else min(backoff[0] * 2, PULL_BACKOFF_MAX)
        worker.pull_backoff[key] = (delay, clock.now())
        await worker.emit(WARNING, "Failed", f'Failed to pull image "{image}": {e.message}', rec.name)
        await _wait(worker, rec, "ErrImagePull", e.message, "ErrImagePull")
        return False
    worker.pull_backoff.pop(key, None)
    took = go_duration_ms(time.monotonic() - started)
    await worker.emit(NORMAL, "Pulled", f'Successfully pulled image "{image}" in {took} ({took} including waiting). '
                                        f"Image size: {size} bytes.", rec.name)
    return True


async def _wait(worker: PodWorker, rec: ContainerRecord, reason: str, message: str, error: str,
                retry: float | None = None) -> None:
    """The container waits with ``reason``; kubelet's ``Failed`` ``Error: <reason>`` Event; a retry later."""
    from runtime.pod_worker import RETRY_SECONDS

    rec.state = {"waiting": {"reason": reason, "message": message}}
    rec.ready = False
    await worker.emit(WARNING, "Failed", f"Error: {error}", rec.name)
    delay = RETRY_SECONDS if retry is None else max(retry, 0.0)
    rec.retry_at = worker.agent.clock.now() + delay
    worker.wake_after(delay)
