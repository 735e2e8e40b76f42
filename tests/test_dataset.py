"""The loader on small real-format folders the tests write: RGBA/RGB/L 320x240 PNGs, bad files, the cache."""

import json
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lab5_utils.data import dataset as D
from lab5_utils.image_ops import resize_uint8, to_signed, to_uint8
from lab5_utils.labels import encode

LISTING = {
    "CLEVR_train_000000_0.png": ["red cube"],
    "CLEVR_train_000000_1.png": ["red cube", "blue sphere"],
    "CLEVR_train_000000_2.png": ["red cube", "blue sphere", "gray cylinder"],
    "CLEVR_train_000001_0.png": ["yellow cylinder"],
}


def write_folder(root: Path, image_dir: str = "iclevr", modes=("RGBA", "RGB", "L", "RGBA")) -> Path:
    """A course-style folder: train.json at the root, 320x240 PNGs with distinct flat colours."""
    (root / image_dir).mkdir(parents=True, exist_ok=True)
    (root / "train.json").write_text(json.dumps(LISTING))
    for index, (filename, mode) in enumerate(zip(sorted(LISTING), modes, strict=True)):
        rgb = np.zeros((240, 320, 3), np.uint8)
        rgb[..., 0], rgb[..., 1], rgb[..., 2] = 40 * index + 10, 200 - 30 * index, 90
        rgba = np.concatenate([rgb, np.full((240, 320, 1), 128, np.uint8)], axis=2)  # half transparent
        image = Image.fromarray(rgba, "RGBA")
        image.convert(mode).save(root / image_dir / filename)
    return root


def test_loads_rgba_rgb_and_l_like_the_course(tmp_path):
    root = write_folder(tmp_path / "data")
    images, labels, filenames = D.load_arrays(root, progress=False)
    assert images.shape == (4, 3, 64, 64) and images.dtype == torch.uint8
    assert filenames == sorted(LISTING)
    for i, filename in enumerate(filenames):
        assert torch.equal(labels[i], encode(LISTING[filename]))
        with Image.open(root / "iclevr" / filename) as image:
            expected = np.asarray(image.convert("RGB").resize((64, 64), Image.Resampling.BILINEAR))
        assert np.array_equal(images[i].permute(1, 2, 0).numpy(), expected)  # alpha dropped like convert('RGB')
    gray = images[2]  # the "L" image: three equal channels
    assert torch.equal(gray[0], gray[1]) and torch.equal(gray[1], gray[2])


def test_dataset_items_are_signed_floats(tmp_path):
    root = write_folder(tmp_path / "data", image_dir="images")
    data = D.ICLEVR(root, progress=False)
    x, y = data[1]
    assert x.shape == (3, 64, 64) and x.dtype == torch.float32
    assert -1.0 <= x.min() and x.max() <= 1.0
    assert torch.equal(y, encode(LISTING[data.filenames[1]]))
    uncached = D.ICLEVR(root, cache=False)
    assert torch.equal(uncached[1][0], x) and len(uncached) == len(data) == 4


def test_missing_image_names_the_file(tmp_path):
    root = write_folder(tmp_path / "data")
    os.remove(root / "iclevr" / "CLEVR_train_000000_2.png")
    with pytest.raises(FileNotFoundError, match="CLEVR_train_000000_2.png"):
        D.load_arrays(root, progress=False)


