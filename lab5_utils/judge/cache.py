"""Our judge on disk: training one on a data folder into the course format, and :func:`ensure_judge`, the judge
every number is read with (``$LAB5_JUDGE``, else the shipped ``weights/judge.pth``, else one trained once on the
judge's own render and cached by the folder's content), plus the second, independent judge."""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from lab5_utils.data.dataset import cache_key, content_key, listing_path
from lab5_utils.data.default import ensure_judge_data
from lab5_utils.device import default_device
from lab5_utils.judge.fit import FORMAT, JudgeConfig, fit_folder, fit_multilabel, heldout_scenes
from lab5_utils.judge.model import judge_meta
from lab5_utils.paths import JUDGE2_FILE, JUDGE_FILE, keyed_cache_file, provision, shipped

# The second, independent judge (issue 11's cross-check): another render seed and another training seed.
SECOND_JUDGE_RENDER_SEED = 2
SECOND_JUDGE_TRAIN_SEED = 1


def train_judge(data_root: str | Path, out: str | Path, config: JudgeConfig | None = None,
                device: str | torch.device = "cpu", progress: bool = True) -> dict[str, Any]:
    """Train a judge (``config``, default :class:`JudgeConfig`) on the folder ``data_root`` (``train.json`` +
    images) and write the course format ``{'model': state_dict, 'meta': {...}}`` to ``out`` atomically. Returns the
    meta dict."""
    config = config or JudgeConfig()
    return fit_folder(data_root, out, lambda *data: fit_multilabel(*data, config, device, progress), "judge",
                      progress)


def judge_cache_path(data_root: Path, config: JudgeConfig, legacy: bool = False) -> Path:
    """Where :func:`ensure_judge` keeps the judge for ``data_root`` + ``config``: ``cache_dir()/judge/...``, keyed
    on the folder's content (:func:`~lab5_utils.data.dataset.content_key`), so moving the cache or the data folder
    never retrains it. ``legacy``: the path of older versions (the folder's path and file times in the key)."""
    data = [cache_key(data_root, 64), str(data_root.resolve())] if legacy else [content_key(data_root)]
    return keyed_cache_file("judge", [FORMAT, *data, asdict(config)], config.tiny, ".pth")


def ensure_judge(data_root: Path | None = None, progress: bool = True, config: JudgeConfig | None = None,
                 device: str | torch.device | None = None, tiny: bool = False) -> Path:
    """Path of the judge to use: ``$LAB5_JUDGE`` if set (e.g. the course's ``checkpoint.pth``), else (no
    ``data_root``/``config`` given, not ``tiny``) the shipped ``weights/judge.pth``, else our cached judge for
    ``data_root`` (default: the judge's own synthetic render, ``data.default.ensure_judge_data``, never a GAN's training
    set), trained on first use (minutes; progress bar).

    ``config`` defaults to :class:`JudgeConfig` (or :meth:`JudgeConfig.tiny_config` for ``tiny``, CI's smoke tests:
    the caller says so, e.g. the CLI under ``LAB5_FAST``; such a judge is marked ``tiny`` and its numbers must not be
    reported)."""
    override = os.environ.get("LAB5_JUDGE")
    if override:
        path = Path(override).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"LAB5_JUDGE={override}: no such judge checkpoint")
        return path

    if data_root is None and config is None and not tiny and (path := shipped(JUDGE_FILE)):
        return path  # weights/judge.pth: no training needed
    if data_root is None:
        data_root = ensure_judge_data(progress=progress, tiny=tiny)
    data_root = Path(data_root).expanduser()
    listing_path(data_root)  # a folder without train.json: an error naming it, before any work
    if config is None:
        config = JudgeConfig.tiny_config() if tiny else JudgeConfig()
    return _cached_judge(data_root, config, device, progress)


def ensure_second_judge(progress: bool = True, device: str | torch.device | None = None, tiny: bool = False) -> Path:
    """The second, independent judge (course format): its own render (seed ``SECOND_JUDGE_RENDER_SEED``) and
    training seed (``SECOND_JUDGE_TRAIN_SEED``), trained on first use and cached; it never sees a GAN's training
    set or the first judge's data. ``$LAB5_JUDGE`` does not replace it (it checks whichever judge that is);
    ``$LAB5_JUDGE2`` does (e.g. a second judge trained on the real images with another seed and scene split), and
    so does a shipped ``judge2.pth`` of the weights in use (``weights/real/``). ``tiny``: as :func:`ensure_judge`."""
    if os.environ.get("LAB5_JUDGE2"):  # e.g. the second real-data judge
        path = Path(os.environ["LAB5_JUDGE2"]).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"LAB5_JUDGE2={path}: no such judge checkpoint")
        return path
    if not tiny and (path := shipped(JUDGE2_FILE)):
        return path  # weights/real/judge2.pth
    data_root = ensure_judge_data(progress=progress, seed=SECOND_JUDGE_RENDER_SEED, tiny=tiny)
    seed = SECOND_JUDGE_TRAIN_SEED
    return _cached_judge(data_root, JudgeConfig.tiny_config(seed) if tiny else JudgeConfig(seed=seed), device,
                         progress)


def second_judge_path(choice: bool | Path | None, progress: bool = True, tiny: bool = False) -> Path | None:
    """The second judge a measurement asked for: a judge file given as a ``Path`` (e.g. the shipped real judge),
    :func:`ensure_second_judge` for ``True``, none for ``False``/``None``."""
    if isinstance(choice, Path):
        return choice
    return ensure_second_judge(progress=progress, tiny=tiny) if choice else None


def _cached_judge(data_root: Path, config: JudgeConfig, device: str | torch.device | None, progress: bool) -> Path:
    return provision(judge_cache_path(data_root, config),
                     lambda path: train_judge(data_root, path, config, device=device or default_device(),
                                              progress=progress),
                     f"the judge on {data_root}", legacy=judge_cache_path(data_root, config, legacy=True),
                     progress=progress)


def judges_heldout(data_root: str | Path, *judge_paths: str | Path | None) -> frozenset[int]:
    """Scenes of ``data_root`` that any of ``judge_paths`` (``None`` skipped) held out to measure itself: a judge
    trained on this very folder saw its score on them, so no training loss (GAN or aux classifier) may see them."""
    return frozenset().union(*(heldout_scenes(judge_meta(p), data_root) for p in judge_paths if p))
