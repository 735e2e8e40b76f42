"""Projected GAN (Sauer et al. 2021, "Projected GANs Converge Faster") on CPU: the discriminator judges images in
the feature space of a FROZEN pretrained network, here the auxiliary classifier of :mod:`lab5_utils.gan.classifier`
(trained on the GAN's own training images, never the judge), at four scales; the generator is SNGAN's (CBN).

Discriminator: frozen features at 32x32 (w ch), 16x16 (2w), 8x8 (4w), 4x4 (8w) -> a fixed random 1x1 conv per
scale (cross-channel mixing, frozen) to ``channels`` -> a small spectral-norm head per scale (4x4 stride-2 convs
down to 4x4, then :class:`~lab5_utils.gan.models.layers.DiscriminatorHead` with projection conditioning) -> the sum of
the four scores. Only the heads learn; the frozen part is left out of ``requires_grad`` and stays in eval mode.
The trainer copies the classifier's weights in (:meth:`Discriminator.load_features`); checkpoints hold them.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from lab5_utils.gan.classifier import AuxClassifier
from lab5_utils.gan.config import D_COND_PARTS, parse_cond
from lab5_utils.gan.models.backbone import IMAGE_SIZE, _check_inputs
from lab5_utils.gan.models.layers import DiscriminatorHead, maybe_sn
from lab5_utils.gan.models.sngan import Generator  # noqa: F401  (this family's G: SNGAN's, CBN, no SN)

SCALES = (32, 16, 8, 4)  # feature-map size after each of the classifier's four stages


class _Head(nn.Module):
    """``(B, C, S, S)`` -> SN 4x4/2 convs + LeakyReLU down to 4x4 -> (score (B,), aux (B, 24) or None)."""

    def __init__(self, channels: int, size: int, projection: bool, acgan: bool) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        while size > 4:
            layers += [maybe_sn(nn.Conv2d(channels, channels, 4, 2, 1), True), nn.LeakyReLU(0.2)]
            size //= 2
        self.down = nn.Sequential(*layers)
        self.head = DiscriminatorHead(channels, projection=projection, acgan=acgan, sn=True)

    def forward(self, h: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.head(self.down(h), y)


class Discriminator(nn.Module):
    """``D(x: (B, 3, 64, 64) in [-1, 1], y: (B, 24)) -> (score (B,), aux_logits (B, 24) or None)``.

    ``feature_width`` sizes the frozen part until :meth:`load_features` brings the classifier's. ``cond``:
    ``projection`` and/or ``acgan`` (the ACGAN logits are the mean over the scales); ``concat`` has no meaning on
    features and is refused.
    """

    def __init__(self, channels: int = 64, cond: str = "projection", attn_res: int = 0,
                 feature_width: int = 32) -> None:
        super().__init__()

        parts = parse_cond(cond, D_COND_PARTS, "d_cond")
        if "concat" in parts or attn_res:
            raise ValueError(f"projected discriminator: d_cond={cond!r}, d_attn_res={attn_res}: only projection "
                             "and/or acgan, and no attention")
        self.cond, self.channels = cond, channels
        self._frozen_part(AuxClassifier(feature_width))  # replaced by load_features
        self.heads = nn.ModuleList(_Head(channels, s, "projection" in parts, "acgan" in parts) for s in SCALES)

    def _frozen_part(self, classifier: nn.Module) -> None:
        """The classifier's feature stages and the random 1x1 mixing convs (seeded: the same for every run)."""
        self.features = copy.deepcopy(classifier.features).eval().requires_grad_(False)
        widths = [classifier.width * 2 ** i for i in range(len(SCALES))]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            self.mix = nn.ModuleList(nn.Conv2d(c, self.channels, 1, bias=False) for c in widths)
        self.mix.requires_grad_(False)

    def train(self, mode: bool = True) -> Discriminator:
        super().train(mode)
        self.features.eval()  # frozen BatchNorm statistics: the classifier's, never the batch's
        return self

    @torch.no_grad()
    def load_features(self, classifier: nn.Module) -> None:
        """Take the frozen feature network from an :class:`~lab5_utils.gan.classifier.AuxClassifier` (any width)."""
        if not isinstance(getattr(classifier, "features", None), nn.Sequential) or not hasattr(classifier, "width"):
            raise ValueError(f"projected discriminator: expected an AuxClassifier, got {type(classifier).__name__}")
        device = next(self.heads.parameters()).device
        self._frozen_part(classifier)
        self.to(device)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        if x.ndim != 4 or x.shape[1:] != (3, IMAGE_SIZE, IMAGE_SIZE):
            raise ValueError(f"discriminator: images must have shape (B, 3, 64, 64), got {tuple(x.shape)}")
        _check_inputs(y, x.shape[0], "discriminator")
        taps, h = [], x
        for i, layer in enumerate(self.features):
            h = layer(h)
            if i % 6 == 5:  # the end of a stage: conv-BN-ReLU, conv-BN-ReLU
                taps.append(h)
        scores, auxes = [], []
        for tap, mix, head in zip(taps, self.mix, self.heads, strict=True):
            score, aux = head(F.leaky_relu(mix(tap), 0.2), y)
            scores.append(score)
            auxes.append(aux)
        aux = None if auxes[0] is None else torch.stack(auxes).mean(0)  # type: ignore[arg-type]
        return torch.stack(scores).sum(0), aux
