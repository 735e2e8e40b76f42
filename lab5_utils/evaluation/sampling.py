"""Sampling a generator and the real images it is compared with: seeded generation (the same images from a
seed on any device), real images in the judge's input range, and the renderer that stands in for real i-CLEVR
images of given conditions (the ceiling of every metric)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from lab5_utils.image_ops import resize_uint8, to_signed
from lab5_utils.synth.render import render_conditions

Renderer = Callable[[list[list[str]], int], torch.Tensor]


def generate(G: nn.Module, y: torch.Tensor, seed: int, device: str | torch.device = "cpu",
             batch_size: int = 256) -> torch.Tensor:
    """Images ``(N,3,64,64) in [-1,1]`` (CPU) from ``G(z, y)`` for ``y: (N,24)`` multi-hot.

    The noise is ``torch.randn(N, G.z_dim, generator=torch.Generator().manual_seed(seed))`` drawn on CPU and
    then moved to ``device``, so a seed gives the same images on any device. ``G`` runs in eval mode under
    ``no_grad`` and its training flag is restored afterwards.
    """
    z_dim = getattr(G, "z_dim", None)
    if not isinstance(z_dim, int):
        raise ValueError(f"generator {type(G).__name__} needs an integer attribute z_dim (got {z_dim!r})")
    z = torch.randn(len(y), z_dim, generator=torch.Generator().manual_seed(int(seed)))
    was_training = G.training
    G.eval()
    out = []
    try:
        with torch.no_grad():
            for start in range(0, len(y), batch_size):
                stop = start + batch_size
                out.append(G(z[start:stop].to(device), y[start:stop].to(device)).float().cpu())
    finally:
        G.train(was_training)
    images = torch.cat(out)
    if images.shape != (len(y), 3, 64, 64):
        raise ValueError(f"generator returned {tuple(images.shape)}, expected ({len(y)}, 3, 64, 64)")
    return images


def real_to_signed(images: torch.Tensor) -> torch.Tensor:
    """Real images -> ``(N,3,64,64)`` float in [-1,1]. Accepts uint8 ``(N,3,H,W)`` or ``(N,H,W,3)`` (resized to
    64x64 with the loader's PIL bilinear resize) or float ``(N,3,64,64)`` already in [-1,1]."""
    images = torch.as_tensor(images)
    if images.dtype != torch.uint8:
        if images.ndim != 4 or tuple(images.shape[1:]) != (3, 64, 64):
            raise ValueError(f"float real images must be (N,3,64,64) in [-1,1], got {tuple(images.shape)}")
        if images.numel() and (images.min() < -1.0 or images.max() > 1.0 or images.min() >= 0.0):
            raise ValueError(f"float real images must be in [-1,1] (not [0,1] or [0,255]): got values in "
                             f"[{images.min().item():.3g}, {images.max().item():.3g}]")
        return images.float()
    if images.ndim == 4 and images.shape[-1] == 3 and images.shape[1] != 3:
        images = images.permute(0, 3, 1, 2).contiguous()
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"uint8 real images must be (N,3,H,W) or (N,H,W,3), got {tuple(images.shape)}")
    if tuple(images.shape[2:]) != (64, 64):
        images = resize_uint8(images, 64)
    return to_signed(images)


def render_real(conditions: list[list[str]], seed: int) -> torch.Tensor:
    """Default ceiling renderer: ``lab5_utils.synth.render.render_conditions`` at its default size (the synthetic
    set's), uint8 ``(N,H,W,3)``; :func:`real_to_signed` resizes it to 64x64 like the loader."""
    return torch.as_tensor(render_conditions(conditions, seed))
