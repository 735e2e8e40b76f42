"""One named, resumable experiment = train a preset to a budget, then measure it; shared by the notebooks,
the CLI and ``benchmarks/quality_at_budget.py`` so every reported number comes from the same code path.

``run_preset("wgan_gp", "runs/wgan_gp", minutes=60)`` resumes ``runs/wgan_gp/last.pt`` if it exists, trains
until the run's *total* training time reaches the budget (so re-running a finished notebook costs nothing),
then writes ``metrics.json``: the judge's accuracy on ``test.json``/``new_test.json`` and on random conditions
in neither file (mean ± std over noise seeds; top-k and exact-set) for the raw and the EMA generator, with the
hardware, the scale and the judge that produced it (and, with ``second_judge=True``, the EMA generator read by
the second, independent judge).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from torch import nn

from lab5_utils.config import get_config
from lab5_utils.metrics import (
    CONDITION_FILES,
    ceiling_images,
    evaluate_by_judges,
    evaluate_generator,
    report_conditions,
)
from lab5_utils.train_utils import describe_device, read_stats


def file_digest(path: str | Path) -> str:
    """First 12 hex digits of a file's sha256 (names the exact judge behind a number)."""
    from lab5_utils.paths import sha256_file

    return sha256_file(path)[:12]


def make_eval_fn(judge: Any, device: torch.device, seeds: int = 3) -> Callable[[nn.Module], dict[str, float]]:
    """Periodic evaluation during training: ``eval_fn(G) -> {"acc_mean", "acc_test", "acc_new_test"}``, the
    judge's accuracy on both condition files, mean over ``seeds`` fixed noise seeds (0..seeds-1)."""

    def eval_fn(G: nn.Module) -> dict[str, float]:
        result = evaluate_generator(G, CONDITION_FILES, seeds=range(seeds), judge=judge, device=device,
                                    renderer=None, frechet_samples=0, progress=False)
        accs = {f"acc_{name}": float(entry["accuracy_mean"]) for name, entry in result["files"].items()}
        return {"acc_mean": sum(accs.values()) / len(accs), **accs}

    return eval_fn


