"""Image tensor conversions shared by every floor: uint8 <-> [-1, 1] float (the course's Normalize(0.5, 0.5)),
the loader's PIL bilinear resize, and the label-preserving augmentation (shifts, flips; never colours).

Shapes: images are ``(N, 3, H, W)``; uint8 in [0, 255], float in [-1, 1].
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

RESAMPLE = Image.Resampling.BILINEAR  # the course loaders' straight resize to 64x64 (no crop)


def augment(x: torch.Tensor, max_shift: int, hflip: bool, generator: torch.Generator) -> torch.Tensor:
    """Random per-image translation by up to ``max_shift`` px (edges replicated) and horizontal flip.

    ``x: (B,3,H,W) in [-1,1]`` -> same shape and range. Colours are never changed. Differentiable in ``x`` (a
    gather), so it also serves as DiffAugment's translation and before the frozen classifier in G's loss. The
    offsets are drawn on ``generator``'s (CPU) device and the result is on ``x``'s device.
    """
    b, _, h, w = x.shape
    if max_shift > 0:
        padded = F.pad(x, (max_shift,) * 4, mode="replicate")
        oy = torch.randint(0, 2 * max_shift + 1, (b, 1), generator=generator)
        ox = torch.randint(0, 2 * max_shift + 1, (b, 1), generator=generator)
        rows = (oy + torch.arange(h)).unsqueeze(2)  # (B,H,1)
        cols = (ox + torch.arange(w)).unsqueeze(1)  # (B,1,W)
        index = (torch.arange(b).view(b, 1, 1).to(x.device), rows.to(x.device), cols.to(x.device))
        x = padded.permute(0, 2, 3, 1)[index].permute(0, 3, 1, 2)
    if hflip:
        flip = (torch.rand(b, generator=generator) < 0.5).to(x.device)
        x = torch.where(flip.view(b, 1, 1, 1), x.flip(3), x)
    return x.contiguous()


def to_signed(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``(..., 3, H, W)`` in [0, 255] -> float32 in [-1, 1] (the course's Normalize(0.5, 0.5))."""
    return images.float().div(127.5).sub(1.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """float ``(..., 3, H, W)`` in [-1, 1] -> uint8 in [0, 255] (clamped, rounded)."""
    return ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def resize_uint8(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 ``(N, 3, H, W)`` -> uint8 ``(N, 3, size, size)`` with the same PIL bilinear resize as the loader."""
    out = []
    for image in images:
        pil = Image.fromarray(image.permute(1, 2, 0).contiguous().numpy()).resize((size, size), RESAMPLE)
        out.append(torch.from_numpy(np.asarray(pil).copy()).permute(2, 0, 1))
    return torch.stack(out) if out else images.new_zeros((0, 3, size, size))
