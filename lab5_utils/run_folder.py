"""One run folder, one writer, nothing lost: a lock naming the process that trains into the folder, the log of a
run that cannot be resumed set aside (never deleted), and the partial ``*.tmp<pid>`` files of killed writers
removed on the next start.

The lock is ``out_dir/run.lock`` holding ``{"pid", "host", "started"}``, created with ``O_EXCL`` (no race between
two starts). A lock whose process is gone (a ``kill -9``, a crash, a reboot) is stale: it is taken over with a
warning. Another live process holding it raises :class:`RunLockedError` naming it. The same process may take
its own lock again (a notebook that builds a second trainer for the same folder).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import socket
import warnings
import weakref
from pathlib import Path
from typing import Any

LOCK_FILE = "run.lock"
_TMP = re.compile(r"\.tmp(\d+)$")


class RunLockedError(RuntimeError):
    """Another live process trains into this run folder."""


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (``os.kill(pid, 0)``; a permission error means it does)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _holder(lock: Path) -> dict[str, Any] | None:
    try:
        return json.loads(lock.read_text())
    except (OSError, ValueError):
        return None  # vanished or torn (a kill during the write): not a live holder's lock


def acquire(out_dir: str | Path) -> Path:
    """Take ``out_dir/run.lock`` for this process; released by :func:`release` (or at exit / garbage collection
    of the owner, see :func:`hold`). Raises :class:`RunLockedError` when a live process on this host holds it."""
    lock = Path(out_dir) / LOCK_FILE
    me = {"pid": os.getpid(), "host": socket.gethostname(),
          "started": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")}
    for _ in range(3):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _holder(lock)
            if holder and holder.get("pid") != me["pid"]:
                other_host = holder.get("host") != me["host"]
                if other_host or pid_alive(int(holder["pid"])):
                    raise RunLockedError(
                        f"{lock}: another run trains into {lock.parent} (pid {holder['pid']} on {holder.get('host')}, "
                        f"since {holder.get('started')}); wait for it, stop it, or choose another --out") from None
                warnings.warn(f"{lock}: stale lock of pid {holder['pid']} (no such process), taken over",
                              stacklevel=3)
            lock.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(me))
        return lock
    raise RunLockedError(f"{lock}: could not take the lock (another start is racing for it)")


def release(lock: Path, pid: int | None = None) -> None:
    """Remove ``lock`` if this process (or ``pid``) holds it."""
    holder = _holder(lock)
    if holder and holder.get("pid") == (pid or os.getpid()) and holder.get("host") == socket.gethostname():
        lock.unlink(missing_ok=True)


def hold(owner: object, out_dir: str | Path) -> weakref.finalize:
    """:func:`acquire` the folder's lock for as long as ``owner`` lives (released when it is garbage collected
    or the interpreter exits; call the returned finalizer to release it earlier)."""
    lock = acquire(out_dir)
    return weakref.finalize(owner, release, lock, os.getpid())


def set_aside(path: str | Path, why: str) -> Path | None:
    """Rename a non-empty ``path`` to ``<name>.<UTC time>.orphan`` with a warning that names both; returns the new
    path (None when there was nothing to keep). Used for a log that no checkpoint accounts for."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        path.unlink(missing_ok=True)
        return None
    kept = path.with_name(f"{path.name}.{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%S')}.orphan")
    os.replace(path, kept)
    warnings.warn(f"{path}: {why}; kept as {kept}", stacklevel=3)
    return kept


def remove_stale_tmp(folder: str | Path) -> list[Path]:
    """Delete ``*.tmp<pid>`` files in ``folder`` whose writer process is gone (left by a kill mid-write)."""
    removed = []
    for path in Path(folder).glob("*.tmp*"):
        match = _TMP.search(path.name)
        if match and int(match.group(1)) != os.getpid() and not pid_alive(int(match.group(1))):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed
