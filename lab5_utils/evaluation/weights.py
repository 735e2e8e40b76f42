"""The shipped trained result under the repository's ``weights/`` folder: the final EMA generator and our judge,
fp16 on disk (loaded back as fp32), each with its sha256 and a provenance line in ``weights/manifest.json``.

A fresh clone previews and evaluates with them in seconds: ``generate`` and ``judge eval`` fall back to the
generator, :func:`lab5_utils.judge.cache.ensure_judge` to the judge (so nothing is trained before a first number), and
:func:`load_shipped_generator` gives the widget and the notebooks the generator. Only ``python -m lab5_utils
export`` writes there, and it never overwrites a file (training never touches ``weights/``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from lab5_utils.gan.checkpoint import load_checkpoint, load_generator
from lab5_utils.io import atomic_write, save_torch, sha256_file
from lab5_utils.judge.model import load_course_format
from lab5_utils.paths import GENERATOR_FILE, MANIFEST_FILE, shipped, weights_dir

MANIFEST = MANIFEST_FILE


def _half(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().half() if v.is_floating_point() else v.detach().cpu() for k, v in state.items()}


def _save_new(payload: dict[str, Any], path: Path) -> None:
    if path.exists():
        raise FileExistsError(f"{path}: already there; shipped weights are written once (remove it on purpose)")
    save_torch(payload, path)


def export_generator(ckpt_path: str | Path, out: str | Path, provenance: Mapping[str, Any]) -> Path:
    """Write the EMA generator of a ``train`` checkpoint as a small GAN checkpoint (fp16 ``G_ema``, config, step,
    training time, ``provenance``) that :func:`lab5_utils.gan.checkpoint.load_generator` reads."""
    ckpt = load_checkpoint(ckpt_path)
    payload = {key: ckpt[key] for key in ("format", "preset", "config", "step", "epoch", "train_time_s")}
    payload.update(kind="export", G_ema=_half(ckpt["G_ema"]), provenance=dict(provenance))
    _save_new(payload, Path(out))
    return Path(out)


def export_judge(judge_path: str | Path, out: str | Path) -> Path:
    """Write a course-format judge ``{'model': fp16 state_dict, 'meta': ...}`` (the course's
    ``load_state_dict(ckpt['model'])`` and :func:`lab5_utils.judge.model.load_judge` restore fp32)."""
    ckpt = load_course_format(judge_path)
    meta = dict(ckpt.get("meta") or {})
    meta["exported_from_sha256"] = sha256_file(judge_path)
    _save_new({"model": _half(ckpt["model"]), "meta": meta}, Path(out))
    return Path(out)


def write_manifest(folder: str | Path, provenance: Mapping[str, Mapping[str, Any]]) -> Path:
    """``folder/manifest.json``: for each file in ``provenance``, its sha256, size and provenance."""
    folder = Path(folder)
    entries = {name: {"sha256": sha256_file(folder / name), "bytes": (folder / name).stat().st_size, **dict(info)}
               for name, info in provenance.items()}
    path = folder / MANIFEST
    atomic_write(path, json.dumps(entries, indent=1) + "\n")
    return path


def manifest(folder: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """``{file name: {"sha256", "bytes", "command", "hardware", ...}}`` from ``manifest.json`` of ``folder``."""
    return json.loads((Path(folder) if folder else weights_dir()).joinpath(MANIFEST).read_text())


def verify(folder: str | Path | None = None) -> dict[str, str]:
    """Check every file of ``manifest.json`` against its sha256; returns ``{name: sha256}``. A missing or changed
    file raises ``ValueError`` naming it."""
    folder = Path(folder) if folder else weights_dir()
    entries = manifest(folder)
    for name, entry in entries.items():
        path = folder / name
        if not path.is_file():
            raise ValueError(f"{path}: listed in {folder / MANIFEST} but missing")
        if sha256_file(path) != entry["sha256"]:
            raise ValueError(f"{path}: sha256 differs from {folder / MANIFEST} (a changed or corrupt file)")
    return {name: entry["sha256"] for name, entry in entries.items()}


def load_shipped_generator(device: str | torch.device = "cpu") -> torch.nn.Module:
    """The shipped EMA generator in eval mode (fp32), or ``FileNotFoundError`` naming where it was looked for."""
    path = shipped(GENERATOR_FILE)
    if path is None:
        raise FileNotFoundError(f"{weights_dir() / GENERATOR_FILE}: no shipped generator (train one with "
                                "`python -m lab5_utils train`)")
    return load_generator(path, ema=True, device=device)


def shipped_generator_path() -> Path:
    """``weights/generator.pt``, or a ``FileNotFoundError`` saying how to get a generator when there is none."""
    path = shipped(GENERATOR_FILE)
    if path is None:
        raise FileNotFoundError(f"no --ckpt given and no shipped generator at {weights_dir() / GENERATOR_FILE}; "
                                "train one (python -m lab5_utils train ...) and pass --ckpt runs/<preset>/last.pt")
    return path
