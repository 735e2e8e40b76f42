"""``python -m lab5_utils render`` (the synthetic i-CLEVR set) and ``python -m lab5_utils cache`` (the uint8 tensor
cache of a data folder)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from lab5_utils.cli.args import Parser
from lab5_utils.data.dataset import load_arrays
from lab5_utils.synth.render import FRAMES, REAL_SCENES, RENDERER_VERSION, RENDERERS, render_dataset


def main_cache(argv: list[str]) -> int:
    """``python -m lab5_utils cache --data DIR [--size 64]``: build (or reuse) the uint8 cache and report it."""
    parser = Parser(prog="python -m lab5_utils cache", description=main_cache.__doc__)
    parser.add_argument("--data", required=True, type=Path, help="folder with train.json and the images")
    parser.add_argument("--size", type=int, default=64, help="square output size (default 64)")
    parser.add_argument("--skip-bad", action="store_true", help="skip missing/corrupt images with a warning")
    args = parser.parse_args(argv)
    images, labels, filenames = load_arrays(args.data, args.size, skip_bad=args.skip_bad)
    counts = labels.sum(1).long().bincount(minlength=4)[1:].tolist()
    print(f"{args.data}: {len(filenames)} images {tuple(images.shape[1:])}, objects per image 1/2/3: {counts}")
    return 0


def renderer_arg(value: str) -> int:
    """``"v4"`` or ``"4"`` -> 4; anything else is an argparse error naming the known renderers."""
    if value.lstrip("v").isdigit() and int(value.lstrip("v")) in RENDERERS:
        return int(value.lstrip("v"))
    raise argparse.ArgumentTypeError(f"unknown renderer {value!r}; known: {', '.join(f'v{v}' for v in RENDERERS)}")


def main_render(argv: list[str]) -> int:
    """``python -m lab5_utils render --out DIR [--scenes N] [--seed S] [--renderer v4|v3] [--width W --height H]
    [--workers K]``."""
    parser = Parser(prog="python -m lab5_utils render", description="Render synthetic i-CLEVR.")
    parser.add_argument("--out", required=True, type=Path, help="output folder (images/, train.json, ...)")
    parser.add_argument("--scenes", type=int, default=REAL_SCENES, help="scenes, 3 images each (default 6003)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--renderer", type=renderer_arg, default=RENDERER_VERSION,
                        help=f"renderer version: v4 (calibrated to the real i-CLEVR, the default) or v3; "
                             f"default v{RENDERER_VERSION}")
    parser.add_argument("--width", type=int, default=None, help="default: the renderer's (v4 160, v3 128)")
    parser.add_argument("--height", type=int, default=None, help="default: the renderer's (v4 120, v3 96)")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)
    try:
        out = render_dataset(args.out, args.scenes, args.seed, args.width, args.height, args.workers,
                             progress=not args.no_progress, renderer=args.renderer)  # fmt: skip
    except ValueError as err:
        parser.error(str(err))
    print(f"wrote {args.scenes * FRAMES} images to {out}")
    return 0
