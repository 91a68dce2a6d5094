"""What the docker-backend tests share: why they cannot run here, and skipping (or failing in CI)."""

from __future__ import annotations

import os

import pytest


def docker_unavailable(image: str) -> str:
    """Why no docker-backend test can run here ("" when an engine answers and has ``image`` locally)."""
    from runtime.docker import engine_available

    why = engine_available()
    if why:
        return why
    import docker

    client = docker.from_env(timeout=5)
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        return f"the Docker engine has no local {image} image"
    finally:
        client.close()
    return ""


def skip_or_fail(why: str, what: str = "the docker tests") -> None:
    """Skip on a user's machine; in CI (CI=true) a test that cannot run is a failure."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI must run {what}: {why}")
    pytest.skip(why)
