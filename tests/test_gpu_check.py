"""The prepared GPU check (benchmarks/gpu_check.py) runs on the CPU with tiny models: every notebook preset with
bf16 off and on, a stop and resume, the judge on the device. CI runs it so the GPU path cannot rot unseen."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

from lab5_utils.device import configure_cuda

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"


def test_the_gpu_check_passes_on_the_cpu_with_tiny_models() -> None:
    env = {**os.environ, "LAB5_THREADS": os.environ.get("LAB5_THREADS", "2")}
    done = subprocess.run([sys.executable, str(SCRIPT), "--tiny", "--device", "cpu", "--steps", "1"],
                          capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "every check passed" in done.stdout
    for preset in ("tiny_dcgan", "tiny_sagan_sprite_cls", "tiny_wgan_gp_sprite_cls", "tiny_sprite_cls"):
        assert f"| {preset} |" in done.stdout
    assert "stop and resume (largest EMA difference): 0" in done.stdout  # exact on a CPU


def test_cuda_settings_touch_nothing_on_the_cpu() -> None:
    before = torch.backends.cudnn.benchmark
    configure_cuda(torch.device("cpu"))
    assert torch.backends.cudnn.benchmark == before
