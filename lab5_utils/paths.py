"""Where things live and which mode runs: the cache folder (``$LAB5_CACHE``), the shipped ``weights/`` folder
(``$LAB5_WEIGHTS``), the run folders of budget-capped runs, and the fast (CI) and smoke switches."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from lab5_utils.io import sha256_file


def cache_root() -> Path:
    """``$LAB5_CACHE`` or ``~/.cache/lab5_utils``, as named (not created; :func:`cache_dir` creates it)."""
    return Path(os.environ.get("LAB5_CACHE", Path.home() / ".cache" / "lab5_utils")).expanduser()


def cache_dir() -> Path:
    """``$LAB5_CACHE`` or ``~/.cache/lab5_utils`` (created on demand)."""
    path = cache_root()
    path.mkdir(parents=True, exist_ok=True)
    return path


def keyed_cache_file(kind: str, key: list[Any], tiny: bool, suffix: str) -> Path:
    """``cache_dir()/<kind>/<kind>_[tiny_]<hash><suffix>``: a trained model cached under the first 16 hex digits of
    the sha256 of ``json.dumps(key, sort_keys=True)`` (its format, its data's content key and its settings)."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return cache_dir() / kind / f"{kind}_{'tiny_' if tiny else ''}{digest}{suffix}"


def fast_mode() -> bool:
    """True when ``LAB5_FAST`` is set to a non-empty value other than ``0`` (CI's smoke-test switch). Read only at the
    edges (the CLI, the notebooks' parameters): the library takes ``tiny=`` from its callers."""
    return os.environ.get("LAB5_FAST", "") not in {"", "0"}


def smoke_mode() -> bool:
    """True when ``LAB5_SMOKE`` is set (not ``0``): the notebooks run their REAL presets for two steps each on the
    small fast-mode data, with one noise seed, into temp folders (CI's check of the full path's shapes, memory and
    devices; its numbers mean nothing)."""
    return os.environ.get("LAB5_SMOKE", "") not in {"", "0"}


def budget_runs(runs: str | Path, train_minutes: float | None) -> Path:
    """Where runs capped by ``train_minutes`` of training time live: ``runs/timed`` (``runs`` when uncapped). Runs of a
    benchmark and of a notebook's ``LAB5_MINUTES`` share it, so a larger budget later resumes them, and they never
    resume a longer uncapped run of the same preset (``runs/<preset>``)."""
    return Path(runs) / "timed" if train_minutes else Path(runs)


GENERATOR_FILE = "generator.pt"  # the shipped EMA generator, in weights_dir()
GENERATOR_STATS_FILE = "generator_stats.jsonl"  # a compact copy of its run's stats.jsonl (its curves), where shipped
JUDGE_FILE = "judge.pth"  # the shipped judge (course format), in weights_dir()
JUDGE2_FILE = "judge2.pth"  # the shipped second judge (another seed and split), where one ships (weights/real/)


WEIGHTS_KINDS = ("default", "real")  # weights/ (trained on the synthetic default) and weights/real/ (real images)


def weights_kind() -> str:
    """Which shipped weights to use: ``$LAB5_WEIGHTS_KIND`` (``default`` or ``real``; the CLI's ``--weights``), else
    ``real`` when ``$LAB5_DATA`` points at a data folder that is not our render (no ``scenes.json``), else
    ``default``."""
    kind = os.environ.get("LAB5_WEIGHTS_KIND", "")
    if kind:
        if kind not in WEIGHTS_KINDS:
            raise ValueError(f"LAB5_WEIGHTS_KIND / --weights {kind!r}: expected one of {WEIGHTS_KINDS}")
        return kind
    data = os.environ.get("LAB5_DATA", "")
    return "real" if data and not rendered_by_us(data) else "default"


def rendered_by_us(folder: str | Path) -> bool:
    """True for a data folder our renderer wrote (it holds ``scenes.json``; the real i-CLEVR has none)."""
    return (Path(folder).expanduser() / "scenes.json").is_file()


def weights_dir(kind: str | None = None) -> Path:
    """``$LAB5_WEIGHTS`` or the ``weights/`` folder beside the package (a source checkout / editable install), and
    in it ``real/`` when ``kind`` (default: :func:`weights_kind`) is ``real``."""
    if kind is not None and kind not in WEIGHTS_KINDS:
        raise ValueError(f"weights kind {kind!r}: expected one of {WEIGHTS_KINDS}")
    base = Path(os.environ["LAB5_WEIGHTS"]).expanduser() if os.environ.get("LAB5_WEIGHTS") else \
        Path(__file__).resolve().parents[1] / "weights"
    return base / "real" if (kind or weights_kind()) == "real" else base


MANIFEST_FILE = "manifest.json"  # beside the shipped files: each one's sha256 and provenance
UNVERIFIED_ENV = "LAB5_WEIGHTS_UNVERIFIED"  # set to 1 to use a weights file its manifest does not vouch for


def shipped(name: str, kind: str | None = None) -> Path | None:
    """``weights_dir(kind)/name`` if it exists (``GENERATOR_FILE``, ``JUDGE_FILE``, ...), checked against the sha256
    of its ``manifest.json`` (:func:`verify_shipped`), else ``None``. ``kind="real"``: e.g. the judge trained on the
    real images, which reads any generator's images without the real data being here."""
    path = weights_dir(kind) / name
    if not path.is_file():
        return None
    verify_shipped(path)
    return path


@functools.lru_cache(maxsize=16)
def _sha256(path: str, *version: int) -> str:  # version: size, mtime, inode, ctime (a rewrite changes one)
    return sha256_file(path)


def verify_shipped(path: Path) -> None:
    """A shipped file must match the sha256 that ``manifest.json`` beside it lists: a changed, corrupt, replaced or
    unlisted file is a one-line ``ValueError`` naming it, unless ``$LAB5_WEIGHTS_UNVERIFIED`` is set (a user's own
    export, on purpose). Hashed once per file version (size and mtime)."""
    if os.environ.get(UNVERIFIED_ENV, "") not in ("", "0"):
        return
    listing = path.parent / MANIFEST_FILE
    override = f"(to use it anyway, e.g. your own export: {UNVERIFIED_ENV}=1)"
    try:
        entries = json.loads(listing.read_text())
    except FileNotFoundError:
        raise ValueError(f"{path}: no {MANIFEST_FILE} beside it to check it against {override}") from None
    except ValueError:
        raise ValueError(f"{listing}: not valid JSON, so {path} cannot be checked {override}") from None
    try:
        expected = entries[path.name]["sha256"]
    except (KeyError, TypeError):
        raise ValueError(f"{path}: not listed with a sha256 in {listing} {override}") from None
    stat = path.stat()
    actual = _sha256(str(path.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ino, stat.st_ctime_ns)
    if actual != expected:
        raise ValueError(f"{path}: sha256 {actual[:12]} differs from {listing} ({str(expected)[:12]}): a changed, "
                         f"corrupt or replaced file; restore it (git checkout -- {path}) {override}")


@contextlib.contextmanager
def filling(target: str | Path) -> Iterator[None]:
    """Hold the file lock ``<target>.lock`` while a cache entry (a render, a trained judge or classifier) is made:
    a second process asking for the same entry waits, then finds it made instead of making it again. Callers
    check for the entry again inside the block. (``filelock``: works on every OS; a killed holder frees it.)"""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(f"{target}.lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        print(f"waiting for another process to finish {target} ...", file=sys.stderr)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def provision(path: Path, make: Callable[[Path], object], what: str, *, legacy: Path | None = None,
              progress: bool = True) -> Path:
    """The one way a trained model (a judge, the aux classifier) is provisioned: ``path`` if it is there; else the
    file an older version cached under another key (``legacy``), adopted by renaming (never trained again); else
    ``make(path)`` (trains ``what`` and writes it atomically), one process at a time: another asking meanwhile waits
    and then uses it (:func:`filling`)."""
    if not path.is_file() and legacy is not None and legacy.is_file():
        with contextlib.suppress(FileNotFoundError):  # another process may adopt it first
            os.replace(legacy, path)
    if not path.is_file():
        with filling(path):
            if not path.is_file():
                if progress:
                    print(f"training {what} (first use; cached at {path})", file=sys.stderr)
                make(path)
    return path
