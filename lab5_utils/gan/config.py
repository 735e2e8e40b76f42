"""Training configurations: one frozen dataclass, named presets and strict overrides.

``PRESETS[name]`` is a :class:`TrainConfig`; ``get_config("sagan", batch_size=32)`` applies overrides; unknown
keys (from a dict, a checkpoint or ``--set key=value`` on the CLI) raise a ``ValueError`` naming the key.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

G_COND_PARTS = ("concat", "cbn")  # how G reads the condition
D_COND_PARTS = ("concat", "projection", "acgan")  # how D reads it (any '+'-join)


def parse_cond(design: str, allowed: tuple[str, ...], field: str) -> frozenset[str]:
    """``"projection+acgan"`` -> ``{"projection", "acgan"}``; unknown parts raise a ``ValueError`` naming ``field``."""
    parts = [p.strip() for p in design.split("+") if p.strip()]
    bad = [p for p in parts if p not in allowed]
    if not parts or bad:
        raise ValueError(f"{field}={design!r}: parts must be one or more of {allowed} joined by '+', bad: {bad}")
    return frozenset(parts)


ARCHS = ("dcgan", "sagan", "wgan", "sngan", "projected", "compose", "sprite")
LOSS_NAMES = ("bce", "hinge", "wasserstein")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a GAN run (model sizes, conditioning, loss, optimiser, schedule).

    Sizes follow the reference's names: ``g_channels`` is ``ngf`` and ``d_channels`` is ``ndf`` (the widest
    layers have 8x these). ``g_cond`` is a ``+``-join of ``concat``/``cbn``; ``d_cond`` of
    ``concat``/``projection``/``acgan``. ``*_attn_res`` is the feature-map size of a self-attention block
    (0 = none; G: 4/8/16/32, D: 32/16/8/4). ``step`` counts generator updates; each one follows ``n_critic``
    discriminator updates, each on a fresh real batch.
    """

    name: str = "custom"
    arch: str = "dcgan"
    # the generator's design, an axis of its own: "" = arch's own, or another family's (e.g. "sprite") against arch's D
    generator: str = ""
    g_cond: str = "concat"
    d_cond: str = "concat"
    loss: str = "bce"
    z_dim: int = 128
    g_channels: int = 64
    d_channels: int = 64
    embed_dim: int = 128  # label embedding size for g_cond "concat"
    g_attn_res: int = 0
    d_attn_res: int = 0
    batch_size: int = 64
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    n_critic: int = 1
    gp_lambda: float = 0.0  # weight of the gradient penalty added to the D loss (0 = off)
    # lazy GP: penalise every k-th critic update only, weighted k*gp_lambda (1 = the paper). The logged d_loss is
    # the step's last critic update, so with k > 1 it holds the penalty only when that update is penalised.
    gp_every: int = 1
    aux_weight: float = 1.0  # weight of the ACGAN auxiliary BCE (used when d_cond has "acgan")
    aux_fake_in_d: bool = False  # also train D's classifier on fakes (original ACGAN); G always uses it on fakes
    # frozen auxiliary classifier (lab5_utils.gan.classifier, trained on the GAN's own training images): weight of its
    # multi-label BCE on G's images in G's loss (0 = off); its inputs get random shifts/flips (cls_shift px)
    cls_weight: float = 0.0
    cls_warmup: int = 0  # generator steps over which the classifier's weight ramps up linearly from 0
    cls_shift: int = 4
    # the classifier's BCE on each requested object drawn alone on the floor (sprite G only; same warm-up; 0 = off)
    cls_alone: float = 0.0
    # sprite coverage levers (0 = off): noise std on its logits while G trains, weight of a Beta(0.5, 0.5) penalty
    # on it in G's loss, and hard 0/1 masks (straight-through) from this G step on
    alpha_noise: float = 0.0
    alpha_beta: float = 0.0
    alpha_hard_from: int = 0
    d_shift: int = 0  # DiffAugment translation: real and fake images shifted by up to d_shift px before D (0 = off)
    ema_decay: float = 0.999  # EMA of G's weights (0 = EMA copy just follows G)
    seed: int = 0
    log_every: int = 10  # steps between stats.jsonl lines
    ckpt_every: int = 1000  # steps between last.pt writes (also written at the end of a run)
    bf16: bool = False  # bf16 autocast of G/D forwards (CUDA; also honoured on CPU, where it is mostly slower)

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"arch={self.arch!r}: expected one of {ARCHS}")
        if self.generator and self.generator not in ARCHS:
            raise ValueError(f"generator={self.generator!r}: expected '' (arch's own) or one of {ARCHS}")
        if self.loss not in LOSS_NAMES:
            raise ValueError(f"loss={self.loss!r}: expected one of {LOSS_NAMES}")
        parse_cond(self.g_cond, G_COND_PARTS, "g_cond")
        parse_cond(self.d_cond, D_COND_PARTS, "d_cond")
        for key in ("z_dim", "g_channels", "d_channels", "embed_dim", "batch_size", "n_critic", "gp_every",
                    "log_every", "ckpt_every"):
            if not isinstance(getattr(self, key), int) or getattr(self, key) < 1:
                raise ValueError(f"{key}={getattr(self, key)!r}: expected a positive integer")
        for key in ("lr_g", "lr_d"):
            if not getattr(self, key) > 0:
                raise ValueError(f"{key}={getattr(self, key)!r}: expected a positive learning rate")
        if not (0.0 <= self.beta1 < 1.0 and 0.0 <= self.beta2 < 1.0 and 0.0 <= self.ema_decay < 1.0):
            raise ValueError("beta1, beta2 and ema_decay must lie in [0, 1)")
        if min(self.gp_lambda, self.aux_weight, self.cls_weight, self.cls_alone, self.alpha_noise, self.alpha_beta) < 0:
            raise ValueError("gp_lambda, aux_weight, cls_weight, cls_alone, alpha_noise and alpha_beta must be >= 0")
        if self.cls_alone and (self.generator_design != "sprite" or not self.cls_weight):
            raise ValueError(f"cls_alone={self.cls_alone}: needs the sprite generator (objects drawn alone) and "
                             "cls_weight > 0")
        if (self.alpha_noise or self.alpha_beta or self.alpha_hard_from) and self.generator_design != "sprite":
            raise ValueError(f"alpha_noise={self.alpha_noise}, alpha_beta={self.alpha_beta}, alpha_hard_from="
                             f"{self.alpha_hard_from}: the coverage levers need the sprite generator")
        for key in ("cls_shift", "d_shift", "cls_warmup", "alpha_hard_from"):
            if not isinstance(getattr(self, key), int) or getattr(self, key) < 0:
                raise ValueError(f"{key}={getattr(self, key)!r}: expected an integer >= 0")

    @property
    def betas(self) -> tuple[float, float]:
        """Adam betas as floats."""
        return (float(self.beta1), float(self.beta2))

    @property
    def generator_design(self) -> str:
        """The family whose generator this run trains: ``generator``, else ``arch``."""
        return self.generator or self.arch

    @property
    def needs_classifier(self) -> bool:
        """True when training needs the frozen aux classifier (its BCE in G's loss, or a projected D)."""
        return self.cls_weight > 0 or self.arch == "projected"

    @property
    def uses_aux(self) -> bool:
        """True when D has an ACGAN classifier head."""
        return "acgan" in parse_cond(self.d_cond, D_COND_PARTS, "d_cond")


