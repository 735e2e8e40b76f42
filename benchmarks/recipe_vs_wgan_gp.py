"""The final recipe against today's ``wgan_gp`` on this machine, in one run: training throughput measured side by
side, then the judge's accuracy after the same number of training minutes.

    python benchmarks/recipe_vs_wgan_gp.py --train-minutes 10       # compose_cls vs wgan_gp, runs/timed/<preset>
    python benchmarks/recipe_vs_wgan_gp.py --train-minutes 10 --presets compose_cls dcgan dcgan_cls sagan sagan_cls \
        wgan_gp_cls wgan_gp                                            # family x recipe (notebook 04's runs)
    LAB5_JUDGE=J LAB5_JUDGE2=J2 python benchmarks/recipe_vs_wgan_gp.py --data ~/data/iclevr64 --second-judge \
        --presets sprite_cls wgan_gp --train-minutes 60 --runs ~/lab5_real/bench   # the real i-CLEVR (report 4.9)

Throughput: each preset's real training step (its own data stream, classifier and all) on the default data, one
warm-up step, then ``--rounds`` rounds of ``--steps`` steps in rotating order; the medians are compared as real
images per second (``batch_size * n_critic`` per generator step). Quality: ``run_preset`` to ``--train-minutes`` of
training time (resuming what is there), EMA generator, mean over 10 noise seeds, top-k and exact-set accuracy on
both course files and on the 96 random conditions. The runs live where the notebooks run with
``LAB5_MINUTES=M`` look for them (``runs/timed/<preset>``, same request), so executing a notebook afterwards
trains and evaluates nothing again. Say what else ran on the CPU meanwhile.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from lab5_utils.data.dataset import load_arrays
from lab5_utils.data.default import ensure_default_data
from lab5_utils.device import describe_device
from lab5_utils.evaluation.experiment import RunOptions, run_preset
from lab5_utils.gan.budget import Budget
from lab5_utils.gan.classifier import ensure_classifier, load_classifier
from lab5_utils.gan.config import get_config
from lab5_utils.gan.trainer import Trainer
from lab5_utils.judge.cache import ensure_judge, ensure_second_judge, judges_heldout
from lab5_utils.paths import budget_runs, rendered_by_us


def throughput(presets: list[str], steps: int, rounds: int, data_root: Path,
               second_judge: bool = False) -> dict[str, float]:
    """Median real images/s of each preset's training step, timed in rotating order (the classifier and the
    held-out scenes left out of training exactly as ``run_preset`` does)."""
    images, labels, _ = load_arrays(data_root, progress=False)
    excluded = judges_heldout(data_root, ensure_judge(), ensure_second_judge() if second_judge else None)
    trainers = {}
    with tempfile.TemporaryDirectory() as tmp:
        for preset in presets:
            cfg = get_config(preset)
            classifier = load_classifier(ensure_classifier(data_root, exclude_scenes=excluded)) \
                if cfg.needs_classifier else None
            trainers[preset] = Trainer(cfg, (images, labels), Path(tmp) / preset, device="cpu", progress=False,
                                       classifier=classifier)
            trainers[preset].train_step()  # warm-up
        times: dict[str, list[float]] = {p: [] for p in presets}
        for r in range(rounds):
            for preset in presets[r % len(presets):] + presets[:r % len(presets)]:
                start = time.perf_counter()
                for _ in range(steps):
                    trainers[preset].train_step()
                times[preset].append(time.perf_counter() - start)
    return {p: steps * get_config(p).batch_size * get_config(p).n_critic / statistics.median(t)
            for p, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["compose_cls", "wgan_gp"])
    parser.add_argument("--train-minutes", "--minutes", dest="train_minutes", type=float,
                        default=10.0, help="training minutes per preset")
    parser.add_argument("--steps", type=int, default=5, help="generator steps per throughput round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=Path, default=Path("runs"), help="run folders: RUNS/timed/<preset>")
    parser.add_argument("--frechet-samples", type=int, default=2048, help="as the notebooks' full mode")
    parser.add_argument("--data", type=Path, default=None,
                        help="training images (default: the synthetic default; e.g. the real i-CLEVR copy)")
    parser.add_argument("--second-judge", action="store_true", help="also score with $LAB5_JUDGE2 (or ours)")
    parser.add_argument("--throughput-only", action="store_true", help="measure speed, train nothing")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    root = args.data.expanduser() if args.data else ensure_default_data(progress=not args.no_progress)
    # the shipped weights that fit the data: weights/real/ for a folder we did not render (unless LAB5_JUDGE says)
    os.environ.setdefault("LAB5_WEIGHTS_KIND", "default" if rendered_by_us(root) else "real")
    speed = throughput(args.presets, args.steps, args.rounds, root, args.second_judge)
    print(f"hardware: {describe_device(torch.device('cpu'))}; data: {root}")
    if args.throughput_only:
        last = args.presets[-1]
        print("\n".join(f"{p}: {v:.1f} real img/s ({v / speed[last]:.2f}x {last})" for p, v in speed.items()))
        return
    rows = ["| preset | real img/s | ratio to last | steps | images seen | test | new_test | random "
            "| exact set test / new_test / random |", "|---|---|---|---|---|---|---|---|---|"]
    for preset in args.presets:
        s = run_preset(preset, budget_runs(args.runs, args.train_minutes) / preset,
                       Budget(train_minutes=args.train_minutes), data_root=root, options=RunOptions(
                           seeds=10, eval_every=100, frechet_samples=args.frechet_samples,
                           second_judge=args.second_judge, progress=not args.no_progress))
        files = s["results"]["G_ema"]["files"]
        acc = [f"{files[n]['accuracy_mean']:.3f} ± {files[n]['accuracy_std']:.3f}" for n in files]
        exact = " / ".join(f"{files[n]['exact_set_mean']:.3f}" for n in files)
        rows.append(f"| {preset} | {speed[preset]:.1f} | {speed[preset] / speed[args.presets[-1]]:.2f}x "
                    f"| {s['step']} | {s['images_seen']} | {' | '.join(acc)} | {exact} |")
    print(f"\nafter {args.train_minutes:g} training minutes each (EMA G, mean ± std over 10 noise seeds):\n")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
