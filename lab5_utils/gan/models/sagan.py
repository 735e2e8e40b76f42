"""SAGAN (Zhang et al. 2019) at 64x64: spectral norm on every conv/linear of G *and* D, self-attention blocks
(default at 32x32 in both), conditional BatchNorm in G, no normalisation in D besides SN; trained with the hinge
loss and TTUR learning rates (G 1e-4, D 4e-4, Adam betas (0.0, 0.9)) -- see the ``sagan`` preset.

Each attention block's ``gamma`` starts at 0; ``lab5_utils.gan.models.attention_gammas`` reads them for logging.
"""

from __future__ import annotations

from lab5_utils.gan.models.backbone import ConvDiscriminator, ConvGenerator


class Generator(ConvGenerator):
    """SAGAN ``G(z: (B, z_dim), y: (B, 24) multi-hot) -> (B, 3, 64, 64)`` in ``[-1, 1]``; SN + attention."""

    def __init__(self, z_dim: int = 128, channels: int = 64, cond: str = "cbn", embed_dim: int = 128,
                 attn_res: int = 32) -> None:
        super().__init__(z_dim, channels, cond, embed_dim, sn=True, attn_res=attn_res)


class Discriminator(ConvDiscriminator):
    """SAGAN ``D(x: (B, 3, 64, 64) in [-1, 1], y: (B, 24)) -> (score (B,), aux (B, 24) or None)``; SN, no norm."""

    def __init__(self, channels: int = 64, cond: str = "projection", attn_res: int = 32) -> None:
        super().__init__(channels, cond, norm="none", sn=True, attn_res=attn_res)
