"""The notebooks' parameters: one frozen dataclass built from the environment, shown by the parameters cell.

``NotebookParams.from_env("dcgan")`` reads the switches every notebook shares:

* ``LAB5_FAST=1`` (CI): the ``tiny_`` variant of each preset, two steps, 2 noise seeds, the 40-scene render,
  runs and figures in temp folders (a fast run never overwrites a committed figure);
* ``LAB5_SMOKE=1`` (CI): the REAL presets for two steps each, 1 seed, on the small render, temp folders;
* ``LAB5_MINUTES=M``: every run capped at ``M`` minutes of training time, in ``../runs/timed`` (how the
  committed CPU results were made);
* otherwise a full run (meant for a GPU kernel): ``full_epochs`` passes over the training set, ``../runs``;
* ``LAB5_DATA=DIR``: a real i-CLEVR folder instead of the synthetic default.

Any field can be set by hand: ``NotebookParams.from_env("dcgan", epochs=20, seeds=5)``.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from lab5_utils.data.default import DEFAULT_SCENES, DEFAULT_SEED, FAST_SCENES, ensure_default_data
from lab5_utils.evaluation.experiment import RunOptions
from lab5_utils.gan.budget import Budget
from lab5_utils.paths import budget_runs, fast_mode, smoke_mode


def final_preset() -> str:
    """The final model (issue 20): the object-centric sprite generator trained with the WGAN-GP objective,
    ``wgan_gp_sprite_ttur``, shipped in ``weights/real/`` (trained on the real images) and ``weights/`` (trained on
    the renderer-v4 synthetic default); report 4.11. ``sprite_cls`` (the same generator under SNGAN's hinge) was the
    final recipe before it, ``compose_cls`` the v3 default's."""
    return "wgan_gp_sprite_ttur"


@dataclass(frozen=True)
class NotebookParams:
    """What a notebook trains, on which data, for how long, and where it writes.

    ``preset``: a key of :data:`lab5_utils.gan.config.PRESETS` (``None`` for the data notebook). Budgets are
    totals over resumes: ``train_minutes`` of training time, ``epochs`` over the training set, ``steps`` generator
    steps (``None`` = no such cap). ``seeds``: noise seeds behind every mean ± std. ``data_root``: a real i-CLEVR
    folder, or ``None`` for the synthetic default of ``scenes`` scenes (render seed ``render_seed``)."""

    preset: str | None = None
    fast: bool = False
    smoke: bool = False
    train_minutes: float | None = None
    epochs: int | None = None
    steps: int | None = None
    seeds: int = 10
    data_root: Path | None = None
    scenes: int = DEFAULT_SCENES
    render_seed: int = DEFAULT_SEED
    runs: Path = Path("../runs")
    figures: Path = Path("../image")

    @classmethod
    def from_env(cls, preset: str | None = None, *, full_epochs: int = 100, runs: str | Path = "../runs",
                 figures: str | Path = "../image", **overrides: Any) -> NotebookParams:
        """The parameters for the current environment (module docstring) with ``overrides`` (any field but
        ``runs`` and ``figures``, which follow from the mode and the budget: give their base folders instead).
        What follows from an overridden field follows it: ``train_minutes=5`` drops the epoch budget and moves the
        runs to ``runs/timed``, ``fast=True`` picks the tiny variants and temp folders."""
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - (fields - {"preset", "runs", "figures"}))
        if unknown:
            raise ValueError(f"NotebookParams.from_env: unknown or derived field(s) {unknown}")
        fast = overrides.get("fast", fast_mode())
        smoke = overrides.get("smoke", smoke_mode())
        quick = fast or smoke
        env_minutes = float(os.environ["LAB5_MINUTES"]) if os.environ.get("LAB5_MINUTES") else None
        minutes = overrides.get("train_minutes", env_minutes)
        data = os.environ.get("LAB5_DATA")
        values: dict[str, Any] = {
            "preset": preset, "fast": fast, "smoke": smoke, "train_minutes": minutes,
            "epochs": None if quick or minutes else full_epochs, "steps": 2 if quick else None,
            "seeds": 2 if fast else 1 if smoke else 10, "data_root": Path(data).expanduser() if data else None,
            "scenes": FAST_SCENES if quick else DEFAULT_SCENES, **overrides}
        values["runs"] = Path(tempfile.mkdtemp()) if quick else budget_runs(runs, values["train_minutes"])
        values["figures"] = Path(tempfile.mkdtemp()) if quick else Path(figures)
        return cls(**values)

    def describe(self, device: str | None = None) -> str:
        """What the parameters cell prints: the device the runs train on, the mode and the budget, and (once, in
        plain words) a warning when a full run is about to train on a CPU, where it takes days."""
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        mode = ("fast (CI: tiny models, numbers mean nothing)" if self.fast else
                "smoke (CI: the real presets for two steps, numbers mean nothing)" if self.smoke else
                f"capped at {self.train_minutes:g} training minutes per run" if self.train_minutes else
                f"full ({self.epochs} epochs per run)")
        data = self.data_root or f"the synthetic default ({self.scenes} scenes, render seed {self.render_seed})"
        lines = [f"device: {device}; mode: {mode}; data: {data}; runs in {self.runs}"]
        if device == "cpu" and not self.quick and not self.train_minutes and self.epochs:
            lines.append(f"WARNING: a full run ({self.epochs} epochs) is about to train on a CPU, which takes days. "
                         "Use a GPU kernel, or cap every run with LAB5_MINUTES=60 (how the committed CPU results "
                         "were made); a run that finished before is resumed, not retrained.")
        return "\n".join(lines)

    @property
    def quick(self) -> bool:
        """A CI run (fast or smoke): its numbers mean nothing."""
        return self.fast or self.smoke

    def variant(self, preset: str | None = None) -> str:
        """The preset a run trains: ``preset`` (default: this notebook's), ``tiny_<preset>`` in fast mode."""
        name = preset or self.preset
        if name is None:
            raise ValueError("NotebookParams: no preset given (NotebookParams.from_env('<preset>'))")
        return f"tiny_{name}" if self.fast else name

    def run_dir(self, preset: str | None = None) -> Path:
        """The run folder of ``preset`` (default: this notebook's): ``runs/<variant>``."""
        return self.runs / self.variant(preset)

    def data(self) -> Path:
        """The training data folder: ``data_root``, else the synthetic default, rendered on first use."""
        return self.data_root or ensure_default_data(self.scenes, self.render_seed)

    def training_budget(self) -> Budget:
        """The one :class:`~lab5_utils.gan.budget.Budget` every run of the notebook trains to."""
        return Budget(train_minutes=self.train_minutes, epochs=self.epochs, steps=self.steps)

    def budget(self) -> dict[str, Any]:
        """Keyword arguments of :func:`lab5_utils.evaluation.experiment.run_preset`: the budget
        (:meth:`training_budget`), the data and the :class:`~lab5_utils.evaluation.experiment.RunOptions` (the seeds,
        fast mode's tiny judge and classifier); a quick run evaluates every 2 steps and skips the Fréchet distance, a
        real one every 100 steps with 2,048 samples per side."""
        return {"budget": self.training_budget(), "data_root": self.data(), "options": RunOptions(
            seeds=self.seeds, eval_every=2 if self.quick else 100, frechet_samples=0 if self.quick else 2048,
            tiny=self.fast)}
