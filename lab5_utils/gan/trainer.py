"""The GAN training engine: ``fit(cfg, data, out_dir, Budget(steps=..))`` or the :class:`Trainer` it wraps, which runs
:class:`~lab5_utils.gan.step.GanStep` (one training step and its state) in a run folder.

``out_dir`` gets ``stats.jsonl`` (one JSON object per log step / evaluation), ``last.pt`` (every
``cfg.ckpt_every`` steps and every ``ckpt_seconds`` of wall time, so a kill loses minutes, not the run),
``best.pt`` (by the evaluation metric, when ``eval_fn`` is given), ``nan_step<N>.pt`` if a loss goes non-finite
and ``run.lock``, locked while a trainer changes the folder (:mod:`lab5_utils.gan.run_folder`: a second writer is
refused). A run stopped and resumed (``resume=True``) ends with exactly the weights of an uninterrupted one on the
same machine: :meth:`Trainer.state_dict` is the checkpoint (:mod:`lab5_utils.gan.checkpoint` holds its format).
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from lab5_utils.gan.budget import Budget
from lab5_utils.gan.checkpoint import FORMAT, check_compatible, load_checkpoint, save_checkpoint
from lab5_utils.gan.config import TrainConfig
from lab5_utils.gan.log import StatsLog, eta_line
from lab5_utils.gan.models import attention_gammas
from lab5_utils.gan.run_folder import RunFolder, RunLock, remove_stale_tmp, set_aside, writing
from lab5_utils.gan.step import GanStep, NonFiniteLossError

EvalFn = Callable[[nn.Module], Mapping[str, float]]


@dataclasses.dataclass
class _Interrupt:
    requested: bool = False


def interrupted(step: int, last: Path) -> KeyboardInterrupt:
    """The KeyboardInterrupt a Ctrl-C'd run ends with: it names the step ``last`` holds."""
    return KeyboardInterrupt(f"stopped after step {step} and wrote {last}; continue with --resume (resume=True)")


@contextlib.contextmanager
def deferred_interrupt() -> Iterator[_Interrupt]:
    """Within the block, a first Ctrl-C (SIGINT) only sets ``.requested`` (the loop finishes its step, writes
    last.pt and stops); a second one raises at once. Outside the main thread (no signal handlers there) Ctrl-C
    keeps its usual effect. The previous handler is restored on exit."""
    flag = _Interrupt()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is None:  # a handler installed outside Python: leave it alone
        yield flag
        return

    def handler(signum: int, frame: Any) -> None:
        if flag.requested:
            raise KeyboardInterrupt("a second Ctrl-C: stopped mid-step; the run resumes from its last checkpoint")
        flag.requested = True
        tqdm.write("Ctrl-C: finishing this step and writing last.pt (press again to stop at once)", file=sys.stderr)

    signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


