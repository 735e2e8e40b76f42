"""Statistics and figures for data exploration: label histograms, objects per image, co-occurrence,
and how the test condition files compare with the training label sets."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from lab5_utils.labels import COLORS, SHAPES, class_names, encode_batch

Conditions = Sequence[Sequence[str]]


def label_matrix(conditions: Conditions) -> np.ndarray:
    """Conditions -> ``(N, 24)`` int multi-hot matrix."""
    return encode_batch(conditions).numpy().astype(np.int64)


def summary(conditions: Conditions, train_sets: Conditions | None = None) -> dict[str, object]:
    """Counts for one list of conditions: size, objects-per-condition histogram, per-class counts,
    distinct label sets and, given the training label sets, how many conditions occur there exactly."""
    matrix = label_matrix(conditions)
    per_count = np.bincount(matrix.sum(1), minlength=4)[1:]
    sets = {frozenset(c) for c in conditions}
    out: dict[str, object] = {
        "conditions": len(conditions),
        "objects_1_2_3": per_count.tolist(),
        "class_counts": dict(zip(class_names(), matrix.sum(0).tolist(), strict=True)),
        "distinct_sets": len(sets),
    }
    if train_sets is not None:
        train = {frozenset(c) for c in train_sets}
        out["sets_seen_in_train"] = sum(frozenset(c) in train for c in conditions)
    return out


def cooccurrence(conditions: Conditions) -> np.ndarray:
    """``(24, 24)`` counts of images holding both classes (diagonal: images holding the class)."""
    matrix = label_matrix(conditions)
    return matrix.T @ matrix


def plot_label_histograms(named: dict[str, Conditions], figsize: tuple[float, float] = (12, 3.5)) -> Figure:
    """Per-class frequency (normalised per list) and objects-per-condition share, one bar group per list."""
    fig, (ax_class, ax_count) = plt.subplots(1, 2, figsize=figsize, gridspec_kw={"width_ratios": [4, 1]})
    width = 0.8 / len(named)
    for offset, (name, conditions) in enumerate(named.items()):
        matrix = label_matrix(conditions)
        share = matrix.sum(0) / matrix.sum()
        ax_class.bar(np.arange(24) + offset * width, share, width, label=name)
        counts = np.bincount(matrix.sum(1), minlength=4)[1:] / len(conditions)
        ax_count.bar(np.arange(1, 4) + offset * width, counts, width, label=name)
    ax_class.set_xticks(np.arange(24) + 0.4 - width / 2, class_names(), rotation=90, fontsize=7)
    ax_class.set_ylabel("share of all labels")
    ax_class.legend(fontsize=8)
    ax_count.set_xticks(np.arange(1, 4) + 0.4 - width / 2, ["1", "2", "3"])
    ax_count.set_xlabel("objects per image")
    ax_count.set_ylabel("share of images")
    fig.tight_layout()
    return fig


def plot_cooccurrence(conditions: Conditions, title: str = "", figsize: tuple[float, float] = (6, 5)) -> Figure:
    """Heat map of :func:`cooccurrence` with the diagonal masked (it only repeats the class counts)."""
    matrix = cooccurrence(conditions).astype(float)
    np.fill_diagonal(matrix, np.nan)
    fig, ax = plt.subplots(figsize=figsize)
    image = ax.imshow(matrix, cmap="viridis")
    names = [f"{c[:3]} {s[:3]}" for s in SHAPES for c in COLORS]
    ax.set_xticks(range(24), names, rotation=90, fontsize=6)
    ax.set_yticks(range(24), names, fontsize=6)
    ax.set_title(title or "class co-occurrence (images holding both)")
    fig.colorbar(image, ax=ax, shrink=0.8)
    fig.tight_layout()
    return fig


def plot_samples(images: torch.Tensor, captions: Sequence[str], ncols: int = 6,
                 figsize: tuple[float, float] = (12, 7)) -> Figure:
    """Images ``(N, 3, H, W)`` uint8 with a caption (e.g. the label list) under each."""
    nrows = (len(images) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, caption in zip(axes.flat, images, captions, strict=False):
        ax.imshow(image.permute(1, 2, 0).numpy(), interpolation="nearest")
        ax.set_title(caption, fontsize=7)
    fig.tight_layout()
    return fig


def scene_statistics(records: list[dict]) -> dict[str, list]:
    """Flatten a renderer's ``scenes.json`` (list of scenes -> frames -> objects) into per-object lists,
    one entry per object in its scene's last frame, with its smallest visible pixel count over the frames."""
    out: dict[str, list] = {"material": [], "size": [], "shape": [], "color": [], "visible_pixels": []}
    for scene in records:
        frames = scene["frames"]
        for index, obj in enumerate(frames[-1]["objects"]):
            for key in ("material", "size", "shape", "color"):
                out[key].append(obj[key])
            seen = [f["objects"][index]["pixels"] for f in frames if index < len(f["objects"])]
            out["visible_pixels"].append(min(seen))
    return out


