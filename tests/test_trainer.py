"""The training engine on tiny models and random data: finite steps, exact resume, NaN stop, checkpoints, CLI."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lab5_utils.gan.budget import Budget
from lab5_utils.gan.checkpoint import load_generator
from lab5_utils.gan.config import PRESETS
from lab5_utils.gan.log import read_stats
from lab5_utils.gan.step import NonFiniteLossError
from lab5_utils.gan.stream import random_dataset
from lab5_utils.gan.trainer import Trainer, fit


def _data(n: int = 10, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    return random_dataset(n, seed)


def _state(trainer: Trainer) -> dict[str, torch.Tensor]:
    out = {}
    for tag, module in (("G", trainer.G), ("D", trainer.D), ("G_ema", trainer.G_ema)):
        out.update({f"{tag}.{k}": v for k, v in module.state_dict().items()})
    return out


@pytest.mark.parametrize("preset", ["tiny_dcgan", "tiny_sagan", "tiny_wgan_gp"])
def test_one_step_gives_finite_losses_and_changes_weights(preset: str, tmp_path: Path) -> None:
    trainer = Trainer(PRESETS[preset], _data(), tmp_path, device="cpu", progress=False)
    before = {k: v.clone() for k, v in _state(trainer).items()}
    values = trainer.train_step()
    assert {"d_loss", "g_loss", "d_real", "d_fake"} <= set(values)
    assert all(torch.isfinite(torch.tensor(v)) for v in values.values())
    after = _state(trainer)
    for tag in ("G.", "D."):
        assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith(tag))
    if PRESETS[preset].gp_lambda > 0:
        assert "gp" in values and "d_aux" in values and "g_aux" in values


@pytest.mark.parametrize("preset", ["tiny_dcgan", "tiny_sagan", "tiny_wgan_gp"])
def test_bf16_autocast_step_is_finite_and_keeps_fp32_weights(preset: str, tmp_path: Path) -> None:
    """The path benchmarks/gpu_run.sh takes on CUDA (``--set bf16=true``), exercised with CPU autocast: the
    GP's double backward, attention, CBN, projection and the aux head must accept bf16 activations."""
    cfg = dataclasses.replace(PRESETS[preset], bf16=True)
    trainer = Trainer(cfg, _data(), tmp_path, device="cpu", progress=False)
    with trainer._autocast():
        fake = trainer.G(trainer._z(2), torch.zeros(2, 24))
    assert fake.dtype == torch.bfloat16  # autocast is really on
    for _ in range(2):
        values = trainer.train_step()
        assert all(torch.isfinite(torch.tensor(v)) for v in values.values()), values
    assert {p.dtype for m in (trainer.G, trainer.D, trainer.G_ema) for p in m.parameters()} == {torch.float32}


@pytest.mark.parametrize("preset", ["tiny_wgan_gp", "tiny_sagan", "tiny_dcgan", "tiny_wgan_gp lazy"])
def test_resume_is_exact(preset: str, tmp_path: Path) -> None:
    name, _, lazy = preset.partition(" ")
    cfg = dataclasses.replace(PRESETS[name], gp_every=3) if lazy else PRESETS[name]
    data = _data()  # 10 images, batch 4: epochs roll over inside the run
    whole = fit(cfg, data, tmp_path / "whole", Budget(steps=6), device="cpu", progress=False)
    fit(cfg, data, tmp_path / "split", Budget(steps=3), device="cpu", progress=False)
    split = fit(cfg, data, tmp_path / "split", Budget(steps=6), resume=True, device="cpu", progress=False)
    assert split.step == whole.step == 6
    a, b = _state(whole), _state(split)
    assert a.keys() == b.keys()
    assert [k for k in a if not torch.equal(a[k], b[k])] == []
    rows = read_stats(tmp_path / "split")
    assert [r["step"] for r in rows] == list(range(1, 7))  # log_every=1 in tiny presets, no duplicates


