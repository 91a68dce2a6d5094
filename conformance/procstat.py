"""CPU time and resident memory of a local server process, read from /proc (no psutil).

The server's CPU seconds per 1,000 operations is the figure that says what a request costs,
independent of how many cores the machine lends to the load generator.
"""

from __future__ import annotations

import ipaddress
import os
import socket

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/PID/stat from field 3 on (index 0 = proc(5)'s field 3), or None if ``pid`` has gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            text = handle.read()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    return text[text.rindex(")") + 2:].split()


def _cpu(pids: list[int], first: int) -> float | None:
    total = 0.0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is None:
            return None
        total += (int(fields[first]) + int(fields[first + 1])) / _TICKS
    return total


def cpu_seconds(pids: list[int]) -> float | None:
    """User+system CPU seconds consumed so far by all ``pids``; None if one has gone."""
    return _cpu(pids, 11)  # utime, stime: fields 14 and 15 of proc(5)


def children_cpu_seconds(pids: list[int]) -> float | None:
    """CPU seconds of the children ``pids`` have reaped so far (the ``ip``, ``mount``... they ran and
    containers that exited); None if one has gone."""
    return _cpu(pids, 13)  # cutime, cstime: fields 16 and 17 of proc(5)


def _status_bytes(pid: int, field: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith(field):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def rss_bytes(pid: int) -> int | None:
    """VmRSS of ``pid`` in bytes, or None if it cannot be read."""
    return _status_bytes(pid, "VmRSS:")


def peak_rss_bytes(pid: int) -> int | None:
    """VmHWM (the resident high-water mark) of ``pid`` in bytes, or None if it cannot be read."""
    return _status_bytes(pid, "VmHWM:")


def is_local_host(host: str) -> bool:
    """True when ``host`` names this machine's loopback (only then can /proc tell its PID)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
        except OSError:
            return False


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, encoding="ascii") as handle:
                next(handle, None)
                for line in handle:
                    cols = line.split()
                    local, state, inode = cols[1], cols[3], cols[9]
                    if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A = LISTEN
                        inodes.add(inode)
        except OSError:
            continue
    return inodes


def pids_listening_on(port: int) -> list[int]:
    """PIDs of the processes that hold a socket listening on TCP ``port`` (sorted)."""
    inodes = _listening_inodes(port)
    if not inodes:
        return []
    wanted = {f"socket:[{inode}]" for inode in inodes}
    pids: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fd_dir = f"/proc/{entry}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"{fd_dir}/{fd}") in wanted:
                    pids.append(int(entry))
                    break
            except OSError:
                continue
    return sorted(pids)
