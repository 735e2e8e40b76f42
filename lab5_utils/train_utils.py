"""Training helpers: the device choice, the in-memory seeded batch stream, the EMA update, the stats log."""

from __future__ import annotations

import json
import math
import os
import platform
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lab5_utils.labels import NUM_CLASSES


def default_device() -> torch.device:
    """``cuda`` when available, else ``cpu``."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


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


def eta_line(cfg: Any, limits: Any, step_s: float, batches_per_epoch: int) -> str:
    """When the nearest budget will be met at ``step_s`` seconds per generator step. ``limits``: Trainer.run's
    ``((steps, reached), (epochs, reached), (wall seconds, reached), (training seconds, reached))``."""
    import time

    steps_per_epoch = batches_per_epoch / cfg.n_critic
    left = [max(0.0, limit - reached()) / per_step * step_s  # budget left in its unit -> seconds
            for (limit, reached), per_step in zip(limits, (1.0, 1.0 / steps_per_epoch, step_s, step_s), strict=True)
            if limit is not None]
    seconds = min(left)
    finish = time.strftime("%H:%M", time.localtime(time.time() + seconds))
    return (f"{cfg.name}: {step_s:.2f} s/step ({cfg.batch_size * cfg.n_critic / step_s:.0f} real img/s) -> budget "
            f"met in about {seconds / 60:.0f} min (~{finish}), plus evaluations")


def as_arrays(data: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Training data -> ``(images uint8 (N, 3, 64, 64), labels float32 (N, 24))``.

    Accepts ``(images, labels[, filenames])`` as returned by ``lab5_utils.dataset.load_arrays``, an object with
    ``.images``/``.labels`` (``lab5_utils.dataset.ICLEVR``) or a data folder path (loaded with ``load_arrays``).
    """
    if isinstance(data, str | os.PathLike):
        from lab5_utils.dataset import load_arrays

        data = load_arrays(Path(data))
    if hasattr(data, "images") and hasattr(data, "labels"):
        images, labels = data.images, data.labels
    elif isinstance(data, tuple | list) and len(data) in (2, 3):
        images, labels = data[0], data[1]
    else:
        raise ValueError("data: expected (images, labels), load_arrays output, an ICLEVR dataset or a folder path")
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 or images.ndim != 4 \
            or images.shape[1:] != (3, 64, 64):
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"data images: expected a uint8 tensor (N, 3, 64, 64), got {shape}")
    labels = torch.as_tensor(labels, dtype=torch.float32)
    if labels.shape != (len(images), NUM_CLASSES):
        raise ValueError(f"data labels: expected shape ({len(images)}, {NUM_CLASSES}), got {tuple(labels.shape)}")
    return images, labels


def random_dataset(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Noise data for tests and throughput benchmarks (speed does not depend on the pixels): ``(uint8 images
    (n, 3, 64, 64), multi-hot labels (n, 24) with 1, 2, 3, 1, ... objects)``, from a seeded generator."""
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, 64, 64), generator=g, dtype=torch.uint8)
    labels = torch.zeros(n, NUM_CLASSES)
    for i in range(n):
        labels[i, torch.randperm(NUM_CLASSES, generator=g)[: 1 + i % 3]] = 1.0
    return images, labels


def augment(x: torch.Tensor, max_shift: int, hflip: bool, generator: torch.Generator) -> torch.Tensor:
    """Random per-image translation by up to ``max_shift`` px (edges replicated) and horizontal flip.

    ``x: (B,3,H,W) in [-1,1]`` -> same shape and range. Colours are never changed. Differentiable in ``x`` (a
    gather), so it also serves as DiffAugment's translation and before the frozen classifier in G's loss. The
    offsets are drawn on ``generator``'s (CPU) device and the result is on ``x``'s device.
    """
    b, _, h, w = x.shape
    if max_shift > 0:
        padded = F.pad(x, (max_shift,) * 4, mode="replicate")
        oy = torch.randint(0, 2 * max_shift + 1, (b, 1), generator=generator)
        ox = torch.randint(0, 2 * max_shift + 1, (b, 1), generator=generator)
        rows = (oy + torch.arange(h)).unsqueeze(2)  # (B,H,1)
        cols = (ox + torch.arange(w)).unsqueeze(1)  # (B,1,W)
        index = (torch.arange(b).view(b, 1, 1).to(x.device), rows.to(x.device), cols.to(x.device))
        x = padded.permute(0, 2, 3, 1)[index].permute(0, 3, 1, 2)
    if hflip:
        flip = (torch.rand(b, generator=generator) < 0.5).to(x.device)
        x = torch.where(flip.view(b, 1, 1, 1), x.flip(3), x)
    return x.contiguous()


class BatchStream:
    """Endless seeded mini-batches from uint8 arrays held in memory (on ``device``), drop-last per epoch.

    The order is a ``torch.randperm`` from a CPU ``torch.Generator`` seeded with ``seed``; the permutation,
    position, epoch count and generator state are in :meth:`state_dict`, so a resumed run sees the same
    batches as an uninterrupted one. ``next()`` -> ``(x uint8 (B, 3, 64, 64), y float32 (B, 24))``.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int, seed: int,
                 device: torch.device) -> None:
        if len(images) < batch_size:
            raise ValueError(f"data: {len(images)} images is fewer than batch_size={batch_size}")
        self.images, self.labels = images.to(device), labels.to(device)
        self.batch_size, self.device = batch_size, device
        self.generator = torch.Generator().manual_seed(seed)
        self.epoch, self.pos = 0, 0
        self.perm = torch.randperm(len(images), generator=self.generator)

    @property
    def batches_per_epoch(self) -> int:
        return len(self.images) // self.batch_size

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.pos + self.batch_size > len(self.perm):
            self.epoch += 1
            self.pos = 0
            self.perm = torch.randperm(len(self.images), generator=self.generator)
        index = self.perm[self.pos:self.pos + self.batch_size].to(self.device)
        self.pos += self.batch_size
        return self.images[index], self.labels[index]

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "pos": self.pos, "perm": self.perm.clone(),
                "generator": self.generator.get_state()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if len(state["perm"]) != len(self.images):
            raise ValueError(f"resume: the checkpoint was trained on {len(state['perm'])} images, "
                             f"this data has {len(self.images)}")
        self.epoch, self.pos = int(state["epoch"]), int(state["pos"])
        self.perm = state["perm"].clone()
        self.generator.set_state(state["generator"])


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """``ema = decay * ema + (1 - decay) * model`` for float parameters; buffers (BN stats, SN vectors) copied."""
    for p_ema, p in zip(ema.parameters(), model.parameters(), strict=True):
        p_ema.lerp_(p.detach(), 1.0 - decay)
    for b_ema, b in zip(ema.buffers(), model.buffers(), strict=True):
        b_ema.copy_(b)


