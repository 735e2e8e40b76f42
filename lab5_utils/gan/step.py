"""One GAN training step and the state it changes: G, D, the EMA copy ``G_ema``, both Adam optimisers, the seeded
batch stream and the noise generator (no files; :class:`lab5_utils.gan.trainer.Trainer` adds the run folder).

One *step* is ``cfg.n_critic`` discriminator updates (each on a fresh real batch; the adversarial loss, the
gradient penalty and the ACGAN term are summed into ONE loss with one backward and one optimiser step) followed
by one generator update and the EMA update of ``G_ema``. With ``cfg.gp_every = k > 1`` the penalty is lazy (as
StyleGAN2 does for R1): only every k-th critic update of the run computes it, weighted ``k * gp_lambda``. The
fakes of the last critic update are reused for the generator update. All randomness comes from seeded generators
held in :meth:`GanStep.state_dict`, so a state saved and loaded continues exactly on the same machine.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import math
import warnings
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from lab5_utils.device import configure_cuda, default_device
from lab5_utils.gan.config import TrainConfig
from lab5_utils.gan.log import host_floats
from lab5_utils.gan.losses import LOSSES, aux_bce, beta_penalty, interpolates, penalty_at, per_sample
from lab5_utils.gan.models import build_models
from lab5_utils.gan.stream import BatchStream, as_arrays
from lab5_utils.image_ops import augment, to_signed


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN/inf; the message names the step, the losses and the diagnostic checkpoint."""


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """``ema = decay * ema + (1 - decay) * model`` for float parameters; buffers (BN stats, SN vectors) copied."""
    for p_ema, p in zip(ema.parameters(), model.parameters(), strict=True):
        p_ema.lerp_(p.detach(), 1.0 - decay)
    for b_ema, b in zip(ema.buffers(), model.buffers(), strict=True):
        b_ema.copy_(b)


def state_digest(module: nn.Module | None) -> str | None:
    """First 16 hex digits of a sha256 over a module's state dict (names and bytes), ``None`` for no module."""
    if module is None:
        return None
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().reshape(-1).contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def harden(G: nn.Module, G_ema: nn.Module | None, cfg: TrainConfig, step: int) -> None:
    """Set the sprite generator's (and its EMA copy's) hard 0/1 coverage from the run's position: on once ``step``
    (generator steps done) is ``>= cfg.alpha_hard_from``, off before (untouched when that is 0): the steps after it
    train with hard masks and a checkpoint written there draws them
    (:func:`~lab5_utils.gan.checkpoint.load_generator`)."""
    if cfg.alpha_hard_from:
        for model in (G, G_ema):
            if model is not None:
                model.hard_cover = step >= cfg.alpha_hard_from


