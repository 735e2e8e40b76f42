"""The trainer's concatenated critic forward: only for per-sample critics, and equal to separate forwards."""

from __future__ import annotations

from pathlib import Path

import torch

from lab5_utils.gan.config import PRESETS
from lab5_utils.gan.losses import interpolates, penalty_at, per_sample
from lab5_utils.gan.models import build_models
from lab5_utils.gan.stream import random_dataset
from lab5_utils.gan.trainer import Trainer
from lab5_utils.image_ops import to_signed


def _batch(n: int = 6, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    images, y = random_dataset(n, seed)
    return to_signed(images), y


def test_only_batch_independent_critics_are_per_sample() -> None:
    assert per_sample(build_models(PRESETS["tiny_wgan_gp"])[1])  # GroupNorm critic
    assert not per_sample(build_models(PRESETS["tiny_dcgan"])[1])  # BatchNorm couples the samples
    assert not per_sample(build_models(PRESETS["tiny_sagan"])[1])  # SN power iteration advances per call


def test_concatenated_forward_and_penalty_match_separate_ones() -> None:
    D = build_models(PRESETS["tiny_wgan_gp"])[1]
    (real, y), (fake, _) = _batch(seed=1), _batch(seed=2)
    x_hat = interpolates(real, fake, torch.Generator().manual_seed(3))
    score, aux = D(torch.cat([real, fake, x_hat]), y.repeat(3, 1))
    torch.testing.assert_close(score[:6], D(real, y)[0])
    torch.testing.assert_close(aux[6:12], D(fake, y)[1])
    torch.testing.assert_close(penalty_at(score[12:], x_hat), penalty_at(D(x_hat, y)[0], x_hat))


def test_fused_and_separate_training_steps_agree(tmp_path: Path) -> None:
    images = torch.randint(0, 256, (12, 3, 64, 64), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    data = (images, _batch(12)[1])
    runs = []
    for fused in (True, False):
        trainer = Trainer(PRESETS["tiny_wgan_gp"], data, tmp_path / str(fused), device="cpu", progress=False)
        assert trainer.fused
        trainer.fused = fused
        values = trainer.train_step()
        runs.append((values, trainer.D.state_dict()))
    (a, da), (b, db) = runs
    assert a.keys() == b.keys() and all(abs(a[k] - b[k]) <= 1e-4 * (1 + abs(b[k])) for k in a)
    for key in da:
        torch.testing.assert_close(da[key], db[key], rtol=1e-4, atol=1e-6)
