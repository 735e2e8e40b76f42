"""One named, resumable experiment = train a preset to a budget, then measure it; shared by the notebooks,
the CLI and ``benchmarks/quality_at_budget.py`` so every reported number comes from the same code path.

``run_preset("wgan_gp", "runs/wgan_gp", Budget(train_minutes=60))`` resumes ``runs/wgan_gp/last.pt`` if it exists,
trains until the run's *total* training time reaches the budget (so re-running a finished notebook costs nothing),
then writes ``metrics.json``: the judge's accuracy on ``test.json``/``new_test.json`` and on random conditions
in neither file (mean ± std over noise seeds; top-k and exact-set) for the raw and the EMA generator, with the
hardware, the scale and the judge that produced it (and, with ``RunOptions(second_judge=True)``, the EMA generator
read by the second, independent judge).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from lab5_utils.data.dataset import content_key, listing_path, load_arrays, rows_outside
from lab5_utils.data.default import ensure_default_data
from lab5_utils.device import default_device, describe_device
from lab5_utils.evaluation.measurement import (
    Measurement,
    MeasureSettings,
    ceiling_for,
    periodic_eval,
    report_conditions,
)
from lab5_utils.gan.budget import Budget
from lab5_utils.gan.classifier import ensure_classifier, load_classifier
from lab5_utils.gan.config import get_config
from lab5_utils.gan.run_folder import RunFolder
from lab5_utils.gan.trainer import Trainer
from lab5_utils.io import atomic_write, sha256_file
from lab5_utils.judge.cache import ensure_judge, judges_heldout, second_judge_path
from lab5_utils.judge.model import judge_meta, load_judge


def file_digest(path: str | Path) -> str:
    """First 12 hex digits of a file's sha256 (names the exact judge behind a number)."""
    return sha256_file(path)[:12]


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """How :func:`run_preset` measures and where it runs: ``seeds`` noise seeds behind every mean ± std,
    ``eval_every`` generator steps between the judge's evaluations during training (0 = none), ``frechet_samples``
    per side (0 = skip), ``second_judge`` (``True``: :func:`~lab5_utils.judge.cache.ensure_second_judge`; a ``Path``:
    that judge file), ``device`` (``None``: the best available), ``progress``, and ``tiny``: CI's mode, the tiny
    judge(s) and classifier (their numbers mean nothing; the tables say so)."""

    seeds: int = 10
    eval_every: int = 100
    frechet_samples: int = 2048
    second_judge: bool | Path = False
    device: str | None = None
    progress: bool = True
    tiny: bool = False


