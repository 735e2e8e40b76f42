"""DCGAN (Radford et al. 2016), the baseline: transposed convs with BatchNorm in G, BatchNorm in D, no spectral
norm, DCGAN weight init N(0, 0.02), trained with the BCE (non-saturating) loss.

With ``g_channels=300, d_channels=100`` (``ngf``/``ndf``) and ``concat``/``concat`` conditioning this is the
reference report's model.
"""

from __future__ import annotations

from torch import nn

from lab5_utils.gan.models.backbone import ConvDiscriminator, ConvGenerator


def dcgan_init(module: nn.Module) -> None:
    """DCGAN init, for ``module.apply``: convs ``N(0, 0.02)``, BatchNorm weight ``N(1, 0.02)`` and bias 0."""
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d) and module.affine:
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class Generator(ConvGenerator):
    """DCGAN ``G(z: (B, z_dim), y: (B, 24) multi-hot) -> (B, 3, 64, 64)`` in ``[-1, 1]``; BatchNorm (or CBN), no SN."""

    def __init__(self, z_dim: int = 128, channels: int = 64, cond: str = "concat", embed_dim: int = 128,
                 attn_res: int = 0) -> None:
        super().__init__(z_dim, channels, cond, embed_dim, sn=False, attn_res=attn_res)
        self.apply(dcgan_init)


class Discriminator(ConvDiscriminator):
    """DCGAN ``D(x: (B, 3, 64, 64) in [-1, 1], y: (B, 24)) -> (logit (B,), aux (B, 24) or None)``; BatchNorm."""

    def __init__(self, channels: int = 64, cond: str = "concat", attn_res: int = 0) -> None:
        super().__init__(channels, cond, norm="batch", sn=False, attn_res=attn_res)
        self.apply(dcgan_init)
