"""Objects measured from scene frames (lab5_utils.data.objects), on toy scenes whose truth is known, and the data
folder layouts (the renderer's and the public 64x64 copy's)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from scenes import COLOURS, HEIGHT_A, HEIGHT_B, draw_scenes, write_scenes

from lab5_utils.data import objects as O
from lab5_utils.data.dataset import listing_path, load_arrays
from lab5_utils.gan.stream import random_dataset


def test_scene_triples_need_three_nested_frames() -> None:
    images, labels, _, _ = draw_scenes(4)
    assert O.scene_triples(labels).tolist() == [[3 * s, 3 * s + 1, 3 * s + 2] for s in range(4)]
    swapped = labels.clone()
    swapped[[3, 4]] = swapped[[4, 3]]  # scene 1's frames out of order
    assert O.scene_triples(swapped)[:, 0].tolist() == [0, 6, 9]
    assert len(O.scene_triples(random_dataset(12)[1])) == 0  # noise data: its labels do not nest


def test_measure_objects_finds_where_and_what_each_object_is() -> None:
    images, labels, _, centres = draw_scenes(20, seed=1)
    found = O.measure_objects(images, labels)
    assert len(found) == 20 and found.found.all()
    assert np.abs(found.centre - centres).max() < 1.0  # pixels (rectangles are drawn on whole pixels)
    classes = labels.view(20, 3, -1)
    for t in range(3):
        new = classes[:, t] - (classes[:, t - 1] if t else 0)
        assert found.classes[:, t].tolist() == new.argmax(1).tolist()
    a, b = O.fit_perspective(found)
    assert abs(b - HEIGHT_B) < 0.08 and abs(a + b * 30 - (HEIGHT_A + HEIGHT_B * 30)) < 1.0


def test_layout_table_draws_real_scenes_and_is_seeded() -> None:
    images, labels, _, _ = draw_scenes(10, seed=2)
    found = O.measure_objects(images, labels)
    table = O.layout_table(found, 32, seed=0)
    assert table.shape == (32, 3, 2)
    rows = {tuple(r.ravel()) for r in found.centre.astype(np.float32)}
    assert all(tuple(r.ravel()) in rows for r in table)  # whole scenes, never mixed
    assert np.array_equal(table, O.layout_table(found, 32, seed=0))
    assert not np.array_equal(table, O.layout_table(found, 32, seed=1))
    with pytest.raises(ValueError, match="no scene"):
        O.layout_table(O.measure_objects(*random_dataset(12)), 4, seed=0)


def test_appearance_recovers_the_colours_and_the_shapes() -> None:
    images, labels, _, _ = draw_scenes(60, seed=3)
    seen = O.appearance(images, O.measure_objects(images, labels), box=2.0, size=16)
    present = {c % 8 for c in labels.nonzero()[:, 1].tolist()}
    for colour in present:
        assert torch.allclose(seen["albedo"][colour], torch.from_numpy(COLOURS[colour] / 255.0).float(), atol=0.05)
    area = seen["cover"].sum((1, 2))  # one height at a given depth: the area follows the width
    assert area[0] > area[2] > area[1]  # cube 9 px, cylinder 7, sphere 6
    assert seen["cover"].shape == seen["shading"].shape == seen["shadow"].shape == (3, 16, 16)


@pytest.mark.parametrize("layout", ["images", "label"])
def test_both_folder_layouts_load(tmp_path: Path, layout: str) -> None:
    root = write_scenes(tmp_path / layout, 2, layout=layout)
    assert listing_path(root) == (root / "train.json" if layout == "images" else root / "label" / "train.json")
    images, labels, names = load_arrays(root, cache=False, progress=False)
    assert images.shape == (6, 3, 64, 64) and names[0] == "CLEVR_train_000000_0.png"
    assert torch.equal(images, draw_scenes(2)[0])


def test_a_folder_without_train_json_is_named(tmp_path: Path) -> None:
    (tmp_path / "image").mkdir()
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "train.json")):
        listing_path(tmp_path)


def test_statistics_and_their_table() -> None:
    from lab5_utils.data.explore import object_statistics_table

    images, labels, _, centres = draw_scenes(30, seed=6)
    stats = O.statistics(images, labels)
    assert stats["scenes"] == 30 and stats["cube_width"] > stats["cylinder_width"] > stats["sphere_width"]
    assert abs(stats["height_b"] - HEIGHT_B) < 0.08 and stats["floor_bottom"] > stats["floor_top"]
    ring = np.linalg.norm(centres[:, 1:] - centres[:, :1], axis=-1)
    assert abs(stats["ring_p50"] - np.median(ring)) < 1.5
    table = object_statistics_table({"toy": stats, "again": stats})
    assert table.splitlines()[0] == "| statistic | toy | again |" and "| scenes measured | 30 | 30 |" in table
    with pytest.raises(ValueError, match="no scene"):
        O.statistics(*random_dataset(12))


def test_matching_real_images_show_exactly_the_condition() -> None:
    from lab5_utils.evaluation.real import matching_real_images
    from lab5_utils.labels import class_names

    images, labels, _, _ = draw_scenes(5, seed=7)
    names = class_names()
    wanted = [[names[i] for i in torch.nonzero(labels[4]).flatten()], ["gray cube", "red cube", "blue cube"]]
    got = matching_real_images(wanted, images, labels)
    assert torch.equal(got[0], images[4]) and (got[1] == 128).all()  # the second set is in no scene
