"""The GAN training engine: ``fit(cfg, data, out_dir, minutes=..)`` or the :class:`Trainer` it wraps.

One *step* is ``cfg.n_critic`` discriminator updates (each on a fresh real batch; the Wasserstein loss, the
gradient penalty and the ACGAN term are summed into ONE loss with one backward and one optimiser step) followed
by one generator update and the EMA update of ``G_ema``. With ``cfg.gp_every = k > 1`` the penalty is lazy (as
StyleGAN2 does for R1): only every k-th critic update of the run computes it, weighted ``k * gp_lambda``. The
fakes of the last critic update are reused for the generator update. All randomness comes from seeded
generators saved in the checkpoint, so a run stopped and resumed (``resume=True``) ends with exactly the weights
of an uninterrupted one on the CPU.

``out_dir`` gets ``stats.jsonl`` (one JSON object per log step / evaluation), ``last.pt`` (every
``cfg.ckpt_every`` steps and every ``ckpt_seconds`` of wall time, so a kill loses minutes, not the run),
``best.pt`` (by the evaluation metric, when ``eval_fn`` is given), ``nan_step<N>.pt`` if a loss goes non-finite
and ``run.lock``, locked while a trainer changes the folder (:mod:`lab5_utils.run_folder`: a second writer is
refused).
"""

from __future__ import annotations

import contextlib
import copy
import math
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from lab5_utils.checkpoint import load_generator, restore_trainer, save_checkpoint, state_digest, trainer_state
from lab5_utils.config import TrainConfig
from lab5_utils.losses import LOSSES, aux_bce, interpolates, penalty_at, per_sample
from lab5_utils.models import attention_gammas, build_models
from lab5_utils.run_folder import RunLock, RunWriteError, remove_stale_tmp, set_aside, writing
from lab5_utils.train_utils import BatchStream, StatsLog, as_arrays, augment, default_device, ema_update, eta_line

