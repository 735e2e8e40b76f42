"""Image grids and small plots: ``save_grid`` (an 8-per-row PNG like the course asks for), ``show_grid``,
``plot_history``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from PIL import Image
from torchvision.utils import make_grid


def grid_uint8(images: torch.Tensor, nrow: int = 8, padding: int = 2) -> torch.Tensor:
    """``images: (N,3,H,W) in [-1,1]`` -> one grid ``(3, H', W')`` uint8, ``nrow`` images per row.

    Denormalised as ``(x + 1) / 2`` clamped to [0,1], then ``round(255 * v)``; padding is black.
    """
    images = torch.as_tensor(images)
    if images.ndim != 4 or images.shape[1] != 3 or len(images) == 0:
        raise ValueError(f"expected images (N,3,H,W) with N >= 1, got {tuple(images.shape)}")
    if not torch.is_floating_point(images):
        raise ValueError(f"expected float images in [-1,1], got dtype {images.dtype}")
    unit = ((images.detach().float().cpu() + 1) / 2).clamp(0, 1)
    grid = make_grid(unit, nrow=nrow, padding=padding, pad_value=0.0)
    return grid.mul(255).round().to(torch.uint8)


def save_grid(images: torch.Tensor, path: str | Path, nrow: int = 8, padding: int = 2) -> Path:
    """Save ``images: (N,3,H,W) in [-1,1]`` as one PNG grid with ``nrow`` per row; returns the path."""
    path = Path(path).expanduser()
    if path.suffix.lower() != ".png":
        raise ValueError(f"{path}: save_grid writes PNG files; use a .png name")
    path.parent.mkdir(parents=True, exist_ok=True)
    grid = grid_uint8(images, nrow, padding)
    Image.fromarray(grid.permute(1, 2, 0).contiguous().numpy()).save(path)
    return path


def new_figure(figsize: tuple[float, float]) -> Figure:
    """A pyplot-made Figure, closed at once: Jupyter shows it once when returned, scripts leak nothing."""
    fig = plt.figure(figsize=figsize)
    plt.close(fig)
    return fig


def show_grid(images: torch.Tensor, nrow: int = 8, title: str | None = None,
              figsize: tuple[float, float] | None = None) -> Figure:
    """A matplotlib Figure of the grid of ``images: (N,3,H,W) in [-1,1]`` (displayed by Jupyter when returned)."""
    grid = grid_uint8(images, nrow)
    height, width = grid.shape[1:]
    fig = new_figure(figsize or (max(2.0, width / 64), max(2.0, height / 64) + (0.4 if title else 0.0)))
    ax = fig.add_subplot()
    ax.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_history(history: Sequence[Mapping[str, float | None]], keys: Sequence[str] | None = None,
                 title: str | None = None, figsize: tuple[float, float] = (6.0, 3.5)) -> Figure:
    """Line plot of per-epoch records (e.g. the judge's ``meta['history']``): one line per numeric key."""
    if not history:
        raise ValueError("plot_history: empty history")
    keys = list(keys or [k for k in history[0] if k != "epoch"])
    fig = new_figure(figsize)
    ax = fig.add_subplot()
    x = [record.get("epoch", i + 1) for i, record in enumerate(history)]
    for key in keys:
        ax.plot(x, [record.get(key) for record in history], marker="o", label=key)
    ax.set_xlabel("epoch")
    ax.legend()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig
