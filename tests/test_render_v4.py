"""Renderer v4 (calibrated to the real i-CLEVR) beside v3: the placement law, the real look, the noise, the choice
of renderer, and the floor fit. Small renders; the calibration itself is measured by benchmarks/calibrate_v4.py."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from lab5_utils.cli.data import main_render
from lab5_utils.synth import frames, look, render
from lab5_utils.synth.scene import SceneConfig, place_scene

V4 = dataclasses.replace(render.RENDERERS[4], width=160, height=120)  # half size: the same law, faster


def test_v4_puts_object_0_at_the_centre_and_the_later_ones_on_the_ring() -> None:
    for k, labels in enumerate(render.label_sequences(10, 0)):
        scene = place_scene(labels, np.random.default_rng([3, k]), V4)
        first, *later = scene.objects
        assert (first.x, first.y) == (0.0, 0.0)
        for obj in later:
            assert abs(math.hypot(obj.x, obj.y) - V4.ring_radius) <= V4.ring_jitter + 1e-9
        assert {o.material for o in scene.objects} == {"rubber"}
        scale = dict(V4.shape_scale)
        assert all(math.isclose(o.radius, V4.sizes[0][1] * scale[o.shape]) for o in scene.objects)


def test_v3_placement_is_unchanged_uniform_and_mixed() -> None:
    cfg = SceneConfig(width=64, height=48)
    objects = [o for k, labels in enumerate(render.label_sequences(12, 0))
               for o in place_scene(labels, np.random.default_rng([3, k]), cfg).objects]
    assert {o.material for o in objects} == {"rubber", "metal"} and len({o.size for o in objects}) == 2
    assert not any(o.x == 0.0 and o.y == 0.0 for o in objects)


def test_v4_frames_share_their_noise_and_a_seed_gives_the_same_images() -> None:
    labels = ["red cube", "blue sphere", "yellow cylinder"]
    first, record = frames.render_one(0, labels, 5, V4)
    again, _ = frames.render_one(0, labels, 5, V4)
    other, _ = frames.render_one(0, labels, 6, V4)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[0], other[0])
    top = slice(0, 12)  # floor only: the frames of one scene share their background pixel for pixel
    assert np.array_equal(first[0][top], first[2][top])
    assert np.std(first[0][top].astype(float)) > 2.0  # and it is noisy (a noiseless top row varies by ~1 level)
    assert [len(f["objects"]) for f in record["frames"]] == [1, 2, 3]


def test_v4_looks_like_the_real_set_dim_objects_on_a_floor_darker_at_the_top() -> None:
    images = render.render_conditions([["yellow sphere"], ["cyan cube", "gray cylinder"]], seed=0, width=160,
                                      height=120)
    assert images.shape == (2, 120, 160, 3)
    rows = images.astype(float).mean(axis=(0, 2, 3))
    assert rows[:10].mean() + 20 < rows[-10:].mean()  # real: 105 at the top, 140 at the bottom
    assert images.max() < 230  # real: no object pixel above ~170 (v3 reaches 255)
    v3 = render.render_conditions([["yellow sphere"]], seed=0, renderer=3)
    assert v3.shape == (1, 96, 128, 3) and v3.max() == 255


def test_an_unknown_renderer_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="unknown renderer v7; known: v3, v4"):
        render.scene_config(7)
    with pytest.raises(SystemExit):
        main_render(["--out", str(tmp_path / "x"), "--scenes", "1", "--renderer", "v7", "--no-progress"])
    assert "unknown renderer 'v7'; known: v3, v4" in capsys.readouterr().err
    for field, value in (("placement", "grid"), ("look", "film"), ("materials", ("glass",))):
        with pytest.raises(ValueError, match=field):
            SceneConfig(**{field: value})


def test_the_render_command_takes_the_renderer_and_its_size(tmp_path: Path) -> None:
    assert main_render(["--out", str(tmp_path / "v3"), "--scenes", "1", "--renderer", "v3", "--workers", "1",
                        "--no-progress"]) == 0
    from PIL import Image

    with Image.open(tmp_path / "v3" / "images" / frames.frame_name(0, 0)) as image:
        assert image.size == (128, 96)


def test_floor_fit_recovers_a_known_polynomial_and_the_stored_floor_has_the_real_shape() -> None:
    rng = np.random.default_rng(0)
    truth = rng.normal(0.0, 2.0, size=(3, len(look.floor_terms())))
    truth[:, 0] = 120.0
    floor = look.floor_levels(64, 64, truth).transpose(2, 0, 1)
    keep = np.ones((64, 64), dtype=bool)
    keep[20:34, 24:40] = False  # the central object is masked out of the real fit
    fitted = look.fit_floor(floor, keep)
    unclipped = (floor > 0).all() and (floor < 255).all()
    assert unclipped and np.abs(fitted - truth).max() < 1e-6 * np.abs(truth).max()
    stored = look.floor_levels(64, 64).mean(-1)
    assert stored[:8].mean() < stored[28:36].mean() < stored[-8:].mean()  # darker at the top, lighter at the bottom
    assert stored[24:36, :8].mean() > stored[40:50, :8].mean() + 5  # the bright patch at the left (real: 133, 123)
    assert not look.floor_linear(32, 24).flags.writeable  # cached: shared by every scene


def test_v3_renders_as_it_did_before_v4_so_its_caches_stay_valid() -> None:
    """tests/data/v3_render_seed0_64x48.npy was rendered by the code before v4 (commit 4483185). The same call
    now gives the same images: exactly on that machine; within one level on any pixel elsewhere (numpy's
    vectorised pow may round differently on another CPU)."""
    before = np.load(Path(__file__).parent / "data" / "v3_render_seed0_64x48.npy")
    now = render.render_conditions([["red cube", "blue sphere", "yellow cylinder"], ["gray cylinder"],
                                    ["cyan sphere", "purple cube"]], seed=0, width=64, height=48, renderer=3)
    assert now.shape == before.shape
    assert np.abs(now.astype(int) - before.astype(int)).max() <= 1
