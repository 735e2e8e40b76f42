"""Synthetic i-CLEVR: render a data set in the real layout, or fresh scenes for given conditions.

``python -m lab5_utils render --out DIR [--scenes N] [--seed S] [--width W --height H] [--workers K]`` writes

* ``DIR/images/CLEVR_train_{scene:06d}_{t}.png``: RGBA PNGs (alpha 255), frame ``t`` shows ``t + 1`` objects;
* ``DIR/objects.json``: the packaged course file;
* ``DIR/scenes.json``: per scene its camera, lamps and per frame each object's label, shape, colour, material,
  size, radius, position (x, y, z), rotation (degrees) and visible pixel count (output pixels, fractional:
  supersampled coverage; occlusion by the frame's other objects included);
* ``DIR/train.json``: file name -> label names, written last, so a folder without it is an interrupted render.

Scene ``k`` uses the label sequence of the real train.json's scene ``k`` (so 6,003 scenes reproduce the real label
statistics); further scenes get 3 random distinct labels. Each scene is seeded by ``(seed, k)``, so the output is
byte-identical for a seed whatever the worker count.
"""

from __future__ import annotations

import json
import math
import multiprocessing
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from lab5_utils.io import atomic_write
from lab5_utils.labels import package_file, read_json, validate_condition
from lab5_utils.synth.scene import COLOR_RGB, SHAPE_NAMES, Scene, SceneConfig, place_scene
from lab5_utils.synth.shade import render_scene

REAL_SCENES = 6003
FRAMES = 3
CHUNK = 24  # scenes per worker task
# Bumped whenever the renderer's output changes, so a cached render of an older renderer is never reused.
RENDERER_VERSION = 3
PNG_OPTIONS = {"format": "PNG", "compress_level": 6, "optimize": False}


def frame_name(scene: int, t: int) -> str:
    """``CLEVR_train_{scene:06d}_{t}.png``."""
    return f"CLEVR_train_{scene:06d}_{t}.png"


def real_sequences() -> list[list[str]]:
    """The packaged train.json's 6,003 label sequences (frame 2's labels), ordered by scene id."""
    data = read_json(package_file("train.json"))
    assert isinstance(data, dict)
    scenes: dict[int, list[str]] = {}
    for name, labels in data.items():
        if name.endswith("_2.png"):
            scenes[int(name.split("_")[2])] = list(labels)
    return [scenes[k] for k in sorted(scenes)]


def label_sequences(scenes: int, seed: int) -> list[list[str]]:
    """``scenes`` label sequences of 3 labels: the real ones first, then random distinct ones from ``seed``."""
    names = [f"{c} {s}" for s in SHAPE_NAMES for c in COLOR_RGB]
    sequences = real_sequences()[:scenes]
    for k in range(len(sequences), scenes):
        rng = np.random.default_rng([seed, k, 1])
        sequences.append([names[i] for i in rng.choice(len(names), size=FRAMES, replace=False)])
    return sequences


def _object_record(scene: Scene, i: int, pixels: float) -> dict:
    o = scene.objects[i]
    return {"label": o.label, "shape": o.shape, "color": o.color, "material": o.material, "size": o.size,
            "radius": o.radius, "position": [round(o.x, 4), round(o.y, 4), round(o.z, 4)],
            "rotation": round(math.degrees(o.theta), 3), "pixels": pixels}  # fmt: skip


def render_one(k: int, labels: list[str], seed: int, cfg: SceneConfig) -> tuple[list[np.ndarray], dict]:
    """Scene ``k``: its frames as ``(H, W, 3) uint8`` sRGB images and its scenes.json record."""
    scene = place_scene(labels, np.random.default_rng([seed, k]), cfg)
    rendered = render_scene(scene, cfg, list(range(len(labels))))
    frames = [
        {"image": frame_name(k, t), "objects": [_object_record(scene, i, px) for i, px in enumerate(counts)]}
        for t, (_, counts) in enumerate(rendered)
    ]
    record = {"scene": k, "camera": [round(c, 4) for c in scene.camera.position],
              "lights": [[round(c, 4) for c in lamp] for lamp in scene.lights], "frames": frames}  # fmt: skip
    return [image for image, _ in rendered], record