class StatsLog:
    """Averages per-step values over a window (each key over the steps that reported it: a lazy GP is not in
    every step) and appends one JSON object per line to ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def add(self, values: Mapping[str, float]) -> None:
        for key, value in values.items():
            self.sums[key] = self.sums.get(key, 0.0) + value
            self.counts[key] = self.counts.get(key, 0) + 1

    def means(self) -> dict[str, float]:
        return {k: v / self.counts[k] for k, v in self.sums.items()}

    def state_dict(self) -> dict[str, dict[str, Any]]:
        """The open window (saved in checkpoints, so the first row after a resume averages a whole window)."""
        return {"sums": dict(self.sums), "counts": dict(self.counts)}

    def load_state_dict(self, state: Mapping[str, Mapping[str, Any]]) -> None:
        self.sums = {k: float(v) for k, v in state.get("sums", {}).items()}
        self.counts = {k: int(v) for k, v in state.get("counts", {}).items()}

    def flush(self, extra: Mapping[str, Any]) -> dict[str, Any]:
        row = {**extra, **self.means()}
        self.write(row)
        self.sums, self.counts = {}, {}
        return row

    def write(self, row: Mapping[str, Any]) -> None:
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
        with self.path.open("a") as f:
            f.write(json.dumps(clean) + "\n")

    def truncate_after(self, step: int) -> None:
        """Drop lines logged after ``step`` (an interrupted run's tail, before a resume from ``step``) and lines
        that are not JSON (a torn last line of a full disk or a kill), with a warning naming the file."""
        if not self.path.is_file():
            return
        parsed, torn = _parse_lines(self.path)
        lines = [line for line, row in parsed if isinstance(row, dict) and row.get("step", 0) <= step]
        if torn:
            warnings.warn(f"{self.path}: dropped {len(torn)} torn line(s) (line {', '.join(map(str, torn))}), "
                          "written when the run was killed or the disk was full", stacklevel=2)
        tmp = self.path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text("".join(line + "\n" for line in lines))
        os.replace(tmp, self.path)


def _parse_lines(path: Path) -> tuple[list[tuple[str, Any]], list[int]]:
    """``([(line, parsed JSON)] of the non-empty lines, [numbers of lines that are not JSON])`` of a log."""
    parsed, torn = [], []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if line.strip():
            try:
                parsed.append((line, json.loads(line)))
            except ValueError:
                torn.append(number)
    return parsed, torn


def read_stats(path: str | Path) -> list[dict[str, Any]]:
    """All rows of a ``stats.jsonl`` file (a run folder or the file itself)."""
    path = Path(path)
    path = path / "stats.jsonl" if path.is_dir() else path
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no stats file")
    parsed, torn = _parse_lines(path)
    if torn:  # cut short by a kill or a full disk (dropped for good on the next resume)
        warnings.warn(f"{path}: skipped {len(torn)} torn line(s)", stacklevel=2)
    return [row for _, row in parsed]
