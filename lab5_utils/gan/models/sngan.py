"""SNGAN (Miyato et al. 2018) with projection (Miyato & Koyama 2018), the CPU-efficient final family: a
spectral-norm discriminator *without* BatchNorm and with projection conditioning, a generator with conditional
BatchNorm and no spectral norm, no self-attention and no gradient penalty (no double backward); trained with
the hinge loss and TTUR learning rates (G 1e-4, D 4e-4, Adam betas (0.0, 0.9)) -- see the ``sngan`` presets.

Unlike ``sagan`` the generator is not spectral-normalised (as in SNGAN; BigGAN adds it for stability at large
batch sizes) and neither network pays for attention at 32x32, the most expensive layer on a CPU.
"""

from __future__ import annotations

from lab5_utils.gan.models.backbone import ConvDiscriminator
from lab5_utils.gan.models.wgan import Generator  # noqa: F401  (SNGAN's G is WGAN-GP's: CBN, no SN, no attention)


class Discriminator(ConvDiscriminator):
    """SNGAN ``D(x: (B, 3, 64, 64) in [-1, 1], y: (B, 24)) -> (score (B,), aux (B, 24) or None)``; SN, no norm."""

    def __init__(self, channels: int = 64, cond: str = "projection", attn_res: int = 0) -> None:
        super().__init__(channels, cond, norm="none", sn=True, attn_res=attn_res)
