"""The sprite generator's coverage levers (issue 18): noise on the coverage logits while training, a Beta(0.5, 0.5)
penalty on the coverage, hard 0/1 masks late in a run; each resumes exactly and a checkpoint draws what it trained."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import pytest
import torch
from scenes import draw_scenes
from test_sprite import _fitted

from lab5_utils.gan.budget import Budget
from lab5_utils.gan.checkpoint import load_generator
from lab5_utils.gan.config import PRESETS
from lab5_utils.gan.losses import beta_penalty
from lab5_utils.gan.trainer import Trainer
from lab5_utils.labels import encode_batch


def test_beta_penalty_is_lowest_at_binary_coverage_and_skips_empty_slots() -> None:
    half, binary = torch.full((2, 4, 4), 0.5), torch.tensor([0.0, 1.0]).repeat(16).view(2, 4, 4)
    both = torch.ones(2)
    assert beta_penalty(half, both).item() == pytest.approx(0.0, abs=1e-6)
    assert beta_penalty(binary, both).item() == pytest.approx(0.5 * torch.log(torch.tensor(4e-3 * 0.999)).item(),
                                                              rel=1e-4)
    mixed = torch.stack([half[0], binary[0]])
    assert beta_penalty(mixed, torch.tensor([0.0, 1.0])) == pytest.approx(beta_penalty(binary, both).item())
    assert beta_penalty(mixed, torch.zeros(2)).item() == 0.0  # no requested object: nothing to push
    soft = torch.full((1, 4, 4), 0.7, requires_grad=True)
    beta_penalty(soft, torch.ones(1)).backward()
    assert (soft.grad < 0).all()  # descent moves 0.7 toward 1


def test_hard_cover_is_binary_on_the_canvas_and_keeps_a_gradient() -> None:
    G = _fitted()
    y = encode_batch([["red cube", "blue sphere"]])
    z = torch.randn(1, 16)
    soft = G.layers(z, y)
    G.hard_cover = True
    hard = G.layers(z, y)
    cover = hard["cover"][0, :2]
    # inside the box the coverage is the 0/1 canvas resampled bilinearly: mostly 0 or 1, a thin rim between
    between = ((cover > 0.02) & (cover < 0.98)).float().sum() / (cover > 0.02).float().sum().clamp_min(1)
    soft_between = ((soft["cover"][0, :2] > 0.02) & (soft["cover"][0, :2] < 0.98)).float().sum() / \
        (soft["cover"][0, :2] > 0.02).float().sum().clamp_min(1)
    assert between < soft_between
    hard["cover"].sum().backward()  # straight-through: the sprite network still learns
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in G.sprites.parameters())


def test_coverage_noise_acts_only_in_training_mode() -> None:
    G = _fitted()
    G.alpha_noise = 2.0
    y, z = encode_batch([["red cube"]]), torch.randn(1, 16)
    G.eval()
    assert torch.equal(G(z, y), G(z, y))
    G.train()
    with pytest.raises(ValueError, match="noise_source"):  # never the global RNG: a run's seed fixes the noise
        G.layers(z, y)
    G.noise_source = torch.Generator().manual_seed(0)
    first = G.layers(z, y)["sprite_cover"]
    assert not torch.allclose(first, G.layers(z, y)["sprite_cover"])
    G.noise_source = torch.Generator().manual_seed(0)
    assert torch.equal(first, G.layers(z, y)["sprite_cover"])


def test_a_fresh_noise_lever_run_is_fixed_by_its_seed_not_by_the_global_rng(tmp_path: Path) -> None:
    from lab5_utils.gan.classifier import AuxClassifier

    cfg = dataclasses.replace(PRESETS["tiny_wgan_gp_sprite_ttur_noise"], cls_warmup=0)
    images, labels, _, _ = draw_scenes(6, seed=5)
    torch.manual_seed(7)
    classifier, runs = AuxClassifier(4), []
    for global_seed in (0, 1):
        torch.manual_seed(global_seed)  # whatever the caller's global RNG holds
        runs.append(Trainer(cfg, (images, labels), tmp_path / str(global_seed), device="cpu", progress=False,
                            classifier=copy.deepcopy(classifier)).run(Budget(steps=2)))
    for key, value in runs[0].G_ema.state_dict().items():
        assert torch.equal(value, runs[1].G_ema.state_dict()[key]), key


@pytest.mark.parametrize("lever", ["noise", "beta", "hard"])
def test_each_lever_trains_resumes_exactly_and_loads(lever: str, tmp_path: Path) -> None:
    from lab5_utils.gan.classifier import AuxClassifier

    cfg = dataclasses.replace(PRESETS[f"tiny_wgan_gp_sprite_ttur_{lever}"], cls_warmup=0)
    if lever == "hard":
        cfg = dataclasses.replace(cfg, alpha_hard_from=2)
    images, labels, _, _ = draw_scenes(6, seed=5)

    def trainer(folder: str, resume: bool = False) -> Trainer:
        torch.manual_seed(0)
        return Trainer(cfg, (images, labels), tmp_path / folder, resume=resume, device="cpu", progress=False,
                       classifier=AuxClassifier(4))

    full = trainer("full").run(Budget(steps=4))
    trainer("part").run(Budget(steps=2))
    resumed = trainer("part", resume=True).run(Budget(steps=4))
    for key, value in full.G_ema.state_dict().items():
        assert torch.equal(value, resumed.G_ema.state_dict()[key]), key
    if lever == "beta":
        assert "g_beta" in (tmp_path / "full" / "stats.jsonl").read_text().splitlines()[-1]
    loaded = load_generator(tmp_path / "full" / "last.pt")
    assert loaded.hard_cover == (lever == "hard") and loaded.alpha_noise == 0.0
    assert full.G_ema.hard_cover == (lever == "hard")


def test_the_levers_need_the_sprite_generator() -> None:
    for field, value in (("alpha_noise", 1.0), ("alpha_beta", 0.1), ("alpha_hard_from", 10)):
        with pytest.raises(ValueError, match="sprite generator"):
            dataclasses.replace(PRESETS["tiny_compose_cls"], **{field: value})
    with pytest.raises(ValueError, match="alpha_noise"):
        dataclasses.replace(PRESETS["tiny_wgan_gp_sprite_ttur"], alpha_noise=-1.0)
