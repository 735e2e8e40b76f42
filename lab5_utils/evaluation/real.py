"""Measurements that need a data folder of real images (or any folder a judge was trained on): how well a judge
reads the scenes it held out, and the judge-feature Fréchet distance between two disjoint halves of the folder
(the distance a perfect generator would still show, beside which a generator's distance is read)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from lab5_utils.data.dataset import load_arrays, scene_of
from lab5_utils.evaluation.metrics import frechet_distance
from lab5_utils.evaluation.sampling import real_to_signed
from lab5_utils.judge.fit import heldout_scenes
from lab5_utils.judge.model import Judge, compute_acc, exact_set_hits, judge_meta, load_judge
from lab5_utils.labels import encode_batch


def heldout_report(judge_path: str | Path, data_root: str | Path, device: str | torch.device = "cpu",
                   progress: bool = False) -> dict[str, Any]:
    """A judge on the scenes of ``data_root`` it held out while training (:func:`heldout_scenes`): course top-k,
    exact set (sigmoid > 0.5 gives exactly the labels) and top-k per object count. A judge not trained on this
    folder has no held-out scenes here: ``ValueError``."""
    held = heldout_scenes(judge_meta(judge_path), data_root)
    if not held:
        raise ValueError(f"{judge_path}: was not trained on {data_root} (no held-out scenes of it to read)")
    images, labels, names = load_arrays(data_root, progress=progress)
    rows = [i for i, name in enumerate(names) if scene_of(name) in held]
    judge = load_judge(judge_path, device=device)
    predicted = judge.predict(real_to_signed(images[rows]))
    y = labels[rows]
    counts = y.sum(1).long()
    return {"scenes": len(held), "images": len(rows), "top_k": compute_acc(predicted, y),
            "exact_set": float(exact_set_hits(predicted, y).float().mean()),
            "top_k_by_count": {int(k): compute_acc(predicted[counts == k], y[counts == k])
                               for k in counts.unique().tolist()}}


def real_vs_real_frechet(judge: Judge, images: torch.Tensor, names: list[str], samples: int = 2048,
                         seed: int = 0) -> float:
    """The judge-feature Fréchet distance between ``samples`` images of one half of the scenes and as many of the
    other half (disjoint scenes, seeded): the floor under a generator's distance at the same sample size."""
    scenes = np.array([scene_of(name) for name in names])
    unique = np.random.default_rng(seed).permutation(np.unique(scenes))
    first = np.isin(scenes, unique[: len(unique) // 2])
    halves = [np.flatnonzero(first), np.flatnonzero(~first)]
    n = min(samples, *map(len, halves))
    picks = [np.random.default_rng(seed + 1 + i).choice(half, size=n, replace=False) for i, half in enumerate(halves)]
    a, b = (judge.features(real_to_signed(images[torch.as_tensor(p)])) for p in picks)
    return frechet_distance(a, b)


def matching_real_images(conditions: list[list[str]], images: torch.Tensor, labels: torch.Tensor,
                         seed: int = 0) -> torch.Tensor:
    """For each condition a real image (uint8 ``(3, 64, 64)``) whose label set is exactly that condition, drawn at
    random (seeded) from ``images``/``labels``; a condition no image shows gets a mid-grey image. For grids of
    generated images beside real ones of the same conditions."""
    rng = np.random.default_rng(seed)
    wanted = encode_batch(conditions)
    out = torch.full((len(conditions), 3, *images.shape[2:]), 128, dtype=torch.uint8)
    for i, row in enumerate(wanted):
        same = torch.nonzero((labels == row).all(1)).flatten()
        if len(same):
            out[i] = images[int(same[rng.integers(len(same))])]
    return out
