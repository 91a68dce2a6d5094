"""Each container in a mount namespace of its own, where its volumes appear at their mountPath and
the pod's /etc/hosts, /etc/hostname and /etc/resolv.conf are bind-mounted over the host's.

How a container starts (``start_argv``)::

    nsenter --net=<pod netns> --uts=<pod UTS ns> -- unshare --mount --propagation slave -- \
        sh -c '<mkdir/mount --bind/remount ro ...>; cd <workingDir>; exec "$@"' kubefacade-container ARGV

The setup reports on a FIFO the runtime reads (``mount_script``): the container has started once its
mounts are made and its program is about to be exec'd; a mount that fails is the container failing to
start (``StartError`` with the mount error, as runc's failure reaches kubelet), not a program exiting 32.

Why util-linux and a shell rather than ``setns``/``unshare`` through ctypes in a ``preexec_fn``: the
agent's process has threads (the event loop's executor), and a ``preexec_fn`` runs between fork and
exec where only async-signal-safe work is safe; Python 3.11 has no ``os.setns``/``os.unshare``
either. ``nsenter``, ``unshare`` and ``sh`` each ``exec`` the next program in the same process, so the
pid the runtime waits on and signals is the container's own, and ``nsenter -t <pid>`` later enters
exactly its namespaces for ``kubectl exec`` and exec probes.

Propagation is ``slave``, as runc makes a container's root: nothing the container mounts reaches the
host, while the host's unmounts reach the container — so when a pod's netns or UTS file is removed
on the host, copies held by other containers' mount namespaces go too and the namespace is freed.

Mount points that do not exist on the host (``/data``, ``/var/run/secrets/...``) are created on the
host, because a container's mount namespace shares the host's root filesystem; they are recorded
under ``/run/kubefacade/mounts`` with the containers (``<pid>:<id>``) using them, across every
kubefacade process on the host, and removed — only if still empty — once no live container uses
them. Until then the empty directory (or empty file) is visible on the host. Mount points nested
inside another mount of the same container are created inside that volume, by the script.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from runtime.interface import Mount

STATE_DIR = Path("/run/kubefacade/mounts")
POD_FILES = ("/etc/hosts", "/etc/hostname", "/etc/resolv.conf")
STARTED = "kubefacade-container-started"  # the setup's last word before exec, on its report FIFO
MOUNT_ERROR = "error mounting"
REMOUNT_ERROR = "error remounting"


@dataclass
class BindMount:
    source: Path
    target: str
    read_only: bool = False

    @property
    def is_dir(self) -> bool:
        return self.source.is_dir()


def _norm(path: str) -> str:
    return "/" + "/".join(p for p in path.split("/") if p not in ("", "."))


def _under(path: str, parent: str) -> bool:
    return parent != path and (parent == "/" or path.startswith(parent + "/"))


def container_binds(mounts: list[Mount], pod_files: dict[str, Path]) -> list[BindMount]:
    """The container's bind mounts, parents before children: its volumeMounts, then the pod's /etc files
    that it does not mount a volume over itself."""
    binds: list[BindMount] = []
    for m in mounts:
        if not m.container_path:
            continue
        source = m.host_path
        if m.sub_path and not source.exists():
            source.mkdir(parents=True, exist_ok=True)  # kubelet creates a missing subPath in the volume
        binds.append(BindMount(source, _norm(m.container_path), m.read_only))
    own = {b.target for b in binds}
    binds += [BindMount(path, target) for target, path in pod_files.items() if target not in own]
    binds.sort(key=lambda b: b.target.count("/"))
    return binds


def host_targets(binds: list[BindMount]) -> list[tuple[str, bool]]:
    """(target, is a directory) of the mount points that live on the host's tree (not inside a volume)."""
    return [(b.target, b.is_dir) for i, b in enumerate(binds)
            if not any(_under(b.target, other.target) for other in binds[:i])]


def mount_script(binds: list[BindMount], working_dir: str, report: Path | None = None) -> str:
    """The shell that runs inside the new mount namespace before the container's program.

    With ``report`` (a FIFO the runtime reads, ``runtime/pod_isolation.py``), what the setup writes to
    stderr goes there instead of the container's log, a failed mount adds which mount it was and exits,
    and a successful setup writes ``STARTED`` and closes the FIFO just before the program is exec'd:
    the runtime learns whether the container started (runc's init pipe does the same for containerd)."""
    lines = [f"exec 9>&2 2>{shlex.quote(str(report))}"] if report is not None else []
    lines.append("set -e")

    def checked(command: str, what: str) -> str:
        return f"{command} || {{ echo {shlex.quote(what)} >&2; exit 32; }}" if report is not None else command

    for i, b in enumerate(binds):
        t, s = shlex.quote(b.target), shlex.quote(str(b.source))
        if any(_under(b.target, other.target) for other in binds[:i]):
            if b.is_dir:
                lines.append(f"[ -e {t} ] || mkdir -p {t}")
            else:
                lines.append(f"[ -e {t} ] || {{ mkdir -p \"$(dirname {t})\"; : > {t}; }}")
        lines.append(checked(f"mount --rbind {s} {t}", f'{MOUNT_ERROR} "{b.source}" to rootfs at "{b.target}"'))
    lines += [checked(f"mount -o remount,bind,ro {shlex.quote(b.target)}", f'{REMOUNT_ERROR} "{b.target}" read-only')
              for b in binds if b.read_only]
    if working_dir:
        lines.append(f"cd {shlex.quote(working_dir)} 2>/dev/null || true")
    if report is not None:
        lines += [f"echo {STARTED} >&2", "exec 2>&9 9>&-"]
    lines.append('exec "$@"')
    return "\n".join(lines)


