"""One run folder, one writer, nothing lost: a lock naming the process that trains into the folder, files of a
run that cannot be resumed set aside (never deleted), and the partial ``*.tmp<pid>`` files of killed writers
removed on the next start.

The lock is an exclusive ``flock`` on ``out_dir/run.lock``, which also holds ``{"pid", "host", "started"}`` of
its holder. The kernel drops the lock when the holder exits in any way (``kill -9`` included), so a lock is never
stale and a reused pid is never mistaken for the holder. A second :class:`RunLock` on a held folder, in another
process or this one, raises :class:`RunLockedError` naming the holder. Without ``fcntl`` (Windows) folders are
not locked.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import socket
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from lab5_utils.io import TEMP_NAME

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = "run.lock"
LAST_FILE, BEST_FILE, STATS_FILE, METRICS_FILE = "last.pt", "best.pt", "stats.jsonl", "metrics.json"


@dataclasses.dataclass(frozen=True)
class RunFolder:
    """Where a run keeps what: every file name of a run folder is spelt here and nowhere else."""

    root: Path

    @property
    def last(self) -> Path:
        """The latest checkpoint: what ``--resume`` continues and what every reported number reads."""
        return self.root / LAST_FILE

    @property
    def best(self) -> Path:
        """The checkpoint of the best evaluation (picked on the condition files: optimistic, never reported)."""
        return self.root / BEST_FILE

    @property
    def stats(self) -> Path:
        """The training log, one JSON object per log step or evaluation."""
        return self.root / STATS_FILE

    @property
    def metrics(self) -> Path:
        """The measured result of ``run_preset`` (its request, the last checkpoint's sha256, the tables)."""
        return self.root / METRICS_FILE

    @property
    def lock(self) -> Path:
        return self.root / LOCK_FILE

    def diagnostic(self, step: int) -> Path:
        """The checkpoint written when a loss turns non-finite at ``step``."""
        return self.root / f"nan_step{step}.pt"

    def run_files(self) -> tuple[Path, Path, Path]:
        """What a fresh start sets aside: the log and both checkpoints of an earlier run."""
        return self.stats, self.last, self.best


class RunLockedError(RuntimeError):
    """Another live process (or another trainer in this one) trains into this run folder."""


class RunWriteError(OSError):
    """Writing a run's log or checkpoint failed (a full disk, a lost mount); the last checkpoint is intact."""


@contextlib.contextmanager
def writing(path: Path, step: int) -> Iterator[None]:
    """Turn an ``OSError`` while writing ``path`` at generator step ``step`` into one :class:`RunWriteError` whose
    message starts with the file and says what to do."""
    try:
        yield
    except RunWriteError:
        raise
    except OSError as err:
        error = RunWriteError(f"{path}: writing failed at step {step} ({err.strerror or err}); the last checkpoint "
                              "(last.pt) is intact: free space, then resume (--resume)")
        error.errno = err.errno
        raise error from err


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (``os.kill(pid, 0)``; a permission error means it does)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    """``with RunLock(out_dir):`` holds the folder's lock for the block (or ``acquire()`` / ``release()``). The same
    object may be entered again while it holds the lock (a trainer's method inside ``run()``); the lock is
    dropped when the outermost block ends."""

    def __init__(self, out_dir: str | Path) -> None:
        self.path = Path(out_dir) / LOCK_FILE
        self.fd: int | None = None
        self.depth = 0

    def acquire(self) -> RunLock:
        if fcntl is None:
            return self
        if self.fd is not None:
            self.depth += 1
            return self
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            try:
                holder = json.loads(self.path.read_text())
            except (OSError, ValueError):
                holder = {}
            raise RunLockedError(
                f"{self.path}: another run trains into {self.path.parent} (pid {holder.get('pid', '?')} on "
                f"{holder.get('host', '?')}, since {holder.get('started', '?')}); wait for it, stop it, or "
                "choose another --out") from None
        me = {"pid": os.getpid(), "host": socket.gethostname(),
              "started": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")}
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(me).encode())
        self.fd, self.depth = fd, 1
        return self

    def release(self) -> None:
        self.depth = max(0, self.depth - 1)
        if self.fd is not None and self.depth == 0:
            os.close(self.fd)  # closing the descriptor drops the flock; the file stays (harmless, unlocked)
            self.fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.release()


def set_aside(path: str | Path, why: str) -> Path | None:
    """Rename a non-empty ``path`` to ``<name>.<UTC time>.orphan`` (a new name, never an existing file) with a
    warning that names both; returns the new path (None when there was nothing to keep)."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        path.unlink(missing_ok=True)
        return None
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    kept = path.with_name(f"{path.name}.{stamp}.orphan")
    counter = 1
    while kept.exists():
        kept, counter = path.with_name(f"{path.name}.{stamp}-{counter}.orphan"), counter + 1
    os.replace(path, kept)
    warnings.warn(f"{path}: {why}; kept as {kept}", stacklevel=3)
    return kept


def remove_stale_tmp(folder: str | Path) -> list[Path]:
    """Delete ``*.tmp<pid>`` files in ``folder`` whose writer process is gone (left by a kill mid-write)."""
    removed = []
    for path in Path(folder).glob("*.tmp*"):
        match = TEMP_NAME.search(path.name)
        if match and int(match.group(1)) != os.getpid() and not pid_alive(int(match.group(1))):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed
