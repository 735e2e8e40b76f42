"""Shared building blocks: spectral-norm wrapping, conditional BatchNorm, self-attention, conditioning heads.

Conventions used by every model in ``lab5_utils.gan.models``:

* labels ``y: (B, 24) float multi-hot`` (several ones per row are fine everywhere);
* ``D(x, y) -> (score (B,), aux_logits (B, 24) or None)``: ``score`` is a logit (BCE), a hinge score or a
  Wasserstein critic value, always *high for real*; ``aux_logits`` is the ACGAN head's 24-way multi-label output
  and is ``None`` when the design has no auxiliary classifier.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from lab5_utils.labels import NUM_CLASSES


def maybe_sn(module: nn.Module, enabled: bool) -> nn.Module:
    """Wrap a conv/linear with ``torch.nn.utils.parametrizations.spectral_norm`` when ``enabled``."""
    return spectral_norm(module) if enabled else module


class CondBatchNorm2d(nn.Module):
    """BigGAN-style conditional BatchNorm: ``BN(h) * (1 + Linear(y)) + Linear(y)``.

    ``h: (B, C, H, W)``, ``y: (B, 24)`` multi-hot -> ``(B, C, H, W)``. Linear in ``y``, so multi-hot labels mix
    the per-class gains/biases additively. The linears are initialised small so training starts near plain BN.
    """

    def __init__(self, channels: int, cond_dim: int = NUM_CLASSES, sn: bool = False) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        gain, bias = nn.Linear(cond_dim, channels, bias=False), nn.Linear(cond_dim, channels, bias=False)
        for layer in (gain, bias):
            nn.init.normal_(layer.weight, 0.0, 0.02)
        self.gain, self.bias = maybe_sn(gain, sn), maybe_sn(bias, sn)

    def forward(self, h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        gain = 1.0 + self.gain(y)[:, :, None, None]
        return self.bn(h) * gain + self.bias(y)[:, :, None, None]


class SelfAttention(nn.Module):
    """SAGAN self-attention block (Zhang et al. 2019): ``x + gamma * o(softmax(q^T k) v)``.

    ``x: (B, C, H, W)`` -> same shape. Query/key have ``C/8`` channels, value ``C/2``; ``gamma`` is a learnable
    scalar that starts at 0 (the block is the identity at initialisation) and is exposed for logging. Written with
    plain matmuls (not fused attention kernels) so that double backward works for the WGAN-GP penalty.
    """

    def __init__(self, channels: int, sn: bool = False) -> None:
        super().__init__()
        qk, v = max(1, channels // 8), max(1, channels // 2)
        self.query = maybe_sn(nn.Conv2d(channels, qk, 1, bias=False), sn)
        self.key = maybe_sn(nn.Conv2d(channels, qk, 1, bias=False), sn)
        self.value = maybe_sn(nn.Conv2d(channels, v, 1, bias=False), sn)
        self.out = maybe_sn(nn.Conv2d(v, channels, 1, bias=False), sn)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q = self.query(x).flatten(2)  # (B, C/8, N)
        k = self.key(x).flatten(2)  # (B, C/8, N)
        v = self.value(x).flatten(2)  # (B, C/2, N)
        attn = torch.softmax(torch.bmm(q.transpose(1, 2), k), dim=-1)  # (B, N, N): row i attends over j
        o = torch.bmm(v, attn.transpose(1, 2)).view(b, -1, h, w)  # (B, C/2, H, W)
        return x + self.gamma * self.out(o)


class UpBlock(nn.Module):
    """``ConvTranspose2d(4, 2, 1)`` (x2 upsample) + BatchNorm or conditional BatchNorm + ReLU.

    ``h: (B, C_in, H, W)``, ``y: (B, 24)`` -> ``(B, C_out, 2H, 2W)``. With ``first=True`` it is the 1x1 -> 4x4
    projection ``ConvTranspose2d(4, 1, 0)`` instead.
    """

    def __init__(self, c_in: int, c_out: int, cbn: bool, sn: bool, first: bool = False) -> None:
        super().__init__()
        stride, pad = (1, 0) if first else (2, 1)
        self.conv = maybe_sn(nn.ConvTranspose2d(c_in, c_out, 4, stride, pad, bias=False), sn)
        self.norm: nn.Module = CondBatchNorm2d(c_out, sn=sn) if cbn else nn.BatchNorm2d(c_out)
        self.cbn = cbn

    def forward(self, h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.conv(h)
        h = self.norm(h, y) if self.cbn else self.norm(h)
        return F.relu(h)


def make_norm(kind: str, channels: int) -> nn.Module:
    """Discriminator normalisation: ``"batch"``, ``"layer"`` (GroupNorm with one group: per-sample over C,H,W,
    safe under the gradient penalty) or ``"none"``."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"norm={kind!r}: expected 'batch', 'layer' or 'none'")


class DownBlock(nn.Module):
    """``Conv2d(4, 2, 1)`` (/2 downsample) + norm + LeakyReLU(0.2): ``(B, C_in, H, W) -> (B, C_out, H/2, W/2)``."""

    def __init__(self, c_in: int, c_out: int, norm: str, sn: bool) -> None:
        super().__init__()
        self.conv = maybe_sn(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=norm == "none"), sn)
        self.norm = make_norm(norm, c_out)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.norm(self.conv(h)), 0.2)


class LabelMap(nn.Module):
    """The reference's D-side concat conditioning: ``Linear(24, S*S)`` reshaped to one extra image channel.

    ``y: (B, 24)`` -> ``(B, 1, S, S)``.
    """

    def __init__(self, size: int, sn: bool) -> None:
        super().__init__()
        self.size = size
        self.linear = maybe_sn(nn.Linear(NUM_CLASSES, size * size), sn)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return self.linear(y).view(-1, 1, self.size, self.size)


class DiscriminatorHead(nn.Module):
    """Unconditional score + optional projection term + optional ACGAN classifier on a ``(B, C, 4, 4)`` map.

    * score: ``Conv2d(C, 1, 4)`` over the 4x4 map (the DCGAN output layer) -> ``(B,)``;
    * ``projection`` (Miyato & Koyama 2018): ``+ <Linear(24, C, bias=False)(y), sum_hw(h)>``;
    * ``acgan``: ``Linear(C, 24)(sum_hw(h))`` -> aux logits ``(B, 24)`` (else ``None``).
    """

    def __init__(self, channels: int, projection: bool, acgan: bool, sn: bool) -> None:
        super().__init__()
        self.score = maybe_sn(nn.Conv2d(channels, 1, 4, 1, 0), sn)
        self.embed = maybe_sn(nn.Linear(NUM_CLASSES, channels, bias=False), sn) if projection else None
        self.aux = maybe_sn(nn.Linear(channels, NUM_CLASSES), sn) if acgan else None

    def forward(self, h: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        score = self.score(h).flatten()
        pooled = h.sum(dim=(2, 3)) if (self.embed is not None or self.aux is not None) else None
        if self.embed is not None and pooled is not None:
            score = score + (self.embed(y) * pooled).sum(dim=1)
        aux = self.aux(pooled) if self.aux is not None and pooled is not None else None
        return score, aux
