"""Where the embedded default lives: the cache folder, the synthetic data set and its rendering on first use."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

DEFAULT_SCENES = 6003  # as many scenes as the real train.json: 18,009 images
DEFAULT_SEED = 0
# The judge learns from its own render (another seed, twice the scenes: the real label sequences, then random
# ones), so it has never seen a GAN's training image, as the course's evaluator was trained on its own set.
JUDGE_SCENES = 12000
JUDGE_SEED = 1
# The second, independent judge (issue 11's cross-check): another render seed and another training seed.
SECOND_JUDGE_RENDER_SEED = 2
SECOND_JUDGE_TRAIN_SEED = 1
FAST_SCENES = 40
# Bumped whenever the renderer's output changes, so a cached render of an older renderer is never reused.
RENDERER_VERSION = 3


def cache_root() -> Path:
    """``$LAB5_CACHE`` or ``~/.cache/lab5_utils``, as named (not created; :func:`cache_dir` creates it)."""
    return Path(os.environ.get("LAB5_CACHE", Path.home() / ".cache" / "lab5_utils")).expanduser()


def cache_dir() -> Path:
    """``$LAB5_CACHE`` or ``~/.cache/lab5_utils`` (created on demand)."""
    path = cache_root()
    path.mkdir(parents=True, exist_ok=True)
    return path


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes (names an exact judge, checkpoint or listing in logs and metrics)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fast_mode() -> bool:
    """True when ``LAB5_FAST`` is set to a non-empty value other than ``0`` (CI's smoke-test switch)."""
    return os.environ.get("LAB5_FAST", "") not in {"", "0"}


def smoke_mode() -> bool:
    """True when ``LAB5_SMOKE`` is set (not ``0``): the notebooks run their REAL presets for two steps each on the
    small fast-mode data, with one noise seed, into temp folders (CI's check of the full path's shapes, memory and
    devices; its numbers mean nothing)."""
    return os.environ.get("LAB5_SMOKE", "") not in {"", "0"}


def ensure_judge_data(progress: bool = True, seed: int = JUDGE_SEED) -> Path:
    """A judge's own synthetic set (``JUDGE_SCENES`` scenes of render seed ``seed``, default ``JUDGE_SEED``;
    ``FAST_SCENES`` in fast mode), rendered once into the cache."""
    scenes = FAST_SCENES if fast_mode() else JUDGE_SCENES
    root = cache_dir() / f"judge_iclevr_r{RENDERER_VERSION}_seed{seed}_scenes{scenes}"
    if not (root / "train.json").is_file():
        from lab5_utils.render import render_dataset

        render_dataset(root, scenes=scenes, seed=seed, progress=progress)
    return root


def default_data_root(scenes: int = DEFAULT_SCENES, seed: int = DEFAULT_SEED) -> Path:
    """``$LAB5_DATA`` if set (e.g. the real i-CLEVR folder), else the synthetic set's folder in the cache."""
    if os.environ.get("LAB5_DATA"):
        return Path(os.environ["LAB5_DATA"]).expanduser()
    return cache_dir() / f"synthetic_iclevr_r{RENDERER_VERSION}_seed{seed}_scenes{scenes}"


def ensure_default_data(scenes: int = DEFAULT_SCENES, seed: int = DEFAULT_SEED, progress: bool = True) -> Path:
    """The default data root, rendering the synthetic i-CLEVR set there once if it is not complete yet.

    A render is complete when ``train.json`` exists (the renderer writes it last), so an interrupted render
    is redone rather than used half-written.
    """
    root = default_data_root(scenes, seed)
    if (root / "train.json").is_file():
        return root
    if os.environ.get("LAB5_DATA"):
        raise FileNotFoundError(f"{root / 'train.json'}: LAB5_DATA points at a folder without train.json")
    from lab5_utils.render import render_dataset

    render_dataset(root, scenes=scenes, seed=seed, progress=progress)
    return root


def budget_runs(runs: str | Path, minutes: float | None) -> Path:
    """Where runs capped by ``minutes`` of training time live: ``runs/timed`` (``runs`` when uncapped). Runs of a
    benchmark and of a notebook's ``LAB5_MINUTES`` share it, so a larger budget later resumes them, and they never
    resume a longer uncapped run of the same preset (``runs/<preset>``)."""
    return Path(runs) / "timed" if minutes else Path(runs)