def run_preset(preset: str, out_dir: str | Path, *, minutes: float | None = None, epochs: int | None = None,
               steps: int | None = None, data_root: str | Path | None = None, device: str | None = None,
               seeds: int = 10, eval_every: int = 100, frechet_samples: int = 2048, progress: bool = True,
               overrides: Mapping[str, Any] | None = None, second_judge: bool = False) -> dict[str, Any]:
    """Train ``preset`` into ``out_dir`` up to a total budget (``minutes`` of training time, ``epochs`` or
    ``steps``; resuming what is there), then evaluate G and G_ema; returns (and writes) ``metrics.json``.

    ``minutes`` counts training-step time summed over all calls, so a finished run is not trained again; a
    ``metrics.json`` written for the same request (budget, seeds, data, judge) and the same ``last.pt`` is
    returned as is. Reported accuracies come from ``last.pt`` (G and its EMA), never from ``best.pt``, which
    is picked on the same condition files and would be optimistic."""
    from lab5_utils.classifier import ensure_classifier, load_classifier
    from lab5_utils.dataset import content_key, load_arrays
    from lab5_utils.evaluator import checkpoint_meta, load_evaluator
    from lab5_utils.judge import ensure_judge
    from lab5_utils.paths import ensure_default_data
    from lab5_utils.train_utils import default_device
    from lab5_utils.trainer import Trainer

    cfg = get_config(preset, **dict(overrides or {}))
    out_dir = Path(out_dir)
    root = Path(data_root) if data_root else ensure_default_data(progress=progress)
    judge_path = ensure_judge(progress=progress)  # $LAB5_JUDGE or our judge (trained on its own render)
    # the frozen aux classifier learns from the GAN's own training folder, never from the judge's render
    classifier_path = ensure_classifier(root, progress=progress) if cfg.needs_classifier else None
    conditions = report_conditions()
    request = {"preset": cfg.name, "overrides": dict(overrides or {}), "minutes": minutes, "epochs": epochs,
               "steps": steps, "seeds": seeds, "frechet_samples": frechet_samples, "data_root": str(root),
               "data_key": content_key(root)[:16],  # what the folder holds: a changed folder is measured anew
               "conditions_sha256": hashlib.sha256(json.dumps(conditions, sort_keys=True).encode()).hexdigest()[:16],
               "judge_sha256": file_digest(judge_path),
               "classifier_sha256": classifier_path and file_digest(classifier_path), "second_judge": second_judge}
    if second_judge:  # the cross-check: another judge, own render and seed, never seen by training
        from lab5_utils.judge import ensure_second_judge

        judge2_path = ensure_second_judge(progress=progress)
        request["judge2_sha256"] = file_digest(judge2_path)
    metrics_file, last = out_dir / "metrics.json", out_dir / "last.pt"
    if metrics_file.is_file() and last.is_file():
        try:
            saved = json.loads(metrics_file.read_text())
            assert isinstance(saved, dict)
        except (ValueError, AssertionError):
            warnings.warn(f"{metrics_file}: not a metrics dict (cut short?); measuring the run again", stacklevel=2)
            saved = {}
        if saved.get("request") == request and saved.get("last_sha256") == file_digest(last):
            return saved  # this run already met this budget and was measured: nothing to train or evaluate
    torch_device = torch.device(device) if device else default_device()
    judge = load_evaluator(judge_path, device=torch_device)
    images, labels, _ = load_arrays(root, progress=progress)
    trainer = Trainer(cfg, (images, labels), out_dir, resume=True, device=torch_device,
                      progress=progress, eval_fn=make_eval_fn(judge, torch_device) if eval_every > 0 else None,
                      eval_every=max(eval_every, 1), metric="acc_mean",
                      classifier=classifier_path and load_classifier(classifier_path, torch_device))
    trainer.run(train_minutes=minutes, epochs=epochs, steps=steps)
    common = {"seeds": range(seeds), "device": torch_device, "progress": progress, "data_root": root,
              "frechet_samples": frechet_samples,
              "real_images": ceiling_images(conditions)}  # rendered once for every generator and judge
    results = {"G": evaluate_generator(trainer.G, conditions, judge=judge, **common)}
    judges = {"G_ema": judge} | ({"G_ema_judge2": load_evaluator(judge2_path, device=torch_device)}
                                 if second_judge else {})
    results |= evaluate_by_judges(trainer.G_ema, judges, conditions, **common)  # Fréchet by the first judge
    if second_judge:
        results["G_ema_judge2"]["judge_sha256"] = request["judge2_sha256"]
    meta = checkpoint_meta(judge_path)
    summary = {
        "request": request, "last_sha256": file_digest(last),
        "preset": cfg.name, "config": dataclasses.asdict(cfg), "step": trainer.step,
        "epoch": trainer.batches.epoch, "train_time_s": round(trainer.train_time, 1),
        "images_seen": trainer.step * cfg.batch_size * cfg.n_critic,  # real images D has seen
        "budget": {"minutes": minutes, "epochs": epochs, "steps": steps}, "seeds": seeds,
        "hardware": describe_device(torch_device), "data_root": str(root), "images": len(images),
        "out_dir": str(out_dir.resolve()),
        "judge": str(judge_path), "judge_sha256": request["judge_sha256"],
        "judge_holdout_accuracy": meta.get("holdout_accuracy"), "judge_tiny": bool(meta.get("tiny", False)),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "results": results,
    }
    text = json.dumps(summary, indent=1)
    tmp = metrics_file.with_suffix(".json.tmp")
    tmp.write_text(text)
    os.replace(tmp, metrics_file)
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


