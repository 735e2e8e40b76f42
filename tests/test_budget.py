"""One budget value (issue 21): the caps a run trains to, checked, met and turned into an ETA."""

from __future__ import annotations

import math

import pytest

from lab5_utils.gan.budget import Budget


def test_a_budget_is_met_by_its_first_cap_and_says_when() -> None:
    budget = Budget(train_minutes=2.0, steps=100)
    assert budget.given and not Budget().given
    assert not budget.met(step=99, epoch=0, wall_s=1e6, train_s=119.0)  # wall time is not capped here
    assert budget.met(step=100, epoch=0, wall_s=0.0, train_s=0.0)
    assert budget.met(step=1, epoch=0, wall_s=0.0, train_s=120.0)
    # 1 s per step: 90 steps left, or 60 training seconds left: the nearer one
    assert budget.seconds_left(step=10, epoch=0, wall_s=5.0, train_s=60.0, step_s=1.0, steps_per_epoch=4) == 60
    epochs = Budget(epochs=3)
    assert epochs.seconds_left(step=0, epoch=1, wall_s=0.0, train_s=0.0, step_s=0.5, steps_per_epoch=4) == 4.0
    assert Budget(wall_minutes=1).met(step=0, epoch=0, wall_s=60.0, train_s=0.0)
    assert math.isinf(Budget().seconds_left(step=0, epoch=0, wall_s=0, train_s=0, step_s=1, steps_per_epoch=1))


def test_a_budget_keeps_the_request_keys_and_refuses_bad_caps() -> None:
    assert Budget(steps=406).record() == {"minutes": None, "epochs": None, "steps": 406}  # old metrics.json keys
    assert Budget(epochs=5, train_minutes=60).describe() == "5 epochs or 60 training minutes"
    for bad in ({"steps": -1}, {"epochs": 2.5}, {"train_minutes": float("nan")}, {"steps": True}):
        with pytest.raises(ValueError, match=f"budget: {next(iter(bad))}="):
            Budget(**bad)
    assert Budget(epochs=2.0).met(step=0, epoch=2, wall_s=0.0, train_s=0.0)  # a whole float is whole


def test_a_run_budget_is_a_total_refused_as_wall_time_before_any_work(tmp_path) -> None:
    from lab5_utils.evaluation.experiment import run_preset

    with pytest.raises(ValueError, match="not one call's wall time"):  # before a judge is rendered or trained
        run_preset("tiny_dcgan", tmp_path / "run", Budget(wall_minutes=1), data_root=tmp_path / "nowhere")
