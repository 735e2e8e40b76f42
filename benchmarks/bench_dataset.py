"""One epoch over the cached uint8 dataset vs decoding the PNG per item, side by side; prints the ratio.

    python benchmarks/bench_dataset.py --data DIR          # an existing folder (e.g. the real i-CLEVR)
    python benchmarks/bench_dataset.py --scenes 500        # renders a synthetic folder of that size first
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from torch.utils.data import DataLoader

from lab5_utils.data.dataset import ICLEVR, load_arrays


def epoch_seconds(dataset: ICLEVR, batch_size: int) -> float:
    start = time.perf_counter()
    for x, _ in DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=0):
        x.sum()  # touch the batch
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="data folder; default: render --scenes synthetic scenes")
    parser.add_argument("--scenes", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.data
        if root is None:
            from lab5_utils.synth.render import render_dataset

            root = render_dataset(Path(tmp) / "synthetic", scenes=args.scenes, seed=0, progress=False)
        cache_root = Path(tmp) / "cache"
        start = time.perf_counter()
        load_arrays(root, cache_root=cache_root, progress=False)
        build = time.perf_counter() - start
        start = time.perf_counter()
        cached = ICLEVR(root, progress=False, cache_root=cache_root)
        hit = time.perf_counter() - start
        decoded = ICLEVR(root, cache=False)
        t_cached = epoch_seconds(cached, args.batch_size)
        t_decoded = epoch_seconds(decoded, args.batch_size)
    n = len(decoded)
    print(f"data: {root} ({n} images)")
    print(f"cache build (one time): {build:.2f} s; cache hit load: {hit:.2f} s")
    print(f"epoch, cached uint8:      {t_cached:.3f} s ({n / t_cached:,.0f} img/s)")
    print(f"epoch, PNG decode/item:   {t_decoded:.3f} s ({n / t_decoded:,.0f} img/s)")
    print(f"ratio (decode / cached):  {t_decoded / t_cached:.1f}x")


if __name__ == "__main__":
    main()