def comparison_table(summaries: Mapping[str, Mapping[str, Any]]) -> str:
    """Markdown table: one row per run with its scale, hardware and accuracies (mean ± std over seeds)."""
    rows = ["| run | G cond / D cond / loss | steps | epochs | train min | hardware | test.json (EMA) "
            "| new_test.json (EMA) | unmatched control (EMA) | test.json (raw) | new_test.json (raw) "
            "| judge-feature FD (EMA) | random conditions (EMA) | exact set test / new_test / random (EMA) |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, s in summaries.items():
        c = s["config"]
        ema, raw = headline(s, "G_ema"), headline(s, "G")
        files = s["results"]["G_ema"]["files"]
        fd = s["results"]["G_ema"].get("frechet_judge_distance")
        unmatched = [files[f].get("unmatched_mean") for f in CONDITION_FILES]  # None: an older run
        exact = [files[f].get("exact_set_mean") for f in (*CONDITION_FILES, "random") if f in files]
        cells = [f"{name}", f"{c['g_cond']} / {c['d_cond']} / {c['loss']}", str(s["step"]), str(s["epoch"]),
                 f"{s['train_time_s'] / 60:.0f}", s["hardware"],
                 f"{ema['test']:.3f} ± {ema['test_std']:.3f}", f"{ema['new_test']:.3f} ± {ema['new_test_std']:.3f}",
                 " / ".join("-" if u is None else f"{u:.3f}" for u in unmatched),
                 f"{raw['test']:.3f} ± {raw['test_std']:.3f}", f"{raw['new_test']:.3f} ± {raw['new_test_std']:.3f}",
                 "-" if fd is None else f"{fd:.1f}",
                 f"{ema['random']:.3f} ± {ema['random_std']:.3f}" if "random" in ema else "-",
                 " / ".join("-" if e is None else f"{e:.3f}" for e in exact) or "-"]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def plot_accuracy_curves(summaries: Mapping[str, Mapping[str, Any]], which: str = "eval_ema",
                         figsize: tuple[float, float] = (8, 3.5), x: str = "epoch",
                         chance: float | None = None) -> Figure:
    """Judge accuracy (mean of test/new_test over 3 seeds) during training, one line per run, from each run's
    stats.jsonl: against epochs (``x="epoch"``: real images the critic has seen / data set size) or against
    minutes of training time (``x="minutes"``, read from the nearest earlier log row: the budget's axis).
    ``chance`` (e.g. the mean of :func:`chance_accuracy` over both files) adds a dashed reference line."""
    if x not in ("epoch", "minutes"):
        raise ValueError(f"plot_accuracy_curves: x must be 'epoch' or 'minutes', got {x!r}")
    fig, ax = plt.subplots(figsize=figsize)
    for name, s in summaries.items():
        per_step = s["config"]["batch_size"] * s["config"]["n_critic"] / s["images"]
        points, minutes = [], 0.0
        for row in read_stats(Path(s["out_dir"]) / "stats.jsonl"):
            minutes = row["train_time_s"] / 60 if "train_time_s" in row else minutes
            if which in row:
                points.append((row["step"] * per_step if x == "epoch" else minutes, row[which]["acc_mean"]))
        if points:
            ax.plot(*zip(*points, strict=True), marker=".", label=name)
    if chance is not None:
        ax.axhline(chance, color="gray", lw=0.8, ls="--", label="chance")
    ax.set_xlabel("epoch" if x == "epoch" else "training minutes")
    ax.set_ylabel("judge accuracy (mean of both files)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_losses(run_dir: str | Path, keys: tuple[str, ...] = ("d_loss", "g_loss"),
                figsize: tuple[float, float] = (8, 3)) -> Figure:
    """Training losses (and GP / aux terms when present) against generator steps, from stats.jsonl."""
    rows = [r for r in read_stats(Path(run_dir) / "stats.jsonl") if "d_loss" in r]
    fig, ax = plt.subplots(figsize=figsize)
    for key in keys + ("gp", "d_aux", "g_aux"):
        points = [(r["step"], r[key]) for r in rows if key in r]  # a lazy GP is not in every row
        if points:
            ax.plot(*zip(*points, strict=True), label=key)
    ax.set_xlabel("generator step")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_per_class(summary: Mapping[str, Any], which: str = "G_ema", figsize: tuple[float, float] = (12, 3)) -> Figure:
    """Per-class judge accuracy on each condition file (classes absent from a file are left out)."""
    from lab5_utils.labels import class_names

    names = class_names()
    files = summary["results"][which]["files"]
    fig, ax = plt.subplots(figsize=figsize)
    width = 0.8 / len(files)
    for offset, (name, entry) in enumerate(files.items()):
        values = [entry["per_class"].get(n) for n in names]
        xs = [i + offset * width for i, v in enumerate(values) if v is not None]
        ax.bar(xs, [v for v in values if v is not None], width, label=name)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(names))], names, rotation=90, fontsize=7)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("judge top-k hit rate")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_attention_gammas(run_dir: str | Path, figsize: tuple[float, float] = (6, 3)) -> Figure:
    """SAGAN's attention gammas (start at 0) against generator steps: evidence that attention is used."""
    rows = [r for r in read_stats(Path(run_dir) / "stats.jsonl") if any(k.startswith("gamma/") for k in r)]
    fig, ax = plt.subplots(figsize=figsize)
    for key in sorted({k for r in rows for k in r if k.startswith("gamma/")}):
        ax.plot([r["step"] for r in rows], [r.get(key) for r in rows], label=key.removeprefix("gamma/"))
    ax.set_xlabel("generator step")
    ax.set_ylabel("gamma")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
