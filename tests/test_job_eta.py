"""The whole job's ETA (issue 20): phases probed, scaled by their work, cached phases free, and the line printed by
``train`` before any long work starts. Probe timings are replaced by 1 s per call, so the sums are exact."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import lab5_utils.evaluation.job_eta as job_eta
from lab5_utils.__main__ import main
from lab5_utils.gan.budget import Budget
from lab5_utils.gan.classifier import ClassifierConfig
from lab5_utils.gan.config import PRESETS
from lab5_utils.synth.render import render_dataset


@pytest.fixture
def one_second_per_call(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    probes = []

    def probe(fn, calls: int = 2) -> float:
        fn()  # the probe still runs its unit of work once (shapes, devices)
        probes.append(1)
        return 1.0

    monkeypatch.setattr(job_eta, "seconds_per_call", probe)
    return probes


def test_each_phase_is_its_work_times_its_probe(one_second_per_call: list[int]) -> None:
    cfg = PRESETS["tiny_sprite_cls"]
    classifier = ClassifierConfig.tiny_config()
    estimate = job_eta.estimate_job(cfg, Budget(steps=20), data_images=100,
                                    render_scenes=10, classifier=classifier, eval_every=5, seeds=2, conditions=10,
                                    frechet_samples=3, judges=2, done_steps=5, workers=2)
    steps = classifier.epochs * math.ceil(100 * (1 - classifier.holdout_fraction) / classifier.batch_size)
    assert estimate.seconds["render"] == 10 / 2  # two render workers
    assert estimate.seconds["classifier"] == steps
    assert estimate.seconds["training"] == 15  # 20 steps of the budget less the 5 the run holds
    in_training = 15 / 5 * 2 * 3 * 64  # three evaluations of G and G_ema, 3 seeds, 64 conditions
    assert estimate.seconds["evaluation"] == pytest.approx((in_training + 2 * 10 * 3 + 2 * 3) / 64)
    assert estimate.total_s == pytest.approx(sum(estimate.seconds.values()))
    assert "whole job: about" in estimate.line() and "10 scenes" in estimate.line()


def test_cached_phases_cost_nothing_and_minutes_budget_is_taken_as_is(one_second_per_call: list[int]) -> None:
    estimate = job_eta.estimate_job(PRESETS["tiny_sngan"], Budget(train_minutes=2.0), data_images=100,
                                    render_scenes=0, classifier=None, eval_every=0, seeds=1, conditions=4,
                                    frechet_samples=0, judges=1)
    assert estimate.seconds["render"] == estimate.seconds["classifier"] == 0
    assert estimate.seconds["training"] == 120  # minutes of training time, whatever the step time
    assert estimate.seconds["evaluation"] == pytest.approx(4 * 2 / 64)  # no evaluation during training
    assert "render: cached" in estimate.line()
    epochs = job_eta.estimate_job(PRESETS["tiny_sngan"], Budget(epochs=2), data_images=100, render_scenes=0,
                                  classifier=None, eval_every=0, seeds=1, conditions=4, frechet_samples=0, judges=1)
    assert epochs.seconds["training"] == pytest.approx(2 * 100 / PRESETS["tiny_sngan"].batch_size)


def test_train_prints_the_whole_job_line_before_training(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAB5_FAST", "1")
    data = render_dataset(tmp_path / "data", scenes=3, seed=0, workers=1, progress=False)
    assert main(["train", "--preset", "tiny_sngan", "--data", str(data), "--out", str(tmp_path / "run"),
                 "--steps", "2", "--eval-every", "0", "--seeds", "1", "--frechet-samples", "0"]) == 0
    err = capsys.readouterr().err
    assert "whole job: about" in err and "render: cached" in err and "judge: trained first" in err
