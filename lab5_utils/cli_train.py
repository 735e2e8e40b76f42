"""``python -m lab5_utils train ...`` and ``python -m lab5_utils generate ...``.

train:    ``--preset NAME [--data DIR] [--out DIR] [--minutes M] [--epochs E] [--steps S] [--resume]
          [--set key=value ...] [--eval-every N] [--device cuda]``
generate: ``--ckpt PATH --conditions test.json --out grid.png [--seed S] [--raw]``
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lab5_utils.config import PRESETS, get_config, parse_overrides


def make_eval_fn(device: torch.device, seeds: int = 3) -> Callable[[nn.Module], dict]:
    """The periodic evaluation: judge accuracy on test.json and new_test.json, mean over ``seeds`` noise seeds.

    Returns ``eval_fn(G) -> {"acc_mean", "acc_test", "acc_new_test"}`` (``acc_mean`` picks best.pt). The judge
    is resolved once (``$LAB5_JUDGE`` or our judge, trained on its own render on first use).
    """
    from lab5_utils.evaluator import load_evaluator
    from lab5_utils.experiment import make_eval_fn as judge_eval_fn
    from lab5_utils.judge import ensure_judge

    return judge_eval_fn(load_evaluator(ensure_judge(), device=device), device, seeds)


def _train_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m lab5_utils train", description="Train a conditional GAN preset.")
    p.add_argument("--preset", required=True, help=f"one of: {', '.join(PRESETS)}")
    p.add_argument("--data", type=Path, help="data folder (train.json + images); default: the synthetic set")
    p.add_argument("--out", type=Path, help="run folder (default: runs/<preset>)")
    p.add_argument("--minutes", type=float, help="wall-clock budget of this call")
    p.add_argument("--epochs", type=int, help="stop after this many epochs in total")
    p.add_argument("--steps", type=int, help="stop after this many generator steps in total")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field (repeatable), e.g. --set lr_g=1e-4 --set bf16=true")
    p.add_argument("--eval-every", type=int, default=1000, help="steps between judge evaluations (0 = none)")
    p.add_argument("--device", help="cuda / cpu (default: cuda if available)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def main(argv: list[str]) -> int:
    """``python -m lab5_utils train``; prints where last.pt / best.pt / stats.jsonl went."""
    from lab5_utils.trainer import default_device, fit

    args = _train_parser().parse_args(argv)
    try:
        cfg = get_config(args.preset, **parse_overrides(args.overrides))
    except ValueError as err:
        raise SystemExit(f"error: {err}") from err
    if args.minutes is None and args.epochs is None and args.steps is None:
        raise SystemExit("error: give --minutes, --epochs and/or --steps")
    if args.data is None:
        from lab5_utils.paths import ensure_default_data

        args.data = ensure_default_data(progress=not args.no_progress)
    from lab5_utils.dataset import load_arrays

    data = load_arrays(args.data, progress=not args.no_progress)
    device = torch.device(args.device) if args.device else default_device()
    eval_fn = make_eval_fn(device) if args.eval_every > 0 else None
    out = args.out or Path("runs") / cfg.name
    trainer = fit(cfg, data, out, minutes=args.minutes, epochs=args.epochs, steps=args.steps, resume=args.resume,
                  device=device, progress=not args.no_progress, eval_fn=eval_fn,
                  eval_every=max(args.eval_every, 1), metric="acc_mean" if eval_fn else None)
    best: Mapping[str, Any] = trainer.best
    print(f"{cfg.name}: step {trainer.step}, epoch {trainer.batches.epoch}; last checkpoint {out / 'last.pt'}"
          + (f"; best {best['metric']}={best['value']:.4f} ({best['which']}, step {best['step']}) in "
             f"{out / 'best.pt'}" if best.get("value") is not None else "") + f"; stats {out / 'stats.jsonl'}")
    return 0


def main_generate(argv: list[str]) -> int:
    """``python -m lab5_utils generate``: one grid PNG (8 per row) for a condition file with seeded noise."""
    from lab5_utils.checkpoint import load_generator
    from lab5_utils.labels import encode_batch, load_conditions, resolve_conditions
    from lab5_utils.metrics import generate
    from lab5_utils.viz import save_grid

    p = argparse.ArgumentParser(prog="python -m lab5_utils generate", description=main_generate.__doc__)
    p.add_argument("--ckpt", type=Path, required=True, help="a last.pt / best.pt of `train`")
    p.add_argument("--conditions", default="test", help="test / new_test / a condition JSON file")
    p.add_argument("--out", type=Path, required=True, help="output .png")
    p.add_argument("--seed", type=int, default=0, help="noise seed")
    p.add_argument("--raw", action="store_true", help="use the raw generator instead of its EMA copy")
    p.add_argument("--device", help="cuda / cpu (default: cuda if available)")
    args = p.parse_args(argv)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    path = resolve_conditions(args.conditions)
    y = encode_batch(load_conditions(path), where=str(path))
    G = load_generator(args.ckpt, ema=not args.raw, device=device)
    written = save_grid(generate(G, y, args.seed, device), args.out, nrow=8)
    print(f"{written}: {len(y)} images for {path} (seed {args.seed}, {'raw' if args.raw else 'EMA'} generator)")
    return 0
