"""``python -m lab5_utils train ...`` and ``python -m lab5_utils generate ...``.

train:    ``--preset NAME [--data DIR] [--out DIR] [--train-minutes M] [--epochs E] [--steps S] [--resume]
          [--set key=value ...] [--eval-every N] [--seeds N] [--device cuda]``: trains to the budget
          (training minutes summed over resumes), then writes and prints the metrics (``run_preset``)
generate: ``[--ckpt PATH] --conditions test.json --out grid.png [--seed S] [--raw]`` (default: weights/generator.pt)
export:   ``--run runs/<preset> --command "..."``: the run's EMA generator and its judge into weights/, once
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import torch

from lab5_utils.cli.args import (
    Parser,
    device_arg,
    non_negative_int,
    parse_overrides,
    positive_float,
    positive_int,
    writable_folder,
)
from lab5_utils.data.dataset import load_arrays
from lab5_utils.device import default_device
from lab5_utils.evaluation.experiment import RunOptions, file_digest, run_preset
from lab5_utils.evaluation.job_eta import estimate_run
from lab5_utils.evaluation.measurement import normalise_conditions, report_conditions
from lab5_utils.evaluation.real import matching_real_images
from lab5_utils.evaluation.sampling import generate
from lab5_utils.evaluation.weights import export_generator, export_judge, shipped_generator_path, write_manifest
from lab5_utils.gan.budget import Budget
from lab5_utils.gan.checkpoint import load_generator
from lab5_utils.gan.config import PRESETS, get_config
from lab5_utils.gan.run_folder import RunFolder
from lab5_utils.judge.model import judge_meta
from lab5_utils.labels import encode_batch, load_conditions, resolve_conditions
from lab5_utils.paths import GENERATOR_FILE, JUDGE2_FILE, JUDGE_FILE, cache_root, fast_mode
from lab5_utils.report.figures import metrics_table
from lab5_utils.report.viz import save_grid


def _train_parser() -> argparse.ArgumentParser:
    p = Parser(prog="python -m lab5_utils train", description="Train a conditional GAN preset.")
    p.add_argument("--preset", required=True, help=f"one of: {', '.join(PRESETS)}")
    p.add_argument("--data", type=Path, help="data folder (train.json + images); default: the synthetic set")
    p.add_argument("--out", type=Path, help="run folder (default: runs/<preset>)")
    p.add_argument("--train-minutes", "--minutes", dest="train_minutes", type=positive_float,
                   help="budget in minutes of training-step time, summed over resumes (--minutes: its older name)")
    p.add_argument("--epochs", type=positive_int, help="stop after this many epochs in total")
    p.add_argument("--steps", type=positive_int, help="stop after this many generator steps in total")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field (repeatable), e.g. --set lr_g=1e-4 --set bf16=true")
    p.add_argument("--eval-every", type=non_negative_int, default=1000,
                   help="steps between judge evaluations (0 = none)")
    p.add_argument("--seeds", type=positive_int, default=10, help="noise seeds of the final metrics (mean ± std)")
    p.add_argument("--frechet-samples", type=non_negative_int, default=2048,
                   help="images per side of the Frechet distance")
    p.add_argument("--device", type=device_arg, help="cuda / cpu (default: cuda if available)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--second-judge", action="store_true",
                   help="also read the EMA generator with the second, independent judge (trained on first use)")
    return p


def main(argv: list[str]) -> int:
    """``python -m lab5_utils train``: train to the budget, then print the metrics table (also in metrics.json)."""
    args = _train_parser().parse_args(argv)
    try:
        overrides = parse_overrides(args.overrides)
        cfg = get_config(args.preset, **overrides)
    except ValueError as err:
        raise ValueError(f"--preset / --set: {err}") from err
    budget = Budget(train_minutes=args.train_minutes, epochs=args.epochs, steps=args.steps)
    if not budget.given:
        raise ValueError("give a budget: --train-minutes, --epochs and/or --steps")
    out = args.out or Path("runs") / cfg.name
    files = RunFolder(out)
    if files.last.is_file() and not args.resume:
        raise FileExistsError(f"{files.last} exists: pass --resume to continue that run, or another --out")

    writable_folder(out, "--out, the run folder")  # before any training, not when the first checkpoint is due
    writable_folder(cache_root(), "the cache ($LAB5_CACHE)")
    options = RunOptions(seeds=args.seeds, eval_every=args.eval_every, frechet_samples=args.frechet_samples,
                         second_judge=args.second_judge, device=args.device, progress=not args.no_progress,
                         tiny=fast_mode())  # LAB5_FAST (CI): the tiny judge and classifier
    if not args.no_progress:  # the whole job's ETA in its first minute (its probes take seconds)
        conditions = sum(map(len, normalise_conditions(report_conditions()).values()))  # what the metrics read
        estimate = estimate_run(cfg, args.data and args.data.expanduser(), out, budget, options, conditions)
        print(estimate.line(), file=sys.stderr)
    summary = run_preset(args.preset, out, budget, data_root=args.data, overrides=overrides, options=options)
    print(f"{cfg.name}: step {summary['step']}, epoch {summary['epoch']}, {summary['train_time_s'] / 60:.1f} min "
          f"of training on {summary['hardware']}; {files.last}, {files.metrics}, {files.stats}")
    for which in ("G_ema", "G_ema_judge2"):
        if which in summary["results"]:
            print(metrics_table(summary["results"][which]))
    return 0


def main_generate(argv: list[str]) -> int:
    """``python -m lab5_utils generate``: one grid PNG (8 per row) for a condition file with seeded noise."""
    p = Parser(prog="python -m lab5_utils generate", description=main_generate.__doc__)
    p.add_argument("--ckpt", type=Path, help="a last.pt / best.pt of `train` (default: weights/generator.pt)")
    p.add_argument("--conditions", default="test", help="test / new_test / a condition JSON file")
    p.add_argument("--out", type=Path, required=True, help="output .png")
    p.add_argument("--seed", type=int, default=0, help="noise seed")
    p.add_argument("--raw", action="store_true", help="use the raw generator instead of its EMA copy")
    p.add_argument("--device", type=device_arg, help="cuda / cpu (default: cuda if available)")
    p.add_argument("--beside", type=Path, default=None, metavar="DIR",
                   help="a data folder: put a real image of each condition's exact set on the right (grey: none)")
    args = p.parse_args(argv)
    device = args.device or default_device()
    path = resolve_conditions(args.conditions)
    conditions = load_conditions(path)
    y = encode_batch(conditions, where=str(path))
    G = load_generator(args.ckpt or shipped_generator_path(), ema=not args.raw, device=device)
    images = generate(G, y, args.seed, device)
    if args.beside is not None:  # generated | real, row by row: 4 + 4 per row, the same conditions side by side
        real_images, real_labels, _ = load_arrays(args.beside)
        real = matching_real_images(conditions, real_images, real_labels, seed=args.seed).float() / 127.5 - 1
        pad = torch.zeros((-len(y)) % 4, 3, 64, 64)  # whole rows of four
        halves = [torch.cat([half.cpu(), pad]).view(-1, 4, 3, 64, 64) for half in (images, real)]
        images = torch.stack(halves, 1).flatten(0, 2)
    written = save_grid(images, args.out, nrow=8)
    shown = f"; left 4: generated, right 4: real images of {args.beside}" if args.beside else ""
    print(f"{written}: {len(y)} images for {path} (seed {args.seed}, {'raw' if args.raw else 'EMA'} generator{shown})")
    return 0


def main_export(argv: list[str]) -> int:
    """``python -m lab5_utils export``: ship a measured run's EMA generator and its judge under ``weights/``."""
    p = Parser(prog="python -m lab5_utils export", description=main_export.__doc__)
    p.add_argument("--run", type=Path, required=True, help="a run folder with last.pt and metrics.json")
    p.add_argument("--out", type=Path, default=Path("weights"), help="folder to write (files are never replaced)")
    p.add_argument("--command", required=True, help="the command that trained and measured the run (provenance)")
    p.add_argument("--label", default=None,
                   help="what the files were trained on, for people (e.g. 'the real i-CLEVR training images')")
    args = p.parse_args(argv)
    run = RunFolder(args.run)
    summary = json.loads(run.metrics.read_text())
    names = (GENERATOR_FILE, JUDGE_FILE) + ((JUDGE2_FILE,) if summary.get("judge2") else ())
    problems = [f"{args.out / name} exists (shipped weights are written once)"
                for name in names if (args.out / name).exists()]
    if summary.get("last_sha256") != file_digest(run.last):
        problems.append(f"{run.metrics} does not measure {run.last} (train --resume first)")
    if summary.get("judge_tiny"):
        problems.append(f"{run.metrics} was measured with a TINY test judge")
    if problems:
        raise ValueError("; ".join(problems))
    repo = Path(__file__).resolve().parents[1]
    git = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True)
    results = summary["results"]
    accuracies = {f"{which}/{name}": {k: e[k] for k in ("accuracy_mean", "accuracy_std", "exact_set_mean") if k in e}
                  for which in ("G_ema", "G_ema_judge2") if which in results
                  for name, e in results[which]["files"].items()}
    common = {"commit": git.stdout.strip() or None, "hardware": summary["hardware"], "date": summary["date"],
              **({"label": args.label} if args.label else {})}
    generator = {**common, "command": args.command, "preset": summary["preset"], "step": summary["step"],
                 "train_minutes": round(summary["train_time_s"] / 60, 1), "images_seen": summary.get("images_seen"),
                 "data_images": summary.get("images"), "excluded_scenes": summary.get("excluded_scenes", 0),
                 "judge_sha256": summary["judge_sha256"], "accuracies": accuracies}
    args.out.mkdir(parents=True, exist_ok=True)
    export_generator(run.last, args.out / GENERATOR_FILE, generator)
    files = {GENERATOR_FILE: generator}
    for name, key in ((JUDGE_FILE, "judge"), (JUDGE2_FILE, "judge2")):
        if summary.get(key):
            meta = judge_meta(summary[key])
            export_judge(summary[key], args.out / name)
            files[name] = {**common, "command": meta.get("command", "python -m lab5_utils judge train / ensure"),
                           "note": "fp32 when trained; stored here as fp16", "source_sha256": file_digest(summary[key]),
                           "holdout_accuracy": meta.get("holdout_accuracy"), "config": meta.get("config")}
    manifest = write_manifest(args.out, files)
    print(f"wrote {', '.join(str(args.out / name) for name in files)}, {manifest}")
    return 0
