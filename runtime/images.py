"""Image names: normalizing them as containerd reports them, and the few entrypoints the process backend knows.

The process backend runs a container's command on the host instead of from an image, so for a
container without a ``command`` it needs the image's ENTRYPOINT/CMD. It knows them for a handful of
common images; for any other image such a container fails with a clear reason, never pretends.
"""

from __future__ import annotations

import shutil


def split_image(image: str) -> tuple[str, str, str]:
    """(registry, repository path, tag or digest) as Docker reads an image reference."""
    ref = image.strip()
    digest = ""
    if "@" in ref:
        ref, digest = ref.split("@", 1)
        digest = "@" + digest
    parts = ref.split("/")
    registry = ""
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        registry = parts[0]
        parts = parts[1:]
    path = "/".join(parts)
    tag = ""
    if ":" in parts[-1]:
        path, tag = path.rsplit(":", 1)
        tag = ":" + tag
    return registry, path, digest or tag


def normalize_image(image: str) -> str:
    """``busybox`` → ``docker.io/library/busybox:latest``, as container runtimes report it."""
    registry, path, ref = split_image(image)
    if not registry:
        registry = "docker.io"
        if "/" not in path:
            path = "library/" + path
    return f"{registry}/{path}{ref or ':latest'}"


def image_basename(image: str) -> str:
    """The last path element without tag or digest: ``registry.k8s.io/pause:3.10`` → ``pause``."""
    _, path, _ = split_image(image)
    return path.rsplit("/", 1)[-1]


def known_entrypoint(image: str) -> tuple[list[str], list[str]] | None:
    """(ENTRYPOINT, CMD) of a known image as runnable on this host, or None when unknown here."""
    base = image_basename(image)
    if base == "busybox":
        return [], ["sh"]
    if base == "alpine":
        return [], ["/bin/sh"]
    if base in ("ubuntu", "debian"):
        return [], ["bash"]
    if base == "pause":
        return ["sleep", "infinity"], []
    if base == "python":
        return [], ["python3"]
    if base == "nginx" and shutil.which("nginx"):
        return ["nginx", "-g", "daemon off;"], []
    return None