def setup_error(report: str) -> str:
    """What a failed setup wrote to the report FIFO, as one message: ``error mounting "S" to rootfs at
    "T": <mount's own complaint>`` (the shape of runc's error, which kubelet shows)."""
    lines = [line.strip() for line in report.strip().splitlines() if line.strip() and line.strip() != STARTED]
    if lines and lines[-1].startswith((MOUNT_ERROR, REMOUNT_ERROR)):
        return f"{lines[-1]}: {' '.join(lines[:-1])}" if lines[:-1] else lines[-1]
    return " ".join(lines)


def start_argv(argv: list[str], binds: list[BindMount], working_dir: str, netns: Path | None,
               uts: Path | None, report: Path | None = None) -> list[str]:
    """The argv that starts a container in the pod's namespaces and a mount namespace of its own."""
    enter = []
    if netns is not None:
        enter.append(f"--net={netns}")
    if uts is not None:
        enter.append(f"--uts={uts}")
    prefix = ["nsenter", *enter, "--"] if enter else []
    return [*prefix, "unshare", "--mount", "--propagation", "slave", "--",
            "/bin/sh", "-c", mount_script(binds, working_dir, report), "kubefacade-container", *argv]


def exec_argv(pid: int, command: list[str]) -> list[str]:
    """A command run in the namespaces of the container whose process is ``pid``, in its working directory."""
    return ["nsenter", "-t", str(pid), "-m", "-u", "-n", "--wd", "--", *command]


class MountPoints:
    """Mount points created on the host, shared by every kubefacade process of the host (see module doc)."""

    def __init__(self, state_dir: Path = STATE_DIR) -> None:
        self.state_dir = state_dir

    def _record(self, path: str) -> Path:
        return self.state_dir / (hashlib.sha1(path.encode()).hexdigest()[:24] + ".json")

    @contextlib.contextmanager
    def _locked(self):  # type: ignore[no-untyped-def]
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with open(self.state_dir / ".lock", "w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            yield

    def acquire(self, holder: str, targets: list[tuple[str, bool]]) -> None:
        """Make every target (and missing parent) exist; record the ones made here, held by ``holder``."""
        with self._locked():
            for target, is_dir in targets:
                parts = [p for p in target.split("/") if p]
                for i in range(1, len(parts) + 1):
                    path = "/" + "/".join(parts[:i])
                    rec_path = self._record(path)
                    rec = _load(rec_path)
                    if not os.path.lexists(path):
                        if i == len(parts) and not is_dir:
                            Path(path).touch()
                        else:
                            os.mkdir(path)
                        rec = {"path": path, "holders": []}
                    if rec is None:
                        continue  # it was there before any container: never ours to remove
                    if holder not in rec["holders"]:
                        rec["holders"].append(holder)
                        _store(rec_path, rec)

    def release(self, holder: str = "", pid: int = 0) -> None:
        """Drop ``holder`` (or every holder of process ``pid``, and holders of dead processes); remove
        the paths no live container holds any more, deepest first."""
        with self._locked():
            records = [(p, r) for p in self.state_dir.glob("*.json") if (r := _load(p)) is not None]
            records.sort(key=lambda pr: -len(pr[1]["path"]))
            for rec_path, rec in records:
                holders = [h for h in rec["holders"]
                           if h != holder and not (pid and h.startswith(f"{pid}:")) and _alive(h)]
                if holders:
                    if holders != rec["holders"]:
                        rec["holders"] = holders
                        _store(rec_path, rec)
                    continue
                _remove_if_empty(rec["path"])
                rec_path.unlink(missing_ok=True)


def _store(path: Path, rec: dict) -> None:
    """Rewrite a record in place. Not ``write_text``: on ext4 a truncation to zero makes the close
    flush the file (auto_da_alloc), milliseconds per record while the host-wide lock is held, which
    serialized the start of every container on the host. Readers hold the same lock."""
    data = json.dumps(rec).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)


def _load(path: Path) -> dict | None:
    try:
        rec = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return rec if isinstance(rec, dict) and "path" in rec else None


def _alive(holder: str) -> bool:
    pid = holder.partition(":")[0]
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_if_empty(path: str) -> None:
    with contextlib.suppress(OSError):
        if os.path.isdir(path) and not os.path.islink(path):
            os.rmdir(path)
        elif os.path.isfile(path) and os.path.getsize(path) == 0:
            os.unlink(path)
