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

import dataclasses
import json
import multiprocessing
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from lab5_utils.io import atomic_write
from lab5_utils.labels import package_file, read_json, validate_condition
from lab5_utils.synth.frames import exit_with_parent, render_chunk
from lab5_utils.synth.scene import COLOR_RGB, SHAPE_NAMES, SceneConfig, place_scene
from lab5_utils.synth.shade import render_scene

REAL_SCENES = 6003
FRAMES = 3
CHUNK = 24  # scenes per worker task
# Bumped whenever the renderer's output changes, so a cached render of an older renderer is never reused.
RENDERER_VERSION = 4
# Every renderer that can still render: v3 (two enlarged sizes, rubber and metal, uniform placement, jittered camera
# and lamps, lit grey floor; 128x96) and v4, calibrated to the real i-CLEVR (benchmarks/calibrate_v4.py): one size,
# rubber, CLEVR's camera and lamps fixed, object 0 at the centre and the others on a ring, the real floor, exposure
# and noise. Its rays are cast at the course's 320x240, box-averaged to 160x120 PNGs (a quarter of the disk: the
# noise does not compress), which the loader squashes to 64x64 as the course's loader squashes 320x240.
RENDERERS: dict[int, SceneConfig] = {
    3: SceneConfig(),
    4: SceneConfig(width=160, height=120, supersample=2, sizes=(("large", 0.7),), materials=("rubber",),
                   shape_scale=(("cube", 1.15), ("sphere", 0.8), ("cylinder", 0.8)), camera_jitter=0.0,
                   light_jitter=0.0, placement="ring", ring_radius=3.1, ring_jitter=0.7, min_gap=0.5,
                   min_pixel_fraction=20.0 / (64 * 64), min_visible_fraction=0.5, look="real", noise_sd=7.0),
}


def scene_config(renderer: int = RENDERER_VERSION, width: int | None = None, height: int | None = None) -> SceneConfig:
    """Renderer ``renderer``'s settings, at ``width x height`` if given; an unknown version raises ``ValueError``."""
    if renderer not in RENDERERS:
        raise ValueError(f"unknown renderer v{renderer}; known: {', '.join(f'v{v}' for v in RENDERERS)}")
    cfg = RENDERERS[renderer]
    return dataclasses.replace(cfg, width=int(width or cfg.width), height=int(height or cfg.height))


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


def render_dataset(
    out: str | Path,
    scenes: int = REAL_SCENES,
    seed: int = 0,
    width: int | None = None,
    height: int | None = None,
    workers: int = 2,
    progress: bool = True,
    renderer: int = RENDERER_VERSION,
) -> Path:
    """Render ``scenes`` scenes (3 frames each) into ``out`` in the real i-CLEVR layout; returns ``out``.

    ``train.json`` is removed first and written last, so its presence marks a complete render.
    """
    for name, value in (("scenes", scenes), ("width", width), ("height", height), ("workers", workers)):
        if value is None and name in ("width", "height"):
            continue
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    cfg = scene_config(renderer, width, height)
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
            results = map(render_chunk, jobs)
            pool = None
        else:
            pool = multiprocessing.get_context("spawn").Pool(min(workers, len(jobs)), initializer=exit_with_parent)
            results = pool.imap(render_chunk, jobs)
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


def render_conditions(conditions: Sequence[Sequence[str]], seed: int, width: int | None = None,
                      height: int | None = None, renderer: int = RENDERER_VERSION) -> np.ndarray:
    """One fresh scene per condition with exactly its objects: ``(N, height, width, 3) uint8`` sRGB images (the
    renderer's own size unless given).

    Condition ``i`` is seeded by ``(seed, i)``; bad conditions raise ``ValueError`` naming the condition.
    """
    if len(conditions) == 0:
        raise ValueError("render_conditions: no conditions")
    cfg = scene_config(renderer, width, height)
    images = []
    for i, condition in enumerate(conditions):
        labels = validate_condition(condition, f"condition {i}")
        scene = place_scene(labels, np.random.default_rng([seed, i]), cfg)
        images.append(render_scene(scene, cfg, [len(labels) - 1], noise_seed=[seed, i, 7])[0][0])
    return np.stack(images)