def write_png(path: Path, rgb: np.ndarray) -> None:
    """``(H, W, 3) uint8`` -> RGBA PNG with alpha 255 (like the real data), fixed compression settings."""
    alpha = np.full(rgb.shape[:2] + (1,), 255, dtype=np.uint8)
    Image.fromarray(np.concatenate([rgb, alpha], axis=2), "RGBA").save(path, **PNG_OPTIONS)


def _render_chunk(job: tuple[list[int], list[list[str]], int, SceneConfig, str]) -> list[dict]:
    scenes, sequences, seed, cfg, images = job
    records = []
    for k, labels in zip(scenes, sequences, strict=True):
        frames, record = render_one(k, labels, seed, cfg)
        for t, image in enumerate(frames):
            write_png(Path(images) / frame_name(k, t), image)
        records.append(record)
    return records


def render_dataset(
    out: str | Path,
    scenes: int = REAL_SCENES,
    seed: int = 0,
    width: int = 128,
    height: int = 96,
    workers: int = 2,
    progress: bool = True,
) -> Path:
    """Render ``scenes`` scenes (3 frames each) into ``out`` in the real i-CLEVR layout; returns ``out``.

    ``train.json`` is removed first and written last, so its presence marks a complete render.
    """
    for name, value in (("scenes", scenes), ("width", width), ("height", height), ("workers", workers)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    cfg = SceneConfig(width=int(width), height=int(height))
    scenes, workers = int(scenes), int(workers)
    out = Path(out)
    images = out / "images"
    images.mkdir(parents=True, exist_ok=True)
    (out / "train.json").unlink(missing_ok=True)
    sequences = label_sequences(scenes, seed)
    jobs = [
        (list(range(s, min(s + CHUNK, scenes))), sequences[s : s + CHUNK], seed, cfg, str(images))
        for s in range(0, scenes, CHUNK)
    ]
    records: list[dict] = []
    with tqdm(total=scenes * FRAMES, desc="render i-CLEVR", unit="img", disable=not progress) as bar:
        if workers == 1 or len(jobs) == 1:
            results = map(_render_chunk, jobs)
            pool = None
        else:
            pool = multiprocessing.get_context("spawn").Pool(min(workers, len(jobs)))
            results = pool.imap(_render_chunk, jobs)
        try:
            for chunk in results:
                records.extend(chunk)
                bar.update(len(chunk) * FRAMES)
        finally:
            if pool is not None:
                pool.terminate()
    (out / "objects.json").write_bytes(package_file("objects.json").read_bytes())
    atomic_write(out / "scenes.json", json.dumps(records, separators=(",", ":")))
    train = {f["image"]: [o["label"] for o in f["objects"]] for r in records for f in r["frames"]}
    atomic_write(out / "train.json", json.dumps(train))
    return out


def render_conditions(conditions: Sequence[Sequence[str]], seed: int, width: int = 128, height: int = 96) -> np.ndarray:
    """One fresh scene per condition with exactly its objects: ``(N, height, width, 3) uint8`` sRGB images.

    Condition ``i`` is seeded by ``(seed, i)``; bad conditions raise ``ValueError`` naming the condition.
    """
    if len(conditions) == 0:
        raise ValueError("render_conditions: no conditions")
    cfg = SceneConfig(width=width, height=height)
    images = []
    for i, condition in enumerate(conditions):
        labels = validate_condition(condition, f"condition {i}")
        scene = place_scene(labels, np.random.default_rng([seed, i]), cfg)
        images.append(render_scene(scene, cfg, [len(labels) - 1])[0][0])
    return np.stack(images)
