"""GAN checkpoints: one plain dict, written atomically, loadable with ``torch.load(weights_only=True)``.

Keys: ``format``, ``kind`` ("last" / "best" / "diagnostic"), ``preset``, ``config`` (``dataclasses.asdict``),
``G``, ``D``, ``G_ema`` (state dicts), ``opt_g``, ``opt_d``, ``step``, ``epoch``, ``batches`` (data order
state), ``rng`` (torch generator states as uint8 tensors; no numpy/python RNG is used by training), ``best``,
``train_time_s``, ``stats_window`` (the open ``stats.jsonl`` averaging window) and ``classifier_digest`` (the
frozen aux classifier's weights, or None).
"""

from __future__ import annotations

import dataclasses
import io
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from lab5_utils.config import TrainConfig, config_from_dict
from lab5_utils.io import load_weights_only
from lab5_utils.models import build_generator

if TYPE_CHECKING:
    from lab5_utils.trainer import Trainer

FORMAT = "lab5_utils.gan/1"
# Fields that change the networks: a checkpoint with different values cannot be resumed or loaded into cfg.
MODEL_FIELDS = ("arch", "g_cond", "d_cond", "z_dim", "g_channels", "d_channels", "embed_dim", "g_attn_res",
                "d_attn_res")
# Fields that may change between a run and its resume without a warning.
FREE_FIELDS = ("log_every", "ckpt_every", "bf16")


def save_checkpoint(state: dict[str, Any], path: str | Path) -> Path:
    """``torch.save`` to a temp file in the same folder, then ``os.replace`` (never a half-written file). The bytes
    are serialised in memory first and written with Python's own ``write`` + ``fsync``, so a full disk raises
    ``OSError`` (ENOSPC), not torch's ``RuntimeError``, and a power loss cannot leave a renamed empty file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    buffer = io.BytesIO()
    torch.save(state, buffer)
    try:
        with open(tmp, "wb") as f:
            f.write(buffer.getbuffer())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a GAN checkpoint (``weights_only=True``); a missing or foreign file raises an error naming it."""
    path = Path(path)
    recovery = (" (if it is a run's last.pt cut short: copy best.pt over it to resume from there, or start anew "
                "without --resume)" if path.name == "last.pt" else "")
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


def state_digest(module: nn.Module | None) -> str | None:
    """First 16 hex digits of a sha256 over a module's state dict (names and bytes), ``None`` for no module."""
    if module is None:
        return None
    import hashlib

    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().reshape(-1).contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def config_of(path: str | Path) -> TrainConfig:
    """The :class:`TrainConfig` stored in a checkpoint."""
    return config_from_dict(load_checkpoint(path)["config"], where=f"{path}: config")


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
    return G.to(device).eval()


def trainer_state(trainer: Trainer, kind: str = "last", **extra: Any) -> dict[str, Any]:
    """The checkpoint dict of ``trainer`` (the keys of this module's docstring) plus ``extra``."""
    rng = {"noise": trainer.noise.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    return {"format": FORMAT, "kind": kind, "preset": trainer.cfg.name, "config": dataclasses.asdict(trainer.cfg),
            "G": trainer.G.state_dict(), "D": trainer.D.state_dict(), "G_ema": trainer.G_ema.state_dict(),
            "opt_g": trainer.opt_g.state_dict(), "opt_d": trainer.opt_d.state_dict(), "step": trainer.step,
            "epoch": trainer.batches.epoch, "batches": trainer.batches.state_dict(), "rng": rng,
            "best": dict(trainer.best), "train_time_s": trainer.train_time,
            "stats_window": trainer.log.state_dict(), "classifier_digest": trainer.classifier_digest, **extra}


def restore_trainer(trainer: Trainer, path: str | Path) -> None:
    """Load ``path`` into ``trainer``: weights, optimisers, data order, RNG states, counters and the open stats
    window (``stats.jsonl`` rows after the checkpoint's step are dropped), so the run continues exactly.
    Refuses a checkpoint of another preset or architecture (:func:`check_compatible`)."""
    ckpt = load_checkpoint(path)
    check_compatible(ckpt, trainer.cfg, path)
    if ckpt.get("classifier_digest", trainer.classifier_digest) != trainer.classifier_digest:
        warnings.warn(f"{path}: resuming with another aux classifier (weights {ckpt.get('classifier_digest')} -> "
                      f"{trainer.classifier_digest}); the run is no longer exact", stacklevel=2)
    for module, key in ((trainer.G, "G"), (trainer.D, "D"), (trainer.G_ema, "G_ema")):
        module.load_state_dict(ckpt[key])
    trainer.opt_g.load_state_dict(ckpt["opt_g"])
    trainer.opt_d.load_state_dict(ckpt["opt_d"])
    trainer.batches.load_state_dict(ckpt["batches"])
    trainer.noise.set_state(ckpt["rng"]["noise"])
    torch.set_rng_state(ckpt["rng"]["torch"])
    if "cuda" in ckpt["rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(ckpt["rng"]["cuda"])
    trainer.step, trainer.train_time = int(ckpt["step"]), float(ckpt["train_time_s"])
    trainer.best = dict(ckpt["best"])
    trainer.log.truncate_after(trainer.step)
    trainer.log.load_state_dict(ckpt.get("stats_window", {}))  # absent in checkpoints of older versions