def test_resume_inside_a_stats_window_logs_the_whole_window(tmp_path: Path) -> None:
    cfg = dataclasses.replace(PRESETS["tiny_wgan_gp"], log_every=4)
    data = _data()
    fit(cfg, data, tmp_path / "whole", Budget(steps=8), device="cpu", progress=False)
    fit(cfg, data, tmp_path / "split", Budget(steps=6), device="cpu", progress=False)  # stops inside the 2nd window
    fit(cfg, data, tmp_path / "split", Budget(steps=8), resume=True, device="cpu", progress=False)
    whole, split = read_stats(tmp_path / "whole"), read_stats(tmp_path / "split")
    assert [r["step"] for r in split] == [r["step"] for r in whole] == [4, 8]
    losses = ("d_loss", "g_loss", "gp", "d_aux", "g_aux")
    assert [[r[k] for k in losses] for r in split] == [[r[k] for k in losses] for r in whole]


def test_lazy_gp_penalises_every_kth_critic_update_with_k_times_the_weight(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import lab5_utils.gan.step as T

    cfg = dataclasses.replace(PRESETS["tiny_wgan_gp"], n_critic=2, gp_every=3)
    calls: list[float] = []

    def counted(score: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        calls.append(1.0)
        return torch.ones((), requires_grad=True) * 0.5  # a fixed penalty: the D loss shows its weight

    monkeypatch.setattr(T, "penalty_at", counted)
    trainer = Trainer(cfg, _data(), tmp_path, device="cpu", progress=False)
    rows = [trainer.train_step() for _ in range(3)]  # critic updates 0..5: penalised at 0 and 3
    assert len(calls) == 2
    assert ["gp" in r for r in rows] == [True, True, False]  # update 0 in step 1, update 3 in step 2
    assert rows[0]["gp"] == 0.5
    penalised = rows[1]["d_loss"] - rows[1]["d_adv"] - cfg.aux_weight * rows[1]["d_aux"]
    assert penalised == pytest.approx(cfg.gp_lambda * 3 * 0.5, rel=1e-5)  # update 3 is step 2's last
    with pytest.raises(ValueError, match="gp_every"):
        dataclasses.replace(cfg, gp_every=0)


def test_checkpoint_is_one_weights_only_dict_and_load_generator_rebuilds_g(tmp_path: Path) -> None:
    trainer = fit(PRESETS["tiny_sagan"], _data(), tmp_path, Budget(steps=2), device="cpu", progress=False)
    ckpt = torch.load(tmp_path / "last.pt", weights_only=True, map_location="cpu")
    assert {"G", "D", "G_ema", "opt_g", "opt_d", "step", "epoch", "config", "rng", "batches"} <= set(ckpt)
    assert ckpt["config"] == dataclasses.asdict(PRESETS["tiny_sagan"]) and ckpt["step"] == 2
    assert not list(tmp_path.glob("*.tmp*")) and not list(tmp_path.glob(".*tmp*"))
    G = load_generator(tmp_path / "last.pt")
    z, y = torch.randn(2, G.z_dim), _data(2)[1]
    with torch.no_grad():
        trainer.G_ema.eval()
        assert torch.equal(G(z, y), trainer.G_ema(z, y))
        raw = load_generator(tmp_path / "last.pt", ema=False)
        trainer.G.eval()
        assert torch.equal(raw(z, y), trainer.G(z, y))
    rows = read_stats(tmp_path)
    assert all("gamma/G.attn.3" in r and "gamma/D.attn.0" in r and "images_per_s" in r for r in rows)


def test_nan_loss_stops_with_clear_error_and_diagnostic_checkpoint(tmp_path: Path) -> None:
    trainer = Trainer(PRESETS["tiny_wgan_gp"], _data(), tmp_path, device="cpu", progress=False)

    def poison(_module: torch.nn.Module, _inputs: object, output: tuple) -> tuple:
        return (output[0] * float("nan"), output[1]) if trainer.step >= 2 else output

    trainer.D.register_forward_hook(poison)
    with pytest.raises(NonFiniteLossError, match="step 3") as info:
        trainer.run(Budget(steps=10))
    diag = tmp_path / "nan_step3.pt"
    assert str(diag) in str(info.value) and diag.is_file()
    ckpt = torch.load(diag, weights_only=True, map_location="cpu")
    assert ckpt["kind"] == "diagnostic" and ckpt["step"] == 3
    assert any(v != v for v in ckpt["losses"].values())  # NaN recorded


def test_losses_are_read_on_the_host_only_when_logged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # issue 20: the loop keeps each step's losses as device tensors; one copy to the host per log row (and per
    # checkpoint), not one per step, so a GPU runs ahead between log steps
    import lab5_utils.gan.log as log_module

    calls = []
    real = log_module.host_floats
    monkeypatch.setattr(log_module, "host_floats", lambda values: calls.append(1) or real(values))
    cfg = dataclasses.replace(PRESETS["tiny_sngan"], log_every=5, ckpt_every=1000)
    trainer = Trainer(cfg, _data(), tmp_path, device="cpu", progress=False, ckpt_seconds=1e9)
    trainer.run(Budget(steps=20))
    rows = read_stats(tmp_path)
    assert [r["step"] for r in rows] == [5, 10, 15, 20] and all(np.isfinite(r["g_loss"]) for r in rows)
    assert len(calls) <= 4 + 2  # four rows, and the final last.pt (window check + saved window)


def test_nan_between_log_steps_is_caught_at_the_next_log_and_never_saved_as_last(tmp_path: Path) -> None:
    cfg = dataclasses.replace(PRESETS["tiny_wgan_gp"], log_every=5)
    trainer = Trainer(cfg, _data(), tmp_path, device="cpu", progress=False, ckpt_seconds=1e9)

    def poison(_module: torch.nn.Module, _inputs: object, output: tuple) -> tuple:
        return (output[0] * float("nan"), output[1]) if trainer.step == 6 else output

    trainer.run(Budget(steps=5))  # last.pt at step 5
    trainer.D.register_forward_hook(poison)
    with pytest.raises(NonFiniteLossError, match="step 10"):
        trainer.run(Budget(steps=20))
    assert (tmp_path / "nan_step10.pt").is_file()
    assert torch.load(tmp_path / "last.pt", weights_only=True, map_location="cpu")["step"] == 5
    # a checkpoint due inside the poisoned window is refused too: last.pt stays the finite one
    trainer = Trainer(cfg, _data(), tmp_path / "every_step", device="cpu", progress=False, ckpt_seconds=0.0)
    trainer.D.register_forward_hook(poison)
    with pytest.raises(NonFiniteLossError, match="step 7"):
        trainer.run(Budget(steps=20))
    assert torch.load(tmp_path / "every_step" / "last.pt", weights_only=True, map_location="cpu")["step"] == 6


def test_checkpoint_of_another_preset_is_refused(tmp_path: Path) -> None:
    fit(PRESETS["tiny_dcgan"], _data(), tmp_path, Budget(steps=1), device="cpu", progress=False)
    with pytest.raises(ValueError, match=r"tiny_dcgan.*tiny_sagan"):
        Trainer(PRESETS["tiny_sagan"], _data(), tmp_path, resume=True, device="cpu", progress=False)


def test_checkpoint_from_before_newer_fields_resumes_without_warning(tmp_path: Path) -> None:
    import warnings

    from lab5_utils.gan.checkpoint import load_checkpoint, save_checkpoint

    cfg = PRESETS["tiny_wgan_gp"]
    fit(cfg, _data(), tmp_path, Budget(steps=1), device="cpu", progress=False)
    old = load_checkpoint(tmp_path / "last.pt")
    del old["config"]["gp_every"], old["stats_window"]  # as written before these existed
    save_checkpoint(old, tmp_path / "last.pt")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a "changed settings" warning would fail here
        trainer = Trainer(cfg, _data(), tmp_path, resume=True, device="cpu", progress=False)
    assert trainer.step == 1


def test_loss_plot_skips_rows_without_a_lazy_penalty(tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from lab5_utils.report.figures import plot_losses

    cfg = dataclasses.replace(PRESETS["tiny_wgan_gp"], n_critic=1, gp_every=2)  # gp in every 2nd row only
    fit(cfg, _data(), tmp_path, Budget(steps=4), device="cpu", progress=False)
    assert ["gp" in r for r in read_stats(tmp_path) if "d_loss" in r] == [True, False, True, False]
    lines = {line.get_label(): len(line.get_xdata()) for line in plot_losses(tmp_path).axes[0].lines}
    assert lines["gp"] == 2 and lines["d_loss"] == 4


def test_eval_fn_drives_best_checkpoint_and_stats(tmp_path: Path) -> None:
    calls: list[bool] = []

    def eval_fn(G: torch.nn.Module) -> dict[str, float]:
        calls.append(G.training)
        return {"score": float(len(calls))}  # keeps improving

    trainer = fit(PRESETS["tiny_dcgan"], _data(), tmp_path, Budget(steps=4), device="cpu", progress=False,
                  eval_fn=eval_fn, eval_every=2)
    assert len(calls) == 4 and not any(calls)  # G and G_ema at steps 2 and 4, in eval mode
    assert trainer.G.training
    assert trainer.best["step"] == 4 and trainer.best["metric"] == "score"
    assert torch.load(tmp_path / "best.pt", weights_only=True)["kind"] == "best"
    evals = [r for r in read_stats(tmp_path) if "eval" in r]
    assert [r["step"] for r in evals] == [2, 4] and "score" in evals[0]["eval_ema"]


def test_epochs_and_bad_data(tmp_path: Path) -> None:
    trainer = fit(PRESETS["tiny_dcgan"], _data(12), tmp_path, Budget(epochs=1), device="cpu", progress=False)
    assert trainer.batches.epoch == 1 and trainer.step == 4  # 3 batches per epoch; the 4th starts epoch 1
    with pytest.raises(ValueError, match="uint8"):
        Trainer(PRESETS["tiny_dcgan"], (torch.zeros(8, 3, 64, 64), _data(8)[1]), tmp_path / "x", device="cpu")
    with pytest.raises(ValueError, match="give a budget"):
        trainer.run(Budget())


def _write_folder(root: Path, n: int = 6) -> None:
    images, _ = _data(n)
    (root / "images").mkdir(parents=True)
    names = ["red cube", "blue sphere", "gray cylinder"]
    listing = {}
    for i in range(n):
        name = f"CLEVR_train_{i // 3:06d}_{i % 3}.png"
        Image.fromarray(images[i].permute(1, 2, 0).numpy()).save(root / "images" / name)
        listing[name] = names[: 1 + i % 3]
    (root / "train.json").write_text(json.dumps(listing))


def test_cli_train_then_generate(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from lab5_utils.cli.train import main, main_generate

    monkeypatch.setenv("LAB5_FAST", "1")  # the tiny judge for the final metrics

    _write_folder(tmp_path / "data")
    out = tmp_path / "run"
    args = ["--preset", "tiny_dcgan", "--data", str(tmp_path / "data"), "--out", str(out), "--steps", "2",
            "--eval-every", "0", "--device", "cpu", "--no-progress", "--set", "lr_g=0.001"]
    assert main([*args, "--seeds", "2", "--frechet-samples", "0"]) == 0
    assert torch.load(out / "last.pt", weights_only=True)["config"]["lr_g"] == 0.001
    assert "TINY test judge" in capsys.readouterr().out and (out / "metrics.json").is_file()
    with pytest.raises(FileExistsError, match="last.pt exists: pass --resume"):
        main(args)
    with pytest.raises(ValueError, match="lr_gg"):
        main([*args[:-1], "lr_gg=0.001"])
    grid = tmp_path / "grid.png"
    assert main_generate(["--ckpt", str(out / "last.pt"), "--conditions", "test", "--out", str(grid),
                          "--device", "cpu"]) == 0
    assert Image.open(grid).size[0] == 8 * 64 + 9 * 2
    assert "grid.png" in capsys.readouterr().out
    beside = tmp_path / "beside.png"
    cond_file = tmp_path / "conds.json"
    listing = json.loads((tmp_path / "data" / "train.json").read_text())
    cond_file.write_text(json.dumps([listing[sorted(listing)[1]], ["gray cube", "red cube", "blue cube"]]))
    assert main_generate(["--ckpt", str(out / "last.pt"), "--conditions", str(cond_file), "--out", str(beside),
                          "--beside", str(tmp_path / "data"), "--device", "cpu"]) == 0
    grid = np.asarray(Image.open(beside))  # one row: 2 generated + 2 padding | 2 real (one found, one grey) + 2
    assert grid.shape == (64 + 4, 8 * 64 + 9 * 2, 3)
    same_set = [name for name in listing if listing[name] == listing[sorted(listing)[1]]]  # two scenes show it
    shown = grid[2:66, 2 + 4 * 66:66 * 5]
    assert any(np.array_equal(shown, np.asarray(Image.open(tmp_path / "data" / "images" / name))) for name in same_set)
    assert (grid[2:66, 2 + 5 * 66:66 * 6] == 128).all()
