"""Pod volumes materialized as directories under the pod's directory, as kubelet's volume plugins do.

emptyDir, configMap, secret, downwardAPI and projected (configMap/secret/downwardAPI/serviceAccountToken
sources) become files in ``<pod dir>/volumes/<name>``; each container's mounts then point there. A source that does
not exist (and is not optional) fails the mount with kubelet's message, and the pod waits in
ContainerCreating with a ``FailedMount`` Event until it appears.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from runtime.env import ConfigError, Getter, field_value, resource_value
from runtime.interface import Mount

Obj = dict[str, Any]
TokenGetter = Callable[[Obj], Awaitable[bytes]]


class MountError(Exception):
    """MountVolume.SetUp failed: ``volume`` names the volume, the message says why."""

    def __init__(self, volume: str, message: str) -> None:
        super().__init__(message)
        self.volume = volume


def _write_files(target: Path, files: dict[str, tuple[bytes, int]]) -> None:
    """Replace the volume's content with ``files`` (relative path → (bytes, mode))."""
    if target.exists():
        shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True, exist_ok=True)
    for rel, (data, mode) in files.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.chmod(path, mode)


def _key_files(obj: Obj, items: list[Obj] | None, default_mode: int, secret: bool,
               kind: str, name: str) -> dict[str, tuple[bytes, int]]:
    data: dict[str, bytes] = {}
    for k, v in (obj.get("data") or {}).items():
        data[k] = base64.b64decode(v) if secret else str(v).encode()
    for k, v in (obj.get("binaryData") or {}).items():
        data[k] = base64.b64decode(v)
    if not items:
        return {k: (v, default_mode) for k, v in data.items()}
    out: dict[str, tuple[bytes, int]] = {}
    for item in items:
        key = item.get("key", "")
        if key not in data:
            raise ConfigError(f"configmap references non-existent config key: {key}" if kind == "ConfigMap"
                              else f"references non-existent secret key: {key}")
        out[item.get("path", key)] = (data[key], item.get("mode") or default_mode)
    return out


async def _source_files(pod: Obj, source: Obj, default_mode: int, get: Getter,
                        allocatable: Obj, token: TokenGetter | None = None) -> dict[str, tuple[bytes, int]] | None:
    """Files of one configMap/secret/downwardAPI/serviceAccountToken source; None when an optional one is missing."""
    ns = pod["metadata"].get("namespace", "")
    if "serviceAccountToken" in source:
        if token is None:
            return {}
        ref = source["serviceAccountToken"] or {}
        return {ref.get("path", "token"): (await token(ref), default_mode)}
    if "configMap" in source:
        ref = source["configMap"]
        obj = await get("configmaps", ns, ref.get("name", ""))
        if obj is None:
            if ref.get("optional"):
                return None
            raise ConfigError(f'configmap "{ref.get("name", "")}" not found')
        return _key_files(obj, ref.get("items"), ref.get("defaultMode", default_mode), False,
                          "ConfigMap", ref.get("name", ""))
    if "secret" in source:
        ref = source["secret"]
        name = ref.get("secretName") or ref.get("name", "")
        obj = await get("secrets", ns, name)
        if obj is None:
            if ref.get("optional"):
                return None
            raise ConfigError(f'secret "{name}" not found')
        return _key_files(obj, ref.get("items"), ref.get("defaultMode", default_mode), True, "Secret", name)
    if "downwardAPI" in source:
        ref = source["downwardAPI"]
        files: dict[str, tuple[bytes, int]] = {}
        containers = {c.get("name"): c for c in (pod.get("spec") or {}).get("containers") or []}
        for item in ref.get("items") or []:
            if "fieldRef" in item:
                value = field_value(pod, item["fieldRef"].get("fieldPath", ""))
            else:
                rf = item.get("resourceFieldRef") or {}
                container = containers.get(rf.get("containerName")) or {}
                value = resource_value(container, rf.get("resource", ""), rf.get("divisor"), allocatable)
            files[item.get("path", "")] = (value.encode(), item.get("mode") or ref.get("defaultMode", default_mode))
        return files
    return {}


async def setup_volumes(pod: Obj, pod_dir: Path, get: Getter, allocatable: Obj,
                        token: TokenGetter | None = None) -> dict[str, Path]:
    """Materialize every volume of the pod; returns volume name → host directory.

    ``token`` fetches a service-account token for a ``serviceAccountToken`` projection (runtime/sa_token.py).
    """
    paths: dict[str, Path] = {}
    for vol in (pod.get("spec") or {}).get("volumes") or []:
        name = vol.get("name", "")
        target = pod_dir / "volumes" / name
        try:
            if "emptyDir" in vol:
                target.mkdir(parents=True, exist_ok=True)
            elif "hostPath" in vol:
                host = Path(vol["hostPath"].get("path", ""))
                kind = vol["hostPath"].get("type") or ""
                if kind in ("DirectoryOrCreate",):
                    host.mkdir(parents=True, exist_ok=True)
                elif kind == "Directory" and not host.is_dir():
                    raise ConfigError(f"hostPath type check failed: {host} is not a directory")
                target = host
            elif "projected" in vol:
                proj = vol["projected"]
                files: dict[str, tuple[bytes, int]] = {}
                for source in proj.get("sources") or []:
                    got = await _source_files(pod, source, proj.get("defaultMode", 0o644), get, allocatable, token)
                    files.update(got or {})
                await asyncio.to_thread(_write_files, target, files)  # file I/O off the event loop
            elif any(k in vol for k in ("configMap", "secret", "downwardAPI")):
                default = (vol.get("configMap") or vol.get("secret") or vol.get("downwardAPI") or {}).get(
                    "defaultMode", 0o644)
                got = await _source_files(pod, vol, default, get, allocatable)
                await asyncio.to_thread(_write_files, target, got or {})
            else:
                target.mkdir(parents=True, exist_ok=True)
        except ConfigError as e:
            raise MountError(name, str(e)) from None
        paths[name] = target
    return paths


def container_mounts(container: Obj, volume_paths: dict[str, Path]) -> list[Mount]:
    """The container's volumeMounts resolved to host paths (subPath included)."""
    mounts: list[Mount] = []
    for m in container.get("volumeMounts") or []:
        base = volume_paths.get(m.get("name", ""))
        if base is None:
            continue
        sub = m.get("subPath") or ""
        host = base / sub if sub else base
        mounts.append(Mount(m.get("name", ""), host, m.get("mountPath", ""), bool(m.get("readOnly")), sub))
    return mounts
