"""Fitting a multi-label image classifier on in-memory data: the judge (course-format ResNet18) and, with the same
loop, the GAN's frozen auxiliary classifier.

The judge is split BY SCENE (the 1-, 2- and 3-object frames of a scene share objects, so a frame split would
leak), trained with BCE on the sigmoid outputs (computed from the logits for stability), AdamW + OneCycle,
and label-preserving augmentation only: small translations (edge-replicated) and horizontal flips.
No colour jitter: colours are the labels.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from lab5_utils.data.dataset import content_key, listing_path, load_arrays, read_listing, rows_outside, scene_of
from lab5_utils.image_ops import augment, to_signed
from lab5_utils.io import sha256_file
from lab5_utils.judge.model import Judge, build_judge, judge_logits, save_course_format

FORMAT = "lab5_utils judge v1"


@dataclass(frozen=True)
class JudgeConfig:
    """Judge training settings. Defaults fit the 2-core CPU budget: 10 epochs over the 34,200 training images of
    the judge's own render at about 340 img/s (channels_last, batch 128) took 17 minutes uncontended and reached
    0.9947 held-out (renderer v3)."""

    epochs: int = 10
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 5e-4
    holdout_fraction: float = 0.05
    max_shift: int = 4
    hflip: bool = True
    seed: int = 0
    max_images: int | None = None
    tiny: bool = False
    channels_last: bool = True

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"JudgeConfig: epochs and batch_size must be >= 1, got {self.epochs}, {self.batch_size}")
        if not 0.0 <= self.holdout_fraction < 1.0:
            raise ValueError(f"JudgeConfig: holdout_fraction must be in [0, 1), got {self.holdout_fraction}")

    @classmethod
    def tiny_config(cls, seed: int = 0) -> JudgeConfig:
        """A CI/test judge: 1 epoch on at most 512 images. Marked ``tiny`` in the checkpoint; never report with it."""
        return cls(epochs=1, max_images=512, tiny=True, seed=seed, holdout_fraction=0.1)


def split_by_scene(scenes: list[int], fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, holdout)``: a seeded ``fraction`` of the distinct scenes (at least one if ``fraction>0``
    and there are >= 2 scenes, and never all of them) goes to the held-out set with all of its frames."""
    ids = np.asarray(scenes)
    unique = np.unique(ids)
    n_out = 0 if fraction <= 0 or len(unique) < 2 else min(len(unique) - 1, max(1, round(fraction * len(unique))))
    held = np.random.default_rng(seed).choice(unique, size=n_out, replace=False)
    mask = np.isin(ids, held)
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def split_rows(scenes: list[int], config: JudgeConfig) -> tuple[np.ndarray, np.ndarray]:
    """Row indices ``(train, holdout)`` that :func:`fit_multilabel` uses for ``scenes`` (one id per image): the
    seeded ``max_images`` subset, if any, then :func:`split_by_scene` of it."""
    keep = np.arange(len(scenes))
    if config.max_images is not None and config.max_images < len(scenes):
        keep = np.sort(np.random.default_rng(config.seed).choice(len(scenes), size=config.max_images, replace=False))
    train_idx, hold_idx = split_by_scene([scenes[i] for i in keep], config.holdout_fraction, config.seed)
    return keep[train_idx], keep[hold_idx]


def heldout_scenes(meta: Mapping[str, Any], data_root: str | Path) -> frozenset[int]:
    """The scenes of ``data_root`` that a judge (its ``meta``, :func:`fit_folder`'s) held out to measure itself:
    empty unless it was trained on this very listing (same ``train.json`` sha256). A GAN trained on ``data_root``
    leaves them out, so that nothing a judge is measured on enters a training loss."""
    data_root = Path(data_root).expanduser()
    same = meta.get("data_key") == content_key(data_root)[:16] if "data_key" in meta else \
        meta.get("train_json_sha256") == sha256_file(listing_path(data_root))  # judges written before data_key
    if not same or "config" not in meta:
        return frozenset()
    excluded = set(meta.get("excluded_files", []))
    scenes = [scene_of(name) for name in sorted(read_listing(data_root)) if name not in excluded]
    fields = {f.name for f in dataclasses.fields(JudgeConfig)}
    config = JudgeConfig(**{k: v for k, v in meta["config"].items() if k in fields})
    return frozenset(scenes[i] for i in split_rows(scenes, config)[1])


