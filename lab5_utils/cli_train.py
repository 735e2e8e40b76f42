"""``python -m lab5_utils train ...`` and ``python -m lab5_utils generate ...``.

train:    ``--preset NAME [--data DIR] [--out DIR] [--minutes M] [--epochs E] [--steps S] [--resume]
          [--set key=value ...] [--eval-every N] [--seeds N] [--device cuda]``: trains to the budget
          (training minutes summed over resumes), then writes and prints the metrics (``run_preset``)
generate: ``--ckpt PATH --conditions test.json --out grid.png [--seed S] [--raw]``
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lab5_utils.config import PRESETS, get_config, parse_overrides


def _train_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m lab5_utils train", description="Train a conditional GAN preset.")
    p.add_argument("--preset", required=True, help=f"one of: {', '.join(PRESETS)}")
    p.add_argument("--data", type=Path, help="data folder (train.json + images); default: the synthetic set")
    p.add_argument("--out", type=Path, help="run folder (default: runs/<preset>)")
    p.add_argument("--minutes", type=float, help="budget in minutes of training time, summed over resumes")
    p.add_argument("--epochs", type=int, help="stop after this many epochs in total")
    p.add_argument("--steps", type=int, help="stop after this many generator steps in total")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field (repeatable), e.g. --set lr_g=1e-4 --set bf16=true")
    p.add_argument("--eval-every", type=int, default=1000, help="steps between judge evaluations (0 = none)")
    p.add_argument("--seeds", type=int, default=10, help="noise seeds of the final metrics (mean ± std)")
    p.add_argument("--frechet-samples", type=int, default=2048, help="images per side of the Frechet distance")
    p.add_argument("--device", help="cuda / cpu (default: cuda if available)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def main(argv: list[str]) -> int:
    """``python -m lab5_utils train``: train to the budget, then print the metrics table (also in metrics.json)."""
    from lab5_utils.experiment import run_preset
    from lab5_utils.metrics import format_metrics_table

    args = _train_parser().parse_args(argv)
    try:
        overrides = parse_overrides(args.overrides)
        cfg = get_config(args.preset, **overrides)
    except ValueError as err:
        raise SystemExit(f"error: {err}") from err
    if args.minutes is None and args.epochs is None and args.steps is None:
        raise SystemExit("error: give a budget: --minutes (training time), --epochs and/or --steps")
    out = args.out or Path("runs") / cfg.name
    if (out / "last.pt").is_file() and not args.resume:
        raise SystemExit(f"error: {out / 'last.pt'} exists: pass --resume to continue that run, or another --out")
    summary = run_preset(args.preset, out, minutes=args.minutes, epochs=args.epochs, steps=args.steps,
                         data_root=args.data, device=args.device, seeds=args.seeds, eval_every=args.eval_every,
                         frechet_samples=args.frechet_samples, progress=not args.no_progress, overrides=overrides)
    print(f"{cfg.name}: step {summary['step']}, epoch {summary['epoch']}, {summary['train_time_s'] / 60:.1f} min "
          f"of training on {summary['hardware']}; {out / 'last.pt'}, {out / 'metrics.json'}, {out / 'stats.jsonl'}")
    print(format_metrics_table(summary["results"]["G_ema"]))
    return 0


def main_generate(argv: list[str]) -> int:
    """``python -m lab5_utils generate``: one grid PNG (8 per row) for a condition file with seeded noise."""
    from lab5_utils.checkpoint import load_generator
    from lab5_utils.labels import encode_batch, load_conditions, resolve_conditions
    from lab5_utils.metrics import generate
    from lab5_utils.train_utils import default_device
    from lab5_utils.viz import save_grid

    p = argparse.ArgumentParser(prog="python -m lab5_utils generate", description=main_generate.__doc__)
    p.add_argument("--ckpt", type=Path, required=True, help="a last.pt / best.pt of `train`")
    p.add_argument("--conditions", default="test", help="test / new_test / a condition JSON file")
    p.add_argument("--out", type=Path, required=True, help="output .png")
    p.add_argument("--seed", type=int, default=0, help="noise seed")
    p.add_argument("--raw", action="store_true", help="use the raw generator instead of its EMA copy")
    p.add_argument("--device", help="cuda / cpu (default: cuda if available)")
    args = p.parse_args(argv)
    device = args.device or default_device()
    path = resolve_conditions(args.conditions)
    y = encode_batch(load_conditions(path), where=str(path))
    G = load_generator(args.ckpt, ema=not args.raw, device=device)
    written = save_grid(generate(G, y, args.seed, device), args.out, nrow=8)
    print(f"{written}: {len(y)} images for {path} (seed {args.seed}, {'raw' if args.raw else 'EMA'} generator)")
    return 0
