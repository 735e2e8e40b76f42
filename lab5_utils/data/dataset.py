"""The i-CLEVR data layer: a folder with ``train.json`` + PNGs -> uint8 tensors, cached once on disk.

Layout (real and synthetic alike): ``train.json`` maps ``CLEVR_train_{scene:06d}_{t}.png`` to a list of 1-3
label names; it sits in ``root/`` (our renderer, the course zip) or ``root/label/`` (the public 64x64 copy of the
real set), with ``objects.json`` beside it if at all; the images sit in ``root/images/`` (our renderer),
``root/image/`` (the 64x64 copy), ``root/iclevr/`` (the course zip) or ``root/`` itself.
Images are read like the course loaders: ``Image.open(p).convert('RGB')`` (RGBA loses
its alpha, L is replicated), then resized straight to ``size x size`` (4:3 squashed, no crop) with PIL's
bilinear filter, which is what ``torchvision.transforms.Resize((64, 64))`` does to a PIL image (bilinear
with antialiasing), so our 64x64 tensors match what the course evaluator was trained on.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from lab5_utils.image_ops import RESAMPLE, to_signed
from lab5_utils.io import save_torch
from lab5_utils.labels import encode, load_objects, read_json
from lab5_utils.paths import cache_dir

IMAGE_DIR_CANDIDATES = ("images", "image", "iclevr", ".")
LISTING_DIR_CANDIDATES = (".", "label", "labels")
WIDE_MODES = ("I", "I;16", "I;16B", "I;16L", "F")


class WideImageWarning(UserWarning):
    """A 16-bit or float image, read (clipped) as the course's loaders read it."""


CACHE_VERSION = 1
_FILENAME = re.compile(r"CLEVR_train_(\d+)_(\d+)\.png$")


def scene_of(filename: str) -> int:
    """Scene id of ``CLEVR_train_000123_2.png`` (123); raises ValueError for other names."""
    match = _FILENAME.search(filename)
    if match is None:
        raise ValueError(f"{filename!r}: not a CLEVR_train_<scene>_<frame>.png name")
    return int(match.group(1))


def listing_path(root: str | Path) -> Path:
    """The data folder's ``train.json``: ``root/train.json`` or ``root/label/train.json`` (the public 64x64 copy's
    layout); a folder with neither raises ``FileNotFoundError`` naming what was looked for."""
    root = Path(root).expanduser()
    for folder in LISTING_DIR_CANDIDATES:
        if (root / folder / "train.json").is_file():
            return root / folder / "train.json"  # pathlib drops the "." of the folder itself
    tried = " or ".join(str(root / f / "train.json") for f in LISTING_DIR_CANDIDATES[1:])
    raise FileNotFoundError(f"{root / 'train.json'}: data folder has no train.json (nor {tried})")


def rows_outside(filenames: list[str], scenes: frozenset[int]) -> list[int]:
    """Indices of the ``CLEVR_train_<scene>_<frame>.png`` names whose scene is not in ``scenes`` (a judge's held-out
    scenes, kept out of training)."""
    return [i for i, name in enumerate(filenames) if scene_of(name) not in scenes]


def find_image_dir(root: Path, filenames: list[str], probe: int = 16) -> Path:
    """The folder under ``root`` holding the images: the candidate with the most of the first ``probe`` listed
    files (one missing file does not hide the folder; it is reported, or skipped, when it is read)."""
    sample = filenames[:probe]
    found = {c: sum((root / c / f).is_file() for f in sample) for c in IMAGE_DIR_CANDIDATES}
    best = max(found, key=lambda c: found[c])  # ties: the earlier candidate
    if found[best] == 0:
        tried = ", ".join(str(root / c) for c in IMAGE_DIR_CANDIDATES)
        raise FileNotFoundError(f"{listing_path(root)}: none of its first {len(sample)} entries ({sample[0]!r}, "
                                f"...) is in any of {tried}")
    return (root / best).resolve()


