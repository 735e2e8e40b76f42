"""The 64x64 convolutional generator and discriminator the three families specialise.

Generator: ``(z, y) -> 1x1 -> 4x4 (8c) -> 8x8 (4c) -> 16x16 (2c) -> 32x32 (c) -> 64x64 (3, tanh)`` with
``c = channels`` (the reference's ``ngf``). Discriminator: ``64x64 -> 32 (c) -> 16 (2c) -> 8 (4c) -> 4 (8c)``
then :class:`~lab5_utils.gan.models.layers.DiscriminatorHead` (``c`` = the reference's ``ndf``). The family files
(``dcgan``, ``sagan``, ``wgan``) fix spectral norm and the discriminator's normalisation.
"""

from __future__ import annotations

import torch
from torch import nn

from lab5_utils.gan.config import D_COND_PARTS, G_COND_PARTS, parse_cond
from lab5_utils.gan.models.layers import DiscriminatorHead, DownBlock, LabelMap, SelfAttention, UpBlock, maybe_sn
from lab5_utils.labels import NUM_CLASSES

IMAGE_SIZE = 64
G_RESOLUTIONS = (4, 8, 16, 32)  # output size of each UpBlock, channels 8c, 4c, 2c, c
D_RESOLUTIONS = (32, 16, 8, 4)  # output size of each DownBlock, channels c, 2c, 4c, 8c
MULTS = (8, 4, 2, 1)


def _check_attn(res: int, allowed: tuple[int, ...], field: str) -> None:
    if res and res not in allowed:
        raise ValueError(f"{field}={res}: attention resolution must be 0 (none) or one of {allowed}")


def _check_inputs(y: torch.Tensor, batch: int, what: str) -> None:
    if y.ndim != 2 or y.shape != (batch, NUM_CLASSES):
        raise ValueError(f"{what}: labels must have shape ({batch}, {NUM_CLASSES}), got {tuple(y.shape)}")


class ConvGenerator(nn.Module):
    """``G(z: (B, z_dim), y: (B, 24) multi-hot) -> (B, 3, 64, 64)`` in ``[-1, 1]`` (tanh).

    ``cond`` is ``"concat"`` (``Linear(24, embed_dim)(y)`` concatenated to ``z``, as the reference), ``"cbn"``
    (conditional BatchNorm in every block) or ``"concat+cbn"``. ``attn_res`` puts a self-attention block after
    the block of that resolution (0 = none). ``sn`` spectral-normalises every conv/linear.
    """

    def __init__(self, z_dim: int = 128, channels: int = 64, cond: str = "concat", embed_dim: int = 128,
                 sn: bool = False, attn_res: int = 0) -> None:
        super().__init__()
        parts = parse_cond(cond, G_COND_PARTS, "g_cond")
        _check_attn(attn_res, G_RESOLUTIONS, "g_attn_res")
        self.z_dim, self.cond = z_dim, cond
        self.embed = maybe_sn(nn.Linear(NUM_CLASSES, embed_dim), sn) if "concat" in parts else None
        c_in = z_dim + (embed_dim if self.embed is not None else 0)
        cbn = "cbn" in parts
        self.blocks = nn.ModuleList()
        self.attn = nn.ModuleDict()
        for i, (res, mult) in enumerate(zip(G_RESOLUTIONS, MULTS, strict=True)):
            self.blocks.append(UpBlock(c_in, channels * mult, cbn=cbn, sn=sn, first=i == 0))
            c_in = channels * mult
            if res == attn_res:
                self.attn[str(i)] = SelfAttention(c_in, sn=sn)
        self.to_rgb = maybe_sn(nn.ConvTranspose2d(c_in, 3, 4, 2, 1), sn)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"generator: noise must have shape (B, {self.z_dim}), got {tuple(z.shape)}")
        _check_inputs(y, z.shape[0], "generator")
        h = z if self.embed is None else torch.cat([z, self.embed(y)], dim=1)
        h = h[:, :, None, None]
        for i, block in enumerate(self.blocks):
            h = block(h, y)
            if str(i) in self.attn:
                h = self.attn[str(i)](h)
        return torch.tanh(self.to_rgb(h))


class ConvDiscriminator(nn.Module):
    """``D(x: (B, 3, 64, 64) in [-1, 1], y: (B, 24) multi-hot) -> (score (B,), aux_logits (B, 24) or None)``.

    ``score`` is high for real. ``cond`` is any ``+``-join of ``"concat"`` (the reference's label map as a 4th
    input channel), ``"projection"`` and ``"acgan"``. ``norm`` is ``"batch"``, ``"layer"`` or ``"none"``
    (never on the first layer); ``attn_res`` adds self-attention after the block of that resolution.
    """

    def __init__(self, channels: int = 64, cond: str = "projection", norm: str = "batch", sn: bool = False,
                 attn_res: int = 0) -> None:
        super().__init__()
        parts = parse_cond(cond, D_COND_PARTS, "d_cond")
        _check_attn(attn_res, D_RESOLUTIONS, "d_attn_res")
        self.cond = cond
        self.label_map = LabelMap(IMAGE_SIZE, sn) if "concat" in parts else None
        c_in = 3 + (1 if self.label_map is not None else 0)
        self.blocks = nn.ModuleList()
        self.attn = nn.ModuleDict()
        for i, (res, mult) in enumerate(zip(D_RESOLUTIONS, MULTS[::-1], strict=True)):
            self.blocks.append(DownBlock(c_in, channels * mult, norm="none" if i == 0 else norm, sn=sn))
            c_in = channels * mult
            if res == attn_res:
                self.attn[str(i)] = SelfAttention(c_in, sn=sn)
        self.head = DiscriminatorHead(c_in, projection="projection" in parts, acgan="acgan" in parts, sn=sn)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        if x.ndim != 4 or x.shape[1:] != (3, IMAGE_SIZE, IMAGE_SIZE):
            raise ValueError(f"discriminator: images must have shape (B, 3, 64, 64), got {tuple(x.shape)}")
        _check_inputs(y, x.shape[0], "discriminator")
        h = x if self.label_map is None else torch.cat([x, self.label_map(y)], dim=1)
        for i, block in enumerate(self.blocks):
            h = block(h)
            if str(i) in self.attn:
                h = self.attn[str(i)](h)
        return self.head(h, y)