FIELD_NAMES = tuple(f.name for f in dataclasses.fields(TrainConfig))
FIELD_TYPES = {f.name: str(f.type) for f in dataclasses.fields(TrainConfig)}  # "int", "float", "bool", "str"


def check_keys(keys: Sequence[str], where: str) -> None:
    """Raise a ``ValueError`` naming ``where`` and the closest field for a key that is not a config field."""
    for key in keys:
        if key not in FIELD_NAMES:
            close = difflib.get_close_matches(key, FIELD_NAMES, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"{where}: unknown config key {key!r}{hint}")


def replace(cfg: TrainConfig, where: str = "overrides", **overrides: Any) -> TrainConfig:
    """``dataclasses.replace`` that names an unknown key (``where`` says where it came from)."""
    check_keys(list(overrides), where)
    return dataclasses.replace(cfg, **overrides)


def config_from_dict(data: Mapping[str, Any], where: str = "config") -> TrainConfig:
    """Rebuild a config from ``dataclasses.asdict`` output (e.g. a checkpoint's ``config``); strict on keys."""
    check_keys(list(data), where)
    return TrainConfig(**dict(data))


def tiny(cfg: TrainConfig) -> TrainConfig:
    """A seconds-on-CPU version of ``cfg`` for tests: narrow layers, batch 4, same families and designs."""
    return dataclasses.replace(cfg, name=f"tiny_{cfg.name}", z_dim=8, g_channels=4, d_channels=4, embed_dim=8,
                               batch_size=4, log_every=1, ckpt_every=1000)


# one coverage lever each on the final model (issue 18, measured in report 4.12): wgan_gp_sprite_ttur_<key>
COVERAGE_LEVERS = {"noise": {"alpha_noise": 1.0}, "beta": {"alpha_beta": 0.1}, "hard": {"alpha_hard_from": 300}}


