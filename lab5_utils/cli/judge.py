"""``python -m lab5_utils judge train|eval|ensure``: train our judge, score a judge on a data folder, or print
the judge path (training it on first use)."""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
from pathlib import Path

from lab5_utils.cli.args import Parser, device_arg, non_negative_int, positive_int, writable_folder
from lab5_utils.data.dataset import load_arrays
from lab5_utils.data.default import default_data_root, ensure_judge_data
from lab5_utils.device import default_device
from lab5_utils.evaluation.measurement import Measurement, MeasureSettings, ceiling_for
from lab5_utils.evaluation.real import heldout_report
from lab5_utils.evaluation.weights import shipped_generator_path
from lab5_utils.gan.checkpoint import load_generator
from lab5_utils.image_ops import to_signed
from lab5_utils.judge.cache import ensure_judge, ensure_second_judge, train_judge
from lab5_utils.judge.fit import JudgeConfig, heldout_scenes
from lab5_utils.judge.model import judge_meta, load_judge
from lab5_utils.paths import fast_mode
from lab5_utils.report.figures import metrics_table


def main(argv: list[str]) -> int:
    """``python -m lab5_utils judge train|eval|ensure ...``."""
    parser = Parser(prog="python -m lab5_utils judge", description="the judge")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train our course-format judge on a data folder")
    train.add_argument("--data", type=Path, default=None, help="folder with train.json + images (default: synthetic)")
    train.add_argument("--out", type=Path, required=True, help="checkpoint path to write")
    defaults = JudgeConfig()
    train.add_argument("--epochs", type=positive_int, default=None, help=f"default {defaults.epochs} (1 with --tiny)")
    train.add_argument("--seed", type=int, default=defaults.seed)
    train.add_argument("--batch-size", type=positive_int, default=defaults.batch_size)
    train.add_argument("--lr", type=float, default=defaults.lr)
    train.add_argument("--holdout", type=float, default=defaults.holdout_fraction, help="fraction of scenes held out")
    train.add_argument("--max-images", type=positive_int, default=None,
                       help="random subset (quick checks; 512 with --tiny)")
    train.add_argument("--tiny", action="store_true", help="a tiny CI judge, marked so in its meta; never report it")
    evaluate = sub.add_parser("eval", help="course accuracy of a judge on a data folder")
    for p in (train, evaluate):
        p.add_argument("--device", type=device_arg, default=None, help="cuda / cpu (default: cuda if available)")
        p.add_argument("--no-progress", action="store_true")
    evaluate.add_argument("--judge", type=Path, default=None, help="checkpoint (default: $LAB5_JUDGE or our judge)")
    evaluate.add_argument("--data", type=Path, default=None, help="folder with train.json + images")
    evaluate.add_argument("--ckpt", type=Path, default=None,
                          help="a generator checkpoint (train's last.pt/best.pt): print its metrics table instead "
                               "(without --data and --ckpt: the shipped weights/generator.pt)")
    evaluate.add_argument("--second-judge", action="store_true",
                          help="with a generator: also read it with the second, independent judge")
    evaluate.add_argument("--seeds", type=positive_int, default=10,
                          help="noise seeds for --ckpt (mean ± std over them)")
    evaluate.add_argument("--raw", action="store_true", help="with --ckpt: the raw generator instead of its EMA")
    evaluate.add_argument("--batch-size", type=positive_int, default=256)
    evaluate.add_argument("--frechet-samples", type=non_negative_int, default=2048,
                          help="with a generator: images per side of the judge-feature Frechet distance (0 = skip; "
                               "needs the rendered training set)")
    ensure = sub.add_parser("ensure", help="print the judge path, training it on first use")
    ensure.add_argument("--second", action="store_true", help="the second, independent judge instead")
    args = parser.parse_args(argv)
    if getattr(args, "device", None) is None:
        args.device = default_device()
    if args.command == "ensure":
        print(ensure_second_judge(tiny=fast_mode()) if args.second else ensure_judge(tiny=fast_mode()))
        return 0
    if args.command == "train":
        base = JudgeConfig.tiny_config() if args.tiny else defaults
        config = replace(base, epochs=args.epochs or base.epochs, batch_size=args.batch_size, lr=args.lr,
                         seed=args.seed, holdout_fraction=args.holdout, max_images=args.max_images or base.max_images)
        if args.out.is_dir():
            raise IsADirectoryError(f"{args.out}: --out is a folder; give the checkpoint's file name (judge.pth)")
        writable_folder(args.out.resolve().parent, "the folder of --out")  # before training, not when saving
        data = args.data
        if data is None:
            data = ensure_judge_data(progress=not args.no_progress, tiny=fast_mode())
        meta = train_judge(data, args.out, config, device=args.device, progress=not args.no_progress)
        speed = meta["train_img_per_s"]
        acc = meta["holdout_accuracy"]
        print(f"wrote {args.out}: held-out top-k accuracy {'n/a' if acc is None else f'{acc:.4f}'}, "
              f"{meta['n_train']} train / {meta['n_holdout']} held-out images, {speed or 0:.0f} img/s")
        return 0

    if args.ckpt is not None or args.data is None:  # a generator: --ckpt, else the shipped one
        return _eval_generator(args)
    # the standard judge, not one fit to DIR
    judge_path = args.judge or ensure_judge(progress=not args.no_progress, tiny=fast_mode())
    judge = load_judge(judge_path, device=args.device, batch_size=args.batch_size)
    images, labels, filenames = load_arrays(args.data, 64, progress=not args.no_progress)
    acc = judge.accuracy(to_signed(images), labels)
    print(f"{judge_path} on {args.data}: course top-k accuracy {acc:.4f} over {len(filenames)} images")
    if heldout_scenes(judge_meta(judge_path), args.data):  # a judge trained on this folder: its held-out scenes
        held = heldout_report(judge_path, args.data, device=args.device)
        print(f"  on the {held['scenes']} scenes it held out ({held['images']} images): top-k {held['top_k']:.4f}, "
              f"exact set {held['exact_set']:.4f}")
    return 0


def _eval_generator(args: argparse.Namespace) -> int:
    """``judge eval --ckpt PATH``: the metrics table of a trained generator (judge: --judge or the default)."""
    ckpt = args.ckpt or shipped_generator_path()
    G = load_generator(ckpt, ema=not args.raw, device=args.device)
    judges = [args.judge or ensure_judge(progress=not args.no_progress, tiny=fast_mode())]
    if args.second_judge:
        judges.append(ensure_second_judge(progress=not args.no_progress, tiny=fast_mode()))
    print(f"{ckpt} ({'raw' if args.raw else 'EMA'} generator)")
    data = args.data or (default_data_root() if os.environ.get("LAB5_DATA") else None)
    settings = MeasureSettings(seeds=range(args.seeds), frechet_samples=args.frechet_samples, device=args.device,
                               progress=not args.no_progress)
    results = Measurement({str(path): path for path in judges}, ceiling=ceiling_for(data), reference=args.data,
                          settings=settings)(G)
    for result in results.values():
        print(metrics_table(result))
    return 0
