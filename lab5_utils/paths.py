"""Where things live and which mode runs: the cache folder (``$LAB5_CACHE``), the shipped ``weights/`` folder
(``$LAB5_WEIGHTS``), the run folders of budget-capped runs, and the fast (CI) and smoke switches."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any


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
    """True when ``LAB5_FAST`` is set to a non-empty value other than ``0`` (CI's smoke-test switch)."""
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


def weights_dir() -> Path:
    """``$LAB5_WEIGHTS`` or the ``weights/`` folder beside the package (a source checkout / editable install), and
    in it ``real/`` when :func:`weights_kind` is ``real``."""
    base = Path(os.environ["LAB5_WEIGHTS"]).expanduser() if os.environ.get("LAB5_WEIGHTS") else \
        Path(__file__).resolve().parents[1] / "weights"
    return base / "real" if weights_kind() == "real" else base


def shipped(name: str) -> Path | None:
    """``weights_dir()/name`` if it exists (``GENERATOR_FILE`` or ``JUDGE_FILE``), else ``None``."""
    path = weights_dir() / name
    return path if path.is_file() else None
