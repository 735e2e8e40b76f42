"""The objects of a scene, measured from its frames: where each one sits, how tall it looks, and the layout law.

An i-CLEVR scene is three frames: frame ``t`` holds ``t + 1`` objects and the earlier objects stay put (the real set
and our renderer alike; the real frames share their background pixel for pixel). So the pixels that change from
frame ``t - 1`` to frame ``t`` are object ``t`` and its shadow, and the labels of frame ``t`` are those of frame
``t - 1`` plus one. Object 0 has no earlier frame: it is what differs from the floor, the per-pixel median of the
first frames (the real set puts object 0 at one place, our renderer anywhere).

Everything here works on the uint8 arrays of :func:`lab5_utils.data.dataset.load_arrays`, sorted by file name, so
scene ``s``'s frames are rows ``3s, 3s + 1, 3s + 2``; rows that do not form such a triple (other data) are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lab5_utils.labels import MAX_OBJECTS

CHANGE_THRESHOLD = 30  # uint8 levels on the largest channel: measured on the real set, render noise and the soft
# shadow edge stay below it (99th percentile of an unchanged pixel: 1), object pixels above (median ~60)
MIN_AREA = 6  # pixels: a smaller change is not an object (a fully hidden one, or object 0 the colour of the floor)
FLOOR_SCENES = 2000  # first frames the floor median is taken over


@dataclass(frozen=True)
class SceneObjects:
    """Per scene and object (insertion order): ``classes (S, 3)`` class index, ``centre (S, 3, 2)`` (x, y) of the
    object's changed pixels in 64x64 pixel units (x right, y down), ``height (S, 3)`` and ``width (S, 3)`` of their
    bounding box, ``area (S, 3)`` pixels, ``found (S, 3)`` bool (area >= MIN_AREA), and ``rows (S, 3)`` the rows
    of the arrays the frames came from."""

    classes: np.ndarray
    centre: np.ndarray
    height: np.ndarray
    width: np.ndarray
    area: np.ndarray
    found: np.ndarray
    rows: np.ndarray

    def __len__(self) -> int:
        return len(self.classes)


def scene_triples(labels: torch.Tensor) -> np.ndarray:
    """Rows ``(S, 3)`` of consecutive frames that form a scene: 1, 2 and 3 objects, each frame's classes holding
    the previous frame's. ``labels: (N, 24)`` multi-hot in file-name order."""
    y = torch.as_tensor(labels) > 0.5
    n = len(y) - len(y) % MAX_OBJECTS
    if n == 0:
        return np.zeros((0, MAX_OBJECTS), dtype=np.int64)
    starts = np.arange(0, n, MAX_OBJECTS)
    frames = y[: n].view(-1, MAX_OBJECTS, y.shape[1])
    counts = frames.sum(-1)
    nested = (frames[:, 0] <= frames[:, 1]).all(-1) & (frames[:, 1] <= frames[:, 2]).all(-1)
    good = ((counts == torch.tensor([1, 2, 3])).all(-1) & nested).numpy()
    return starts[good, None] + np.arange(MAX_OBJECTS)


def changed_pixels(new: np.ndarray, old: np.ndarray, threshold: int = CHANGE_THRESHOLD) -> np.ndarray:
    """``(M, 3, H, W)`` frames (or a floor image that broadcasts) -> ``(M, H, W)`` bool: where the largest channel
    moved by more than ``threshold`` uint8 levels."""
    new, old = (x.astype(np.int16) if x.dtype == np.uint8 else x for x in (new, old))  # a float floor stays exact
    return np.abs(new - old).max(1) > threshold


def _box(mask: np.ndarray) -> tuple[np.ndarray, ...]:
    """``mask: (M, 64, 64)`` bool -> centre x, centre y, height, width, area (each ``(M,)``)."""
    ys, xs = np.mgrid[0: mask.shape[1], 0: mask.shape[2]]
    area = mask.sum((1, 2))
    safe = np.maximum(area, 1)
    cx, cy = (mask * xs).sum((1, 2)) / safe, (mask * ys).sum((1, 2)) / safe
    rows, cols = mask.any(2), mask.any(1)
    height = np.where(area > 0, mask.shape[1] - rows[:, ::-1].argmax(1) - rows.argmax(1), 0)
    width = np.where(area > 0, mask.shape[2] - cols[:, ::-1].argmax(1) - cols.argmax(1), 0)
    return cx, cy, height, width, area