def run_preset(preset: str, out_dir: str | Path, budget: Budget, *, data_root: str | Path | None = None,
               overrides: Mapping[str, Any] | None = None, options: RunOptions | None = None) -> dict[str, Any]:
    """Train ``preset`` (with config ``overrides``) on ``data_root`` (default: the synthetic default) into ``out_dir``
    up to ``budget`` (:class:`~lab5_utils.gan.budget.Budget`: totals over resumes, resuming what is there), then
    evaluate G and G_ema as ``options`` say (:class:`RunOptions`); returns (and writes) ``metrics.json``.

    The budget's training minutes count training-step time summed over all calls, so a finished run is not trained
    again; a ``metrics.json`` written for the same request (budget, seeds, data, judge) and the same ``last.pt`` is
    returned as is. Reported accuracies come from ``last.pt`` (G and its EMA), never from ``best.pt``, which
    is picked on the same condition files and would be optimistic."""
    o = options or RunOptions()
    progress = o.progress
    cfg = get_config(preset, **dict(overrides or {}))
    if budget.wall_minutes is not None:  # before any judge or classifier is trained
        raise ValueError(f"run_preset: {budget.describe()}: a run's budget is a total over resumes (train_minutes, "
                         "epochs, steps), not one call's wall time")
    out_dir = Path(out_dir)
    root = Path(data_root).expanduser() if data_root else ensure_default_data(progress=progress)
    listing_path(root)  # a folder without train.json: an error naming it before any judge is rendered or trained
    judge_path = ensure_judge(progress=progress, tiny=o.tiny)  # $LAB5_JUDGE or our judge (trained on its own render)
    judge2_path = second_judge_path(o.second_judge, progress, o.tiny)
    excluded = judges_heldout(root, judge_path, judge2_path)
    # the frozen aux classifier learns from the GAN's own training folder, never from the judge's render
    classifier_path = ensure_classifier(root, progress=progress, exclude_scenes=excluded, tiny=o.tiny) \
        if cfg.needs_classifier else None
    conditions = report_conditions()
    request = {"preset": cfg.name, "overrides": dict(overrides or {}), **budget.record(), "seeds": o.seeds,
               "frechet_samples": o.frechet_samples, "data_root": str(root),
               "data_key": content_key(root)[:16],  # what the folder holds: a changed folder is measured anew
               "conditions_sha256": hashlib.sha256(json.dumps(conditions, sort_keys=True).encode()).hexdigest()[:16],
               "judge_sha256": file_digest(judge_path),
               "classifier_sha256": classifier_path and file_digest(classifier_path),
               "second_judge": bool(o.second_judge)}
    if excluded:  # (absent when nothing is excluded: the requests of older runs stay equal)
        request["excluded_scenes"] = hashlib.sha256(json.dumps(sorted(excluded)).encode()).hexdigest()[:16]
    if judge2_path is not None:  # the cross-check: another judge, own data and seed, never seen by training
        request["judge2_sha256"] = file_digest(judge2_path)
    files = RunFolder(out_dir)
    metrics_file, last = files.metrics, files.last
    if metrics_file.is_file() and last.is_file():
        try:
            saved = json.loads(metrics_file.read_text())
            assert isinstance(saved, dict)
        except (ValueError, AssertionError):
            warnings.warn(f"{metrics_file}: not a metrics dict (cut short?); measuring the run again", stacklevel=2)
            saved = {}
        if saved.get("request") == request and saved.get("last_sha256") == file_digest(last):
            return saved  # this run already met this budget and was measured: nothing to train or evaluate
    torch_device = torch.device(o.device) if o.device else default_device()
    judge = load_judge(judge_path, device=torch_device)
    images, labels, filenames = load_arrays(root, progress=progress)
    if excluded:
        keep = rows_outside(filenames, excluded)
        images, labels = images[keep], labels[keep]
    trainer = Trainer(cfg, (images, labels), out_dir, resume=True, device=torch_device,
                      progress=progress, eval_fn=periodic_eval(judge, torch_device) if o.eval_every > 0 else None,
                      eval_every=max(o.eval_every, 1), metric="acc_mean",
                      classifier=classifier_path and load_classifier(classifier_path, torch_device))
    trainer.run(budget)
    # built once for both generators: the ceiling's images (none on real data) rendered and scored once
    judges = {"G_ema": judge} | ({"G_ema_judge2": load_judge(judge2_path, device=torch_device)}
                                 if judge2_path is not None else {})
    measurement = Measurement(judges, conditions, ceiling=ceiling_for(root), reference=root, settings=MeasureSettings(
        seeds=range(o.seeds), frechet_samples=o.frechet_samples, device=torch_device, progress=progress))
    results = {"G": measurement(trainer.G, ["G_ema"])["G_ema"]}  # the raw G, by the first judge
    results |= measurement(trainer.G_ema)  # Fréchet by the first judge
    for which in results:  # each table names the exact judge file behind its numbers
        results[which]["judge_sha256"] = request["judge2_sha256" if which == "G_ema_judge2" else "judge_sha256"]
    meta = judge_meta(judge_path)
    summary = {
        "request": request, "last_sha256": file_digest(last),
        "preset": cfg.name, "config": dataclasses.asdict(cfg), "step": trainer.step,
        "epoch": trainer.batches.epoch, "train_time_s": round(trainer.train_time, 1),
        "images_seen": trainer.step * cfg.batch_size * cfg.n_critic,  # real images D has seen
        "budget": budget.record(), "seeds": o.seeds,
        "hardware": describe_device(torch_device), "data_root": str(root), "images": len(images),
        "excluded_scenes": len(excluded),
        "out_dir": str(out_dir.resolve()),
        "judge": str(judge_path), "judge_sha256": request["judge_sha256"],
        "judge2": judge2_path and str(judge2_path),
        "judge_holdout_accuracy": meta.get("holdout_accuracy"), "judge_tiny": bool(meta.get("tiny", False)),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "results": results,
    }
    text = json.dumps(summary, indent=1)
    atomic_write(metrics_file, text)
    return json.loads(text)  # the same plain types as a later call that reads the file back


def chance_accuracy(conditions: list[list[str]], num_classes: int = 24) -> float:
    """The course score of a judge that ranks the 24 classes at random: each true label of a k-object
    condition lands in the top k with probability k / 24, so the expectation is sum(k^2 / 24) / sum(k)."""
    ks = [len(c) for c in conditions]
    return sum(k * k / num_classes for k in ks) / sum(ks)


def headline(summary: Mapping[str, Any], which: str = "G_ema") -> dict[str, float]:
    """``{"test": mean, "test_std": std, "new_test": ..., "new_test_std": ...}`` of one generator of a run."""
    files = summary["results"][which]["files"]
    return {key: value for name, entry in files.items()
            for key, value in ((name, entry["accuracy_mean"]), (f"{name}_std", entry["accuracy_std"]))}
