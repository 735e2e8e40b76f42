"""Quality at a budget: train each preset for M minutes of training time on this machine, then print the
judge's metrics (mean ± std over 10 noise seeds) and one comparison table. Runs resume: re-running with the
same budget only re-prints; a larger budget continues the runs.

    python benchmarks/quality_at_budget.py --train-minutes 60               # every main preset, runs/<preset>
    python benchmarks/quality_at_budget.py --train-minutes 15 --presets dcgan sagan
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lab5_utils.evaluation.experiment import RunOptions, run_preset
from lab5_utils.gan.budget import Budget
from lab5_utils.report.figures import comparison_table, metrics_table

MAIN_PRESETS = ["dcgan", "sagan", "wgan_gp", "wgan_gp_concat", "wgan_gp_projection", "wgan_gp_acgan"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-minutes", "--minutes", dest="train_minutes", type=float,
                        default=60.0, help="training minutes per preset (default 60)")
    parser.add_argument("--presets", nargs="+", default=MAIN_PRESETS)
    parser.add_argument("--runs", type=Path, default=Path("runs"), help="parent folder of the run folders")
    parser.add_argument("--data", type=Path, default=None, help="data folder (default: the synthetic set)")
    parser.add_argument("--device", default=None)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--eval-every", type=int, default=25, help="generator steps between judge evaluations")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    summaries = {}
    for preset in args.presets:
        summaries[preset] = run_preset(preset, args.runs / preset, Budget(train_minutes=args.train_minutes),
                                       data_root=args.data, options=RunOptions(
                                           seeds=args.seeds, eval_every=args.eval_every, device=args.device,
                                           progress=not args.no_progress))
        print(f"\n=== {preset}: {summaries[preset]['step']} steps in {summaries[preset]['train_time_s'] / 60:.1f} min "
              f"on {summaries[preset]['hardware']} ===")
        print(metrics_table(summaries[preset]["results"]["G_ema"]), flush=True)
    print(f"\nquality at a budget of {args.train_minutes:g} training minutes per preset:\n")
    print(comparison_table(summaries))


if __name__ == "__main__":
    main()