def test_corrupt_image_names_the_file_or_is_skipped_and_counted(tmp_path):
    root = write_folder(tmp_path / "data")
    (root / "iclevr" / "CLEVR_train_000000_1.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    with pytest.raises(ValueError, match="CLEVR_train_000000_1.png: corrupt"):
        D.load_arrays(root, progress=False)
    os.remove(root / "iclevr" / "CLEVR_train_000001_0.png")
    with pytest.warns(UserWarning, match="skipped 2 missing or corrupt"):
        images, labels, filenames = D.load_arrays(root, skip_bad=True, progress=False)
    assert filenames == ["CLEVR_train_000000_0.png", "CLEVR_train_000000_2.png"]
    assert images.shape[0] == labels.shape[0] == 2


def test_bad_listing_names_file_and_entry(tmp_path):
    root = write_folder(tmp_path / "data")
    (root / "train.json").write_text(json.dumps({"CLEVR_train_000000_0.png": ["red cube", "red cone"]}))
    with pytest.raises(ValueError, match=r"train\.json, entry 'CLEVR_train_000000_0.png', label 1: unknown"):
        D.load_arrays(root, progress=False)


def test_cache_hit_miss_and_rebuild(tmp_path, monkeypatch):
    root = write_folder(tmp_path / "data")
    cache_root = tmp_path / "cache"
    first = D.load_arrays(root, cache_root=cache_root, progress=False)
    files = list(cache_root.glob("*.pt"))
    assert len(files) == 1

    calls = []
    monkeypatch.setattr(D, "decode_image", lambda *a: calls.append(a) or torch.zeros(3, 64, 64, dtype=torch.uint8))
    hit = D.load_arrays(root, cache_root=cache_root, progress=False)
    assert calls == [] and torch.equal(hit[0], first[0]) and hit[2] == first[2]  # hit: nothing decoded

    D.load_arrays(root, size=32, cache_root=cache_root, progress=False)  # other resize settings: miss
    assert len(calls) == 4 and len(list(cache_root.glob("*.pt"))) == 2
    monkeypatch.undo()

    time.sleep(0.01)  # an image changes on disk: new key, rebuilt with the new pixels
    target = root / "iclevr" / "CLEVR_train_000001_0.png"
    Image.new("RGB", (320, 240), (255, 0, 0)).save(target)
    rebuilt = D.load_arrays(root, cache_root=cache_root, progress=False)
    assert len(list(cache_root.glob("*.pt"))) == 3
    assert rebuilt[0][3, 0].float().mean() > 250 and not torch.equal(rebuilt[0], first[0])

    listing = dict(LISTING, **{"CLEVR_train_000001_0.png": ["green sphere"]})  # the labels change: rebuilt
    (root / "train.json").write_text(json.dumps(listing))
    relabelled = D.load_arrays(root, cache_root=cache_root, progress=False)
    assert torch.equal(relabelled[1][3], encode(["green sphere"]))


def test_cache_file_loads_with_weights_only(tmp_path):
    root = write_folder(tmp_path / "data")
    D.load_arrays(root, cache_root=tmp_path / "cache", progress=False)
    (cache_file,) = (tmp_path / "cache").glob("*.pt")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        saved = torch.load(cache_file, weights_only=True, map_location="cpu")
    assert set(saved) == {"images", "labels", "filenames", "skipped"}


def test_scene_of_and_conversions():
    assert D.scene_of("CLEVR_train_000123_2.png") == 123
    with pytest.raises(ValueError, match="not a CLEVR_train"):
        D.scene_of("cat.png")
    x = torch.tensor([0, 127, 255], dtype=torch.uint8)
    assert torch.equal(to_uint8(to_signed(x)), x)
    assert to_signed(x).min() == -1 and to_signed(x).max() == 1


def test_resize_uint8_matches_loader(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)
    expected = np.asarray(Image.fromarray(pixels).resize((64, 64), Image.Resampling.BILINEAR))
    out = resize_uint8(torch.from_numpy(pixels).permute(2, 0, 1)[None], 64)
    assert out.shape == (1, 3, 64, 64) and np.array_equal(out[0].permute(1, 2, 0).numpy(), expected)


def test_corrupt_cache_file_is_named_and_rebuilt(tmp_path):
    root = write_folder(tmp_path / "data")
    first = D.load_arrays(root, cache_root=tmp_path / "cache", progress=False)
    (cache_file,) = (tmp_path / "cache").glob("*.pt")
    cache_file.write_bytes(b"truncated")
    with pytest.warns(UserWarning, match=f"{cache_file.name}: unreadable cache"):
        again = D.load_arrays(root, cache_root=tmp_path / "cache", progress=False)
    assert torch.equal(again[0], first[0])
    assert torch.load(cache_file, weights_only=True)["filenames"] == first[2]


def test_a_missing_first_image_is_named_or_skipped_not_a_missing_folder(tmp_path):
    root = write_folder(tmp_path / "data")
    os.remove(root / "iclevr" / "CLEVR_train_000000_0.png")  # the first listed file
    with pytest.raises(FileNotFoundError, match=r"CLEVR_train_000000_0\.png: image listed in train\.json"):
        D.load_arrays(root, progress=False)
    with pytest.warns(UserWarning, match="skipped 1 missing"):
        _, _, filenames = D.load_arrays(root, skip_bad=True, progress=False)
    assert filenames == sorted(LISTING)[1:]
    for path in (root / "iclevr").glob("*.png"):
        path.unlink()
    with pytest.raises(FileNotFoundError, match=r"train\.json: none of its first 4 entries"):
        D.load_arrays(root, progress=False)


def test_a_decompression_bomb_header_is_a_named_skippable_error(tmp_path):
    root = write_folder(tmp_path / "data")
    bomb = root / "iclevr" / "CLEVR_train_000000_1.png"
    Image.new("1", (20000, 20000)).save(bomb)  # tiny on disk, 4e8 pixels in its header
    with pytest.raises(ValueError, match=r"CLEVR_train_000000_1\.png: refused, its header claims more pixels"):
        D.load_arrays(root, progress=False)
    with pytest.warns(UserWarning, match="skipped 1"):
        assert len(D.load_arrays(root, skip_bad=True, progress=False)[2]) == 3


def test_a_16_bit_grey_image_reads_like_the_course_with_one_warning(tmp_path):
    root = write_folder(tmp_path / "data")
    for name in sorted(LISTING)[:2]:
        Image.fromarray(np.full((240, 320), 30000, np.uint16)).save(root / "iclevr" / name)
    with pytest.warns(D.WideImageWarning) as caught:
        images, _, _ = D.load_arrays(root, progress=False)
    wide = [w for w in caught if issubclass(w.category, D.WideImageWarning)]
    assert len(wide) == 1 and "CLEVR_train_000000_0.png" in str(wide[0].message) and "2 such" in str(wide[0].message)
    with Image.open(root / "iclevr" / sorted(LISTING)[0]) as image:
        expected = np.asarray(image.convert("RGB").resize((64, 64), Image.Resampling.BILINEAR))
    assert np.array_equal(images[0].permute(1, 2, 0).numpy(), expected)  # what the course's loader reads


def test_content_key_follows_what_the_folder_holds_not_where_or_when(tmp_path):
    import shutil

    root = write_folder(tmp_path / "data")
    key = D.content_key(root)
    shutil.copytree(root, tmp_path / "copy")  # another path, new file times
    assert D.content_key(tmp_path / "copy") == key
    Image.new("RGB", (320, 240), (200, 30, 30)).save(root / "iclevr" / sorted(LISTING)[0])  # re-rendered
    assert D.content_key(root) != key


def test_the_cache_command_reads_a_folder_and_names_a_missing_one(tmp_path, capsys):
    from lab5_utils.cli import main

    root = write_folder(tmp_path / "data")
    assert main(["cache", "--data", str(root)]) == 0
    assert "4 images (3, 64, 64), objects per image 1/2/3: [2, 1, 1]" in capsys.readouterr().out
    assert main(["cache", "--data", str(tmp_path / "nowhere")]) == 2
    assert "nowhere" in capsys.readouterr().err
