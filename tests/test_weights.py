"""Shipped weights: export (fp16 on disk, fp32 when loaded, never overwritten), the manifest's sha256 check, the
defaults that use them, and the committed weights/ folder itself when it is there."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from lab5_utils.evaluation import weights as W
from lab5_utils.evaluation.experiment import RunOptions
from lab5_utils.gan.budget import Budget
from lab5_utils.gan.checkpoint import load_generator
from lab5_utils.gan.config import PRESETS
from lab5_utils.gan.log import read_stats
from lab5_utils.gan.stream import random_dataset
from lab5_utils.gan.trainer import Trainer
from lab5_utils.judge.model import build_judge, load_judge, save_course_format
from lab5_utils.paths import GENERATOR_FILE, GENERATOR_STATS_FILE, JUDGE2_FILE, JUDGE_FILE
from lab5_utils.report.notebook import final_generator
from lab5_utils.report.widgets import Preview

REPO_WEIGHTS = Path(__file__).resolve().parents[1] / "weights"


def _run(tmp_path: Path) -> Path:
    trainer = Trainer(PRESETS["tiny_sngan"], random_dataset(8), tmp_path / "run", device="cpu", progress=False)
    trainer.run(Budget(steps=2))
    return tmp_path / "run" / "last.pt"


def test_export_generator_is_fp16_and_loads_as_the_same_fp32_generator(tmp_path: Path) -> None:
    last = _run(tmp_path)
    out = W.export_generator(last, tmp_path / "w" / GENERATOR_FILE, {"command": "test"})
    raw = torch.load(out, weights_only=True, map_location="cpu")
    assert {v.dtype for v in raw["G_ema"].values() if v.is_floating_point()} == {torch.float16}
    assert "G" not in raw and "D" not in raw and raw["provenance"] == {"command": "test"}
    shipped, original = load_generator(out), load_generator(last)
    assert {p.dtype for p in shipped.parameters()} == {torch.float32}
    z, y = torch.randn(4, shipped.z_dim), random_dataset(4)[1]
    with torch.no_grad():
        assert torch.allclose(shipped(z, y), original(z, y), atol=2e-2)
    with pytest.raises(FileExistsError, match="written once"):
        W.export_generator(last, out, {})
    with pytest.raises(ValueError, match="cannot load 'G'"):
        load_generator(out, ema=False)  # only the EMA generator is shipped


def test_export_judge_keeps_the_course_format(tmp_path: Path) -> None:
    torch.manual_seed(0)
    judge = save_course_format(build_judge(), tmp_path / "judge.pth", {"holdout_accuracy": 0.5})
    out = W.export_judge(judge, tmp_path / "w" / JUDGE_FILE)
    raw = torch.load(out, weights_only=True, map_location="cpu")
    assert raw["model"]["fc.0.weight"].dtype == torch.float16 and raw["meta"]["holdout_accuracy"] == 0.5
    course = build_judge()
    course.load_state_dict(raw["model"])  # what the course's loader does
    assert course.fc[0].weight.dtype == torch.float32
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    assert torch.allclose(load_judge(out).predict(x), load_judge(judge).predict(x), atol=1e-2)


def test_manifest_verifies_and_names_a_changed_file(tmp_path: Path) -> None:
    (tmp_path / "a.pt").write_bytes(b"abc")
    W.write_manifest(tmp_path, {"a.pt": {"command": "x"}})
    assert W.verify(tmp_path) == {"a.pt": json.loads((tmp_path / W.MANIFEST).read_text())["a.pt"]["sha256"]}
    (tmp_path / "a.pt").write_bytes(b"abd")
    with pytest.raises(ValueError, match="a.pt: sha256 differs"):
        W.verify(tmp_path)
    (tmp_path / "a.pt").unlink()
    with pytest.raises(ValueError, match="a.pt: listed in"):
        W.verify(tmp_path)


def test_defaults_fall_back_to_shipped_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lab5_utils.judge.cache import ensure_judge

    monkeypatch.setenv("LAB5_WEIGHTS", str(tmp_path / "w"))
    with pytest.raises(FileNotFoundError, match="no shipped generator"):
        W.load_shipped_generator()
    W.export_generator(_run(tmp_path), tmp_path / "w" / GENERATOR_FILE, {})
    torch.manual_seed(0)
    W.export_judge(save_course_format(build_judge(), tmp_path / "j.pth"), tmp_path / "w" / JUDGE_FILE)
    W.write_manifest(tmp_path / "w", {GENERATOR_FILE: {"preset": "tiny_sngan", "step": 2, "train_minutes": 0,
                                                       "hardware": "CPU", "command": "test"}, JUDGE_FILE: {}})
    assert W.load_shipped_generator().z_dim == PRESETS["tiny_sngan"].z_dim
    monkeypatch.setenv("LAB5_FAST", "1")  # the library takes its mode from its callers, never from the environment
    assert ensure_judge() == tmp_path / "w" / JUDGE_FILE  # no training, no render
    preview = Preview.from_weights()
    assert preview.z_dim == PRESETS["tiny_sngan"].z_dim and preview.judge is not None
    G, summary = final_generator("tiny_sngan", tmp_path / "no_run",
                                 {"options": RunOptions(seeds=1, frechet_samples=0)})
    assert summary["shipped"]["sha256"] == W.verify(tmp_path / "w")[GENERATOR_FILE]  # no run: the shipped one
    assert set(summary["results"]["G_ema"]["files"]) == {"test", "new_test", "random"}
    monkeypatch.setenv("LAB5_JUDGE", str(tmp_path / "j.pth"))
    assert ensure_judge() == tmp_path / "j.pth"  # an explicit judge wins


@pytest.mark.parametrize("folder", [REPO_WEIGHTS, REPO_WEIGHTS / "real"], ids=["default", "real"])
def test_committed_weights_match_their_manifest_and_load_on_cpu(folder: Path) -> None:
    if not (folder / W.MANIFEST).is_file():
        pytest.skip(f"no committed {folder} in this checkout")
    digests = W.verify(folder)
    real = folder.name == "real"
    if GENERATOR_STATS_FILE in digests:  # the shipped generator's curves: evaluations and losses by step
        digests.pop(GENERATOR_STATS_FILE)
        rows = read_stats(folder / GENERATOR_STATS_FILE)
        assert any("eval_ema" in r for r in rows) and any("d_loss" in r for r in rows)
    assert set(digests) == {GENERATOR_FILE, JUDGE_FILE} | ({JUDGE2_FILE} if real else set())
    manifest = json.loads((folder / W.MANIFEST).read_text())
    for name in digests:
        assert (folder / name).stat().st_size <= (20 if name == GENERATOR_FILE else 25) * 2**20
        assert {"command", "commit", "hardware"} <= set(manifest[name])
        if real:  # labelled as trained on the real images, which are not in this repository
            assert "real i-CLEVR" in manifest[name]["label"] and "not included" in manifest[name]["label"]
    G = load_generator(folder / GENERATOR_FILE, device="cpu")
    y = random_dataset(2)[1]
    with torch.no_grad():
        x = G(torch.randn(2, G.z_dim), y)
    assert x.shape == (2, 3, 64, 64) and x.min() >= -1 and x.max() <= 1
    for name in set(digests) - {GENERATOR_FILE}:
        assert load_judge(folder / name).predict(x).shape == (2, 24)


def test_export_refuses_an_existing_target_a_stale_measurement_and_a_tiny_judge(tmp_path: Path) -> None:
    from lab5_utils.cli.train import main_export

    last = _run(tmp_path)
    metrics = {"last_sha256": "not the checkpoint", "judge_tiny": True, "results": {}}
    (last.parent / "metrics.json").write_text(json.dumps(metrics))
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / GENERATOR_FILE).write_bytes(b"shipped before")
    args = ["--run", str(last.parent), "--out", str(tmp_path / "w"), "--command", "test"]
    with pytest.raises(ValueError) as info:
        main_export(args)
    message = str(info.value)
    assert "generator.pt exists (shipped weights are written once)" in message
    assert "does not measure" in message and "TINY test judge" in message
    assert (tmp_path / "w" / GENERATOR_FILE).read_bytes() == b"shipped before"


def test_the_weights_kind_picks_the_real_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lab5_utils.cli import main as cli_main
    from lab5_utils.paths import weights_dir, weights_kind

    monkeypatch.setenv("LAB5_WEIGHTS", str(tmp_path / "w"))
    monkeypatch.delenv("LAB5_WEIGHTS_KIND", raising=False)
    assert weights_kind() == "default" and weights_dir() == tmp_path / "w"
    (tmp_path / "render").mkdir()
    (tmp_path / "render" / "scenes.json").write_text("{}")  # our renderer writes it; the real data has none
    monkeypatch.setenv("LAB5_DATA", str(tmp_path / "render"))
    assert weights_kind() == "default"
    monkeypatch.setenv("LAB5_DATA", str(tmp_path / "real"))
    assert weights_kind() == "real" and weights_dir() == tmp_path / "w" / "real"
    monkeypatch.setenv("LAB5_WEIGHTS_KIND", "default")  # asked for explicitly: wins
    assert weights_dir() == tmp_path / "w"
    assert weights_dir("real") == tmp_path / "w" / "real" and weights_dir("default") == tmp_path / "w"  # asked
    with pytest.raises(ValueError, match="'fake'"):
        weights_dir("fake")
    monkeypatch.setenv("LAB5_WEIGHTS_KIND", "fake")
    with pytest.raises(ValueError, match="'fake'"):
        weights_kind()
    monkeypatch.delenv("LAB5_WEIGHTS_KIND")
    assert cli_main(["generate", "--weights", "nope", "--out", str(tmp_path / "g.png")]) == 2
    assert cli_main(["generate", "--weights=real", "--out", str(tmp_path / "g.png")]) == 2  # none shipped there
    assert os.environ["LAB5_WEIGHTS_KIND"] == "real"


def test_a_changed_shipped_file_is_refused_on_load_unless_asked(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Probe (issue 21): flipped bytes in generator.pt or judge.pth, or another checkpoint in generator.pt's place,
    loaded silently and gave noise or chance-level numbers with exit 0."""
    from lab5_utils.judge.cache import ensure_judge

    folder = tmp_path / "w"
    W.export_generator(_run(tmp_path), folder / GENERATOR_FILE, {})
    W.export_judge(save_course_format(build_judge(), tmp_path / "j.pth"), folder / JUDGE_FILE)
    W.write_manifest(folder, {GENERATOR_FILE: {"command": "test"}, JUDGE_FILE: {"command": "test"}})
    monkeypatch.setenv("LAB5_WEIGHTS", str(folder))
    monkeypatch.delenv("LAB5_FAST", raising=False)
    monkeypatch.delenv("LAB5_WEIGHTS_UNVERIFIED", raising=False)
    assert W.load_shipped_generator() is not None and ensure_judge() == folder / JUDGE_FILE  # intact: loads
    data = bytearray((folder / JUDGE_FILE).read_bytes())
    data[len(data) // 2: len(data) // 2 + 8] = bytes(8)
    (folder / JUDGE_FILE).write_bytes(bytes(data))
    with pytest.raises(ValueError, match=rf"{JUDGE_FILE}: sha256 .* differs from .*manifest.json"):
        ensure_judge()
    other = Trainer(PRESETS["tiny_wgan_gp"], random_dataset(8), tmp_path / "other", device="cpu", progress=False)
    other.run(Budget(steps=1))
    (folder / GENERATOR_FILE).unlink()
    W.export_generator(tmp_path / "other" / "last.pt", folder / GENERATOR_FILE, {})
    with pytest.raises(ValueError, match=rf"{GENERATOR_FILE}: sha256 .*LAB5_WEIGHTS_UNVERIFIED=1"):
        W.load_shipped_generator()
    monkeypatch.setenv("LAB5_WEIGHTS_UNVERIFIED", "1")  # a user's own export, on purpose
    assert W.load_shipped_generator() is not None and ensure_judge() == folder / JUDGE_FILE
    monkeypatch.delenv("LAB5_WEIGHTS_UNVERIFIED")
    (folder / W.MANIFEST).unlink()
    with pytest.raises(ValueError, match="no manifest.json"):
        W.load_shipped_generator()
