"""The notebooks' parameters object: what each environment switch gives, and that its budget is run_preset's."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from lab5_utils.evaluation.experiment import run_preset
from lab5_utils.report.params import NotebookParams

SWITCHES = ("LAB5_FAST", "LAB5_SMOKE", "LAB5_MINUTES", "LAB5_DATA")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in SWITCHES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_a_fast_run_uses_tiny_variants_and_temp_folders(env: pytest.MonkeyPatch) -> None:
    env.setenv("LAB5_FAST", "1")
    p = NotebookParams.from_env("dcgan")
    assert p.fast and p.quick and p.variant() == "tiny_dcgan" and p.variant("sagan_cls") == "tiny_sagan_cls"
    assert (p.steps, p.epochs, p.seeds, p.scenes) == (2, None, 2, 40)
    for folder in (p.figures, p.runs):  # never the committed ../image or ../runs
        assert folder.is_dir() and not list(folder.iterdir()) and folder.resolve() != Path("../image").resolve()
    assert p.run_dir() == p.runs / "tiny_dcgan"


def test_smoke_runs_the_real_preset_and_a_cap_goes_to_runs_timed(env: pytest.MonkeyPatch) -> None:
    env.setenv("LAB5_SMOKE", "1")
    smoke = NotebookParams.from_env("sagan")
    assert smoke.variant() == "sagan" and (smoke.steps, smoke.seeds, smoke.scenes) == (2, 1, 40) and smoke.quick
    env.delenv("LAB5_SMOKE")
    env.setenv("LAB5_MINUTES", "10")
    capped = NotebookParams.from_env("sagan")
    assert capped.train_minutes == 10.0 and capped.epochs is None and capped.steps is None
    assert capped.runs == Path("../runs/timed") and capped.figures == Path("../image") and not capped.quick


def test_a_full_run_and_overrides(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    full = NotebookParams.from_env("wgan_gp")
    assert (full.epochs, full.steps, full.train_minutes, full.seeds, full.scenes) == (100, None, None, 10, 6003)
    assert full.runs == Path("../runs") and full.variant() == "wgan_gp"
    env.setenv("LAB5_DATA", str(tmp_path))
    mine = NotebookParams.from_env("wgan_gp", epochs=20, seeds=3)
    assert (mine.epochs, mine.seeds) == (20, 3) and mine.data() == tmp_path
    with pytest.raises(AttributeError):
        mine.seeds = 4  # type: ignore[misc]  # frozen
    with pytest.raises(ValueError, match="no preset"):
        NotebookParams.from_env().variant()
    with pytest.raises(ValueError, match=r"\['epoch'\]"):
        NotebookParams.from_env("wgan_gp", epoch=20)  # a typo is named, not silently ignored


def test_what_follows_from_an_overridden_field_follows_it(env: pytest.MonkeyPatch) -> None:
    capped = NotebookParams.from_env("sagan", train_minutes=5)  # by hand, not LAB5_MINUTES
    assert capped.epochs is None and capped.runs == Path("../runs/timed")  # never resumes the uncapped run
    fast = NotebookParams.from_env("sagan", fast=True)
    assert fast.variant() == "tiny_sagan" and fast.steps == 2 and fast.runs != Path("../runs")


def test_the_budget_is_run_presets_keyword_arguments(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env.setenv("LAB5_DATA", str(tmp_path))
    budget = NotebookParams.from_env("dcgan").budget()
    accepted = inspect.signature(run_preset).parameters
    assert set(budget) <= set(accepted) and budget["data_root"] == tmp_path
    assert budget["options"].frechet_samples == 2048
    assert budget["options"].tiny is False and NotebookParams.from_env("dcgan", fast=True).budget()["options"].tiny


def test_the_parameters_cell_names_the_device_and_warns_before_a_full_cpu_run(env: pytest.MonkeyPatch) -> None:
    full = NotebookParams.from_env("dcgan", fast=False, smoke=False)
    assert full.epochs and "WARNING: a full run" in full.describe("cpu") and "days" in full.describe("cpu")
    assert "WARNING" not in full.describe("cuda") and "device: cuda" in full.describe("cuda")
    capped = NotebookParams.from_env("dcgan", fast=False, smoke=False, train_minutes=5)
    assert "WARNING" not in capped.describe("cpu") and "capped at 5 training minutes" in capped.describe("cpu")
    assert "WARNING" not in NotebookParams.from_env("dcgan", fast=True).describe("cpu")