def _presets() -> dict[str, TrainConfig]:
    dcgan = TrainConfig(name="dcgan", arch="dcgan", g_cond="concat", d_cond="concat", loss="bce")
    sagan = TrainConfig(name="sagan", arch="sagan", g_cond="cbn", d_cond="projection", loss="hinge",
                        g_attn_res=32, d_attn_res=32, lr_g=1e-4, lr_d=4e-4, beta1=0.0, beta2=0.9)
    wgan_gp = TrainConfig(name="wgan_gp", arch="wgan", g_cond="cbn", d_cond="projection+acgan",
                          loss="wasserstein", gp_lambda=10.0, n_critic=5, lr_g=1e-4, lr_d=1e-4, beta1=0.0,
                          beta2=0.9, aux_weight=1.0)
    # The CPU-efficient recipe of issue 11: SN + hinge + projection D, CBN G, TTUR, 1 D step per G step; narrow (32
    # channels: 2.5x the steps of 64 per CPU minute). Its _cls ramps the classifier up over 2,000 steps (measured).
    sngan = TrainConfig(name="sngan", arch="sngan", g_cond="cbn", d_cond="projection", loss="hinge", lr_g=1e-4,
                        lr_d=4e-4, beta1=0.0, beta2=0.9, n_critic=1, g_channels=32, d_channels=32, ckpt_every=250)
    # the WGAN-GP objective (Wasserstein loss + GP in the critic's loss, critic without BatchNorm) on a CPU budget,
    # training the sprite G: TTUR (lr_d 4x lr_g) with one critic step per G step instead of five, the lazy GP (every
    # 4th critic step, weighted 4x) and the SNGAN recipe's narrow critic (issue 20: measured in report 4.11)
    ttur = dataclasses.replace(wgan_gp, name="wgan_gp_sprite_ttur", generator="sprite", g_cond="cbn", g_attn_res=0,
                               g_channels=32, d_channels=32, n_critic=1, gp_every=4, lr_d=4e-4, cls_weight=1.0,
                               cls_warmup=500, cls_alone=1.0, ckpt_every=250)
    presets = {
        "sngan": sngan,
        "sngan_cls": dataclasses.replace(sngan, name="sngan_cls", cls_weight=1.0, cls_warmup=2000),
        # Projected GAN: D on the frozen classifier's features at four scales, plus the classifier's BCE in G
        "projected_cls": dataclasses.replace(sngan, name="projected_cls", arch="projected", cls_weight=1.0,
                                             cls_warmup=2000, g_channels=48, d_channels=64),
        # object-centric G (one sprite per requested object over a background) + SNGAN's D, with the classifier
        "compose_cls": dataclasses.replace(sngan, name="compose_cls", arch="compose", cls_weight=1.0, cls_warmup=500),
        # the real-data recipe (issue 18): sprites placed by a measured layout, started from the training objects'
        # mean look, SNGAN's D, the classifier on the scene AND on each object alone (_scene: on the scene only)
        "sprite_cls": dataclasses.replace(sngan, name="sprite_cls", arch="sprite", cls_weight=1.0, cls_warmup=500,
                                          cls_alone=1.0),
        "sprite_cls_scene": dataclasses.replace(sngan, name="sprite_cls_scene", arch="sprite", cls_weight=1.0,
                                                cls_warmup=500),
        # the generator design as its own axis (issue 20): each course family's D, loss and schedule training the
        # sprite G (CBN, no attention: a sprite is too small for it) with the real-data recipe's classifier terms
        **{f"{name}_sprite_cls": dataclasses.replace(cfg, name=f"{name}_sprite_cls", generator="sprite",
                                                     g_cond="cbn", g_attn_res=0, g_channels=32, cls_weight=1.0,
                                                     cls_warmup=500, cls_alone=1.0)
           for name, cfg in (("dcgan", dcgan), ("sagan", sagan), ("wgan_gp", wgan_gp))},
        "wgan_gp_sprite_ttur": ttur,
        **{f"wgan_gp_sprite_ttur_{k}": dataclasses.replace(ttur, name=f"wgan_gp_sprite_ttur_{k}", **lever)
           for k, lever in COVERAGE_LEVERS.items()},
        # every family with the final recipe's classifier term (weight 1, 500-step ramp): family x recipe
        **{f"{name}_cls": dataclasses.replace(cfg, name=f"{name}_cls", cls_weight=1.0, cls_warmup=500)
           for name, cfg in (("dcgan", dcgan), ("sagan", sagan), ("wgan_gp", wgan_gp))},
        "dcgan": dcgan,
        # The reference report's scale: ngf=300, ndf=100 (a ~60M-parameter generator).
        "dcgan_ref": dataclasses.replace(dcgan, name="dcgan_ref", g_channels=300, d_channels=100, z_dim=100,
                                         embed_dim=100),
        "sagan": sagan,
        "wgan_gp": wgan_gp,
        # Condition-design ablations of the final family (same sizes, loss and schedule).
        "wgan_gp_concat": dataclasses.replace(wgan_gp, name="wgan_gp_concat", g_cond="concat", d_cond="concat"),
        "wgan_gp_projection": dataclasses.replace(wgan_gp, name="wgan_gp_projection", d_cond="projection"),
        "wgan_gp_acgan": dataclasses.replace(wgan_gp, name="wgan_gp_acgan", d_cond="acgan"),
        "wgan_gp_concat_g": dataclasses.replace(wgan_gp, name="wgan_gp_concat_g", g_cond="concat"),
    }
    presets.update({f"tiny_{name}": tiny(cfg) for name, cfg in list(presets.items())})
    return presets


PRESETS: dict[str, TrainConfig] = _presets()


def get_config(preset: str, **overrides: Any) -> TrainConfig:
    """``PRESETS[preset]`` with ``overrides``; an unknown preset or key raises ``ValueError`` naming it."""
    if preset not in PRESETS:
        close = difflib.get_close_matches(preset, list(PRESETS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown preset {preset!r}{hint}; available: {', '.join(PRESETS)}")
    return replace(PRESETS[preset], **overrides)