def measure_objects(images: torch.Tensor, labels: torch.Tensor, threshold: int = CHANGE_THRESHOLD) -> SceneObjects:
    """Measure every object of every scene triple. ``images: (N, 3, 64, 64)`` uint8, ``labels: (N, 24)``, rows in
    file-name order (``load_arrays``). Scenes with no triple give an empty table."""
    rows = scene_triples(labels)
    y = torch.as_tensor(labels).numpy() > 0.5
    pixels = torch.as_tensor(images).numpy()
    s = len(rows)
    classes = np.zeros((s, MAX_OBJECTS), dtype=np.int64)
    centre = np.zeros((s, MAX_OBJECTS, 2))
    height, width, area = (np.zeros((s, MAX_OBJECTS)) for _ in range(3))
    if s:
        frames = [pixels[rows[:, t]].astype(np.int16) for t in range(MAX_OBJECTS)]
        floor = np.median(frames[0][:FLOOR_SCENES], axis=0)
        changed = [changed_pixels(frames[0], floor, threshold)]
        changed += [changed_pixels(frames[t], frames[t - 1], threshold) for t in (1, 2)]
        for t in range(MAX_OBJECTS):
            cx, cy, height[:, t], width[:, t], area[:, t] = _box(changed[t])
            centre[:, t] = np.stack([cx, cy], 1)
            new = y[rows[:, t]] & ~(y[rows[:, t - 1]] if t else np.zeros_like(y[rows[:, 0]]))
            classes[:, t] = new.argmax(1)
    return SceneObjects(classes, centre, height, width, area, area >= MIN_AREA, rows)


def fit_perspective(objects: SceneObjects) -> tuple[float, float]:
    """Least-squares ``height ~ a + b * y`` over the objects found by a frame difference (objects 1 and 2: their
    whole silhouette changes; object 0 is measured against a median floor and left out). Returns ``(a, b)``;
    ``b > 0`` when nearer objects (lower in the image) look taller."""
    found = objects.found[:, 1:]
    heights = objects.height[:, 1:][found]
    ys = objects.centre[:, 1:, 1][found]
    if len(heights) < 2 or np.ptp(ys) == 0:
        raise ValueError(f"fit_perspective: {len(heights)} measured objects; need at least 2 at different heights")
    b, a = np.polyfit(ys, heights, 1)
    return float(a), float(b)


def layout_table(objects: SceneObjects, size: int, seed: int) -> np.ndarray:
    """``size`` real layouts, ``(size, 3, 2)`` object centres (x, y) in pixels in insertion order, drawn with
    replacement (seeded) from the scenes whose three objects were all found: the joint law of where objects sit."""
    good = np.flatnonzero(objects.found.all(1))
    if len(good) == 0:
        raise ValueError("layout_table: no scene with all three objects measured")
    pick = np.random.default_rng(seed).choice(good, size=size, replace=len(good) < size)
    return objects.centre[pick].astype(np.float32)


def summarise(objects: SceneObjects, shape_of_class: np.ndarray) -> dict[str, dict[str, float]]:
    """Per shape (``shape_of_class[class] -> shape index``): the median height, width and area of the objects found
    by a frame difference, and their count. For tables beside the synthetic render's."""
    found = objects.found[:, 1:]
    shapes = shape_of_class[objects.classes[:, 1:]][found]
    out = {}
    for shape in np.unique(shapes):
        pick = shapes == shape
        out[int(shape)] = {"count": int(pick.sum()),
                           "height": float(np.median(objects.height[:, 1:][found][pick])),
                           "width": float(np.median(objects.width[:, 1:][found][pick])),
                           "area": float(np.median(objects.area[:, 1:][found][pick]))}
    return out


def crop_boxes(images: torch.Tensor, centres: torch.Tensor, sides: torch.Tensor, size: int) -> torch.Tensor:
    """The square boxes ``centres (M, 2)`` (x, y pixels) of side ``sides (M,)`` pixels, cut out of ``images (M, C,
    64, 64)`` float and resampled to ``(M, C, size, size)`` (bilinear; zeros outside the image). The inverse of the
    placement in :mod:`lab5_utils.gan.models.sprite`."""
    m, _, h, w = images.shape
    theta = torch.zeros(m, 2, 3, dtype=images.dtype)
    theta[:, 0, 0], theta[:, 1, 1] = sides / w, sides / h
    theta[:, 0, 2] = (centres[:, 0] + 0.5) * 2 / w - 1
    theta[:, 1, 2] = (centres[:, 1] + 0.5) * 2 / h - 1
    grid = torch.nn.functional.affine_grid(theta, [m, images.shape[1], size, size], align_corners=False)
    return torch.nn.functional.grid_sample(images, grid, align_corners=False)


