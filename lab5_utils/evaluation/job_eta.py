"""The whole main job's ETA, printed in its first minute (issue 20): render + aux classifier + training + evaluation.

Each phase that has work to do is probed on this machine (one warm-up call, then two timed calls of its unit of
work on random tensors: a scene's render, a classifier step, a generator step, a judge batch), scaled by how many
units the phase will run, and summed. A phase whose output is already cached costs nothing. The probes take
seconds; the line is an estimate (the trainer's own ETA line follows once training has run 20 s).
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from lab5_utils.data.dataset import read_listing
from lab5_utils.data.default import DEFAULT_SCENES, default_data_root
from lab5_utils.device import default_device
from lab5_utils.evaluation.experiment import RunOptions
from lab5_utils.gan.budget import Budget
from lab5_utils.gan.classifier import AuxClassifier, ClassifierConfig, classifier_cache_path
from lab5_utils.gan.config import TrainConfig
from lab5_utils.gan.run_folder import RunFolder
from lab5_utils.gan.step import GanStep
from lab5_utils.gan.stream import random_dataset
from lab5_utils.judge.cache import judges_heldout
from lab5_utils.judge.model import build_judge
from lab5_utils.paths import JUDGE2_FILE, JUDGE_FILE, shipped
from lab5_utils.synth.render import FRAMES, render_conditions

EVAL_BATCH = 64
PROBE_CONDITIONS = (["red cube"], ["red cube", "blue sphere"], ["red cube", "blue sphere", "gray cylinder"])


def seconds_per_call(fn: Callable[[], Any], calls: int = 2) -> float:
    """Mean wall seconds of ``fn()`` over ``calls`` calls after one warm-up call."""
    fn()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


@dataclasses.dataclass(frozen=True)
class JobEstimate:
    """Seconds per phase in running order (0: cached or nothing to do), and what each phase will do."""

    seconds: Mapping[str, float]
    work: Mapping[str, str]

    @property
    def total_s(self) -> float:
        return sum(self.seconds.values())

    def line(self, now: float | None = None) -> str:
        finish = time.strftime("%H:%M", time.localtime((now or time.time()) + self.total_s))
        parts = [f"{name} ~{s / 60:.1f} min ({self.work[name]})" if s else f"{name}: {self.work[name]}"
                 for name, s in self.seconds.items()]
        minutes = self.total_s / 60
        return f"whole job: about {minutes:.{0 if minutes >= 10 else 1}f} min (done ~{finish}) = " + "; ".join(parts)


def _fit_step_seconds(model: torch.nn.Module, batch_size: int, device: torch.device) -> float:
    """Seconds of one Adam step of ``model`` (images -> 24 logits) on a random batch."""
    model = model.to(device)
    opt = torch.optim.Adam(model.parameters())
    x, y = torch.randn(batch_size, 3, 64, 64, device=device), torch.rand(batch_size, 24, device=device)

    def step() -> None:
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return seconds_per_call(step)


def estimate_job(cfg: TrainConfig, budget: Budget, *, data_images: int, render_scenes: int,
                 classifier: ClassifierConfig | None, eval_every: int, seeds: int, conditions: int,
                 frechet_samples: int, judges: int, done_steps: int = 0, device: str | torch.device = "cpu",
                 workers: int = 2) -> JobEstimate:
    """Probe and sum the job's phases. ``render_scenes``: scenes still to render (0: cached); ``classifier``: the
    aux classifier still to train (None: cached or not needed); ``budget``: the run's
    :class:`~lab5_utils.gan.budget.Budget` (totals); ``done_steps``: steps a resumed run already holds (its
    training minutes count as done too)."""
    device = torch.device(device)
    seconds: dict[str, float] = {}
    work: dict[str, str] = {}
    render_s = seconds_per_call(lambda: render_conditions(PROBE_CONDITIONS, seed=0), calls=1) if render_scenes else 0
    seconds["render"] = render_scenes * render_s / max(1, workers)
    work["render"] = f"{render_scenes:,} scenes" if render_scenes else "cached"
    if classifier is not None:
        steps = classifier.epochs * math.ceil(data_images * (1 - classifier.holdout_fraction) / classifier.batch_size)
        seconds["classifier"] = steps * _fit_step_seconds(AuxClassifier(classifier.width), classifier.batch_size,
                                                          device)
        work["classifier"] = f"{steps:,} steps"
    else:
        seconds["classifier"], work["classifier"] = 0.0, "cached or not needed"
    with warnings.catch_warnings():  # random tensors: the sprite G's layout warns that it has no scenes to measure
        warnings.simplefilter("ignore")
        gan = GanStep(cfg, random_dataset(4 * cfg.batch_size * cfg.n_critic, 0), device=device,
                      classifier=AuxClassifier().to(device).eval().requires_grad_(False) if cfg.needs_classifier
                      else None)
    step_s = seconds_per_call(gan.losses_step)
    if not budget.given:
        raise ValueError("estimate_job: the budget sets no cap")
    total_s = budget.seconds_left(step=0, epoch=0, wall_s=0.0, train_s=0.0, step_s=step_s,
                                  steps_per_epoch=data_images / (cfg.batch_size * cfg.n_critic))  # from step 0
    train_s = max(0.0, total_s - done_steps * step_s)
    seconds["training"] = train_s
    work["training"] = f"~{train_s / step_s:,.0f} steps at {step_s:.2f} s/step"
    judge = build_judge().to(device).eval()
    labels = torch.zeros(EVAL_BATCH, 24, device=device)
    labels[:, 0] = 1.0
    z = torch.randn(EVAL_BATCH, cfg.z_dim, device=device)

    @torch.no_grad()
    def read_batch() -> None:
        judge(gan.G_ema(z, labels))

    batch_s = seconds_per_call(read_batch)
    in_training = (train_s / step_s) / eval_every * 2 * 3 * 64 if eval_every else 0.0  # G, G_ema; 3 seeds; 64
    final = seeds * conditions * (1 + judges) + 2 * frechet_samples  # G, G_ema per judge; real and fake features
    seconds["evaluation"] = (in_training + final) / EVAL_BATCH * batch_s
    work["evaluation"] = f"~{in_training + final:,.0f} images read"
    return JobEstimate(seconds, work)


def estimate_run(cfg: TrainConfig, data_root: Path | None, out_dir: Path, budget: Budget, options: RunOptions,
                 conditions: int) -> JobEstimate:
    """:func:`estimate_job` for ``run_preset``'s arguments (``conditions``: how many its metrics read), before it
    renders or trains anything: what is cached (the default render, the shipped or ``$LAB5_JUDGE`` judge, the aux
    classifier, a run's ``last.pt``) costs nothing. A judge that must be trained first (no shipped one, e.g.
    ``LAB5_WEIGHTS=/nowhere``) is named and left out of the sum (its own progress bar shows its time)."""
    root = data_root or default_data_root()
    rendered = (root / "train.json").is_file()
    tiny, second_judge = options.tiny, bool(options.second_judge)
    judge = os.environ.get("LAB5_JUDGE") or (not tiny and shipped(JUDGE_FILE))  # as ensure_judge picks
    judge2 = (os.environ.get("LAB5_JUDGE2") or (not tiny and shipped(JUDGE2_FILE))) if second_judge else None
    classifier = ClassifierConfig.tiny_config() if tiny else ClassifierConfig()
    if not cfg.needs_classifier:
        classifier = None
    elif rendered and judge and (judge2 or not second_judge):
        excluded = judges_heldout(root, judge, judge2)
        cached = any(classifier_cache_path(root, classifier, excluded, legacy=old).is_file() for old in (False, True))
        classifier = None if cached else classifier
    data_images = len(read_listing(root)) if rendered else DEFAULT_SCENES * FRAMES
    last = RunFolder(out_dir).last
    done = int(torch.load(last, weights_only=True, map_location="cpu", mmap=True)["step"]) if last.is_file() else 0
    estimate = estimate_job(cfg, budget, data_images=data_images, render_scenes=0 if rendered else DEFAULT_SCENES,
                            classifier=classifier, eval_every=options.eval_every, seeds=options.seeds,
                            conditions=conditions, frechet_samples=options.frechet_samples, judges=1 + second_judge,
                            done_steps=done, device=options.device or default_device())
    if not judge or (second_judge and not judge2):
        return dataclasses.replace(estimate, work={**estimate.work, "judge": "trained first, not in this sum"},
                                   seconds={"judge": 0.0, **estimate.seconds})
    return estimate
