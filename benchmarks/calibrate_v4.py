"""Renderer v4 against the real i-CLEVR, measured: every statistic of the real images beside a fresh v3 and v4
render, and the real floor's polynomial fit that ``lab5_utils.synth.look`` stores (a check that it is current).

    python benchmarks/calibrate_v4.py --real ~/data/iclevr64 --scenes 300

Each render is ``--scenes`` scenes of the real label sequences (seed ``--seed``) in a temporary folder, loaded as
training data (squashed to 64x64 by the loader); the real folder is measured whole. Prints a Markdown table (object
size by shape, where object 0 sits, the ring of objects 1-2, the perspective fit, brightness, floor profile, noise),
the median colour of each CLEVR colour's objects, and the floor fit's coefficients and RMS residual. Needs the real
images (never in CI).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from lab5_utils.data.dataset import load_arrays
from lab5_utils.data.explore import object_statistics_table
from lab5_utils.data.objects import FLOOR_SCENES, changed_pixels, measure_objects, scene_triples, statistics
from lab5_utils.device import describe_device
from lab5_utils.synth import look
from lab5_utils.synth.render import render_dataset
from lab5_utils.synth.scene import COLOR_RGB


def colour_medians(images: torch.Tensor, labels: torch.Tensor) -> dict[str, list[float]]:
    """Per CLEVR colour: the median RGB (levels) of object 1's changed pixels (frame 1 minus frame 0)."""
    objects = measure_objects(images, labels)
    pixels = images.numpy().astype(np.int16)
    before, after = pixels[objects.rows[:, 0]], pixels[objects.rows[:, 1]]
    changed = changed_pixels(after, before)
    out = {}
    for c, name in enumerate(COLOR_RGB):
        pick = objects.classes[:, 1] % len(COLOR_RGB) == c
        if pick.any():
            out[name] = np.median(after[pick].transpose(0, 2, 3, 1)[changed[pick]], axis=0).tolist()
    return out


def floor_fit(images: torch.Tensor, labels: torch.Tensor) -> tuple[np.ndarray, float]:
    """The real floor's polynomial (``look.fit_floor``) on the median first frame, the central object masked out;
    returns the coefficients and the RMS residual (levels)."""
    floor = np.median(images.numpy()[scene_triples(labels)[:FLOOR_SCENES, 0]], axis=0).astype(np.float64)
    u, v = look.grid(floor.shape[2], floor.shape[1])
    keep = ~((np.abs(u) < 0.25) & (np.abs(v + 0.16) < 0.31))  # object 0: x 31.6 +- 8, y 27 +- 10 px
    coefficients = look.fit_floor(floor, keep)
    residual = look.floor_levels(floor.shape[2], floor.shape[1], coefficients).transpose(2, 0, 1) - floor
    return coefficients, float(np.sqrt(np.mean(residual[:, keep] ** 2)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real", type=Path, required=True, help="the real i-CLEVR folder (image/ + label/)")
    parser.add_argument("--scenes", type=int, default=300, help="scenes per render (3 frames each)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"hardware: {describe_device(torch.device('cpu'))}")
    measured, colours = {}, {}
    real_images, real_labels, _ = load_arrays(args.real.expanduser(), progress=False)
    measured["real"] = statistics(real_images, real_labels)
    colours["real"] = colour_medians(real_images, real_labels)
    with tempfile.TemporaryDirectory() as tmp:
        for version in (3, 4):
            start = time.perf_counter()
            root = render_dataset(Path(tmp) / f"v{version}", args.scenes, args.seed, workers=args.workers,
                                  progress=False, renderer=version)
            seconds = time.perf_counter() - start
            print(f"v{version}: {3 * args.scenes} frames rendered in {seconds:.1f} s "
                  f"({3 * args.scenes / seconds:.1f} img/s, {args.workers} workers)")
            images, labels, _ = load_arrays(root, progress=False)
            measured[f"v{version}"] = statistics(images, labels)
            colours[f"v{version}"] = colour_medians(images, labels)
    print("\n" + object_statistics_table(measured) + "\n")
    print("| colour | " + " | ".join(f"{name} median RGB" for name in colours) + " |")
    print("|---|" + "---|" * len(colours))
    for colour in COLOR_RGB:
        cells = ["/".join(f"{v:.0f}" for v in c[colour]) if colour in c else "-" for c in colours.values()]
        print(f"| {colour} | " + " | ".join(cells) + " |")
    errors = {name: np.sqrt(np.mean([(np.subtract(c[k], colours["real"][k]) ** 2).mean() for k in c]))
              for name, c in colours.items() if name != "real"}
    print("RMS colour error to the real (levels): " + ", ".join(f"{k} {v:.1f}" for k, v in errors.items()))
    coefficients, rms = floor_fit(real_images, real_labels)
    stored = np.asarray(look.FLOOR_COEFFICIENTS)
    print(f"\nreal floor, degree-{look.FLOOR_DEGREE} fit: RMS residual {rms:.2f} levels; largest difference to the "
          f"stored coefficients {np.abs(coefficients - stored).max():.3f}")
    print(np.array2string(coefficients, precision=2, separator=", ", max_line_width=118))


if __name__ == "__main__":
    main()
