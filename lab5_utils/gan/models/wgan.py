"""WGAN-GP (Gulrajani et al. 2017): a critic *without BatchNorm* (per-sample LayerNorm, i.e. ``GroupNorm(1, C)``,
because the gradient penalty is defined per sample and batch statistics would couple the samples), no spectral
norm, a BatchNorm/CBN generator; trained with the Wasserstein loss plus ``gp_lambda`` times the gradient penalty
in the *same* critic loss (one backward, one optimiser step), ``n_critic`` critic steps per generator step.
"""

from __future__ import annotations

from lab5_utils.gan.models.backbone import ConvDiscriminator, ConvGenerator


class Generator(ConvGenerator):
    """WGAN-GP ``G(z: (B, z_dim), y: (B, 24) multi-hot) -> (B, 3, 64, 64)`` in ``[-1, 1]``; BatchNorm or CBN."""

    def __init__(self, z_dim: int = 128, channels: int = 64, cond: str = "cbn", embed_dim: int = 128,
                 attn_res: int = 0) -> None:
        super().__init__(z_dim, channels, cond, embed_dim, sn=False, attn_res=attn_res)


class Discriminator(ConvDiscriminator):
    """WGAN-GP critic ``D(x: (B, 3, 64, 64) in [-1, 1], y: (B, 24)) -> (score (B,), aux (B, 24) or None)``."""

    def __init__(self, channels: int = 64, cond: str = "projection", attn_res: int = 0) -> None:
        super().__init__(channels, cond, norm="layer", sn=False, attn_res=attn_res)
