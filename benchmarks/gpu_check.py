"""The GPU path in one call: every preset the notebooks use trains a few steps with bf16 autocast off and on, one
run stops and resumes, the judge predicts on the device, and each preset's training throughput is printed.

    python benchmarks/gpu_check.py                       # on a GPU machine (the device tool), ~3-5 minutes
    python benchmarks/gpu_check.py --tiny --device cpu   # the same checks, tiny models: CI runs this on the CPU

Training data: ``--data DIR`` (a folder in the real layout), else a seeded random set (shapes and speed, not
quality). A preset that needs the aux classifier gets an untrained one of the right shape. A failing preset is
reported in its row and the script goes on; the exit status is 1 if any check failed. Throughput is real images
per second (``batch_size * n_critic`` per generator step), median of ``--steps`` timed steps after one warm-up.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from lab5_utils.data.dataset import load_arrays
from lab5_utils.device import default_device, describe_device
from lab5_utils.gan.budget import Budget
from lab5_utils.gan.classifier import AuxClassifier
from lab5_utils.gan.config import PRESETS, TrainConfig, get_config
from lab5_utils.gan.stream import random_dataset
from lab5_utils.gan.trainer import Trainer
from lab5_utils.judge.model import Judge, build_judge

NOTEBOOK_PRESETS = ("dcgan", "dcgan_cls", "dcgan_sprite_cls", "sagan", "sagan_cls", "sagan_sprite_cls", "wgan_gp",
                    "wgan_gp_cls", "wgan_gp_sprite_cls", "wgan_gp_sprite_ttur", "sngan_cls", "compose_cls",
                    "sprite_cls")


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def aux_classifier(preset: str, cfg: TrainConfig) -> AuxClassifier | None:
    """An untrained aux classifier of the preset's size when it needs one (shapes and speed, not quality)."""
    return AuxClassifier(4 if preset.startswith("tiny_") else 32) if cfg.needs_classifier else None


def throughput(preset: str, data: tuple[torch.Tensor, torch.Tensor], device: torch.device, bf16: bool, steps: int,
               folder: Path) -> float:
    """Median real images/s of ``steps`` training steps of ``preset`` (one warm-up step first)."""
    cfg = get_config(preset, bf16=bf16)
    classifier = aux_classifier(preset, cfg)
    trainer = Trainer(cfg, data, folder, device=device, progress=False, classifier=classifier)
    trainer.train_step()
    times = []
    for _ in range(steps):
        sync(device)
        start = time.perf_counter()
        values = trainer.train_step()
        sync(device)
        times.append(time.perf_counter() - start)
        if not all(torch.isfinite(torch.tensor(v)) for v in values.values()):
            raise FloatingPointError(f"non-finite loss at step {trainer.step}: {values}")
    return cfg.batch_size * cfg.n_critic / statistics.median(times)


def stop_and_resume(preset: str, data: tuple[torch.Tensor, torch.Tensor], device: torch.device,
                    folder: Path) -> float:
    """Train 4 steps straight, and 2 + 2 with a stop and a resume from last.pt in between; the largest difference
    between the two EMA generators (0 on a CPU; on a GPU, non-deterministic kernels leave a small one)."""
    cfg = get_config(preset)
    classifier = aux_classifier(preset, cfg)
    straight = Trainer(cfg, data, folder / "straight", device=device, progress=False, classifier=classifier)
    straight.run(Budget(steps=4))
    Trainer(cfg, data, folder / "resumed", device=device, progress=False, classifier=classifier).run(Budget(steps=2))
    resumed = Trainer(cfg, data, folder / "resumed", resume=True, device=device, progress=False,
                      classifier=classifier).run(Budget(steps=4))
    assert resumed.step == 4, f"resumed at step {resumed.step}, expected 4"
    a, b = straight.G_ema.state_dict(), resumed.G_ema.state_dict()
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a if a[k].is_floating_point())


def judge_on_device(device: torch.device) -> float:
    """The course judge's sigmoid outputs on ``device`` against the CPU's, for one batch (largest difference)."""
    torch.manual_seed(0)
    model, x = build_judge().eval(), torch.rand(32, 3, 64, 64) * 2 - 1
    here = Judge(model, device=device).predict(x)
    return float((here.cpu() - Judge(model, device="cpu").predict(x)).abs().max())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default=None, help="default: cuda if available")
    parser.add_argument("--tiny", action="store_true", help="the tiny_ version of every preset (CPU, CI)")
    parser.add_argument("--presets", nargs="+", default=list(NOTEBOOK_PRESETS))
    parser.add_argument("--steps", type=int, default=5, help="timed steps per preset and bf16 setting")
    parser.add_argument("--data", type=Path, default=None, help="a data folder (default: seeded random images)")
    args = parser.parse_args()
    device = torch.device(args.device) if args.device else default_device()
    presets = [f"tiny_{p}" if args.tiny else p for p in args.presets]
    if unknown := [p for p in presets if p not in PRESETS]:
        parser.error(f"unknown presets: {unknown}")
    data = load_arrays(args.data, progress=False)[:2] if args.data else random_dataset(256, seed=0)
    print(f"torch {torch.__version__}, device {describe_device(device)}, cudnn.benchmark and TF32 set by the "
          f"trainer on CUDA; data: {args.data or 'random (256 images)'}")
    failures = 0
    rows = ["| preset | fp32 img/s | bf16 img/s | bf16 / fp32 |", "|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for preset in presets:
            try:
                speed = [throughput(preset, data, device, bf16, args.steps, Path(tmp) / f"{preset}_{bf16}")
                         for bf16 in (False, True)]
                rows.append(f"| {preset} | {speed[0]:.1f} | {speed[1]:.1f} | {speed[1] / speed[0]:.2f}x |")
            except Exception as err:  # one broken preset must not hide the others
                failures += 1
                rows.append(f"| {preset} | FAILED: {type(err).__name__}: {str(err)[:160]} | | |")
        print("\n".join(rows))
        checks = (("stop and resume (largest EMA difference)", lambda: stop_and_resume(presets[0], data, device,
                                                                                      Path(tmp) / "resume")),
                  ("judge on the device vs the CPU (largest output difference)", lambda: judge_on_device(device)))
        for name, check in checks:
            try:
                print(f"{name}: {check():.3g}")
            except Exception as err:
                failures += 1
                print(f"{name}: FAILED: {type(err).__name__}: {err}")
    print(f"{failures} check(s) failed" if failures else "every check passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
