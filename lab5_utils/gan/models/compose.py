"""Object-centric generator for multi-object conditions: one sprite per requested object, alpha-composited over
a generated background; SNGAN's discriminator (spectral norm, no BatchNorm, projection).

i-CLEVR images are a floor plus 1-3 objects, each of one of the 24 classes. Instead of asking one network to learn
that an image of ``["red cube", "blue sphere"]`` holds two separate things, the generator draws each requested
object in its own slot, conditioned on that object's class alone, and stacks the slots:

* ``z: (B, z_dim)`` is split into ``1 + 3`` chunks of ``z_dim // 4``: the background's and one per slot;
* background: ``ConvGenerator`` (no condition: CBN on an all-zero label is plain BN) -> ``(B, 3, 64, 64)``;
* slot ``i`` (the i-th requested class in index order; slots past the object count are empty): a class-conditional
  ``ConvGenerator`` with 4 output channels -> colour ``tanh`` and coverage ``sigmoid`` ``(B, 1, 64, 64)``;
* ``image = bg``; for each slot: ``image = a_i * rgb_i + (1 - a_i) * image`` (empty slots have ``a_i = 0``).

The sprite network is shared by all slots (one batched call over ``3B`` sprites), so it learns "draw one object of
class c somewhere on the floor" once for the 24 classes. ``G(z, y) -> (B, 3, 64, 64)`` in ``[-1, 1]`` as every G.
"""

from __future__ import annotations

import torch
from torch import nn

from lab5_utils.gan.models.backbone import ConvGenerator, _check_inputs
from lab5_utils.gan.models.sngan import Discriminator  # noqa: F401  (this family's D: SN, projection)
from lab5_utils.labels import MAX_OBJECTS, NUM_CLASSES


class _Sprites(ConvGenerator):
    """``(z: (N, z_slot), one-hot class (N, 24)) -> (N, 4, 64, 64)`` pre-activation colour (3) + coverage (1)."""

    def __init__(self, z_dim: int, channels: int) -> None:
        super().__init__(z_dim, channels, "cbn", sn=False)
        c_in = self.to_rgb.in_channels
        self.to_rgb = nn.ConvTranspose2d(c_in, 4, 4, 2, 1)
        with torch.no_grad():  # coverage starts near sigmoid(-2) = 0.12: the background shows, sprites grow in
            self.to_rgb.bias[3] = -2.0

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = z[:, :, None, None]
        for block in self.blocks:
            h = block(h, y)
        return self.to_rgb(h)


class Generator(nn.Module):
    """Object-centric ``G(z: (B, z_dim), y: (B, 24) multi-hot, 1-3 ones) -> (B, 3, 64, 64)`` in ``[-1, 1]``.

    ``channels`` is the sprite network's width (``c``: 8c, 4c, 2c, c as in the other generators); the background
    network is half as wide. ``cond``/``embed_dim``/``attn_res`` are accepted for the common factory and must be
    ``"cbn"``/any/0.
    """

    def __init__(self, z_dim: int = 128, channels: int = 32, cond: str = "cbn", embed_dim: int = 128,
                 attn_res: int = 0) -> None:
        super().__init__()
        if cond != "cbn" or attn_res:
            raise ValueError(f"compose generator: g_cond={cond!r}, g_attn_res={attn_res}: only 'cbn', no attention")
        if z_dim % (MAX_OBJECTS + 1):
            raise ValueError(f"compose generator: z_dim={z_dim} must split into {MAX_OBJECTS + 1} equal chunks")
        self.z_dim, self.cond = z_dim, cond
        self.chunk = z_dim // (MAX_OBJECTS + 1)
        self.background = ConvGenerator(self.chunk, max(1, channels // 2), "cbn", sn=False)
        self.sprites = _Sprites(self.chunk, channels)

    @staticmethod
    def slots(y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``y: (B, 24)`` -> one-hot slot classes ``(B, 3, 24)`` (requested classes in index order) and the slot
        mask ``(B, 3)`` (1 for a requested object, 0 for an empty slot)."""
        ranks = torch.arange(NUM_CLASSES, 0, -1, device=y.device, dtype=y.dtype)  # earlier classes first
        order = torch.topk((y > 0.5).to(y.dtype) * ranks, MAX_OBJECTS, dim=1)
        mask = (order.values > 0).to(y.dtype)
        onehot = nn.functional.one_hot(order.indices, NUM_CLASSES).to(y.dtype) * mask[..., None]
        return onehot, mask

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"generator: noise must have shape (B, {self.z_dim}), got {tuple(z.shape)}")
        _check_inputs(y, z.shape[0], "generator")
        b = z.shape[0]
        chunks = z.view(b, MAX_OBJECTS + 1, self.chunk)
        image = self.background(chunks[:, 0], torch.zeros_like(y))
        onehot, mask = self.slots(y)
        out = self.sprites(chunks[:, 1:].reshape(b * MAX_OBJECTS, self.chunk), onehot.view(-1, NUM_CLASSES))
        out = out.view(b, MAX_OBJECTS, 4, *out.shape[-2:])
        colour, cover = torch.tanh(out[:, :, :3]), torch.sigmoid(out[:, :, 3:]) * mask[:, :, None, None, None]
        for i in range(MAX_OBJECTS):
            image = cover[:, i] * colour[:, i] + (1.0 - cover[:, i]) * image
        return image