def scene_statistics_table(stats: dict[str, list]) -> str:
    """A markdown table of the shares of each material, size and shape, and the visible-pixel range."""
    rows = ["| attribute | shares |", "|---|---|"]
    for key in ("material", "size", "shape"):
        values = stats[key]
        shares = {v: values.count(v) / len(values) for v in sorted(set(values))}
        rows.append(f"| {key} | " + ", ".join(f"{k} {v:.0%}" for k, v in shares.items()) + " |")
    pixels = np.asarray(stats["visible_pixels"])
    rows.append(f"| visible pixels (min over frames) | min {pixels.min():.0f}, median {np.median(pixels):.0f}, "
                f"max {pixels.max():.0f} over {len(pixels)} objects |")
    return "\n".join(rows)


OBJECT_ROWS = (  # (key of lab5_utils.data.objects.statistics, what it is)
    ("cube_height", "cube height (px, median)"), ("cube_width", "cube width"), ("sphere_height", "sphere height"),
    ("sphere_width", "sphere width"), ("cylinder_height", "cylinder height"), ("cylinder_width", "cylinder width"),
    ("cube_area", "cube area (px, median)"), ("sphere_area", "sphere area"), ("cylinder_area", "cylinder area"),
    ("object0_x", "object 0: x (median)"), ("object0_y", "object 0: y (median)"),
    ("ring_p5", "objects 1-2: distance to object 0, 5th pct"), ("ring_p50", "… median"), ("ring_p95", "… 95th pct"),
    ("height_a", "height = a + b·y: a"), ("height_b", "height = a + b·y: b"),
    ("object_brightest", "brightest object pixel (99th pct, 0-255)"),
    ("offset_x_p5", "objects 1-2: x offset from object 0, 5th pct"), ("offset_x_p95", "… 95th pct"),
    ("offset_y_p5", "objects 1-2: y offset from object 0, 5th pct"), ("offset_y_p95", "… 95th pct"),
    ("floor_top", "floor brightness, top rows"), ("floor_middle", "floor brightness, middle rows"),
    ("floor_left", "floor brightness, middle left (bright patch)"), ("floor_bottom", "floor brightness, bottom rows"),
    ("noise_sd", "pixel noise (neighbour sd, levels)"),
)


def object_statistics_table(named: dict[str, dict[str, float | int]]) -> str:
    """A markdown table of :func:`lab5_utils.data.objects.statistics` for several data folders, side by side."""
    rows = ["| statistic | " + " | ".join(named) + " |", "|---|" + "---|" * len(named)]
    for key, label in OBJECT_ROWS:
        cells = [f"{stats[key]:.1f}" if key in stats else "-" for stats in named.values()]
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    rows.append("| scenes measured | " + " | ".join(str(stats["scenes"]) for stats in named.values()) + " |")
    return "\n".join(rows)
