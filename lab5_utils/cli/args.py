"""What every command checks before it starts work: counts and budgets that must be positive, ``--set key=value``
config overrides that must name a field and parse as its type, and folders that must be writable, so that a typo
costs a second and a one-line message, not a run that fails when it saves."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from lab5_utils.gan.config import FIELD_TYPES, check_keys


def _number(kind: type, text: str, smallest: float, what: str) -> int | float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a{'n integer' if kind is int else ' number'}") from None
    if not value >= smallest:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text!r}: must be {what}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (``--steps``, ``--epochs``, ``--seeds``)."""
    return int(_number(int, text, 1, "at least 1"))


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0 (``--eval-every 0`` = never, ``--frechet-samples 0`` = skip)."""
    return int(_number(int, text, 0, "0 or more"))


def positive_float(text: str) -> float:
    """argparse type: a number > 0 (``--train-minutes``)."""
    value = float(_number(float, text, 0.0, "more than 0"))
    if value == 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: must be more than 0 and finite")
    return value


def writable_folder(path: str | Path, what: str) -> Path:
    """Create ``path`` if needed and write (then remove) a probe file in it; ``NotADirectoryError`` or
    ``PermissionError`` name the folder and what it is for (``what``: e.g. "--out, the run folder")."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{path}: {what} is a file, not a folder")
    probe = path / f".write-probe{os.getpid()}"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise PermissionError(f"{path}: {what} is not writable ({err.strerror or err})") from err
    return path


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line (no usage block), exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {self.prog}: {message} (see --help)\n")


def device_arg(text: str) -> str:
    """argparse type of ``--device``: a torch device this machine has (``cpu``, ``cuda``, ``cuda:1``, ``mps``)."""
    try:
        device = torch.device(text)
    except RuntimeError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a torch device (cpu, cuda, cuda:1, mps)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"{text!r}: no CUDA device on this machine; use --device cpu")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise argparse.ArgumentTypeError(f"{text!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise argparse.ArgumentTypeError(f"{text!r}: no Apple MPS device on this machine; use --device cpu")
    return text


def _convert(key: str, text: str) -> Any:
    kind = FIELD_TYPES[key]
    try:
        if kind == "bool":
            if text.lower() not in {"true", "false", "1", "0", "yes", "no"}:
                raise ValueError(text)
            return text.lower() in {"true", "1", "yes"}
        return {"int": int, "float": float}.get(kind, str)(text)
    except ValueError as err:
        raise ValueError(f"--set {key}={text}: expected a {kind}") from err


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """CLI ``["lr_g=1e-4", "bf16=true"]`` -> typed dict; unknown keys or bad values raise ``ValueError``."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set {item!r}: expected key=value")
        check_keys([key.strip()], "--set")
        out[key.strip()] = _convert(key.strip(), value.strip())
    return out
