"""Figures and tables of runs for the notebooks and the report: accuracy curves, loss curves, per-class accuracy,
attention gammas, one measurement's plain-text and markdown tables, and the markdown comparison table of several
runs' summaries."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from lab5_utils.evaluation.experiment import headline
from lab5_utils.evaluation.measurement import CONDITION_FILES
from lab5_utils.gan.log import read_stats
from lab5_utils.gan.run_folder import RunFolder
from lab5_utils.labels import class_names


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
        for row in read_stats(RunFolder(Path(s["out_dir"])).stats):
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


def _loss_lines(ax: Any, rows: list[dict[str, Any]], keys: tuple[str, ...], **style: Any) -> None:
    """One line per key against the generator step, over the rows that logged it (a lazy GP is not in every row;
    a NaN window is logged as null)."""
    for key in keys:
        points = [(r["step"], r[key]) for r in rows if r.get(key) is not None]
        if points:
            ax.plot(*zip(*points, strict=True), label=key, **style)


def plot_losses(run_dir: str | Path, keys: tuple[str, ...] = ("d_loss", "g_loss"),
                figsize: tuple[float, float] = (8, 3)) -> Figure:
    """Training losses (and GP / aux terms when present) against generator steps, from stats.jsonl."""
    rows = [r for r in read_stats(RunFolder(Path(run_dir)).stats) if "d_loss" in r]
    fig, ax = plt.subplots(figsize=figsize)
    _loss_lines(ax, rows, keys + ("gp", "d_aux", "g_aux"))
    ax.set_xlabel("generator step")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_training(stats: str | Path, title: str = "", chance: float | None = None,
                  figsize: tuple[float, float] = (12, 3.5)) -> Figure:
    """A run's curves from its ``stats.jsonl`` (a run folder, the file, or a shipped compact copy): the losses against
    generator steps (left) and the judge's accuracy of the EMA generator during training (right: mean over 3 noise
    seeds, each course file)."""
    rows = read_stats(stats)
    fig, (losses, accuracy) = plt.subplots(1, 2, figsize=figsize)
    _loss_lines(losses, rows, ("d_loss", "g_loss", "gp", "d_aux", "g_aux", "g_cls", "g_cls_alone"), lw=1)
    losses.set_yscale("symlog", linthresh=1.0)  # a Wasserstein critic starts in the thousands; losses can be < 0
    losses.set_xlabel("generator step")
    losses.set_title("losses (log-window means; symlog scale)")
    losses.legend(fontsize=7)
    for key, label in (("acc_test", "test.json"), ("acc_new_test", "new_test.json")):
        points = [(r["step"], r["eval_ema"][key]) for r in rows if key in r.get("eval_ema", {})]
        if points:
            accuracy.plot(*zip(*points, strict=True), marker=".", label=label)
    if chance is not None:
        accuracy.axhline(chance, color="gray", lw=0.8, ls="--", label="chance")
    accuracy.set_ylim(0, 1)
    accuracy.set_xlabel("generator step")
    accuracy.set_title("judge top-k accuracy during training (EMA G, 3 seeds)")
    accuracy.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _shown(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def metrics_markdown(d: Mapping[str, Any], title: str = "") -> str:
    """Markdown table of :class:`~lab5_utils.evaluation.measurement.Measurement`'s per-judge dict: per condition set the
    top-k accuracy (mean ± std over noise seeds), exact set, unmatched control, ceiling and by object count."""
    seeds = len(d.get("seeds", []))
    rows = [f"**{title}**" if title else "", "",
            "| conditions | top-k accuracy | exact set | unmatched control | ceiling | 1 obj | 2 obj | 3 obj |",
            "|---|---|---|---|---|---|---|---|"]
    for name, e in d.get("files", {}).items():
        cells = [_shown(e.get(k)) for k in ("exact_set_mean", "unmatched_mean", "ceiling")]
        cells += [_shown(v) for v in e["per_count"].values()]
        rows.append(f"| {name} | **{e['accuracy_mean']:.3f}** ± {e['accuracy_std']:.3f} ({seeds} seeds) | "
                    + " | ".join(cells) + " |")
    judge = f"judge `{d.get('judge_sha256') or d.get('judge')}`"
    fjd = d.get("frechet_judge_distance")
    rows.append("\n" + judge + ("" if fjd is None else f"; judge-feature Fréchet distance {fjd:.1f}")
                + ("; **TINY test judge: do not report**" if d.get("judge_tiny") else ""))
    return "\n".join(rows)


def metrics_table(d: Mapping[str, Any]) -> str:
    """A plain-text table of :class:`~lab5_utils.evaluation.measurement.Measurement`'s per-judge dict (headline =
    mean ± std over seeds)."""
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


def plot_per_class(summary: Mapping[str, Any], which: str = "G_ema", figsize: tuple[float, float] = (12, 3)) -> Figure:
    """Per-class judge accuracy on each condition file (classes absent from a file are left out)."""
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
    rows = [r for r in read_stats(RunFolder(Path(run_dir)).stats) if any(k.startswith("gamma/") for k in r)]
    fig, ax = plt.subplots(figsize=figsize)
    for key in sorted({k for r in rows for k in r if k.startswith("gamma/")}):
        ax.plot([r["step"] for r in rows], [r.get(key) for r in rows], label=key.removeprefix("gamma/"))
    ax.set_xlabel("generator step")
    ax.set_ylabel("gamma")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
