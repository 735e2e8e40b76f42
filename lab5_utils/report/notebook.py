"""What the GAN notebooks (02-04) share, so that each keeps only its question, parameters, plots and discussion:
a run's summary line with its loss curves, the grids of both condition
files, the metrics tables with chance level and per-class accuracy, and the final generator: the user's own run
when there is one, else the trained one shipped under ``weights/``.

The functions print and build figures; the notebook ends its cell with ``plt.show()``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from IPython.display import Markdown, display
from matplotlib.figure import Figure
from torch import nn

from lab5_utils.data.dataset import load_arrays
from lab5_utils.evaluation.experiment import RunOptions, chance_accuracy, run_preset
from lab5_utils.evaluation.measurement import CONDITION_FILES, Measurement, MeasureSettings, ceiling_for
from lab5_utils.evaluation.real import matching_real_images
from lab5_utils.evaluation.sampling import generate, render_real
from lab5_utils.evaluation.weights import load_shipped_generator, manifest
from lab5_utils.gan.checkpoint import load_generator
from lab5_utils.gan.run_folder import RunFolder
from lab5_utils.image_ops import resize_uint8, to_signed
from lab5_utils.judge.cache import ensure_judge, second_judge_path
from lab5_utils.labels import encode_batch, load_conditions, resolve_conditions
from lab5_utils.paths import GENERATOR_FILE, GENERATOR_STATS_FILE, rendered_by_us, shipped
from lab5_utils.report.figures import metrics_markdown, plot_losses, plot_per_class
from lab5_utils.report.viz import grid_uint8, new_figure, save_grid


def run_line(summary: Mapping[str, Any]) -> str:
    """One line naming a run's scale, hardware and judge, e.g. ``"wgan_gp: 139 generator steps (2 epochs), ..."``."""
    held_out = summary.get("judge_holdout_accuracy")
    shown = "n/a" if held_out is None else f"{held_out:.4f}"
    return (f"{summary['preset']}: {summary['step']} generator steps ({summary['epoch']} epochs), "
            f"{summary['train_time_s'] / 60:.1f} min of training on {summary['hardware']}; "
            f"judge {summary['judge_sha256']} (held-out accuracy {shown})")


def plot_run(summary: Mapping[str, Any], run_dir: str | Path) -> Figure:
    """Print :func:`run_line` and return the figure of the run's loss curves (from its ``stats.jsonl``)."""
    print(run_line(summary))
    return plot_losses(run_dir)


def reference_images(conditions: list[list[str]], data_root: str | Path | None = None, seed: int = 0,
                     arrays: tuple[torch.Tensor, torch.Tensor, list[str]] | None = None) -> torch.Tensor:
    """Images of the same conditions to show beside generated ones, uint8 ``(N, 3, 64, 64)``: for the real data
    (a folder we did not render) a real training image of exactly that label set where one exists (mid-grey
    where none does); otherwise our renderer's scene of the condition, squashed to 64x64 like the loader.
    ``arrays``: the real folder's :func:`load_arrays` output when the caller already holds it."""
    if data_root is not None and not rendered_by_us(data_root):
        images, labels, _ = arrays or load_arrays(data_root, progress=False)
        return matching_real_images(conditions, images, labels, seed)
    return resize_uint8(render_real(conditions, seed).permute(0, 3, 1, 2).contiguous(), 64)