class GanStep:
    """The networks, optimisers, batch stream and RNGs of one run, and :meth:`train_step`.

    ``data``: ``(images uint8 (N, 3, 64, 64), labels (N, 24))`` (``load_arrays`` output), an ``ICLEVR`` dataset
    or a folder. ``classifier`` is the frozen aux classifier (:mod:`lab5_utils.gan.classifier`) that
    ``cfg.needs_classifier`` (a classifier term in G's loss, or a projected D) needs; its weights' digest is part of
    the state, and loading a state made with another one warns.
    """

    def __init__(self, cfg: TrainConfig, data: Any, *, device: str | torch.device | None = None,
                 classifier: nn.Module | None = None) -> None:
        if cfg.needs_classifier and classifier is None:
            raise ValueError(f"{cfg.name}: cls_weight={cfg.cls_weight}, arch={cfg.arch!r} needs the frozen aux "
                             "classifier (classifier=load_classifier(ensure_classifier(data_root)))")
        self.cfg = cfg
        self.device = torch.device(device) if device is not None else default_device()
        configure_cuda(self.device)
        images, labels = as_arrays(data)
        self.G, self.D = build_models(cfg)
        if hasattr(self.G, "fit_layout"):  # a generator that learns its layout from the training scenes' frames
            self.G.fit_layout(images, labels, seed=cfg.seed)
        self.G, self.D = self.G.to(self.device), self.D.to(self.device)
        self.fused = per_sample(self.D)  # score real and fake in one critic forward
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        # the sprite generator's coverage noise: G's only, in training mode (never G_ema's), from its own seeded
        # generator so that the z stream is the same with the lever on or off
        self.cover_noise = torch.Generator().manual_seed(cfg.seed + 3)
        if cfg.alpha_noise:
            self.G.alpha_noise, self.G.noise_source = cfg.alpha_noise, self.cover_noise
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
        self.step = 0

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
        """:meth:`losses_step` with its losses copied to the host as floats and checked (one host sync: for tests
        and tools; the trainer reads the losses only when it logs, so a GPU runs ahead between log steps)."""
        values = host_floats(self.losses_step())
        self.check_finite(values, f"at step {self.step}")
        return values

    def check_finite(self, values: Mapping[str, float], where: str) -> None:
        """Raise :class:`NonFiniteLossError` naming ``where`` and the losses if any of ``values`` is NaN/inf."""
        if not all(math.isfinite(v) for v in values.values()):
            raise NonFiniteLossError(f"{self.cfg.name}: non-finite loss {where} (epoch {self.batches.epoch}): "
                                     f"{dict(values)}")

    def losses_step(self) -> dict[str, torch.Tensor]:
        """One generator step after ``n_critic`` critic steps; the step's losses as detached 0-d tensors on the
        device (nothing copied to the host)."""
        cfg, aux_on = self.cfg, self.cfg.uses_aux
        for p in self.d_params:
            p.requires_grad_(True)
        stats: dict[str, torch.Tensor] = {}
        parts: dict[str, torch.Tensor] = {}
        for i in range(cfg.n_critic):
            x, y = self.batches.next()
            real = to_signed(x)
            with self._autocast():
                with torch.set_grad_enabled(i == cfg.n_critic - 1):  # the last fakes are reused for G's step
                    z = self._z(len(x))
                    if cfg.alpha_beta:  # the sprite generator's layers: the penalty reads their coverage
                        parts = self.G.layers(z, y)
                        fake = self.G.composite(parts)
                    else:
                        fake = self.G(z, y)
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
                if cfg.cls_alone:  # each requested object alone on the floor must read as its own class
                    alone, classes = self.G.alone(z, y)
                    g_alone = aux_bce(self.classifier(augment(alone, cfg.cls_shift, True, self.noise)), classes)
                    g_total = g_total + cfg.cls_alone * ramp * g_alone
                    stats["g_cls_alone"] = g_alone.detach()
            if cfg.alpha_beta:
                g_beta = beta_penalty(parts["sprite_cover"].flatten(0, 1), parts["mask"].flatten())
                g_total = g_total + cfg.alpha_beta * g_beta
                stats["g_beta"] = g_beta.detach()
        self.opt_g.zero_grad(set_to_none=True)
        g_total.backward()
        self.opt_g.step()
        stats["g_loss"] = g_total.detach()
        self.step += 1
        harden(self.G, self.G_ema, cfg, self.step)
        ema_update(self.G_ema, self.G, min(cfg.ema_decay, (1.0 + self.step) / (10.0 + self.step)))
        return stats

    def state_dict(self) -> dict[str, Any]:
        """Weights, optimisers, step, data order and RNG states (torch generator states as uint8 tensors; no
        numpy/python RNG is used by training), and the aux classifier's digest."""
        rng = {"noise": self.noise.get_state(), "torch": torch.get_rng_state()}
        if self.cfg.alpha_noise:  # the coverage noise's own generator (runs without it keep their old state)
            rng["cover"] = self.cover_noise.get_state()
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        return {"G": self.G.state_dict(), "D": self.D.state_dict(), "G_ema": self.G_ema.state_dict(),
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(), "step": self.step,
                "epoch": self.batches.epoch, "batches": self.batches.state_dict(), "rng": rng,
                "classifier_digest": self.classifier_digest}

    def load_state_dict(self, state: Mapping[str, Any], where: str = "state") -> None:
        """Continue from ``state`` (:meth:`state_dict`'s keys); another aux classifier than the state's warns."""
        if state.get("classifier_digest", self.classifier_digest) != self.classifier_digest:
            warnings.warn(f"{where}: resuming with another aux classifier (weights {state.get('classifier_digest')} "
                          f"-> {self.classifier_digest}); the run is no longer exact", stacklevel=3)
        for module, key in ((self.G, "G"), (self.D, "D"), (self.G_ema, "G_ema")):
            module.load_state_dict(state[key])
        # copies: torch's optimisers adopt the tensors they are given, which may be another live trainer's
        self.opt_g.load_state_dict(copy.deepcopy(state["opt_g"]))
        self.opt_d.load_state_dict(copy.deepcopy(state["opt_d"]))
        self.batches.load_state_dict(state["batches"])
        self.noise.set_state(state["rng"]["noise"])
        if "cover" in state["rng"]:  # states written before the coverage noise had its own generator lack it
            self.cover_noise.set_state(state["rng"]["cover"])
        torch.set_rng_state(state["rng"]["torch"])
        if "cuda" in state["rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        self.step = int(state["step"])
        harden(self.G, self.G_ema, self.cfg, self.step)
