"""The numbers of a generator's metrics (:class:`lab5_utils.evaluation.measurement.Measurement` puts them
together and owns the conditions): one condition set's course accuracy over many noise seeds with per class / per
object count and the unmatched control (the same images scored against other conditions: what class bias alone
scores), and the Frechet distance of two feature sets.

The Frechet number is called ``frechet_judge_distance``: it uses our judge's ResNet18 features, not Inception,
so it is NOT an FID and is only comparable between runs that use the same judge.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from lab5_utils.evaluation.sampling import generate
from lab5_utils.judge.model import (
    Judge,
    exact_set_hits,
    hits_accuracy,
    topk_hits,
    unmatched_accuracy,
)
from lab5_utils.labels import (
    MAX_OBJECTS,
    class_names,
)


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Frechet distance between Gaussians fitted to feature sets ``a: (N,D)`` and ``b: (M,D)`` (float64).

    ``|mu_a - mu_b|^2 + tr(Sa) + tr(Sb) - 2 tr((Sa^1/2 Sb Sa^1/2)^1/2)``, with symmetric eigendecompositions
    (no complex sqrtm). Needs N, M >= 2; N, M > D gives full-rank covariances.
    """
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        shapes = f"{tuple(a.shape)}, {tuple(b.shape)}"
        raise ValueError(f"frechet_distance: need (N,D) and (M,D) features with N,M >= 2, got {shapes}")
    a, b = a.double(), b.double()
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = torch.cov(a.T), torch.cov(b.T)
    vals, vecs = torch.linalg.eigh(cov_a)
    sqrt_a = (vecs * vals.clamp(min=0).sqrt()) @ vecs.T
    middle = sqrt_a @ cov_b @ sqrt_a
    cross = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()
    value = (mu_a - mu_b).square().sum() + cov_a.trace() + cov_b.trace() - 2 * cross
    return float(value.clamp(min=0))


def file_metrics(judge: Judge, G: nn.Module, y: torch.Tensor, seeds: Sequence[int], device: Any,
                 batch_size: int) -> dict[str, Any]:
    """One condition set's numbers (``y: (N, 24)`` multi-hot, encoded once by the caller) for ``G`` by ``judge``
    over noise ``seeds`` (noise seed ``s`` as in
    :func:`~lab5_utils.evaluation.sampling.generate`): course accuracy mean / std (ddof=1) / per seed, ``best_seed``
    (labelled; never the headline), exact set, the unmatched control, per-class and per-object-count accuracy
    (label-level top-k hits pooled over seeds)."""
    counts = y.sum(1).long()
    class_hits = torch.zeros(y.shape[1], dtype=torch.long)
    class_total = torch.zeros(y.shape[1], dtype=torch.long)
    count_hits = torch.zeros(MAX_OBJECTS + 1, dtype=torch.long)
    count_total = torch.zeros(MAX_OBJECTS + 1, dtype=torch.long)
    per_seed, unmatched, exact = [], [], []
    for seed in seeds:
        predicted = judge.predict(generate(G, y, seed, device, batch_size))
        hit, present = topk_hits(predicted, y)
        per_seed.append(hits_accuracy(hit, present))  # the course accuracy (compute_acc) of this seed
        unmatched.append(unmatched_accuracy(predicted, y))
        exact.append(float(exact_set_hits(predicted, y).float().mean()))
        class_hits += hit.sum(0)
        class_total += present.sum(0)
        count_hits.index_add_(0, counts, hit.sum(1))
        count_total.index_add_(0, counts, present.sum(1))
    best = int(np.argmax(per_seed))
    ratio = [int(h) / int(t) if t > 0 else None for h, t in zip(class_hits, class_total, strict=True)]
    return {
        "n_conditions": len(y),
        "accuracy_mean": float(np.mean(per_seed)),
        "accuracy_std": float(np.std(per_seed, ddof=1)) if len(per_seed) > 1 else 0.0,
        "per_seed": per_seed,
        "best_seed": {"seed": seeds[best], "accuracy": per_seed[best]},
        # the fraction of images whose thresholded judge output is exactly the requested set (mean over seeds)
        "exact_set_mean": float(np.mean(exact)),
        "exact_set_std": float(np.std(exact, ddof=1)) if len(exact) > 1 else 0.0,
        # the same images scored against the other conditions of their size (None: no two share a size)
        "unmatched_mean": None if np.isnan(unmatched).all() else float(np.mean(unmatched)),
        "per_class": dict(zip(class_names(), ratio, strict=True)),
        "per_count": {k: (int(count_hits[k]) / int(count_total[k]) if count_total[k] > 0 else None)
                      for k in range(1, MAX_OBJECTS + 1)},
    }
