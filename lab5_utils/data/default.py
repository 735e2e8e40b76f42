"""The embedded default data: the synthetic i-CLEVR set a GAN trains on and the judges' own renders, each
rendered once into the cache on first use (or ``$LAB5_DATA``, e.g. the real i-CLEVR folder)."""

from __future__ import annotations

import os
from pathlib import Path

from lab5_utils.data.dataset import listing_path
from lab5_utils.paths import cache_dir, filling
from lab5_utils.synth.render import RENDERER_VERSION, render_dataset

DEFAULT_SCENES = 6003  # as many scenes as the real train.json: 18,009 images
DEFAULT_SEED = 0
# The judge learns from its own render (another seed, twice the scenes: the real label sequences, then random
# ones), so it has never seen a GAN's training image, as the course's evaluator was trained on its own set.
JUDGE_SCENES = 12000
JUDGE_SEED = 1
FAST_SCENES = 40


def ensure_judge_data(progress: bool = True, seed: int = JUDGE_SEED, tiny: bool = False) -> Path:
    """A judge's own synthetic set (``JUDGE_SCENES`` scenes of render seed ``seed``, default ``JUDGE_SEED``;
    ``FAST_SCENES`` for a ``tiny`` judge), rendered once into the cache."""
    scenes = FAST_SCENES if tiny else JUDGE_SCENES
    return _rendered(cache_dir() / f"judge_iclevr_r{RENDERER_VERSION}_seed{seed}_scenes{scenes}", scenes, seed,
                     progress)


def _rendered(root: Path, scenes: int, seed: int, progress: bool) -> Path:
    """``root``, rendered there first unless complete (one process renders; any other waits for it)."""
    if not (root / "train.json").is_file():
        with filling(root):
            if not (root / "train.json").is_file():
                render_dataset(root, scenes=scenes, seed=seed, progress=progress)
    return root


def default_data_root(scenes: int = DEFAULT_SCENES, seed: int = DEFAULT_SEED) -> Path:
    """``$LAB5_DATA`` if set (e.g. the real i-CLEVR folder), else the synthetic set's folder in the cache."""
    if os.environ.get("LAB5_DATA"):
        return Path(os.environ["LAB5_DATA"]).expanduser()
    return cache_dir() / f"synthetic_iclevr_r{RENDERER_VERSION}_seed{seed}_scenes{scenes}"


def ensure_synthetic_data(scenes: int = DEFAULT_SCENES, seed: int = DEFAULT_SEED, progress: bool = True) -> Path:
    """The synthetic i-CLEVR set of ``scenes`` scenes and render ``seed`` in the cache (whatever ``$LAB5_DATA``
    says), rendered there once if it is not complete yet. A render is complete when ``train.json`` exists (the
    renderer writes it last), so an interrupted render is redone rather than used half-written."""
    return _rendered(cache_dir() / f"synthetic_iclevr_r{RENDERER_VERSION}_seed{seed}_scenes{scenes}", scenes, seed,
                     progress)


def ensure_default_data(scenes: int = DEFAULT_SCENES, seed: int = DEFAULT_SEED, progress: bool = True) -> Path:
    """The default data root: ``$LAB5_DATA`` (checked for a ``train.json``), else :func:`ensure_synthetic_data`."""
    if os.environ.get("LAB5_DATA"):
        root = default_data_root(scenes, seed)
        listing_path(root)  # LAB5_DATA without train.json: an error naming the folder
        return root
    return ensure_synthetic_data(scenes, seed, progress)