def read_listing(root: Path) -> dict[str, list[str]]:
    """The folder's ``train.json`` (:func:`listing_path`) validated: every key a file name, every value a valid
    condition."""
    path = listing_path(root)
    listing = read_json(path)
    if not isinstance(listing, dict) or not listing:
        raise ValueError(f"{path}: expected a non-empty dict of image file name -> label list")
    objects_file = path.parent / "objects.json"
    objects = load_objects(objects_file) if objects_file.is_file() else load_objects()
    if objects != load_objects():
        raise ValueError(f"{objects_file}: differs from the course's objects.json (24 classes)")
    for filename, labels in listing.items():
        encode(labels, where=f"{path}, entry {filename!r}")
    return listing


def decode_image(path: Path, size: int) -> torch.Tensor:
    """One image file -> uint8 ``(3, size, size)``; a missing or undecodable file raises an error naming it."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: image listed in train.json is missing")
    try:
        with Image.open(path) as image:
            if image.mode in WIDE_MODES:  # the course's convert('RGB') clips 16-bit grey to white: so do we
                warnings.warn(f"{path}: {image.mode} (16-bit or float) image; convert('RGB') clips it, as the "
                              "course loaders do, so it reads mostly white", WideImageWarning, stacklevel=2)
            rgb = image.convert("RGB").resize((size, size), RESAMPLE)
    except Image.DecompressionBombError as err:
        raise ValueError(f"{path}: refused, its header claims more pixels than PIL's safety limit ({err})") from err
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise ValueError(f"{path}: corrupt or unreadable image ({err})") from err
    return torch.frombuffer(bytearray(rgb.tobytes()), dtype=torch.uint8).view(size, size, 3).permute(2, 0, 1).clone()


def _image_stats(root: Path) -> tuple[dict[str, list[str]], Path, list[tuple[str, os.stat_result | None]]]:
    """The validated listing, the image folder and each listed image's ``stat`` (None when missing), by name."""
    listing = read_listing(root)
    image_dir = find_image_dir(root, sorted(listing))
    stats = []
    for filename in sorted(listing):
        try:
            stats.append((filename, (image_dir / filename).stat()))
        except FileNotFoundError:
            stats.append((filename, None))
    return listing, image_dir, stats


def cache_key(root: Path, size: int) -> str:
    """Hash of the listing, each image's size and mtime, and the resize settings: changes -> new cache."""
    listing, _, stats = _image_stats(root)
    digest = hashlib.sha256(json.dumps([CACHE_VERSION, size, RESAMPLE.name], sort_keys=True).encode())
    digest.update(json.dumps(listing, sort_keys=True).encode())
    for filename, stat in stats:
        digest.update((f"{filename}:missing;" if stat is None
                       else f"{filename}:{stat.st_size}:{stat.st_mtime_ns};").encode())
    return digest.hexdigest()


def content_key(root: Path) -> str:
    """Hash of what a folder holds, not where it is or when it was written: the listing, the image folder's name
    under ``root`` and each listed image's size. A copied or moved folder keeps its key; a re-rendered one (other
    listing or other image bytes sizes) gets a new one. Keys caches that are slow to rebuild (the judges, the aux
    classifier) and the metrics a run measured."""
    listing, image_dir, stats = _image_stats(root)
    digest = hashlib.sha256(json.dumps([listing, image_dir.name if image_dir != root.resolve() else "."],
                                       sort_keys=True).encode())
    for filename, stat in stats:
        digest.update(f"{filename}:{'missing' if stat is None else stat.st_size};".encode())
    return digest.hexdigest()


