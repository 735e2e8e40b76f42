"""How faithful a render is to the real i-CLEVR, measured both ways (issue 19's bars): a judge trained on the
real images reads the render, and a judge trained on the render only reads the real images; plus the
judge-feature Fréchet distance between render and real beside real-vs-real of two disjoint halves.

    python benchmarks/transfer_v4.py --real ~/data/iclevr64 --real-judge weights/real/judge.pth \\
        --render-judge weights/judge.pth [--render DIR ...]

``--render`` defaults to the synthetic default set (rendered into the cache on first use); give several folders
(e.g. the v3 and v4 renders) to compare them in one table. Each folder's images are scored whole (a fresh render:
the real judge never saw it). Top-k is the course metric; exact set asks sigmoid > 0.5 on exactly the labels.
Needs the real images (never in CI).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from lab5_utils.data.dataset import load_arrays
from lab5_utils.data.default import ensure_synthetic_data
from lab5_utils.device import describe_device
from lab5_utils.evaluation.experiment import file_digest
from lab5_utils.evaluation.metrics import frechet_distance
from lab5_utils.evaluation.real import real_vs_real_frechet
from lab5_utils.evaluation.sampling import real_to_signed
from lab5_utils.judge.model import Judge, compute_acc, exact_set_hits, load_judge


def scores(judge: Judge, images: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    """Course top-k and exact-set accuracy of ``judge`` on uint8 ``images (N, 3, 64, 64)``."""
    out = judge.predict(real_to_signed(images))  # one forward pass for both figures
    return compute_acc(out, labels), float(exact_set_hits(out, labels).float().mean())


def sample(images: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """``n`` images drawn without replacement (seeded)."""
    pick = np.random.default_rng(seed).choice(len(images), size=min(n, len(images)), replace=False)
    return images[torch.as_tensor(pick)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real", type=Path, required=True, help="the real i-CLEVR folder (image/ + label/)")
    parser.add_argument("--real-judge", type=Path, required=True, help="a judge trained on the real images")
    parser.add_argument("--render-judge", type=Path, nargs="*", default=[],
                        help="judges trained on a render only, one per --render folder (same order)")
    parser.add_argument("--render", type=Path, nargs="*", default=None, help="render folders (default: ours)")
    parser.add_argument("--samples", type=int, default=2048, help="images per side of each Fréchet distance")
    args = parser.parse_args()
    renders = args.render or [ensure_synthetic_data()]
    print(f"hardware: {describe_device(torch.device('cpu'))}")
    real_judge = load_judge(args.real_judge)
    real_images, real_labels, real_names = load_arrays(args.real.expanduser(), progress=False)
    real_features = real_judge.features(real_to_signed(sample(real_images, args.samples, 0)))
    floor = real_vs_real_frechet(real_judge, real_images, real_names, args.samples)
    print(f"real judge {args.real_judge} ({file_digest(args.real_judge)}); real vs real (two halves of the scenes, "
          f"{args.samples} each): Fréchet {floor:.1f}\n")
    print("| render | real judge on it: top-k | exact set | its own judge on the real: top-k | exact set "
          "| Fréchet to real (real judge) |")
    print("|---|---|---|---|---|---|")
    for i, root in enumerate(renders):
        images, labels, _ = load_arrays(root.expanduser(), progress=False)
        top_k, exact = scores(real_judge, images, labels)
        frechet = frechet_distance(real_judge.features(real_to_signed(sample(images, args.samples, 1))),
                                   real_features)
        back = "- | -"
        if i < len(args.render_judge):
            own = load_judge(args.render_judge[i])
            back = " | ".join(f"{v:.4f}" for v in scores(own, real_images, real_labels))
            back = f"{back} ({file_digest(args.render_judge[i])})"
        print(f"| {root} ({len(images)} images) | {top_k:.4f} | {exact:.4f} | {back} | {frechet:.1f} |")


if __name__ == "__main__":
    main()
