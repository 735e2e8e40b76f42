"""File I/O every floor uses: the one atomic write, the one atomic ``torch.save``, safe weights-only loading and
the sha256 that names a file in logs and metrics.

An atomic write serialises in memory, writes a temp file ``.<name>.tmp<pid>`` in the target's folder with
Python's ``write`` + ``fsync``, renames it over the target and ``fsync``s the folder: a reader sees the old file or
the new one, never half of one; a full disk is an ``OSError`` (ENOSPC) and leaves the old file as it was. Loading
never suggests ``weights_only=False`` (which would run code from the file).
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import re
from pathlib import Path
from typing import Any

import torch

TEMP_NAME = re.compile(r"\.tmp(\d+)$")  # the suffix of temp_path's names; group 1 is the writer's pid


def temp_path(path: Path) -> Path:
    """The temp file an atomic write of ``path`` by this process uses (``.<name>.tmp<pid>``; a killed writer's
    leftovers are recognised by this suffix, :func:`lab5_utils.gan.run_folder.remove_stale_tmp`)."""
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def atomic_write(path: str | Path, data: bytes | str) -> Path:
    """Write ``data`` (``str`` as UTF-8) to ``path`` atomically, creating its folder; returns ``path``."""
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    payload = data.encode() if isinstance(data, str) else data
    try:
        with open(tmp, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        fsync_folder(path.parent)  # the rename itself survives a power cut only once the folder is on disk
    finally:
        if tmp.exists() or tmp.is_symlink():
            tmp.unlink()
    return path


def fsync_folder(folder: Path) -> None:
    """``fsync`` a folder (its entries: a rename into it), where the OS allows it (not on Windows)."""
    if os.name == "nt":
        return
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError as err:  # some mounts (network, 9p, drvfs) refuse fsync on a folder: the file itself is written
        if err.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF, errno.EACCES, errno.EPERM):
            raise
    finally:
        os.close(descriptor)


def save_torch(obj: Any, path: str | Path) -> Path:
    """``torch.save(obj)`` to ``path`` atomically (serialised in memory first, so a full disk raises ``OSError``,
    not torch's ``RuntimeError``)."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return atomic_write(path, buffer.getvalue())


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
    kind = describe_non_torch_file(path)
    if kind:
        raise ValueError(f"{path}: {kind}, not a torch file; expected a {what}{recovery}")
    try:
        return torch.load(path, weights_only=True, map_location=map_location)
    except Exception as err:  # unpickling errors come in many types
        raise ValueError(f"{path}: cannot be read as a {what}: {_reason(err)}{recovery}") from err


def describe_non_torch_file(path: Path) -> str | None:
    """What a file plainly is when it cannot be a torch checkpoint (an empty file, a text file and its first line);
    ``None`` when it might be one (a zip archive or binary data: ``torch.load`` says more)."""
    with open(path, "rb") as handle:
        head = handle.read(256)
    if not head:
        return "an empty file"
    if head.startswith(b"PK") or head[:1] == b"\x80":
        return None  # torch's zip format, or a legacy pickle
    text = head.decode("utf-8", errors="replace")
    body = text[:-4] if len(head) == 256 else text  # (a cut at 256 bytes may split the last character)
    if not body or not all(c.isprintable() or c in "\r\n\t" for c in body):
        return None
    first = text.strip().splitlines()[0][:60] if text.strip() else ""
    return f"a text file ({first!r})"


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes (names an exact judge, checkpoint or listing in logs and metrics)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
