"""CPU time and resident memory of a local server process, read from /proc (no psutil).

The server's CPU seconds per 1,000 operations is the figure that says what a request costs,
independent of how many cores the machine lends to the load generator.
"""

from __future__ import annotations

import ipaddress
import os
import socket

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pids: list[int]) -> float | None:
    """User+system CPU seconds consumed so far by all ``pids``; None if one has gone."""
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
                text = handle.read()
        except OSError:
            return None
        # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
        fields = text[text.rindex(")") + 2:].split()
        utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
        total += (utime + stime) / _TICKS
    return total


def rss_bytes(pid: int) -> int | None:
    """VmRSS of ``pid`` in bytes, or None if it cannot be read."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


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
