"""Time the synthetic i-CLEVR renderer (PNG writing included) and extrapolate to the full default set.

    python benchmarks/bench_render.py                      # the full default set: 6,003 scenes = 18,009 images
    python benchmarks/bench_render.py --scenes 200         # a sample, extrapolated to the full set
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from lab5_utils.synth.render import FRAMES, REAL_SCENES, render_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=int, default=REAL_SCENES, help="scenes to render (3 images each)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--height", type=int, default=96)
    parser.add_argument("--progress", action="store_true", help="show the progress bar")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        out = render_dataset(Path(tmp) / "render", args.scenes, 0, args.width, args.height, args.workers,
                             progress=args.progress)  # fmt: skip
        seconds = time.perf_counter() - start
        megabytes = sum(p.stat().st_size for p in (out / "images").iterdir()) / 2**20
    images = args.scenes * FRAMES
    full = REAL_SCENES * FRAMES
    print(f"{images} images ({args.width}x{args.height}, {args.workers} workers) in {seconds:.1f} s: "
          f"{images / seconds:.1f} images/s, {megabytes:.1f} MiB of PNGs")  # fmt: skip
    print(f"full default set ({full} images): {full / images * seconds:.0f} s estimated "
          f"({full / images * megabytes:.0f} MiB)")  # fmt: skip


if __name__ == "__main__":
    main()