__all__ = ["NonFiniteLossError", "RunWriteError", "Trainer", "fit", "load_generator"]
EvalFn = Callable[[nn.Module], Mapping[str, float]]


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN/inf; the message names the step, the losses and the diagnostic checkpoint."""


class Trainer:
    """Holds G, D, G_ema, both Adam optimisers, the data stream and the RNGs of one run in ``out_dir``.

    ``data``: ``(images uint8 (N, 3, 64, 64), labels (N, 24))`` (``load_arrays`` output), an ``ICLEVR`` dataset
    or a folder. ``eval_fn(G) -> {metric: value}`` is called with G in eval mode under ``no_grad`` for G and
    G_ema every ``eval_every`` steps; the larger ``metric`` (default: the first key) of the two picks best.pt.
    ``resume=True`` continues from ``out_dir/last.pt`` (refusing one of another preset). ``classifier`` is the
    frozen aux classifier (:mod:`lab5_utils.classifier`) that ``cfg.needs_classifier`` (a classifier term in G's
    loss, or a projected D) needs; its weights' digest is checkpointed and a resume with another one warns.
    """

    def __init__(self, cfg: TrainConfig, data: Any, out_dir: str | Path, *, resume: bool = False,
                 device: str | torch.device | None = None, progress: bool = True, eval_fn: EvalFn | None = None,
                 eval_every: int = 1000, metric: str | None = None, classifier: nn.Module | None = None,
                 ckpt_seconds: float = 180.0) -> None:
        if cfg.needs_classifier and classifier is None:
            raise ValueError(f"{cfg.name}: cls_weight={cfg.cls_weight}, arch={cfg.arch!r} needs the frozen aux "
                             "classifier (classifier=load_classifier(ensure_classifier(data_root)))")
        self.cfg, self.out_dir = cfg, Path(out_dir)
        self.device = torch.device(device) if device is not None else default_device()
        self.progress, self.eval_fn, self.eval_every, self.metric = progress, eval_fn, eval_every, metric
        self.ckpt_seconds = ckpt_seconds
        images, labels = as_arrays(data)
        self.G, self.D = (m.to(self.device) for m in build_models(cfg))
        self.fused = per_sample(self.D)  # score real and fake in one critic forward
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.classifier = None if cfg.cls_weight == 0 or classifier is None else \
            classifier.to(self.device).eval().requires_grad_(False)
        if cfg.arch == "projected":  # D judges in the frozen classifier's feature space
            self.D.load_features(classifier)
        self.d_params = [p for p in self.D.parameters() if p.requires_grad]  # not a frozen feature network
        self.classifier_digest = state_digest(classifier) if cfg.needs_classifier else None
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr_g, betas=cfg.betas)
        self.opt_d = torch.optim.Adam(self.d_params, lr=cfg.lr_d, betas=cfg.betas)
        self.d_loss, self.g_loss = LOSSES[cfg.loss]
        self.batches = BatchStream(images, labels, cfg.batch_size, cfg.seed, self.device)
        self.noise = torch.Generator().manual_seed(cfg.seed + 2)  # z and GP alphas, drawn on the CPU
        self.step, self.train_time = 0, 0.0
        self.best: dict[str, Any] = {"metric": metric, "value": None, "step": None, "which": None}
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.lock = RunLock(self.out_dir)  # held while the folder changes: here and in run()
        self.log = StatsLog(self.out_dir / "stats.jsonl")
        with self.lock:
            remove_stale_tmp(self.out_dir)  # partial writes of a killed run
            last = self.out_dir / "last.pt"
            if resume and last.is_file():
                restore_trainer(self, last)
            elif last.is_file():  # a fresh start on an old run (resume=False): the old run's files are kept
                for name in ("stats.jsonl", "last.pt", "best.pt"):
                    set_aside(self.out_dir / name, "an earlier run's file, from a fresh start in its folder")
            else:  # a log without last.pt is a run killed before its first checkpoint: kept, never deleted
                set_aside(self.log.path, "a log that no last.pt accounts for, from a fresh start in the folder")

    # ---- one training step -------------------------------------------------------------------------------
    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.cfg.bf16 and self.device.type in ("cuda", "cpu"):
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _z(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.cfg.z_dim, generator=self.noise).to(self.device)

    def _critic(self, real: torch.Tensor, fake: torch.Tensor, y: torch.Tensor, with_gp: bool) -> tuple[
            list[torch.Tensor], list[torch.Tensor | None], torch.Tensor | None]:
        """``[real score (B,), fake score (B,)]``, ``[real aux, fake aux]`` ((B, 24) or None) and the GP (None if
        off). A per-sample critic scores real and fake in ONE forward over ``cat([real, fake])``; the GP's
        interpolates get their own forward (inside the concatenated batch, the gradient w.r.t. them would be
        backpropagated through all 3B samples: measured ~1.9x slower on CPU)."""
        if self.cfg.d_shift:  # DiffAugment translation, the same kind of shift for real and fake
            real, fake = (augment(x, self.cfg.d_shift, False, self.noise) for x in (real, fake))
        x_hat = interpolates(real, fake, self.noise) if with_gp else None
        if self.fused:
            score, aux = self.D(torch.cat([real, fake]), y.repeat(2, 1))
            scores = list(score.split(len(y)))
            auxes = list(aux.split(len(y))) if aux is not None else [None, None]
        else:
            scores, auxes = (list(t) for t in zip(self.D(real, y), self.D(fake, y), strict=True))
        gp = penalty_at(self.D(x_hat, y)[0], x_hat) if x_hat is not None else None
        return scores, auxes, gp

    def train_step(self) -> dict[str, float]:
        """One generator step after ``n_critic`` critic steps; returns the step's losses as floats."""
        cfg, aux_on = self.cfg, self.cfg.uses_aux
        for p in self.d_params:
            p.requires_grad_(True)
        stats: dict[str, torch.Tensor] = {}
        for i in range(cfg.n_critic):
            x, y = self.batches.next()
            real = x.float().div_(127.5).sub_(1.0)
            with self._autocast():
                with torch.set_grad_enabled(i == cfg.n_critic - 1):  # the last fakes are reused for G's step
                    fake = self.G(self._z(len(x)), y)
                # lazy GP (cfg.gp_every = k > 1): every k-th critic update of the run, weighted k * lambda
                with_gp = cfg.gp_lambda > 0 and (self.step * cfg.n_critic + i) % cfg.gp_every == 0
                (real_score, fake_score), (real_aux, fake_aux), gp = self._critic(real, fake.detach(), y, with_gp)
                d_total = d_adv = self.d_loss(real_score.float(), fake_score.float())
                stats.update(d_adv=d_adv.detach(), d_real=real_score.detach().float().mean(),
                             d_fake=fake_score.detach().float().mean())
                if gp is not None:
                    d_total = d_total + cfg.gp_lambda * cfg.gp_every * gp
                    stats["gp"] = gp.detach()  # the step logs its last penalty
                if aux_on:
                    d_aux = aux_bce(real_aux, y) + (aux_bce(fake_aux, y) if cfg.aux_fake_in_d else 0.0)
                    d_total = d_total + cfg.aux_weight * d_aux
                    stats["d_aux"] = d_aux.detach()
            self.opt_d.zero_grad(set_to_none=True)
            d_total.backward()  # adversarial + GP + aux: one backward, one optimiser step
            self.opt_d.step()
        stats["d_loss"] = d_total.detach()
        for p in self.d_params:
            p.requires_grad_(False)
        with self._autocast():
            score, aux = self.D(augment(fake, cfg.d_shift, False, self.noise) if cfg.d_shift else fake, y)
            g_total = self.g_loss(score.float())
            if aux_on:
                g_aux = aux_bce(aux, y)
                g_total = g_total + cfg.aux_weight * g_aux
                stats["g_aux"] = g_aux.detach()
            if self.classifier is not None:  # frozen: its BCE moves G only
                g_cls = aux_bce(self.classifier(augment(fake, cfg.cls_shift, True, self.noise)), y)
                ramp = min(1.0, self.step / cfg.cls_warmup) if cfg.cls_warmup else 1.0  # step: done so far
                g_total = g_total + cfg.cls_weight * ramp * g_cls
                stats["g_cls"] = g_cls.detach()
        self.opt_g.zero_grad(set_to_none=True)
        g_total.backward()
        self.opt_g.step()
        stats["g_loss"] = g_total.detach()
        self.step += 1
        ema_update(self.G_ema, self.G, min(cfg.ema_decay, (1.0 + self.step) / (10.0 + self.step)))
        values = dict(zip(stats, torch.stack([v.float() for v in stats.values()]).tolist(), strict=True))
        if not all(math.isfinite(v) for v in values.values()):
            path = self.save(self.out_dir / f"nan_step{self.step}.pt", kind="diagnostic", losses=values)
            raise NonFiniteLossError(f"{self.cfg.name}: non-finite loss at step {self.step} "
                                     f"(epoch {self.batches.epoch}): {values}; diagnostic checkpoint: {path}")
        return values

    # ---- loop ----------------------------------------------------------------------------------------------
    def run(self, *, minutes: float | None = None, epochs: int | None = None, steps: int | None = None,
            train_minutes: float | None = None) -> Trainer:
        """Train until ``minutes`` of wall time (this call), ``epochs`` (total), ``steps`` (total) or
        ``train_minutes`` of training-step time (total over resumes: a met budget trains nothing) is reached.
        Budgets are checked between steps, so a step that crosses the budget finishes: ``epochs`` ends at the
        first step boundary at or after the epoch boundary (one step draws ``n_critic`` batches). The folder's
        lock is held for the call (another trainer on it raises ``RunLockedError``)."""
        if minutes is None and epochs is None and steps is None and train_minutes is None:
            raise ValueError("run: give minutes, epochs, steps and/or train_minutes")
        start, window_start, window_steps, first_step = time.monotonic(), time.monotonic(), 0, self.step
        first_time, eta_said, saved_at = self.train_time, False, time.monotonic()
        limits = ((steps, lambda: self.step), (epochs, lambda: self.batches.epoch),
                  (None if minutes is None else 60 * minutes, lambda: time.monotonic() - start),
                  (None if train_minutes is None else 60 * train_minutes, lambda: self.train_time))
        with self.lock, tqdm(total=steps, initial=self.step, desc=self.cfg.name, disable=not self.progress,
                             unit="step") as bar:
            while not any(limit is not None and reached() >= limit for limit, reached in limits):
                t0 = time.monotonic()
                values = self.train_step()
                self.train_time += time.monotonic() - t0
                self.log.add(values)
                window_steps += 1
                bar.update(1)
                if not eta_said and time.monotonic() - start >= 20:  # once, within the first minute
                    step_s = (self.train_time - first_time) / (self.step - first_step)
                    tqdm.write(eta_line(self.cfg, limits, step_s, self.batches.batches_per_epoch), file=sys.stderr)
                    eta_said = True
                if self.step % self.cfg.log_every == 0:
                    rate = window_steps * self.cfg.batch_size * self.cfg.n_critic / (time.monotonic() - window_start)
                    with writing(self.log.path, self.step):
                        row = self.log.flush(self._log_extra(rate))
                    bar.set_postfix({k: f"{row[k]:.3g}" for k in ("d_loss", "g_loss", "gp") if k in row})
                    window_start, window_steps = time.monotonic(), 0
                if self.eval_fn is not None and self.step % self.eval_every == 0:
                    self.evaluate()
                if self.step % self.cfg.ckpt_every == 0 or time.monotonic() - saved_at >= self.ckpt_seconds:
                    self.save(self.out_dir / "last.pt")
                    saved_at = time.monotonic()
            if self.step == first_step:
                return self  # the budget was already met: nothing trained, nothing rewritten
            if self.eval_fn is not None and self.step % self.eval_every != 0:
                self.evaluate()
            self.save(self.out_dir / "last.pt")
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
            self.save(self.out_dir / "best.pt", kind="best")
        return row

    # ---- checkpoints (the format and its reading live in checkpoint.py) ---------------------------------------
    def save(self, path: Path, kind: str = "last", **extra: Any) -> Path:
        with writing(path, self.step):
            return save_checkpoint(trainer_state(self, kind, **extra), path)


def fit(cfg: TrainConfig, data: Any, out_dir: str | Path, *, minutes: float | None = None,
        epochs: int | None = None, steps: int | None = None, **trainer_options: Any) -> Trainer:
    """Train ``cfg`` on ``data`` into ``out_dir``; ``trainer_options`` are :class:`Trainer`'s (``resume``,
    ``device``, ``progress``, ``eval_fn``, ...). Returns the trainer (``.G_ema`` etc.)."""
    return Trainer(cfg, data, out_dir, **trainer_options).run(minutes=minutes, epochs=epochs, steps=steps)