def show_grids(G: nn.Module, figures: str | Path, prefix: str, seed: int = 0, reference: bool = False,
               data_root: str | Path | None = None) -> Figure:
    """The 32 images of ``test.json`` and of ``new_test.json`` from noise seed ``seed``, 8 per row: saved as
    ``figures/<prefix>_<file>_grid.png`` and returned as ONE figure with both grids side by side (``G`` as given,
    e.g. the EMA generator), so that a notebook cell ending with this call shows them. ``reference``: a second row
    with :func:`reference_images` of the same conditions (real ones when ``data_root`` is the real data; those
    are shown, never saved)."""
    rows = 2 if reference else 1
    real = reference and data_root is not None and not rendered_by_us(data_root)
    arrays = load_arrays(data_root, progress=False) if real else None  # read once for both files
    fig = new_figure((16, 4.6 * rows))
    for column, name in enumerate(CONDITION_FILES):
        conditions = load_conditions(resolve_conditions(name))
        images = generate(G, encode_batch(conditions, where=name), seed=seed)
        save_grid(images, Path(figures) / f"{prefix}_{name}_grid.png")
        shown = [(images, f"{name}.json: generated, noise seed {seed}")]
        if reference:
            shown.append((reference_images(conditions, data_root, seed, arrays),
                          f"{name}.json: {'real training images' if real else 'our render'} of the same conditions"))
        for row, (grid, title) in enumerate(shown):
            ax = fig.add_subplot(rows, len(CONDITION_FILES), row * len(CONDITION_FILES) + column + 1)
            grid = to_signed(grid) if grid.dtype == torch.uint8 else grid  # the reference images are uint8
            ax.imshow(grid_uint8(grid).permute(1, 2, 0).numpy(), interpolation="nearest")
            ax.set_axis_off()
            ax.set_title(title)
    fig.tight_layout()
    return fig


def show_metrics(summary: Mapping[str, Any], per_class_png: str | Path) -> Figure:
    """Print chance level, display the metrics tables of the generators (EMA, EMA by the second judge, raw) as
    Markdown tables, and return the per-class accuracy figure of the EMA generator, also saved to ``per_class_png``."""
    for name in CONDITION_FILES:
        chance = chance_accuracy(load_conditions(resolve_conditions(name)))
        print(f"chance level on {name}.json (a judge ranking the 24 classes at random): {chance:.3f}")
    titles = {"G_ema": "EMA of the generator", "G_ema_judge2": "EMA of the generator, read by the second judge",
              "G": "raw generator"}
    for which, title in titles.items():
        if which in summary["results"]:
            display(Markdown(metrics_markdown(summary["results"][which], f"{which}: {title}")))
    fig = plot_per_class(summary)
    fig.savefig(per_class_png, dpi=100)
    return fig


def final_generator(preset: str, run_dir: str | Path, budget: Mapping[str, Any], train: bool = False,
                    second_judge: bool | Path | None = False) -> tuple[nn.Module, dict[str, Any]]:
    """The final model and its metrics summary (``{"results": {"G_ema": ...}, ...}`` as ``show_metrics`` reads).

    ``budget``: ``run_preset``'s keyword arguments (``NotebookParams.budget()``). ``run_dir/last.pt`` (the user's own
    run) or ``train=True``: ``run_preset`` to that budget (resuming), then its EMA generator. Otherwise, when
    ``weights/`` ships a generator, that one, evaluated in seconds with the shipped judge over the options' seeds
    (and, with ``second_judge``, read by the second judge too: ours, or the judge file given, e.g.
    ``shipped(JUDGE_FILE, kind="real")``, the judge trained on the real images). With neither, it trains."""
    run_dir = Path(run_dir)
    last = RunFolder(run_dir).last
    options = dataclasses.replace(budget.get("options") or RunOptions(), second_judge=second_judge or False)
    if train or last.is_file() or shipped(GENERATOR_FILE) is None:
        summary = run_preset(preset, run_dir, **{**budget, "options": options})
        print(run_line(summary))
        return load_generator(last, ema=True), summary
    G = load_shipped_generator()
    made = manifest()[GENERATOR_FILE]
    print(f"shipped weights/{GENERATOR_FILE} ({made['preset']}): {made['step']} generator steps, "
          f"{made['train_minutes']} min of training on {made['hardware']}; `{made['command']}`")
    second = second_judge_path(second_judge, tiny=options.tiny)
    judges = {"G_ema": ensure_judge(tiny=options.tiny)} | ({"G_ema_judge2": second} if second else {})
    data_root = budget.get("data_root")
    results = Measurement(judges, ceiling=ceiling_for(data_root), reference=data_root, settings=MeasureSettings(
        seeds=range(options.seeds), frechet_samples=options.frechet_samples, progress=False))(G)
    return G, {"preset": made["preset"], "results": results, "shipped": made,
               "stats": shipped(GENERATOR_STATS_FILE)}  # its run's curves, where they ship (None otherwise)
