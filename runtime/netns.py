"""The few namespace syscalls the pod network makes itself, through ctypes (Python 3.11 has no
``os.setns``/``os.unshare``): entering a pod's network namespace to dial its localhost, creating a
pod's UTS namespace, unmounting the files that keep namespaces alive.

Namespaces belong to threads, so each of these runs in a short-lived thread of its own
(``in_own_thread``): a pooled thread must never be left inside a pod's namespace.
"""

from __future__ import annotations

import ctypes
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

CLONE_NEWNET = 0x40000000
CLONE_NEWUTS = 0x04000000
MS_BIND = 4096
MNT_DETACH = 2

_libc = ctypes.CDLL(None, use_errno=True)


def _check(rc: int) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def setns(fd: int, nstype: int) -> None:
    _check(_libc.setns(fd, nstype))


def umount(path: Path) -> None:
    """Lazily detach whatever is mounted at ``path`` (ignored when nothing is)."""
    _libc.umount2(str(path).encode(), MNT_DETACH)


def in_own_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn`` in a short-lived thread of its own and return its result (or raise its OSError).
    For work that changes the thread's namespaces: a pooled thread must never be left in a pod's."""
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            result["value"] = fn(*args)
        except OSError as e:
            result["error"] = e

    t = threading.Thread(target=work, name="kubefacade-ns", daemon=True)
    t.start()
    t.join()
    if "error" in result:
        raise result["error"]
    return result.get("value")


def new_uts_namespace(path: Path, hostname: str) -> None:
    """A new UTS namespace named ``hostname``, kept alive by a bind mount on ``path`` (what ``unshare
    --uts=PATH hostname NAME`` does, without two programs to start). Changes the calling thread only."""
    own = os.open("/proc/thread-self/ns/uts", os.O_RDONLY)
    try:
        _check(_libc.unshare(CLONE_NEWUTS))
        try:
            socket.sethostname(hostname)
            _check(_libc.mount(b"/proc/thread-self/ns/uts", str(path).encode(), None, MS_BIND, None))
        finally:
            setns(own, CLONE_NEWUTS)
    finally:
        os.close(own)


def connect_in_netns(netns_path: Path, host: str, port: int, timeout: float = 5.0) -> socket.socket:
    """A TCP connection made from inside a network namespace (kubelet's port-forward dials the pod's
    localhost); the namespace is entered by a thread of its own (``in_own_thread``)."""

    def work() -> socket.socket:
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            target = os.open(netns_path, os.O_RDONLY)
            try:
                setns(target, CLONE_NEWNET)
                try:
                    return socket.create_connection((host, port), timeout)
                finally:
                    setns(own, CLONE_NEWNET)
            finally:
                os.close(target)
        finally:
            os.close(own)

    return in_own_thread(work)
