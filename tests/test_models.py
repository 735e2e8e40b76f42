"""Model families x conditioning designs: shapes, ranges, label sensitivity, spectral norm, attention, configs."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from lab5_utils.cli.args import parse_overrides
from lab5_utils.gan.config import PRESETS, TrainConfig, config_from_dict, get_config, tiny
from lab5_utils.gan.models import attention_gammas, build_models
from lab5_utils.gan.models.layers import CondBatchNorm2d, SelfAttention
from lab5_utils.gan.stream import random_dataset

G_CONDS = ["concat", "cbn", "concat+cbn"]
D_CONDS = ["concat", "projection", "acgan", "projection+acgan", "concat+acgan"]
ARCHS = ["dcgan", "sagan", "wgan", "sngan"]


def _cfg(arch: str, g_cond: str = "cbn", d_cond: str = "projection", **kw: object) -> TrainConfig:
    return tiny(TrainConfig(arch=arch, g_cond=g_cond, d_cond=d_cond, **kw))  # type: ignore[arg-type]


def _labels(batch: int, seed: int = 0) -> torch.Tensor:
    return random_dataset(batch, seed)[1]


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("g_cond", G_CONDS)
@pytest.mark.parametrize("d_cond", D_CONDS)
def test_every_family_and_design_builds_with_right_shapes(arch: str, g_cond: str, d_cond: str) -> None:
    cfg = _cfg(arch, g_cond, d_cond, g_attn_res=16, d_attn_res=16)
    G, D = build_models(cfg)
    z = torch.randn(3, G.z_dim, generator=torch.Generator().manual_seed(1))
    x = G(z, _labels(3))
    assert x.shape == (3, 3, 64, 64)
    assert x.min() >= -1.0 and x.max() <= 1.0 and x.std() > 0
    score, aux = D(x, _labels(3))
    assert score.shape == (3,)
    assert torch.isfinite(score).all()
    if "acgan" in d_cond:
        assert aux is not None and aux.shape == (3, 24)
    else:
        assert aux is None


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("d_cond", ["concat", "projection", "projection+acgan"])
def test_discriminator_output_moves_with_only_the_label(arch: str, d_cond: str) -> None:
    _, D = build_models(_cfg(arch, d_cond=d_cond))
    D.eval()
    x = torch.rand(4, 3, 64, 64, generator=torch.Generator().manual_seed(2)) * 2 - 1
    a, b = _labels(4, seed=0), _labels(4, seed=1)
    assert not torch.equal(a, b)
    with torch.no_grad():
        assert not torch.allclose(D(x, a)[0], D(x, b)[0])


@pytest.mark.parametrize("g_cond", G_CONDS)
def test_generator_output_moves_with_only_the_label(g_cond: str) -> None:
    G, _ = build_models(_cfg("wgan", g_cond=g_cond))
    G.eval()
    z = torch.randn(4, G.z_dim, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert not torch.allclose(G(z, _labels(4, 0)), G(z, _labels(4, 1)))


def _convs_and_linears(model: nn.Module) -> list[tuple[str, nn.Module]]:
    kinds = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)
    return [(n, m) for n, m in model.named_modules() if isinstance(m, kinds)]


@pytest.mark.parametrize("d_cond", ["concat+projection+acgan"])
def test_spectral_norm_everywhere_in_sagan_and_nowhere_in_dcgan(d_cond: str) -> None:
    G, D = build_models(_cfg("sagan", g_cond="concat+cbn", d_cond=d_cond))
    for model in (G, D):
        layers = _convs_and_linears(model)
        assert len(layers) > 5
        missing = [n for n, m in layers if not parametrize.is_parametrized(m, "weight")]
        assert missing == []
    for model in build_models(_cfg("dcgan", d_cond=d_cond)):
        assert not any(parametrize.is_parametrized(m, "weight") for _, m in _convs_and_linears(model))


def test_wgan_critic_has_no_batchnorm_and_dcgan_d_has() -> None:
    _, critic = build_models(_cfg("wgan"))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in critic.modules())
    assert any(isinstance(m, nn.GroupNorm) for m in critic.modules())
    _, d = build_models(_cfg("dcgan"))
    assert any(isinstance(m, nn.BatchNorm2d) for m in d.modules())


def test_attention_preserves_shape_gamma_starts_at_zero_and_is_identity() -> None:
    torch.manual_seed(0)
    attn = SelfAttention(16)
    x = torch.randn(2, 16, 8, 8)
    assert float(attn.gamma.detach()) == 0.0
    assert torch.equal(attn(x), x)
    with torch.no_grad():
        attn.gamma.fill_(0.5)
    out = attn(x)
    assert out.shape == x.shape and not torch.allclose(out, x)


def test_sagan_preset_has_attention_at_32_in_both_and_gammas_are_logged() -> None:
    G, D = build_models(tiny(PRESETS["sagan"]))
    for model in (G, D):
        gammas = attention_gammas(model)
        assert len(gammas) == 1 and list(gammas.values()) == [0.0]
    shapes: list[tuple[int, ...]] = []

    def record(_m: nn.Module, _i: object, out: torch.Tensor) -> None:
        shapes.append(tuple(out.shape))

    for model in (G, D):
        next(m for m in model.modules() if isinstance(m, SelfAttention)).register_forward_hook(record)
    D(G(torch.randn(2, G.z_dim), _labels(2)), _labels(2))
    assert [s[-2:] for s in shapes] == [(32, 32), (32, 32)]


def test_cbn_gain_bias_follow_labels_additively() -> None:
    torch.manual_seed(0)
    cbn = CondBatchNorm2d(5)
    cbn.eval()
    h = torch.randn(3, 5, 2, 2)
    y = torch.zeros(3, 24)
    y[0, 0] = 1
    y[1, 1] = 1
    y[2, [0, 1]] = 1
    gain = cbn.gain(y)
    assert torch.allclose(gain[2], gain[0] + gain[1])
    assert not torch.allclose(cbn(h, y)[0], cbn(h, y * 0)[0])


def test_reference_scale_is_expressible() -> None:
    cfg = PRESETS["dcgan_ref"]
    assert (cfg.g_channels, cfg.d_channels, cfg.g_cond, cfg.d_cond) == (300, 100, "concat", "concat")


def test_presets_and_unknown_keys_fail_loudly() -> None:
    assert {"dcgan", "sagan", "wgan_gp", "wgan_gp_concat", "wgan_gp_projection", "wgan_gp_acgan"} <= set(PRESETS)
    assert PRESETS["sagan"].lr_d > PRESETS["sagan"].lr_g
    assert all(isinstance(b, float) for cfg in PRESETS.values() for b in cfg.betas)
    with pytest.raises(ValueError, match="lr_gg"):
        get_config("sagan", lr_gg=1e-3)
    with pytest.raises(ValueError, match="bogus"):
        config_from_dict({**dataclasses.asdict(PRESETS["dcgan"]), "bogus": 1})
    with pytest.raises(ValueError, match="nope"):
        get_config("nope")
    with pytest.raises(ValueError, match="d_cond"):
        TrainConfig(d_cond="projection+magic")
    assert parse_overrides(["lr_g=0.001", "bf16=true", "n_critic=2"]) == {"lr_g": 0.001, "bf16": True, "n_critic": 2}
    with pytest.raises(ValueError, match="n_critic"):
        parse_overrides(["n_critic=two"])
    assert config_from_dict(dataclasses.asdict(PRESETS["wgan_gp"])) == PRESETS["wgan_gp"]


def test_build_is_seeded_and_leaves_global_rng_alone() -> None:
    torch.manual_seed(123)
    before = torch.get_rng_state()
    g1, _ = build_models(tiny(PRESETS["wgan_gp"]))
    g2, _ = build_models(tiny(PRESETS["wgan_gp"]))
    g3, _ = build_models(tiny(PRESETS["wgan_gp"]), seed=5)
    assert torch.equal(torch.get_rng_state(), before)
    p1, p2, p3 = (torch.cat([p.flatten() for p in g.parameters()]) for g in (g1, g2, g3))
    assert torch.equal(p1, p2) and not torch.equal(p1, p3)


def test_bad_input_shapes_are_named() -> None:
    G, D = build_models(tiny(PRESETS["dcgan"]))
    with pytest.raises(ValueError, match="noise"):
        G(torch.randn(2, G.z_dim + 1), _labels(2))
    with pytest.raises(ValueError, match="labels"):
        D(torch.randn(2, 3, 64, 64), torch.zeros(2, 23))