def _build_arrays(
    root: Path, size: int, skip_bad: bool, progress: bool
) -> tuple[torch.Tensor, torch.Tensor, list[str], list[str]]:
    listing = read_listing(root)
    filenames = sorted(listing)
    image_dir = find_image_dir(root, filenames)
    images, kept, skipped = [], [], []
    with warnings.catch_warnings(record=True) as wide:  # one warning for all 16-bit images, naming the first
        warnings.simplefilter("always", WideImageWarning)
        for filename in tqdm(filenames, desc=f"decoding {root.name}", disable=not progress, unit="img"):
            try:
                images.append(decode_image(image_dir / filename, size))
                kept.append(filename)
            except (FileNotFoundError, ValueError):
                if not skip_bad:
                    raise
                skipped.append(filename)
    for other in (w for w in wide if not issubclass(w.category, WideImageWarning)):
        warnings.warn(other.message, other.category, stacklevel=3)
    wide = [w for w in wide if issubclass(w.category, WideImageWarning)]
    if wide:
        warnings.warn(f"{wide[0].message} ({len(wide)} such image(s) in {listing_path(root)})", WideImageWarning,
                      stacklevel=3)
    if not kept:
        raise ValueError(f"{root}: no readable images")
    labels = torch.stack([encode(listing[f]) for f in kept])
    return torch.stack(images), labels, kept, skipped


def load_arrays(
    root: str | Path,
    size: int = 64,
    *,
    cache: bool = True,
    skip_bad: bool = False,
    progress: bool = True,
    cache_root: Path | None = None,
) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """All images of a data folder as ``(images uint8 (N,3,size,size), labels float32 (N,24), filenames)``.

    With ``cache`` the decoded set is stored once under ``cache_root`` (default ``paths.cache_dir()/datasets``)
    in a file named by :func:`cache_key`, so later loads take seconds and any change of the listing,
    the images or the resize settings builds a new cache. ``skip_bad`` skips missing/corrupt images
    with one warning that counts them; otherwise the first bad image raises an error naming it.
    """
    root = Path(root)
    if size <= 0:
        raise ValueError(f"size must be positive, got {size}")
    cache_file = None
    if cache:
        folder = cache_root or cache_dir() / "datasets"
        cache_file = folder / f"iclevr_{size}px_{'skip' if skip_bad else 'strict'}_{cache_key(root, size)[:24]}.pt"
        if cache_file.is_file():
            try:
                saved = torch.load(cache_file, weights_only=True, map_location="cpu")
                _warn_skipped(root, saved["skipped"])
                return saved["images"], saved["labels"], list(saved["filenames"])
            except Exception as err:  # a truncated or foreign file: say so, then rebuild it
                warnings.warn(f"{cache_file}: unreadable cache ({type(err).__name__}: {err}); rebuilding it",
                              stacklevel=2)
    images, labels, filenames, skipped = _build_arrays(root, size, skip_bad, progress)
    _warn_skipped(root, skipped)
    if cache_file is not None:
        save_torch({"images": images, "labels": labels, "filenames": filenames, "skipped": skipped}, cache_file)
    return images, labels, filenames


def _warn_skipped(root: Path, skipped: list[str]) -> None:
    if skipped:
        shown = ", ".join(skipped[:5]) + (" ..." if len(skipped) > 5 else "")
        warnings.warn(f"{root}: skipped {len(skipped)} missing or corrupt image(s): {shown}", stacklevel=3)


class ICLEVR(Dataset):
    """i-CLEVR as a torch Dataset: item ``i`` -> ``(x (3,size,size) float32 in [-1,1], y (24,) float32 multi-hot)``.

    ``cache=True`` (default) holds the whole uint8 set in memory from :func:`load_arrays`; ``cache=False``
    decodes the PNG on every access (slow; kept for comparison and for huge folders).
    """

    def __init__(self, root: str | Path, size: int = 64, *, cache: bool = True, skip_bad: bool = False,
                 progress: bool = True, cache_root: Path | None = None) -> None:
        self.root, self.size, self.cache = Path(root), size, cache
        if cache:
            self.images, self.labels, self.filenames = load_arrays(
                root, size, skip_bad=skip_bad, progress=progress, cache_root=cache_root)
        else:
            listing = read_listing(self.root)
            self.filenames = sorted(listing)
            self.labels = torch.stack([encode(listing[f]) for f in self.filenames])
            self.image_dir = find_image_dir(self.root, self.filenames)

    def __len__(self) -> int:
        return len(self.filenames)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.cache:
            image = self.images[index]
        else:
            image = decode_image(self.image_dir / self.filenames[index], self.size)
        return to_signed(image), self.labels[index]