def fit_multilabel(images: torch.Tensor, labels: torch.Tensor, scenes: list[int],
                   config: JudgeConfig = JudgeConfig(), device: str | torch.device = "cpu", progress: bool = True,
                   build: Callable[[], torch.nn.Module] = build_judge,
                   logits: Callable[[torch.nn.Module, torch.Tensor], torch.Tensor] = judge_logits,
                   name: str = "judge") -> tuple[torch.nn.Module, dict[str, Any]]:
    """Train a multi-label classifier (by default the judge) on in-memory data. ``images: (N,3,64,64) uint8``,
    ``labels: (N,24) float`` multi-hot, ``scenes``: scene id per image (for the held-out split). Returns ``(model in
    eval mode, meta dict)`` with the per-epoch history (train loss, held-out course accuracy) and the training speed
    in img/s. ``build()`` makes the untrained model and ``logits(model, x)`` its pre-sigmoid ``(B, 24)`` outputs
    (default: the course ResNet18; :mod:`lab5_utils.gan.classifier` trains its compact CNN with the same loop)."""
    images, labels = torch.as_tensor(images), torch.as_tensor(labels).float()
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images: expected uint8 (N,3,H,W), got {images.dtype} {tuple(images.shape)}")
    if len(labels) != len(images) or len(scenes) != len(images):
        raise ValueError(f"{len(images)} images but {len(labels)} labels and {len(scenes)} scene ids")
    train_idx, hold_idx = split_rows(scenes, config)
    device = torch.device(device)
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = build().to(device=device, memory_format=memory_format)
    generator = torch.Generator().manual_seed(config.seed)
    steps = max(1, len(train_idx) // config.batch_size)  # drop the last partial batch (BatchNorm)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, betas=(0.9, 0.999),
                                  weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=config.epochs * steps,
                                                   pct_start=0.2)
    history: list[dict[str, Any]] = []
    seen, train_time = 0, 0.0
    bar = tqdm(total=config.epochs * steps, desc=name, unit="step", disable=not progress)  # "judge", "classifier"
    for epoch in range(1, config.epochs + 1):
        model.train()
        order = torch.as_tensor(train_idx)[torch.randperm(len(train_idx), generator=generator)]
        total_loss = 0.0
        start = time.perf_counter()
        for step in range(steps):
            batch = order[step * config.batch_size:(step + 1) * config.batch_size]
            x = augment(to_signed(images[batch]), config.max_shift, config.hflip, generator)
            x = x.to(device).contiguous(memory_format=memory_format)
            loss = F.binary_cross_entropy_with_logits(logits(model, x), labels[batch].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total_loss += float(loss.detach())
            seen += len(batch)
            bar.update(1)
            bar.set_postfix(epoch=epoch, loss=f"{total_loss / (step + 1):.4f}")
        train_time += time.perf_counter() - start
        model.eval()
        acc = None
        if len(hold_idx):
            acc = Judge(model, device=device).accuracy(to_signed(images[hold_idx]), labels[hold_idx])
        history.append({"epoch": epoch, "train_loss": total_loss / steps, "holdout_accuracy": acc})
        if progress:
            shown = "n/a (no held-out scenes)" if acc is None else f"{acc:.4f}"
            tqdm.write(f"epoch {epoch}/{config.epochs}: train loss {total_loss / steps:.4f}, "
                       f"held-out top-k accuracy {shown}")
    bar.close()
    meta = {"format": FORMAT, "tiny": config.tiny, "config": asdict(config),
            "holdout_accuracy": history[-1]["holdout_accuracy"], "history": history,
            "n_train": int(len(train_idx)), "n_holdout": int(len(hold_idx)),
            "n_holdout_scenes": len({scenes[i] for i in hold_idx}),
            "train_img_per_s": seen / train_time if train_time > 0 else None,
            "device": str(device), "torch": str(torch.__version__)}
    return model.to(memory_format=torch.contiguous_format).eval(), meta


Fit = Callable[[torch.Tensor, torch.Tensor, list[int]], tuple[torch.nn.Module, dict[str, Any]]]


def fit_folder(data_root: str | Path, out: str | Path, fit: Fit, what: str, progress: bool = True,
               exclude_scenes: frozenset[int] = frozenset()) -> dict[str, Any]:
    """Load the folder ``data_root`` (``train.json`` + images) less the scenes ``exclude_scenes`` (a judge's
    held-out scenes), ``fit(images, labels, scene ids)``, and write the course format ``{'model': state_dict, 'meta':
    {...}}`` to ``out`` atomically; returns the meta (with the folder, its ``train.json``'s sha256 and the excluded
    files). ``what`` ("judge", "classifier") names the model in errors."""
    data_root = Path(data_root).expanduser()
    images, labels, filenames = load_arrays(data_root, 64, progress=progress)
    try:
        scenes = [scene_of(f) for f in filenames]
    except ValueError as err:  # the held-out split is by scene, so every name must carry one
        raise ValueError(f"{listing_path(data_root)}: {err}; the {what} splits by scene") from err
    rows = rows_outside(filenames, exclude_scenes)
    excluded = sorted(set(filenames) - {filenames[i] for i in rows})
    if len(rows) < len(scenes):
        images, labels, scenes = images[rows], labels[rows], [scenes[i] for i in rows]
    model, meta = fit(images, labels, scenes)
    meta.update(data_root=str(data_root.resolve()), train_json_sha256=sha256_file(listing_path(data_root)),
                data_key=content_key(data_root)[:16], excluded_files=excluded)
    save_course_format(model, out, meta)
    return meta
