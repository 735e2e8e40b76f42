"""The hardware: the default device, torch's thread count, and the one-line description every reported time
carries."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch


def default_device() -> torch.device:
    """``cuda`` when available, else ``cpu``."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def configure_cuda(device: torch.device) -> None:
    """On a CUDA device: cuDNN picks the fastest convolution for our fixed 64x64 shapes (``cudnn.benchmark``) and
    fp32 matmuls and convolutions may use TF32 (the current ``fp32_precision`` API; the older ``allow_tf32`` flags
    where it is missing). A no-op elsewhere. Process-wide settings, made by the trainer when it starts on CUDA."""
    if device.type != "cuda":
        return
    torch.backends.cudnn.benchmark = True
    if hasattr(torch.backends.cuda.matmul, "fp32_precision"):
        torch.backends.cuda.matmul.fp32_precision = "tf32"
        torch.backends.cudnn.conv.fp32_precision = "tf32"
    else:  # pragma: no cover - older torch
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def configure_threads(requested: int | None = None) -> int:
    """Set torch's intra-op threads to ``requested``, else ``$LAB5_THREADS``, else (unless ``OMP_NUM_THREADS`` is
    set) the CPUs this process may run on (``os.sched_getaffinity``: what ``taskset`` or a container lends, where
    torch's default counts the machine's cores). Two torch jobs on 2 cores with 2 threads each oversubscribe (a
    tiny step went from 0.18 s to 10 s): give each ``LAB5_THREADS=1``. Returns the count set."""
    env = os.environ.get("LAB5_THREADS")
    if requested is None and env:
        if not env.isdigit() or int(env) < 1:
            raise ValueError(f"LAB5_THREADS={env!r}: must be a whole number of threads, at least 1")
        requested = int(env)
    if requested is None and os.environ.get("OMP_NUM_THREADS"):
        return torch.get_num_threads()  # torch already follows the user's OMP_NUM_THREADS
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    threads = requested or available
    torch.set_num_threads(threads)
    return threads


def cpu_model() -> str:
    """The CPU's model name as ``lscpu`` shows it (from /proc/cpuinfo), e.g. ``"AMD EPYC"``."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        return next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def describe_device(device: torch.device) -> str:
    """``"NVIDIA H100 80GB HBM3"`` or ``"CPU AMD EPYC (2 cores, x86_64, 2 torch threads)"``: the hardware a
    number was measured on."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return (f"CPU {cpu_model()} ({os.cpu_count()} cores, {platform.machine()}, "
            f"{torch.get_num_threads()} torch threads)")
