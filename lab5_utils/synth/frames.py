"""One scene's frames, rendered and written: what a render worker process runs. It imports numpy and PIL only
(never torch, which every other floor of the package loads), so the spawned workers of
:func:`lab5_utils.synth.render.render_dataset` start in a fraction of a second and stay small.
"""

from __future__ import annotations

import math
import multiprocessing
import multiprocessing.connection
import os
import threading
from pathlib import Path

import numpy as np
from PIL import Image

from lab5_utils.synth.scene import Scene, SceneConfig, place_scene
from lab5_utils.synth.shade import render_scene

PNG_OPTIONS = {"format": "PNG", "compress_level": 6, "optimize": False}


def frame_name(scene: int, t: int) -> str:
    """``CLEVR_train_{scene:06d}_{t}.png``."""
    return f"CLEVR_train_{scene:06d}_{t}.png"


def _object_record(scene: Scene, i: int, pixels: float) -> dict:
    o = scene.objects[i]
    return {"label": o.label, "shape": o.shape, "color": o.color, "material": o.material, "size": o.size,
            "radius": o.radius, "position": [round(o.x, 4), round(o.y, 4), round(o.z, 4)],
            "rotation": round(math.degrees(o.theta), 3), "pixels": pixels}  # fmt: skip


def render_one(k: int, labels: list[str], seed: int, cfg: SceneConfig) -> tuple[list[np.ndarray], dict]:
    """Scene ``k``: its frames as ``(H, W, 3) uint8`` sRGB images and its scenes.json record."""
    scene = place_scene(labels, np.random.default_rng([seed, k]), cfg)
    rendered = render_scene(scene, cfg, list(range(len(labels))), noise_seed=[seed, k, 7])
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


def render_chunk(job: tuple[list[int], list[list[str]], int, SceneConfig, str]) -> list[dict]:
    """A worker's task: ``(scene ids, their label sequences, seed, config, image folder)`` -> their records."""
    scenes, sequences, seed, cfg, images = job
    records = []
    for k, labels in zip(scenes, sequences, strict=True):
        frames, record = render_one(k, labels, seed, cfg)
        for t, image in enumerate(frames):
            write_png(Path(images) / frame_name(k, t), image)
        records.append(record)
    return records


def exit_with_parent() -> None:
    """Render pool initializer: the worker exits as soon as the process that started it dies (``kill -9``
    included), instead of rendering on into a folder nobody will complete and printing broken-pipe tracebacks."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
