"""GAN losses as small pure functions on discriminator scores.

``real``/``fake`` are D's scores ``(B,)`` on real and generated images, high for real. Every D loss is *minimised*
by D and is lower when real scores are high and fake scores low; every G loss is lower when fake scores are high.
``LOSSES[name] = (d_loss(real, fake), g_loss(fake))``. The WGAN-GP penalty is
``penalty_at(D(x_hat, y)[0], x_hat)`` at ``x_hat = interpolates(real, fake, generator)``, as the trainer computes it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize


def d_bce(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Standard GAN D loss on logits: ``BCE(real, 1) + BCE(fake, 0)`` (numerically stable via softplus)."""
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def g_bce(fake: torch.Tensor) -> torch.Tensor:
    """Non-saturating G loss: ``BCE(fake, 1)``."""
    return F.softplus(-fake).mean()


def d_hinge(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Hinge D loss: ``mean(relu(1 - real)) + mean(relu(1 + fake))``."""
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def g_hinge(fake: torch.Tensor) -> torch.Tensor:
    """Hinge G loss: ``-mean(fake)``."""
    return -fake.mean()


def d_wasserstein(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Wasserstein critic loss: ``mean(fake) - mean(real)`` (add the gradient penalty to it)."""
    return fake.mean() - real.mean()


def g_wasserstein(fake: torch.Tensor) -> torch.Tensor:
    """Wasserstein generator loss: ``-mean(fake)``."""
    return -fake.mean()


def aux_bce(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """ACGAN auxiliary loss: 24-way multi-label BCE of ``logits: (B, 24)`` against multi-hot ``y: (B, 24)``."""
    return F.binary_cross_entropy_with_logits(logits.float(), y.float())


def beta_penalty(cover: torch.Tensor, weight: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Pressure toward opaque, binary coverage: the negative log density of a Beta(0.5, 0.5) prior (as Neural
    Volumes uses on its opacity), shifted to 0 at ``cover = 0.5`` and falling toward 0 and 1:
    ``0.5 * log(4 c (1 - c))`` in ``[0.5 * log(4 eps), 0]`` with ``c`` clamped to ``[eps, 1 - eps]``.
    ``cover: (N, ...)`` in [0, 1]; ``weight: (N,)`` (1 for a requested object's canvas, 0 for an empty slot);
    returns the weighted mean over the pixels of the weighted canvases (0 when every weight is 0)."""
    c = cover.float().clamp(eps, 1.0 - eps)
    per_canvas = (0.5 * torch.log(4.0 * c * (1.0 - c))).flatten(1).mean(1)
    return (per_canvas * weight).sum() / weight.sum().clamp_min(1.0)


def interpolates(real: torch.Tensor, fake: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """``x_hat = a*real + (1-a)*fake`` with ``a ~ U[0, 1)`` per sample drawn from ``generator`` (on its own device,
    then moved); a detached leaf with ``requires_grad=True``, same shape as ``real``."""
    gen_device = generator.device if generator is not None else real.device
    shape = (real.shape[0],) + (1,) * (real.ndim - 1)
    alpha = torch.rand(shape, generator=generator, device=gen_device).to(real.device, real.dtype)
    return (alpha * real.detach() + (1.0 - alpha) * fake.detach()).requires_grad_(True)


def penalty_at(score: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """``mean((||grad_x_hat sum(score)||_2 - 1)^2)``; ``score`` may come from a forward over a larger batch
    that contains ``x_hat`` (a per-sample critic: the gradient of each sample's score is its own). The graph is
    kept (``create_graph=True``) so the penalty can be added to the critic loss."""
    (grad,) = torch.autograd.grad(score.float().sum(), x_hat, create_graph=True)
    norm = torch.sqrt(grad.float().flatten(1).pow(2).sum(dim=1) + 1e-12)
    return (norm - 1.0).pow(2).mean()


def per_sample(D: nn.Module) -> bool:
    """True when one forward of ``D`` over ``cat([a, b])`` equals separate forwards over ``a`` and ``b``: no
    batch-statistics norm (BatchNorm couples the samples) and no spectral norm (its power iteration advances at
    every forward call). The WGAN-GP critic (GroupNorm, no SN) qualifies."""
    return not any(isinstance(m, nn.modules.batchnorm._BatchNorm) or parametrize.is_parametrized(m)
                   or hasattr(m, "weight_orig") for m in D.modules())


LossPair = tuple[Callable[[torch.Tensor, torch.Tensor], torch.Tensor], Callable[[torch.Tensor], torch.Tensor]]
LOSSES: dict[str, LossPair] = {
    "bce": (d_bce, g_bce),
    "hinge": (d_hinge, g_hinge),
    "wasserstein": (d_wasserstein, g_wasserstein),
}
