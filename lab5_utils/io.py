"""Reading torch files safely: ``torch.load(weights_only=True)`` with errors that name the file and say what to
do, never torch's advice to retry with ``weights_only=False`` (which would run code from the file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch


def _reason(err: BaseException) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if "weights_only" in str(err) or "Weights only load failed" in str(err):
        return "it holds objects other than tensors and plain containers; only weights-only files are loaded"
    if isinstance(err, EOFError) or "central directory" in text or "zip archive" in text:
        return f"truncated or not a torch file ({text})"
    return text


def load_weights_only(path: str | Path, map_location: Any = "cpu", what: str = "checkpoint",
                      recovery: str = "") -> Any:
    """``torch.load(path, weights_only=True, map_location=...)``; a missing file raises ``FileNotFoundError`` and an
    unreadable one ``ValueError``, each one line naming ``path`` and ``what`` it should be (plus ``recovery``)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{path}: {what} not found")
    try:
        return torch.load(path, weights_only=True, map_location=map_location)
    except Exception as err:  # unpickling errors come in many types
        raise ValueError(f"{path}: cannot be read as a {what}: {_reason(err)}{recovery}") from err
