"""Training throughput of our WGAN-GP step vs a faithful re-implementation of the reference report's step, on CPU.

    python benchmarks/bench_throughput.py                                   # wgan_gp preset, batch 64
    python benchmarks/bench_throughput.py --set g_channels=32 --set d_channels=32 --rounds 5
    python benchmarks/bench_throughput.py --device cuda --steps 10       # on a GPU (fp32 on both sides)

Images/s counts the real images the critic consumes: ``batch_size * n_critic`` per generator step. Both sides get
the same config (model family, sizes, conditioning, batch size, ``n_critic``, Adam settings) and the same random
uint8 data (throughput does not depend on the pixels). After one warm-up step each, the sides are timed in
rotating order for ``--rounds`` rounds of ``--steps`` generator steps; the medians are compared.

A third side, ``ours lazy-GP k`` (``--lazy-gp K``, default 4; K <= 1 leaves it out), is our step with
``gp_every=K``: the penalty on every K-th critic update only, weighted K * lambda. Its rounds are
``K / gcd(n_critic, K)`` times longer, so that every round holds the same share of penalised updates. That is
another algorithm (StyleGAN2's lazy regularisation applied to WGAN-GP), so its ratio is printed separately and
it is not a preset default.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
import tempfile
import time
from collections.abc import Callable

import torch
from torch import nn

from lab5_utils.cli.args import parse_overrides
from lab5_utils.gan.config import TrainConfig, get_config
from lab5_utils.gan.losses import aux_bce
from lab5_utils.gan.models import build_models
from lab5_utils.gan.stream import BatchStream, random_dataset
from lab5_utils.gan.trainer import Trainer


class ReferenceStep:
    """The reference report's WGAN-GP step (see the module docstring) on the same G/D architecture as ``cfg``."""

    def __init__(self, cfg: TrainConfig, images: torch.Tensor, labels: torch.Tensor, device: torch.device) -> None:
        self.cfg, self.device = cfg, device
        self.G, self.D = (m.to(device) for m in build_models(cfg))
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr_g, betas=cfg.betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr_d, betas=cfg.betas)
        self.batches = BatchStream(images, labels, cfg.batch_size, cfg.seed, device)

    def _aux(self, logits: torch.Tensor | None, y: torch.Tensor) -> torch.Tensor | float:
        return self.cfg.aux_weight * aux_bce(logits, y) if self.cfg.uses_aux and logits is not None else 0.0

    def train_step(self) -> None:
        cfg = self.cfg
        for _ in range(cfg.n_critic):
            x, y = self.batches.next()
            real = x.float() / 127.5 - 1.0
            fake = self.G(torch.randn(len(x), cfg.z_dim, device=self.device), y)  # with graph, as the reference
            real_score, real_aux = self.D(real, y)
            fake_score, fake_aux = self.D(fake.detach(), y)
            d_loss = -real_score.mean() + fake_score.mean() + self._aux(real_aux, y)
            if cfg.aux_fake_in_d:
                d_loss = d_loss + self._aux(fake_aux, y)
            self.opt_d.zero_grad()
            self.opt_g.zero_grad()
            d_loss.backward()
            self.opt_d.step()
            # Separate gradient-penalty pass with its own backward and optimiser step.
            alpha = torch.rand(len(x), 1, 1, 1, device=self.device).expand_as(real)
            x_hat = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
            out, _ = self.D(x_hat, y)
            grad = torch.autograd.grad(outputs=out, inputs=x_hat, grad_outputs=torch.ones_like(out),
                                       retain_graph=True, create_graph=True, only_inputs=True)[0]
            gp = ((grad.view(len(x), -1).pow(2).sum(dim=1).sqrt() - 1) ** 2).mean()
            self.opt_d.zero_grad()
            self.opt_g.zero_grad()
            (cfg.gp_lambda * gp).backward()
            self.opt_d.step()
        fake = self.G(torch.randn(len(x), cfg.z_dim, device=self.device), y)  # new z, G runs again
        score, aux = self.D(fake, y)
        g_loss = -score.mean() + self._aux(aux, y)
        self.opt_d.zero_grad()
        self.opt_g.zero_grad()
        g_loss.backward()
        self.opt_g.step()


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU, {torch.get_num_threads()} threads"


def seconds(step: Callable[[], object], steps: int, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="wgan_gp")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="config override (repeatable), e.g. --set g_channels=32 --set batch_size=32")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per side (median reported)")
    parser.add_argument("--steps", type=int, default=1, help="generator steps per round")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--images", type=int, default=1024, help="size of the random training set")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps per side first")
    parser.add_argument("--device", default="cpu", help="cpu (the reported comparison) or cuda")
    parser.add_argument("--lazy-gp", type=int, default=4, help="also time ours with gp_every=K (K <= 1: skip)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    cfg = get_config(args.preset, **parse_overrides(args.overrides))
    if cfg.gp_lambda <= 0:
        raise SystemExit(f"preset {cfg.name!r} has no gradient penalty (gp_lambda=0): nothing to compare")
    if cfg.bf16:
        raise SystemExit("compare at bf16=false: the reference step has no autocast")
    images, labels = random_dataset(max(args.images, cfg.batch_size))
    per_step = cfg.batch_size * cfg.n_critic
    with tempfile.TemporaryDirectory() as tmp:
        ours = Trainer(cfg, (images, labels), tmp, device=device, progress=False)
        ref = ReferenceStep(cfg, images, labels, device)
        sides: dict[str, Callable[[], object]] = {"ours": ours.train_step, "reference": ref.train_step}
        steps = {"ours": args.steps, "reference": args.steps}
        if args.lazy_gp > 1:
            lazy_cfg = dataclasses.replace(cfg, gp_every=args.lazy_gp)
            lazy = Trainer(lazy_cfg, (images, labels), f"{tmp}/lazy", device=device, progress=False)
            sides[f"ours lazy-GP {args.lazy_gp}"] = lazy.train_step
            steps[f"ours lazy-GP {args.lazy_gp}"] = args.steps * args.lazy_gp // math.gcd(cfg.n_critic, args.lazy_gp)
        for step in sides.values():  # warm-up (allocator, oneDNN primitive caches, cuDNN plans)
            seconds(step, args.warmup, device)
        rates: dict[str, list[float]] = {name: [] for name in sides}
        for r in range(args.rounds):
            order = list(sides)[r % len(sides):] + list(sides)[:r % len(sides)]  # rotate who goes first
            for name in order:
                rates[name].append(steps[name] * per_step / seconds(sides[name], steps[name], device))
    print(f"preset {cfg.name}: arch={cfg.arch} g_channels={cfg.g_channels} d_channels={cfg.d_channels} "
          f"batch={cfg.batch_size} n_critic={cfg.n_critic} d_cond={cfg.d_cond}; G {n_params(ref.G):,} / D "
          f"{n_params(ref.D):,} params; torch {torch.__version__}, {device_name(device)}")
    print(f"{args.rounds} rounds x {steps} step(s) x {per_step} real images, rotating order, median:")
    median = {name: statistics.median(values) for name, values in rates.items()}
    for name, values in rates.items():
        spread = ", ".join(f"{v:.1f}" for v in values)
        print(f"  {name:<17} {median[name]:8.1f} images/s   (rounds: {spread})")
    print(f"ratio ours/reference: {median['ours'] / median['reference']:.2f}x")
    for name in sides:
        if name.startswith("ours lazy"):
            print(f"ratio {name}/reference: {median[name] / median['reference']:.2f}x (another algorithm, see above)")


if __name__ == "__main__":
    main()
