"""The training data as the trainer sees it: uint8 arrays in memory, a seeded endless batch stream whose position is
part of a checkpoint, and noise data for tests and throughput benchmarks."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from lab5_utils.data.dataset import load_arrays
from lab5_utils.labels import NUM_CLASSES


def as_arrays(data: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Training data -> ``(images uint8 (N, 3, 64, 64), labels float32 (N, 24))``.

    Accepts ``(images, labels[, filenames])`` as returned by ``lab5_utils.data.dataset.load_arrays``, an object with
    ``.images``/``.labels`` (``lab5_utils.data.dataset.ICLEVR``) or a data folder path (loaded with ``load_arrays``).
    """
    if isinstance(data, str | os.PathLike):
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
