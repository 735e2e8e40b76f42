"""GAN checkpoints: the format and its file I/O. One plain dict (:meth:`lab5_utils.gan.trainer.Trainer.state_dict`),
written atomically, loadable with ``torch.load(weights_only=True, map_location=...)`` on a CPU-only machine.

Keys: ``format``, ``kind`` ("last" / "best" / "diagnostic"), ``preset``, ``config`` (``dataclasses.asdict``),
``G``, ``D``, ``G_ema`` (state dicts), ``opt_g``, ``opt_d``, ``step``, ``epoch``, ``batches`` (data order
state), ``rng`` (torch generator states as uint8 tensors; no numpy/python RNG is used by training), ``best``,
``train_time_s``, ``stats_window`` (the open ``stats.jsonl`` averaging window) and ``classifier_digest`` (the
frozen aux classifier's weights, or None).
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lab5_utils.gan.config import TrainConfig, config_from_dict
from lab5_utils.gan.models import build_generator
from lab5_utils.gan.run_folder import LAST_FILE
from lab5_utils.gan.step import harden
from lab5_utils.io import load_weights_only, save_torch

FORMAT = "lab5_utils.gan/1"
# Fields that change the networks: a checkpoint with different values cannot be resumed or loaded into cfg.
MODEL_FIELDS = ("arch", "generator", "g_cond", "d_cond", "z_dim", "g_channels", "d_channels", "embed_dim", "g_attn_res",
                "d_attn_res")
# Fields that may change between a run and its resume without a warning.
FREE_FIELDS = ("log_every", "ckpt_every", "bf16")


def save_checkpoint(state: dict[str, Any], path: str | Path) -> Path:
    """Write a checkpoint dict atomically (:func:`lab5_utils.io.save_torch`: a full disk is an ``OSError`` and
    never leaves a half-written or empty file behind)."""
    return save_torch(state, path)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a GAN checkpoint (``weights_only=True``); a missing or foreign file raises an error naming it."""
    path = Path(path)
    recovery = (" (if it is a run's last.pt cut short: copy best.pt over it to resume from there, or start anew "
                "without --resume)" if path.name == LAST_FILE else "")
    ckpt = load_weights_only(path, map_location, "lab5_utils GAN checkpoint", recovery)
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ValueError(f"{path}: not a lab5_utils GAN checkpoint (format {FORMAT!r} expected)")
    return ckpt


def check_compatible(ckpt: dict[str, Any], cfg: TrainConfig, path: str | Path) -> None:
    """Refuse a checkpoint of another preset or architecture; warn about changed hyper-parameters.

    Raises ``ValueError`` naming both presets (and the differing fields) when the preset name or any
    :data:`MODEL_FIELDS` value differs.
    """
    ours = dataclasses.asdict(cfg)
    # a field added after the checkpoint was written takes its default (as config_from_dict does)
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig) if f.default is not dataclasses.MISSING}
    saved = {**defaults, **ckpt.get("config", {})}
    model_diff = [f"{k}: {saved.get(k)!r} vs {ours[k]!r}" for k in MODEL_FIELDS if saved.get(k) != ours[k]]
    if saved.get("name") != cfg.name or model_diff:
        detail = f" (differs in {'; '.join(model_diff)})" if model_diff else ""
        raise ValueError(f"{path}: checkpoint is from preset {saved.get('name')!r} (arch {saved.get('arch')!r}), "
                         f"but this run is preset {cfg.name!r} (arch {cfg.arch!r}){detail}; use another out_dir "
                         f"or the matching preset")
    other = [k for k in ours if k not in MODEL_FIELDS + FREE_FIELDS + ("name",) and saved.get(k) != ours[k]]
    if other:
        changes = ", ".join(f"{k}: {saved.get(k)!r} -> {ours[k]!r}" for k in other)
        warnings.warn(f"{path}: resuming with changed settings ({changes}); the run is no longer exact",
                      stacklevel=3)


def load_generator(ckpt_path: str | Path, ema: bool = True, device: str | torch.device = "cpu") -> nn.Module:
    """Rebuild G from the checkpoint's config and load its weights (the EMA copy unless ``ema=False``).

    Returns ``G`` in eval mode on ``device``: ``G(z: (B, G.z_dim), y: (B, 24)) -> (B, 3, 64, 64)`` in [-1, 1].
    """
    ckpt = load_checkpoint(ckpt_path)
    cfg = config_from_dict(ckpt["config"], where=f"{ckpt_path}: config")
    G = build_generator(cfg)
    key = "G_ema" if ema else "G"
    try:
        G.load_state_dict(ckpt[key])
    except (KeyError, RuntimeError) as err:
        raise ValueError(f"{ckpt_path}: cannot load {key!r} into the {cfg.name!r} generator ({err})") from err
    harden(G, None, cfg, int(ckpt.get("step", 0)))  # a run past cfg.alpha_hard_from draws hard masks
    return G.to(device).eval()
