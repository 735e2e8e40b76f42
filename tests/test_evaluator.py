"""The course-compatible judge: accuracy equal to the course loop, checkpoint format and errors, judge training
(tiny, on toy images drawn with numpy), the label-swap reaction and the ``evaluator`` CLI."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn
from torchvision.models import resnet18

from lab5_utils.cli.judge import main as judge_cli
from lab5_utils.image_ops import augment
from lab5_utils.judge import model as E
from lab5_utils.judge.cache import ensure_judge, judge_cache_path, train_judge
from lab5_utils.judge.fit import JudgeConfig, fit_multilabel, split_by_scene
from lab5_utils.labels import class_names

PALETTE = np.array([(87, 87, 87), (173, 35, 35), (42, 75, 215), (29, 105, 20), (129, 74, 25), (129, 38, 192),
                    (41, 208, 208), (255, 238, 51)], np.uint8)


def toy_labels(n: int, seed: int) -> torch.Tensor:
    """(n,24) multi-hot with 1-3 distinct labels per row."""
    rng = np.random.default_rng(seed)
    y = np.zeros((n, 24), np.float32)
    for i in range(n):
        y[i, rng.choice(24, size=rng.integers(1, 4), replace=False)] = 1
    return torch.from_numpy(y)


def toy_images(labels: torch.Tensor, seed: int) -> torch.Tensor:
    """Toy i-CLEVR, uint8 (N,3,64,64): label c -> colour c % 8 and shape c // 8 (big square, small disk,
    flat bar), each object in its own quadrant."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:64, 0:64]
    out = np.full((len(labels), 64, 64, 3), 170, np.uint8)
    for i, row in enumerate(labels.numpy()):
        for c, cell in zip(np.flatnonzero(row > 0.5), rng.permutation(4), strict=False):
            cy, cx = 16 + 32 * (cell // 2) + rng.integers(-4, 5), 16 + 32 * (cell % 2) + rng.integers(-4, 5)
            masks = ((abs(yy - cy) <= 9) & (abs(xx - cx) <= 9), (yy - cy) ** 2 + (xx - cx) ** 2 <= 30,
                     (abs(yy - cy) <= 2) & (abs(xx - cx) <= 13))
            out[i][masks[c // 8]] = PALETTE[c % 8]
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def course_compute_acc(out, onehot_labels):
    """The course's loop, literally."""
    batch_size = out.size(0)
    acc = 0
    total = 0
    for i in range(batch_size):
        k = int(onehot_labels[i].sum().item())
        total += k
        outv, outi = out[i].topk(k)
        lv, li = onehot_labels[i].topk(k)
        for j in outi:
            if j in li:
                acc += 1
    return acc / total


def toy_judge(folder: Path) -> E.Judge:
    """A small judge trained on 384 toy images (about 8 s on 2 cores), saved in ``folder`` and reused from there
    by later test files of the same session."""
    path = folder / "toy_judge.pth"
    if not path.is_file():
        y = toy_labels(384, 0)
        config = JudgeConfig(epochs=6, batch_size=32, lr=5e-3, max_shift=2, holdout_fraction=0.1, seed=0)
        model, meta = fit_multilabel(toy_images(y, 1), y, list(range(len(y))), config, progress=False)
        E.save_course_format(model, path, meta)
    return E.load_judge(path)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The toy judge and held-out toy data."""
    judge = toy_judge(tmp_path_factory.getbasetemp())
    y_test = toy_labels(200, 5)
    return judge.model, judge.meta, judge, toy_images(y_test, 6).float() / 127.5 - 1, y_test


def test_architecture_is_the_courses():
    model = E.build_judge()
    assert isinstance(model.fc, nn.Sequential) and isinstance(model.fc[1], nn.Sigmoid)
    assert model.fc[0].in_features == 512 and model.fc[0].out_features == 24
    course = resnet18(weights=None)
    course.fc = nn.Sequential(nn.Linear(512, 24), nn.Sigmoid())
    assert list(course.state_dict()) == list(model.state_dict())
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    model.eval()
    with torch.no_grad():
        out = model(x)
        feats = E.extract_features(model, x)
        assert torch.allclose(model.fc(feats), out, atol=1e-6)
    assert out.shape == (2, 24) and 0 <= out.min() and out.max() <= 1 and feats.shape == (2, 512)


def test_accuracy_equals_the_course_loop_including_ties():
    y = torch.zeros(6, 24)
    y[0, 3] = 1
    y[1, [0, 23]] = 1
    y[2, [5, 6, 7]] = 1
    y[3, [1, 2]] = 1
    y[4, [10, 11, 12]] = 1
    y[5, 0] = 1
    crafted = torch.full((6, 24), 0.5)  # all tied
    crafted[3, [1, 9]] = 0.9  # one right, one wrong
    crafted[4, :] = torch.linspace(0, 1, 24)  # 3 wrong
    crafted[5, 0] = 0.1
    cases = [crafted, torch.zeros(6, 24), torch.ones(6, 24)]
    rng = torch.Generator().manual_seed(0)
    for _ in range(200):
        n = int(torch.randint(1, 40, (1,), generator=rng))
        labels = torch.zeros(n, 24)
        for i in range(n):
            labels[i, torch.randperm(24, generator=rng)[: int(torch.randint(1, 4, (1,), generator=rng))]] = 1
        out = torch.randint(0, 3, (n, 24), generator=rng).float() / 2  # heavy ties
        assert E.compute_acc(out, labels) == course_compute_acc(out, labels)
    for out in cases:
        assert E.compute_acc(out, y) == course_compute_acc(out, y)
    assert E.compute_acc(y, y) == 1.0
    assert E.compute_acc(crafted[3:5], y[3:5]) == pytest.approx(1 / 5)
    with pytest.raises(ValueError, match="no positive"):
        E.compute_acc(torch.rand(2, 24), torch.zeros(2, 24))


def test_unmatched_accuracy_scores_each_image_against_the_other_conditions_of_its_size():
    y = torch.zeros(5, 24)
    y[0, 0] = y[1, 1] = y[2, 2] = 1  # three 1-object conditions
    y[3, [0, 1]] = y[4, [2, 3]] = 1  # two 2-object conditions, no label shared
    assert E.compute_acc(y, y) == 1.0 and E.unmatched_accuracy(y, y) == 0.0  # follows its condition exactly
    single = torch.zeros(4, 24)
    single[[0, 3], 0] = 1
    single[1, 1] = single[2, 2] = 1
    constant = torch.linspace(1, 0, 24).expand(4, 24)  # the same reading whatever was asked: class 0
    assert E.compute_acc(constant, single) == 0.5 == E.unmatched_accuracy(constant, single)
    assert np.isnan(E.unmatched_accuracy(y[2:4], y[2:4]))  # no two conditions of one size


def test_checkpoint_round_trip_course_style_and_map_location(tmp_path):
    model = E.build_judge().eval()
    meta = {"tiny": True, "note": "test", "acc": np.float32(0.5), "shape": (1, 2), "torch": torch.__version__}
    path = E.save_course_format(model, tmp_path / "judge.pth", meta=meta)
    ckpt = torch.load(path, weights_only=True)
    course = resnet18(weights=None)
    course.fc = nn.Sequential(nn.Linear(512, 24), nn.Sigmoid())
    course.load_state_dict(ckpt["model"])  # what the course's evaluator.py does; 'meta' does not disturb it
    x = torch.rand(3, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        expected = model(x)
    for location in ("cpu", {"cuda:0": "cpu"}, lambda storage, loc: storage):
        judge = E.load_judge(path, map_location=location)
        assert torch.allclose(judge.predict(x), expected, atol=1e-6)
        assert not judge.model.training and judge.meta["tiny"] is True
    stored = E.judge_meta(path)
    assert stored["note"] == "test" and stored["acc"] == 0.5 and stored["shape"] == [1, 2]
    assert type(stored["torch"]) is str
    with pytest.raises(ValueError, match=r"meta\.bad"):
        E.save_course_format(model, tmp_path / "bad.pth", meta={"bad": object()})
    assert not list(tmp_path.glob(".*tmp*"))  # no temp file of the refused write


def test_bad_checkpoints_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        E.load_judge(tmp_path / "missing.pth")
    plain = resnet18(weights=None, num_classes=24)  # fc is a bare Linear: another architecture
    torch.save({"model": plain.state_dict()}, tmp_path / "plain.pth")
    with pytest.raises(ValueError, match=r"plain\.pth.*missing keys: fc\.0\.weight.*unexpected keys: fc\.weight"):
        E.load_judge(tmp_path / "plain.pth")
    wrong = resnet18(weights=None)
    wrong.fc = nn.Sequential(nn.Linear(512, 10), nn.Sigmoid())
    torch.save({"model": wrong.state_dict()}, tmp_path / "ten.pth")
    with pytest.raises(ValueError, match=r"wrong shapes: fc\.0\.weight"):
        E.load_judge(tmp_path / "ten.pth")
    torch.save(E.build_judge().state_dict(), tmp_path / "bare.pth")
    with pytest.raises(ValueError, match=r"bare\.pth: a bare state_dict .*torch\.save\(\{'model'"):
        E.load_judge(tmp_path / "bare.pth")
    torch.save(E.build_judge(), tmp_path / "pickled.pth")  # a whole pickled module: not weights-only
    with pytest.raises(ValueError, match=r"pickled\.pth: cannot be read"):
        E.load_judge(tmp_path / "pickled.pth")
    with pytest.raises(ValueError, match="uint8"):
        E.Judge(E.build_judge()).predict(torch.zeros(1, 3, 64, 64, dtype=torch.uint8))


def test_split_is_by_scene_and_seeded():
    scenes = [s for s in range(40) for _ in range(3)]
    train, held = split_by_scene(scenes, 0.1, seed=3)
    assert len(train) + len(held) == len(scenes) and len(held) == 12
    assert not {scenes[i] for i in train} & {scenes[i] for i in held}
    assert np.array_equal(held, split_by_scene(scenes, 0.1, seed=3)[1])
    assert not np.array_equal(held, split_by_scene(scenes, 0.1, seed=4)[1])
    train, held = split_by_scene(scenes, 0.999, seed=3)  # never all scenes: training keeps one
    assert len({scenes[i] for i in train}) == 1 and len(held) == len(scenes) - 3


def test_judge_training_names_train_json_for_a_name_without_a_scene(tmp_path):
    root = write_toy_folder(tmp_path / "data", scenes=2)
    listing = json.loads((root / "train.json").read_text())
    first = next(iter(listing))
    (root / "images" / first).rename(root / "images" / "odd.png")
    listing = {("odd.png" if k == first else k): v for k, v in listing.items()}
    (root / "train.json").write_text(json.dumps(listing))
    with pytest.raises(ValueError, match=r"train\.json: 'odd\.png'.*splits by scene"):
        train_judge(root, tmp_path / "j.pth", JudgeConfig.tiny_config(), progress=False)


def test_augment_keeps_colours_and_shape():
    x = toy_images(toy_labels(8, 0), 1).float() / 127.5 - 1
    same = augment(x, 0, False, torch.Generator().manual_seed(0))
    assert torch.equal(same, x)
    moved = augment(x, 4, True, torch.Generator().manual_seed(0))
    assert moved.shape == x.shape and not torch.equal(moved, x)
    for i in range(len(x)):  # translation + flip never creates a new colour
        before = {tuple(p) for p in x[i].reshape(3, -1).T.tolist()}
        assert {tuple(p) for p in moved[i].reshape(3, -1).T.tolist()} <= before


def test_judge_learns_and_reacts_to_wrong_colours_and_shapes(trained):
    model, meta, judge, x_test, y_test = trained
    assert len(meta["history"]) == 6 and meta["n_holdout"] > 0 and meta["tiny"] is False
    assert meta["history"][-1]["train_loss"] < meta["history"][0]["train_loss"]
    right = judge.accuracy(x_test, y_test)
    index = torch.arange(24)
    recoloured = y_test[:, (index // 8) * 8 + (index % 8 + 3) % 8]  # every colour swapped
    reshaped = y_test[:, (index + 8) % 24]  # every shape swapped
    assert right > 2 * judge.accuracy(x_test, recoloured)
    assert right > 2 * judge.accuracy(x_test, reshaped)


def write_toy_folder(root: Path, scenes: int) -> Path:
    """A real-layout folder: train.json + images/CLEVR_train_{scene}_{t}.png at 320x240, frames add objects."""
    (root / "images").mkdir(parents=True)
    names, listing = class_names(), {}
    rng = np.random.default_rng(0)
    for scene in range(scenes):
        labels = [names[i] for i in rng.choice(24, size=3, replace=False)]
        for t in range(3):
            listing[f"CLEVR_train_{scene:06d}_{t}.png"] = labels[: t + 1]
    y = torch.stack([torch.tensor([float(n in v) for n in names]) for v in listing.values()])
    for filename, image in zip(listing, toy_images(y, 1), strict=True):
        Image.fromarray(image.permute(1, 2, 0).numpy()).resize((320, 240)).save(root / "images" / filename)
    (root / "train.json").write_text(json.dumps(listing))
    return root


def test_cli_train_eval_and_ensure_judge(tmp_path, monkeypatch, capsys):
    root = write_toy_folder(tmp_path / "data", scenes=24)
    out = tmp_path / "judge.pth"
    args = ["train", "--data", str(root), "--out", str(out), "--epochs", "1", "--batch-size", "16", "--no-progress"]
    assert judge_cli(args) == 0
    meta = E.judge_meta(out)
    assert meta["n_train"] + meta["n_holdout"] == 72 and meta["data_root"] == str(root.resolve())
    assert meta["config"]["epochs"] == 1 and len(meta["history"]) == 1
    assert judge_cli(["eval", "--judge", str(out), "--data", str(root), "--no-progress"]) == 0
    assert "over 72 images" in capsys.readouterr().out
    config = JudgeConfig.tiny_config()
    path = ensure_judge(root, progress=False, config=config, device="cpu")
    assert path.is_file() and E.judge_meta(path)["tiny"] is True and "tiny" in path.name
    stamp = path.stat().st_mtime_ns
    assert ensure_judge(root, progress=False, config=config) == path and path.stat().st_mtime_ns == stamp
    assert judge_cli(["train", "--data", str(root), "--out", str(tmp_path / "t.pth"), "--tiny", "--no-progress"]) == 0
    assert E.judge_meta(tmp_path / "t.pth")["tiny"] is True
    monkeypatch.setenv("LAB5_JUDGE", str(out))
    assert ensure_judge(root) == out
    capsys.readouterr()
    assert judge_cli(["ensure"]) == 0 and capsys.readouterr().out.strip() == str(out)
    monkeypatch.setenv("LAB5_JUDGE", str(tmp_path / "nope.pth"))
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        ensure_judge(root)


def test_judge_cache_follows_the_images_not_only_the_listing(tmp_path):
    root = write_toy_folder(tmp_path / "data", scenes=4)
    config = JudgeConfig.tiny_config()
    before = judge_cache_path(root, config)
    assert judge_cache_path(root, config) == before
    image = sorted((root / "images").iterdir())[0]
    Image.new("RGB", (320, 240), (200, 30, 30)).save(image)  # same listing, a re-rendered image
    assert judge_cache_path(root, config) != before


def test_judge_cache_survives_a_moved_data_folder_and_adopts_an_older_key(tmp_path):
    import shutil

    root = write_toy_folder(tmp_path / "data", scenes=4)
    config = JudgeConfig.tiny_config()
    key = judge_cache_path(root, config)
    shutil.copytree(root, tmp_path / "moved")  # another path, new file times, the same content
    assert judge_cache_path(tmp_path / "moved", config) == key
    legacy = judge_cache_path(root, config, legacy=True)  # where an older version cached this judge
    assert legacy != key
    legacy.parent.mkdir(parents=True, exist_ok=True)
    E.save_course_format(E.build_judge(), legacy, {"tiny": True})
    assert ensure_judge(root, progress=False, config=config) == key  # adopted, not trained again
    assert key.is_file() and not legacy.exists()


def test_python_dash_m_dispatch(tmp_path):
    result = subprocess.run([sys.executable, "-m", "lab5_utils", "evaluator", "train", "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "--epochs" in result.stdout and "--data" in result.stdout


def test_judge_files_of_the_wrong_kind_say_what_they_are_and_what_to_do(tmp_path: Path) -> None:
    """Probe (issue 21): a bare ResNet18 state_dict failed with one 3,484-character line of 122 keys and no hint;
    a text file said 'pop from empty list'."""
    model = E.build_judge()
    torch.save(model.state_dict(), tmp_path / "bare.pth")
    with pytest.raises(ValueError) as caught:
        E.load_judge(tmp_path / "bare.pth")
    message = str(caught.value)
    assert "bare state_dict" in message and "{'model': state_dict}" in message and len(message) < 400
    (tmp_path / "notes.txt").write_text("best checkpoint: epoch 80\n")
    with pytest.raises(ValueError, match=r"notes\.txt: a text file \('best checkpoint: epoch 80'\), not a torch"):
        E.load_judge(tmp_path / "notes.txt")
    (tmp_path / "empty.pth").write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.pth: an empty file"):
        E.load_judge(tmp_path / "empty.pth")
    torch.save({"model": model.state_dict()}, tmp_path / "good.pth")
    assert E.load_judge(tmp_path / "good.pth") is not None