def appearance(images: torch.Tensor, objects: SceneObjects, box: float, size: int,
               threshold: int = CHANGE_THRESHOLD) -> dict[str, torch.Tensor]:
    """What the objects look like, averaged over the objects a frame difference isolates (objects 1 and 2), each
    cut out in a box ``box`` times its expected height (:func:`fit_perspective`) at its centre:

    * ``albedo (8, 3)``: mean RGB in [0, 1] of each colour's object pixels (class index = shape * 8 + colour);
    * ``cover (3, size, size)``: per shape, the fraction of objects covering each canvas pixel;
    * ``shading (3, size, size)``: per shape, object brightness over its colour's mean brightness (1 = average);
    * ``shadow (3, size, size)``: per shape, how much darker the floor got where the object is not (0..1).
    """
    a, b = fit_perspective(objects)
    pixels = torch.as_tensor(images)
    found = np.argwhere(objects.found[:, 1:])  # (M, 2): scene, object - 1
    s, t = found[:, 0], found[:, 1] + 1
    new = pixels[torch.from_numpy(objects.rows[s, t])].float() / 255.0
    old = pixels[torch.from_numpy(objects.rows[s, t - 1])].float() / 255.0
    changed = ((new - old).abs().amax(1, keepdim=True) > threshold / 255.0).float()
    darker = ((old.mean(1, keepdim=True) - new.mean(1, keepdim=True)) / old.mean(1, keepdim=True).clamp_min(0.05))
    centres = torch.from_numpy(objects.centre[s, t]).float()
    sides = box * (a + b * centres[:, 1])
    crops = crop_boxes(torch.cat([new, changed, (darker * (1 - changed)).clamp(0, 1)], 1), centres, sides, size)
    rgb, mask, shade = crops[:, :3], crops[:, 3:4], crops[:, 4:5]
    classes = torch.from_numpy(objects.classes[s, t])
    shape, colour = classes // 8, classes % 8
    object_rgb = (rgb * mask).sum((2, 3)) / mask.sum((2, 3)).clamp_min(1e-6)  # (M, 3)
    albedo = torch.stack([object_rgb[colour == c].mean(0) if (colour == c).any() else object_rgb.mean(0)
                          for c in range(8)])  # a colour never isolated: the mean of all
    brightness = rgb.mean(1, keepdim=True) / albedo[colour].mean(1)[:, None, None, None].clamp_min(0.02)
    out = {"albedo": albedo, "cover": [], "shading": [], "shadow": []}
    for k in range(3):
        pick = shape == k if (shape == k).any() else torch.ones_like(shape, dtype=torch.bool)
        out["cover"].append(mask[pick, 0].mean(0))
        out["shading"].append((brightness[pick, 0] * mask[pick, 0]).sum(0) / mask[pick, 0].sum(0).clamp_min(1e-6))
        out["shadow"].append(shade[pick, 0].mean(0))
    return {key: torch.stack(value) if isinstance(value, list) else value for key, value in out.items()}


def statistics(images: torch.Tensor, labels: torch.Tensor) -> dict[str, float | int]:
    """A data folder's object statistics, for tables that put the real set beside a render: per shape the median
    height, width and area of the objects a frame difference isolates (pixels at 64x64), where object 0 sits
    (median x, y), how far objects 1-2 sit from it (5th / 50th / 95th percentile; and their x and y offsets, 5th and
    95th percentile), the perspective fit, the brightest object pixel (99th percentile of the largest channel,
    0-255), the floor's mean brightness (median first frame) in the top, middle and bottom rows and at the left of
    the middle (the real set's bright patch), and the pixel noise (:func:`neighbour_noise`)."""
    objects = measure_objects(images, labels)
    if not len(objects):
        raise ValueError("statistics: no scene of three frames (_0/_1/_2) to measure")
    out: dict[str, float | int] = {"scenes": len(objects)}
    for shape, row in summarise(objects, np.arange(24) // 8).items():
        name = ("cube", "sphere", "cylinder")[shape]
        out.update({f"{name}_height": row["height"], f"{name}_width": row["width"], f"{name}_area": row["area"]})
    first = objects.centre[objects.found[:, 0], 0]
    out["object0_x"], out["object0_y"] = (float(v) for v in np.median(first, axis=0))
    ring = np.linalg.norm(objects.centre[:, 1:] - objects.centre[:, :1], axis=-1)[objects.found.all(1)]
    out["ring_p5"], out["ring_p50"], out["ring_p95"] = (float(v) for v in np.percentile(ring, [5, 50, 95]))
    out["height_a"], out["height_b"] = fit_perspective(objects)
    pixels = torch.as_tensor(images).numpy()
    last = pixels[objects.rows[:, 2]]
    changed = changed_pixels(last, pixels[objects.rows[:, 0]])
    out["object_brightest"] = float(np.percentile(last.max(1)[changed], 99))
    floor = np.median(pixels[objects.rows[:FLOOR_SCENES, 0]], axis=0).mean(0)
    out["floor_top"], out["floor_bottom"] = float(floor[:8].mean()), float(floor[-8:].mean())
    out["floor_middle"], out["floor_left"] = float(floor[28:36].mean()), float(floor[24:36, :8].mean())
    offsets = (objects.centre[:, 1:] - objects.centre[:, :1])[objects.found.all(1)].reshape(-1, 2)
    out["offset_x_p5"], out["offset_x_p95"] = (float(v) for v in np.percentile(offsets[:, 0], [5, 95]))
    out["offset_y_p5"], out["offset_y_p95"] = (float(v) for v in np.percentile(offsets[:, 1], [5, 95]))
    out["noise_sd"] = neighbour_noise(pixels[objects.rows[:FLOOR_SCENES, 0]])
    return out


def neighbour_noise(images: np.ndarray, rows: int = 12) -> float:
    """Pixel noise: the sd of horizontal neighbour differences over ``sqrt(2)`` (levels), on the top ``rows`` rows
    of ``images (N, 3, H, W)`` uint8 (floor only, no object there in either set; its slow gradient adds ~0.3)."""
    top = images[:, :, :rows].astype(np.float64)
    return float(np.std(top[..., 1:] - top[..., :-1]) / np.sqrt(2.0))
