"""Honest generator metrics: course accuracy over many noise seeds, per class / per object count, the judge's
ceiling on real renders of the same conditions, the unmatched control (the same images scored against other
conditions: what class bias alone scores), and a Frechet distance in the judge's 512-d feature space.

The Frechet number is called ``frechet_judge_distance``: it uses our judge's ResNet18 features, not Inception,
so it is NOT an FID and is only comparable between runs that use the same judge.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from lab5_utils.data.dataset import load_arrays
from lab5_utils.data.default import ensure_default_data
from lab5_utils.evaluation.sampling import Renderer, generate, real_to_signed, render_real
from lab5_utils.judge.model import (
    Judge,
    as_judge,
    compute_acc,
    exact_set_hits,
    hits_accuracy,
    topk_hits,
    unmatched_accuracy,
)
from lab5_utils.labels import (
    MAX_OBJECTS,
    class_names,
    encode_batch,
    load_conditions,
    random_conditions,
    resolve_conditions,
)
from lab5_utils.paths import rendered_by_us

# The course's two condition files, as ``evaluate_generator``'s ``conditions`` argument (name -> file).
CONDITION_FILES = {"test": "test", "new_test": "new_test"}
RANDOM_CONDITIONS = 96  # the generalisation check: random valid conditions in neither course file (seed 0)
Conditions = Sequence[Sequence[str]]


def report_conditions() -> dict[str, Any]:
    """What a run's final metrics measure: both course files and ``random``, :data:`RANDOM_CONDITIONS` random
    valid conditions of 1-3 objects that are in neither file (:func:`lab5_utils.labels.random_conditions`)."""
    return {**CONDITION_FILES, "random": random_conditions(RANDOM_CONDITIONS, seed=0)}


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


def normalise_conditions(conditions: Mapping[str, Conditions | str | Path] | Conditions | str | Path,
                         ) -> dict[str, list[list[str]]]:
    """``{name: validated conditions}`` of a condition file, a list, or a mapping of either (errors name the file
    or entry)."""
    if isinstance(conditions, str | Path):
        items = {Path(str(conditions)).stem: conditions}
    elif isinstance(conditions, Mapping):
        items = dict(conditions)
    else:
        items = {"conditions": conditions}
    out = {}
    for name, value in items.items():
        if isinstance(value, str | Path):
            value = load_conditions(resolve_conditions(value))
        encode_batch(value, where=str(name))  # validates, errors name the file/entry
        out[str(name)] = [list(c) for c in value]
    return out


def ceiling_options(data_root: str | Path | None) -> dict[str, Any]:
    """Keyword arguments of :func:`evaluate_by_judges` for the ceiling of a generator trained on ``data_root``: none
    (our render of the conditions, the default) when that is our render (it has ``scenes.json``) or not given;
    none at all for other data (the real images), where a judge reading our render measures the render, not a
    ceiling."""
    if data_root is None or rendered_by_us(data_root):
        return {}
    return {"real_images": {}, "renderer": None}


def ceiling_images(conditions: Mapping[str, Conditions | str | Path] | Conditions | str | Path,
                   renderer: Renderer = render_real, seed: int = 0) -> dict[str, torch.Tensor]:
    """``{name: renderer(conditions of name, seed)}``: the real images behind every ``ceiling``, rendered once and
    passed as ``evaluate_generator(real_images=...)`` to each generator and judge measured on them."""
    return {name: renderer(conds, seed) for name, conds in normalise_conditions(conditions).items()}


def _file_metrics(judge: Judge, G: nn.Module, conds: list[list[str]], seeds: list[int], device: Any,
                  batch_size: int) -> dict[str, Any]:
    y = encode_batch(conds)
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
        "n_conditions": len(conds),
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


def evaluate_by_judges(G: nn.Module, judges: Mapping[str, Judge | nn.Module | str | Path],
                       conditions: Mapping[str, Conditions | str | Path] | None = None,
                       real_images: Mapping[str, torch.Tensor] | None = None, frechet_samples: int = 2048,
                       **options: Any) -> dict[str, dict[str, Any]]:
    """:func:`evaluate_generator` of one ``G`` by each judge of ``{label: judge}``: on ``conditions`` (default
    :func:`report_conditions`), with their ceiling images rendered once for all judges (``real_images``, default
    :func:`ceiling_images`), the Fréchet distance measured by the first judge only; ``options`` go to
    :func:`evaluate_generator`. A judge given as a path is loaded (never trained). Returns ``{label: metrics}``."""
    device = options.get("device", "cpu")
    conditions = report_conditions() if conditions is None else conditions
    real_images = ceiling_images(conditions) if real_images is None else real_images
    return {label: evaluate_generator(G, conditions, judge=as_judge(judge, device), real_images=real_images,
                                      frechet_samples=frechet_samples if index == 0 else 0, **options)
            for index, (label, judge) in enumerate(judges.items())}


def evaluate_generator(
    G: nn.Module,
    conditions: Mapping[str, Conditions | str | Path] | Conditions | str | Path,
    *,
    judge: Judge | nn.Module,
    seeds: Iterable[int] = range(10),
    device: str | torch.device = "cpu",
    real_images: Mapping[str, torch.Tensor] | None = None,
    renderer: Renderer | None = render_real,
    render_seed: int = 0,
    reference: tuple[torch.Tensor, torch.Tensor] | None = None,
    data_root: str | Path | None = None,
    frechet_samples: int = 2048,
    frechet_seed: int = 0,
    batch_size: int = 256,
    progress: bool = True,
) -> dict[str, Any]:
    """All metrics of generator ``G`` (``G(z: (B,G.z_dim), y: (B,24) multi-hot) -> (B,3,64,64) in [-1,1]``).

    ``conditions``: a list of conditions, or ``{name: list | "test" | "new_test" | path}``. For each file:
    course accuracy mean / std (ddof=1) / per seed over ``seeds`` (noise seed ``s`` as in :func:`generate`),
    ``best_seed`` (labelled; never the headline), per-class and per-object-count accuracy (label-level top-k
    hits pooled over seeds), and ``ceiling``: the judge on real images for the same conditions (``real_images
    [name]``, else ``renderer(conds, render_seed)``; ``renderer=None`` skips it). ``frechet_judge_distance``:
    ``frechet_samples`` generated images (conditions drawn from the reference labels) vs as many reference
    images in judge-feature space; ``reference = (uint8 images (M,3,64,64), labels (M,24))`` defaults to
    ``load_arrays(data_root)`` of the default data; ``frechet_samples=0`` skips it. ``judge``: a loaded judge
    (:func:`lab5_utils.judge.model.load_judge` of :func:`lab5_utils.judge.cache.ensure_judge`'s path, or a
    course-architecture module); nothing here trains one. Returns a plain dict (see :func:`format_metrics_table`).
    """
    judge = as_judge(judge, device)
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("evaluate_generator: seeds is empty")
    files = normalise_conditions(conditions)
    result: dict[str, Any] = {"judge": judge.name, "judge_tiny": bool(judge.meta.get("tiny", False)),
                              "seeds": seeds, "files": {}}
    for name, conds in tqdm(files.items(), desc="conditions", disable=not progress):
        entry = _file_metrics(judge, G, conds, seeds, device, batch_size)
        real = (real_images or {}).get(name)
        if real is None and renderer is not None:
            real = renderer(conds, render_seed)
        entry["ceiling"] = entry["ceiling_exact_set"] = None
        if real is not None:  # the judge on real images of the same conditions: what a perfect G would score
            y, predicted = encode_batch(conds), judge.predict(real_to_signed(real))
            entry["ceiling"] = compute_acc(predicted, y)
            entry["ceiling_exact_set"] = float(exact_set_hits(predicted, y).float().mean())
        result["files"][name] = entry
    result.update(_frechet(G, judge, reference, data_root, frechet_samples, frechet_seed, device, batch_size,
                           progress))
    return result


def _frechet(G: nn.Module, judge: Judge, reference: tuple[torch.Tensor, torch.Tensor] | None,
             data_root: str | Path | None, samples: int, seed: int, device: Any, batch_size: int,
             progress: bool) -> dict[str, Any]:
    if samples <= 0:
        return {"frechet_judge_distance": None, "frechet_samples": {"generated": 0, "real": 0}}
    if reference is None:
        root = Path(data_root) if data_root else ensure_default_data(progress=progress)
        images, labels, _ = load_arrays(root, 64, progress=progress)
    else:
        images, labels = reference
    n = min(samples, len(images))
    rng = np.random.default_rng(seed)
    real_idx = torch.as_tensor(rng.choice(len(images), size=n, replace=False))
    cond_idx = torch.as_tensor(rng.choice(len(labels), size=n, replace=False))
    fake = judge.features(generate(G, torch.as_tensor(labels)[cond_idx].float(), seed, device, batch_size))
    real = judge.features(real_to_signed(torch.as_tensor(images)[real_idx]))
    return {"frechet_judge_distance": frechet_distance(fake, real), "frechet_samples": {"generated": n, "real": n},
            "frechet_full_rank": n > fake.shape[1]}


def format_metrics_table(d: Mapping[str, Any]) -> str:
    """A plain-text table of :func:`evaluate_generator`'s dict (headline = mean ± std over seeds)."""
    seeds = d.get("seeds", [])
    lines = [f"judge: {d.get('judge')}{'  (TINY test judge: do not report)' if d.get('judge_tiny') else ''}",
             f"{'conditions':<14}{'accuracy (mean ± std)':>24}{'seeds':>7}{'best seed':>16}{'ceiling':>9}"
             f"{'unmatched':>10}{'exact set':>10}{'1 obj':>7}{'2 obj':>7}{'3 obj':>7}"]
    for name, e in d.get("files", {}).items():
        counts = "".join(f"{'-' if v is None else f'{v:.3f}':>7}" for v in e["per_count"].values())
        ceiling = "-" if e.get("ceiling") is None else f"{e['ceiling']:.3f}"
        best = f"{e['best_seed']['accuracy']:.3f} (s={e['best_seed']['seed']})"
        unmatched = "-" if e.get("unmatched_mean") is None else f"{e['unmatched_mean']:.3f}"  # older metrics.json
        exact = "-" if e.get("exact_set_mean") is None else f"{e['exact_set_mean']:.3f}"  # older metrics.json
        lines.append(f"{name:<14}{e['accuracy_mean']:>15.3f} ± {e['accuracy_std']:.3f}{len(seeds):>7}{best:>16}"
                     f"{ceiling:>9}{unmatched:>10}{exact:>10}{counts}")
    fjd = d.get("frechet_judge_distance")
    if fjd is not None:
        n = d["frechet_samples"]
        lines.append(f"frechet_judge_distance (judge features, not FID): {fjd:.3f} "
                     f"({n['generated']} generated vs {n['real']} real)")
    for name, e in d.get("files", {}).items():
        worst = sorted((v, k) for k, v in e["per_class"].items() if v is not None)[:3]
        lines.append(f"{name}: weakest classes " + ", ".join(f"{k} {v:.2f}" for v, k in worst))
    return "\n".join(lines)
