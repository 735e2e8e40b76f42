"""What training at 32x32 would cost in judge accuracy at most: the judge's top-k and exact-set accuracy on real
training images as they are (64x64) and after a round trip through 32x32 (downsampled with area averaging, then
upsampled back bilinearly, as a 32x32 generator plus a fixed 2x upsampling stage would deliver them).

    python benchmarks/judge_ceiling_at_32.py --images 3000
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F

from lab5_utils.data.dataset import load_arrays
from lab5_utils.data.default import ensure_default_data
from lab5_utils.image_ops import to_signed
from lab5_utils.judge.cache import ensure_judge
from lab5_utils.judge.model import compute_acc, exact_set_hits, load_judge


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=3000, help="random training images to score")
    parser.add_argument("--size", type=int, default=32, help="the low resolution of the round trip")
    args = parser.parse_args()
    images, labels, _ = load_arrays(ensure_default_data(), progress=False)
    pick = torch.as_tensor(np.random.default_rng(0).choice(len(images), size=min(args.images, len(images)),
                                                           replace=False))
    x, y = to_signed(images[pick]), labels[pick]
    low = F.interpolate(F.interpolate(x, size=args.size, mode="area"), size=64, mode="bilinear",
                        align_corners=False).clamp(-1, 1)
    judge = load_judge(ensure_judge())
    for name, batch in (("64x64 as rendered", x), (f"via {args.size}x{args.size}", low)):
        out = judge.predict(batch)
        print(f"{name:>20}: top-k {compute_acc(out, y):.4f}, exact set {exact_set_hits(out, y).float().mean():.4f}"
              f" ({len(y)} training images)")


if __name__ == "__main__":
    main()