class Trainer(GanStep):
    """A :class:`GanStep` (G, D, G_ema, optimisers, data stream, RNGs) training into ``out_dir``.

    ``eval_fn(G) -> {metric: value}`` is called with G in eval mode under ``no_grad`` for G and G_ema every
    ``eval_every`` steps; the larger ``metric`` (default: the first key) of the two picks best.pt. ``resume=True``
    continues from ``out_dir/last.pt`` (refusing one of another preset). ``data``, ``device`` and ``classifier``
    are :class:`GanStep`'s.

    It extends :class:`GanStep` rather than holding one (issue 21 asked which reads simpler): it adds the loop, the
    run folder and the log and overrides nothing (no hook back into the step), while notebooks, tests and tools read
    ``G``, ``G_ema``, ``step`` and ``batches`` on it directly, which a held step would need a dozen delegating
    properties for.
    """

    def __init__(self, cfg: TrainConfig, data: Any, out_dir: str | Path, *, resume: bool = False,
                 device: str | torch.device | None = None, progress: bool = True, eval_fn: EvalFn | None = None,
                 eval_every: int = 1000, metric: str | None = None, classifier: nn.Module | None = None,
                 ckpt_seconds: float = 180.0) -> None:
        super().__init__(cfg, data, device=device, classifier=classifier)
        self.out_dir = Path(out_dir)
        self.progress, self.eval_fn, self.eval_every, self.metric = progress, eval_fn, eval_every, metric
        self.ckpt_seconds = ckpt_seconds
        self.train_time = 0.0
        self.best: dict[str, Any] = {"metric": metric, "value": None, "step": None, "which": None}
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.lock = RunLock(self.out_dir)  # held while the folder changes: here and in run()
        self.files = RunFolder(self.out_dir)
        self.log = StatsLog(self.files.stats)
        with self.lock:
            remove_stale_tmp(self.out_dir)  # partial writes of a killed run
            last = self.files.last
            if resume and last.is_file():
                self.load_state_dict(load_checkpoint(last), where=str(last))
            elif last.is_file():  # a fresh start on an old run (resume=False): the old run's files are kept
                for path in self.files.run_files():
                    set_aside(path, "an earlier run's file, from a fresh start in its folder")
            else:  # a log without last.pt is a run killed before its first checkpoint: kept, never deleted
                set_aside(self.log.path, "a log that no last.pt accounts for, from a fresh start in the folder")

    # ---- loop ----------------------------------------------------------------------------------------------
    def run(self, budget: Budget) -> Trainer:
        """Train until ``budget`` (:class:`~lab5_utils.gan.budget.Budget`) is met. Budgets are checked between steps,
        so a step that crosses the budget finishes: ``epochs`` ends at the first step boundary at or after the epoch
        boundary (one step draws ``n_critic`` batches). The folder's lock is held for the call (another trainer on
        it raises ``RunLockedError``)."""
        if not budget.given:
            raise ValueError("run: give a budget (Budget(train_minutes=..., epochs=..., steps=..., wall_minutes=...))")
        start, window_start, window_steps, first_step = time.monotonic(), time.monotonic(), 0, self.step
        first_time, eta_said, saved_at = self.train_time, False, time.monotonic()

        def progress() -> dict[str, float]:
            return {"step": self.step, "epoch": self.batches.epoch, "wall_s": time.monotonic() - start,
                    "train_s": self.train_time}

        with self.lock, deferred_interrupt() as interrupt, tqdm(
                total=budget.steps, initial=self.step, desc=self.cfg.name, disable=not self.progress,
                unit="step") as bar:
            while not budget.met(**progress()):
                if interrupt.requested:  # Ctrl-C: stop at a step boundary, where the checkpoint resumes exactly
                    self.save_last()
                    raise interrupted(self.step, self.files.last)
                t0 = time.monotonic()
                self.log.add(self.losses_step())  # tensors: read on the host only when logged
                self.train_time += time.monotonic() - t0
                window_steps += 1
                bar.update(1)
                if not eta_said and time.monotonic() - start >= 20:  # once, within the first minute
                    step_s = (self.train_time - first_time) / (self.step - first_step)
                    left = budget.seconds_left(**progress(), step_s=step_s,
                                               steps_per_epoch=self.batches.batches_per_epoch / self.cfg.n_critic)
                    tqdm.write(eta_line(self.cfg, left, step_s), file=sys.stderr)
                    eta_said = True
                if self.step % self.cfg.log_every == 0:
                    rate = window_steps * self.cfg.batch_size * self.cfg.n_critic / (time.monotonic() - window_start)
                    extra = self._log_extra(rate)
                    with writing(self.log.path, self.step):
                        row = self.log.flush(extra)
                    self.check_window({k: v for k, v in row.items() if k not in extra})  # the window's means
                    bar.set_postfix({k: f"{row[k]:.3g}" for k in ("d_loss", "g_loss", "gp") if k in row})
                    window_start, window_steps = time.monotonic(), 0
                if self.eval_fn is not None and self.step % self.eval_every == 0:
                    self.evaluate()
                if self.step % self.cfg.ckpt_every == 0 or time.monotonic() - saved_at >= self.ckpt_seconds:
                    self.save_last()
                    saved_at = time.monotonic()
            if self.step == first_step:
                return self  # the budget was already met: nothing trained, nothing rewritten
            if self.eval_fn is not None and self.step % self.eval_every != 0 and not interrupt.requested:
                self.evaluate()
            self.save_last()
            if interrupt.requested:  # Ctrl-C during the last step: saved, and nothing more runs after it
                raise interrupted(self.step, self.files.last)
        return self

    def _log_extra(self, images_per_s: float) -> dict[str, Any]:
        return {"step": self.step, "epoch": self.batches.epoch, "images_per_s": images_per_s,
                "train_time_s": self.train_time, **attention_gammas(self.G, "gamma/G."),
                **attention_gammas(self.D, "gamma/D.")}

    @torch.no_grad()
    def evaluate(self) -> dict[str, Any]:
        """Run ``eval_fn`` on G and G_ema, log both, and write best.pt when either beats the best so far."""
        assert self.eval_fn is not None
        results: dict[str, Mapping[str, float]] = {}
        for which, model in (("G", self.G), ("G_ema", self.G_ema)):
            was_training = model.training
            model.eval()
            try:
                results[which] = dict(self.eval_fn(model))
            finally:
                model.train(was_training)
        metric = self.metric or next(iter(results["G"]))
        which = max(results, key=lambda k: results[k][metric])
        value = float(results[which][metric])
        row = {"step": self.step, "epoch": self.batches.epoch, "eval": results["G"], "eval_ema": results["G_ema"]}
        with writing(self.log.path, self.step):
            self.log.write(row)
        if self.best["value"] is None or value > self.best["value"]:
            self.best = {"metric": metric, "value": value, "step": self.step, "which": which}
            self.save(self.files.best, kind="best")
        return row

    # ---- checkpoints ------------------------------------------------------------------------------------------
    def state_dict(self, kind: str = "last", **extra: Any) -> dict[str, Any]:
        """The checkpoint (:mod:`lab5_utils.gan.checkpoint`'s keys): :meth:`GanStep.state_dict` plus ``format``,
        ``kind``, ``preset``, ``config``, ``best``, ``train_time_s``, the open log window and ``extra``."""
        return {"format": FORMAT, "kind": kind, "preset": self.cfg.name, "config": dataclasses.asdict(self.cfg),
                **super().state_dict(), "best": dict(self.best), "train_time_s": self.train_time,
                "stats_window": self.log.state_dict(), **extra}

    def load_state_dict(self, state: Mapping[str, Any], where: str = "checkpoint") -> None:
        """Continue from a checkpoint dict: weights, optimisers, data order, RNG states, counters and the open
        stats window (``stats.jsonl`` rows after its step are dropped). Refuses one of another preset or
        architecture (:func:`~lab5_utils.gan.checkpoint.check_compatible`), naming ``where``. Holds the run's lock."""
        check_compatible(state, self.cfg, where)
        with self.lock:  # it rewrites the folder's log
            super().load_state_dict(state, where)
            self.train_time, self.best = float(state["train_time_s"]), dict(state["best"])
            self.log.truncate_after(self.step)
            self.log.load_state_dict(state.get("stats_window", {}))  # absent in checkpoints of older versions

    def save_last(self) -> Path:
        """``last.pt``, once the losses of the open log window are checked finite (never a NaN model as last)."""
        self.check_window(self.log.means())
        return self.save(self.files.last)

    def check_window(self, losses: Mapping[str, float]) -> None:
        """A non-finite loss in the log window up to this step stops the run with ``nan_step<N>.pt`` (the state as
        it is, with the losses) named in the error; ``last.pt`` keeps the last finite state."""
        try:
            self.check_finite(losses, f"at or before step {self.step}")
        except NonFiniteLossError as err:
            path = self.save(self.files.diagnostic(self.step), kind="diagnostic", losses=dict(losses))
            raise NonFiniteLossError(f"{err}; diagnostic checkpoint: {path}") from None

    def save(self, path: Path, kind: str = "last", **extra: Any) -> Path:
        with writing(path, self.step):
            return save_checkpoint(self.state_dict(kind, **extra), path)


def fit(cfg: TrainConfig, data: Any, out_dir: str | Path, budget: Budget, **trainer_options: Any) -> Trainer:
    """Train ``cfg`` on ``data`` into ``out_dir`` until ``budget`` is met; ``trainer_options`` are :class:`Trainer`'s
    (``resume``, ``device``, ``progress``, ``eval_fn``, ...). Returns the trainer (``.G_ema`` etc.)."""
    return Trainer(cfg, data, out_dir, **trainer_options).run(budget)
