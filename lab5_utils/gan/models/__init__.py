"""GAN families for 64x64 i-CLEVR and the ``build_models(cfg) -> (G, D)`` factory.

Every family module (``dcgan``, ``sagan``, ``wgan``, ``sngan``, ``projected``, ``compose``,
``sprite``) exposes
``Generator`` and ``Discriminator``:

* ``G(z: (B, z_dim), y: (B, 24) multi-hot) -> (B, 3, 64, 64)`` in ``[-1, 1]``; ``G.z_dim`` is the noise size;
* ``D(x: (B, 3, 64, 64) in [-1, 1], y: (B, 24)) -> (score (B,), aux_logits (B, 24) or None)``, score high for real.

A run trains ``arch``'s discriminator and, unless ``cfg.generator`` names another family, ``arch``'s generator.

Conditioning designs are orthogonal to the family: ``g_cond`` in ``concat``/``cbn`` and ``d_cond`` any
``+``-join of ``concat``/``projection``/``acgan`` (see :mod:`lab5_utils.gan.config`).
"""

from __future__ import annotations

from types import ModuleType

import torch
from torch import nn

from lab5_utils.gan.config import TrainConfig
from lab5_utils.gan.models import compose, dcgan, projected, sagan, sngan, sprite, wgan
from lab5_utils.gan.models.layers import SelfAttention

FAMILIES: dict[str, ModuleType] = {"dcgan": dcgan, "sagan": sagan, "wgan": wgan, "sngan": sngan,
                                   "projected": projected, "compose": compose,
                                   "sprite": sprite}
GENERATORS: dict[str, type[nn.Module]] = {name: module.Generator for name, module in FAMILIES.items()}
DISCRIMINATORS: dict[str, type[nn.Module]] = {name: module.Discriminator for name, module in FAMILIES.items()}


def build_generator(cfg: TrainConfig, seed: int | None = None) -> nn.Module:
    """The generator of ``cfg``, initialised from ``seed`` (default ``cfg.seed``) without touching global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed if seed is None else seed)
        return GENERATORS[cfg.generator_design](z_dim=cfg.z_dim, channels=cfg.g_channels, cond=cfg.g_cond,
                                    embed_dim=cfg.embed_dim, attn_res=cfg.g_attn_res)


def build_models(cfg: TrainConfig, seed: int | None = None) -> tuple[nn.Module, nn.Module]:
    """``(G, D)`` for ``cfg`` on the CPU, initialised deterministically from ``seed`` (default ``cfg.seed``)."""
    if cfg.arch not in FAMILIES:
        raise ValueError(f"arch={cfg.arch!r}: expected one of {list(FAMILIES)}")
    seed = cfg.seed if seed is None else seed
    G = build_generator(cfg, seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed + 1)
        D = DISCRIMINATORS[cfg.arch](channels=cfg.d_channels, cond=cfg.d_cond, attn_res=cfg.d_attn_res)
    return G, D


def attention_gammas(model: nn.Module, prefix: str = "") -> dict[str, float]:
    """``{prefix + module name: gamma}`` for every self-attention block in ``model`` (empty when there is none)."""
    return {prefix + name: float(m.gamma.detach()) for name, m in model.named_modules()
            if isinstance(m, SelfAttention)}
