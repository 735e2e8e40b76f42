"""The sprite generator's coverage levers (issue 18) against the final model, at equal generator steps, in one run.

    LAB5_JUDGE=weights/real/judge.pth LAB5_JUDGE2=weights/real/judge2.pth python benchmarks/coverage_levers.py \
        --data ~/data/iclevr64 --second-judge --steps 406 --runs ~/lab5_run      # report 4.12

Each lever (noise on the coverage logits, a Beta(0.5, 0.5) penalty, hard masks late: ``wgan_gp_sprite_ttur_*``)
changes only the sprite generator's coverage and costs next to nothing per step (check with
``recipe_vs_wgan_gp.py --throughput-only`` on the same presets), so they are compared at the same number of
generator steps and images seen. ``run_preset`` trains each (resuming what is there), then scores the EMA generator
over 10 noise seeds: top-k and exact set on both course files and the 96 random conditions, the second judge, the
judge-feature Fréchet distance, the accuracy per shape, and how binary the drawn coverage is (the share of covered
pixels whose coverage lies strictly between 0.1 and 0.9, on the sprite canvas and in the image, over the test
conditions). Say what else ran.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import torch

from lab5_utils.data.default import ensure_default_data
from lab5_utils.evaluation.experiment import RunOptions, run_preset
from lab5_utils.gan.budget import Budget
from lab5_utils.gan.checkpoint import load_generator
from lab5_utils.gan.config import COVERAGE_LEVERS
from lab5_utils.labels import encode_batch, load_conditions, resolve_conditions
from lab5_utils.paths import rendered_by_us

PRESETS = ["wgan_gp_sprite_ttur", *(f"wgan_gp_sprite_ttur_{lever}" for lever in COVERAGE_LEVERS)]
SHAPES = ("cube", "sphere", "cylinder")


@torch.no_grad()
def soft_coverage(G: torch.nn.Module, conditions: list[list[str]], seeds: int = 3) -> tuple[float, float]:
    """How binary the requested objects' coverage is: the share of covered pixels (coverage > 0.02) with coverage in
    (0.1, 0.9), on the sprite canvas (what the levers act on) and in the image (after placement: the rim)."""
    y = encode_batch(conditions)
    counts = torch.zeros(2, 2)
    for seed in range(seeds):
        z = torch.randn(len(y), G.z_dim, generator=torch.Generator().manual_seed(seed))
        parts = G.layers(z, y)
        keep = parts["mask"].bool()
        canvas = parts["sprite_cover"][keep].flatten()
        if G.hard_cover:  # what is drawn: the canvas binarised
            canvas = (canvas > 0.5).float()
        for row, cover in enumerate((canvas, parts["cover"].flatten(2)[keep].flatten())):
            counts[row] += torch.tensor([float(((cover > 0.1) & (cover < 0.9)).sum()), float((cover > 0.02).sum())])
    canvas_share, image_share = (counts[:, 0] / counts[:, 1].clamp_min(1)).tolist()
    return canvas_share, image_share


def per_shape(files: dict[str, Any]) -> dict[str, float]:
    """Mean per-class accuracy of each shape over the condition files (classes a file does not request skipped)."""
    out = {}
    for shape in SHAPES:
        values = [v for entry in files.values() for name, v in entry["per_class"].items()
                  if name.endswith(shape) and v is not None]
        out[shape] = sum(values) / len(values)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", nargs="+", default=PRESETS)
    parser.add_argument("--steps", type=int, default=406, help="generator steps of every run")
    parser.add_argument("--runs", type=Path, default=Path("runs"), help="run folders: RUNS/levers/<preset>")
    parser.add_argument("--data", type=Path, default=None, help="training images (default: the synthetic default)")
    parser.add_argument("--second-judge", action="store_true", help="also score with $LAB5_JUDGE2 (or ours)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    root = args.data.expanduser() if args.data else ensure_default_data(progress=not args.no_progress)
    os.environ.setdefault("LAB5_WEIGHTS_KIND", "default" if rendered_by_us(root) else "real")
    conditions = load_conditions(resolve_conditions("test"))
    rows = ["| preset | steps | images seen | train min | hardware | test / new_test / random | exact set "
            "| judge 2 | FD | cube / sphere / cylinder | soft coverage: canvas / image |", "|---" * 11 + "|"]
    for preset in args.presets:
        s = run_preset(preset, args.runs / "levers" / preset, Budget(steps=args.steps), data_root=root,
                       options=RunOptions(second_judge=args.second_judge, progress=not args.no_progress))
        files = s["results"]["G_ema"]["files"]
        names = [n for n in ("test", "new_test", "random") if n in files]
        second = s["results"].get("G_ema_judge2", {}).get("files", {})
        shapes = per_shape(files)
        soft = soft_coverage(load_generator(Path(s["out_dir"]) / "last.pt"), conditions)
        fd = s["results"]["G_ema"].get("frechet_judge_distance")
        rows.append("| " + " | ".join([
            preset, str(s["step"]), f"{s['images_seen']:,}", f"{s['train_time_s'] / 60:.1f}", s["hardware"],
            " / ".join(f"{files[n]['accuracy_mean']:.3f}" for n in names),
            " / ".join(f"{files[n]['exact_set_mean']:.3f}" for n in names),
            " / ".join(f"{second[n]['accuracy_mean']:.3f}" for n in names if n in second) or "-",
            "-" if fd is None else f"{fd:.1f}", " / ".join(f"{shapes[k]:.3f}" for k in SHAPES),
            " / ".join(f"{share:.3f}" for share in soft)]) + " |")
        print(rows[-1], flush=True)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
