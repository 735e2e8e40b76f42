"""Toy i-CLEVR scenes for tests: three frames per scene (1, 2, 3 objects, earlier ones stay put), drawn as flat
rectangles of each class's colour on a grey floor whose brightness grows downwards; an object's height grows with
its depth as ``HEIGHT_A + HEIGHT_B * y`` and its width is the shape's. Object 0 sits near the centre."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from lab5_utils.labels import NUM_CLASSES, package_file

HEIGHT_A, HEIGHT_B = 4.0, 0.25
WIDTHS = (9, 6, 7)  # cube, sphere, cylinder
COLOURS = np.array([[60, 60, 60], [200, 40, 40], [40, 60, 210], [40, 190, 60], [150, 90, 30], [160, 40, 170],
                    [40, 200, 200], [220, 210, 40]], dtype=np.uint8)


def draw_scenes(n_scenes: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, list[str], np.ndarray]:
    """``(images uint8 (3n, 3, 64, 64), labels (3n, 24), file names, centres (n, 3, 2))`` in file-name order."""
    rng = np.random.default_rng(seed)
    floor = np.broadcast_to(np.linspace(90, 150, 64)[:, None, None], (64, 64, 3)).astype(np.uint8)
    images, labels, names, centres = [], [], [], np.zeros((n_scenes, 3, 2))
    for s in range(n_scenes):
        classes = rng.choice(NUM_CLASSES, size=3, replace=False)
        frame, y = floor.copy(), torch.zeros(NUM_CLASSES)
        spots = [(31.0 + rng.uniform(-1, 1), 27.0 + rng.uniform(-1, 1))]
        for angle in rng.permutation([0.5, 2.6, 4.4])[:2] + rng.uniform(-0.3, 0.3, 2):
            radius = rng.uniform(15, 20)
            spots.append((spots[0][0] + radius * np.cos(angle), spots[0][1] + radius * np.sin(angle)))
        for t, (cls, (x, yy)) in enumerate(zip(classes, spots, strict=True)):
            h, w = round(HEIGHT_A + HEIGHT_B * yy), WIDTHS[cls // 8]
            top, left = round(yy - h / 2), round(x - w / 2)
            frame[top:top + h, left:left + w] = COLOURS[cls % 8]
            centres[s, t] = (x, yy)
            y[cls] = 1.0
            images.append(torch.from_numpy(frame.copy()).permute(2, 0, 1))
            labels.append(y.clone())
            names.append(f"CLEVR_train_{s:06d}_{t}.png")
    return torch.stack(images), torch.stack(labels), names, centres


def write_scenes(root: Path, n_scenes: int, seed: int = 0, layout: str = "images") -> Path:
    """The toy scenes as a data folder: ``layout="images"`` (our renderer's: ``images/`` + ``train.json``) or
    ``"label"`` (the public 64x64 copy's: ``image/`` + ``label/train.json``)."""
    images, labels, names, _ = draw_scenes(n_scenes, seed)
    inverse = {v: k for k, v in json.loads(package_file("objects.json").read_text()).items()}
    image_dir = root / ("images" if layout == "images" else "image")
    listing_dir = root if layout == "images" else root / "label"
    image_dir.mkdir(parents=True)
    listing_dir.mkdir(parents=True, exist_ok=True)
    listing = {}
    for name, image, row in zip(names, images, labels, strict=True):
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(image_dir / name)
        listing[name] = [inverse[int(i)] for i in torch.nonzero(row).flatten()]
    (listing_dir / "train.json").write_text(json.dumps(listing))
    return root
