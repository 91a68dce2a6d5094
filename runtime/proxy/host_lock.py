"""Which kubefacade process on this host holds the Service clusterIPs: an exclusive ``flock`` on a lock
file (released by the kernel when its holder exits, however it exits), and a claim file through which
a process started with ``--claim-cluster-ips`` asks the holder to hand over."""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path


class HostLock:
    """The lock at ``path`` and the claim file beside it (``<stem>.claim``, holding a pid)."""

    def __init__(self, path: Path, label: str) -> None:
        self.path = path
        self.claim_path = path.with_name(path.stem + ".claim")
        self.label = label  # written into the lock file, for the others' messages
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_lock(self) -> str:
        """Take the lock: '' on success, else what the lock file says about its holder."""
        if self._fd is not None:
            return ""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
            os.close(fd)
            return holder or "unknown"
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, {self.label}".encode(), 0)
        self._fd = fd
        return ""

    def unlock(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None

    def claimant(self) -> int:
        """The pid of a live process other than this one that claims the lock, else 0."""
        try:
            pid = int(self.claim_path.read_text().strip() or 0)
        except (OSError, ValueError):
            return 0
        if pid in (0, os.getpid()):
            return 0
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return 0
        except PermissionError:  # alive, under another user
            pass
        return pid

    def claim(self) -> None:
        """Ask for the lock, unless another live process asked first."""
        if self.claimant() == 0:
            self.claim_path.parent.mkdir(parents=True, exist_ok=True)
            self.claim_path.write_text(str(os.getpid()))

    def drop_claim(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            if int(self.claim_path.read_text().strip() or 0) == os.getpid():
                self.claim_path.unlink()
