"""run_preset on a tiny render: trains to a budget, resumes without retraining, writes metrics.json."""

import dataclasses
import json

import matplotlib
import pytest

matplotlib.use("Agg")

from lab5_utils.evaluation import experiment
from lab5_utils.gan.budget import Budget
from lab5_utils.gan.log import compact_stats, read_stats  # noqa: E402
from lab5_utils.report import figures as report_figures  # noqa: E402
from lab5_utils.report import notebook  # noqa: E402
from lab5_utils.synth.render import render_dataset  # noqa: E402

# CI's mode: the tiny judge and classifier, on the CPU, no Frechet distance
TWO_SEEDS = experiment.RunOptions(seeds=2, eval_every=1, frechet_samples=0, device="cpu", progress=False, tiny=True)
ONE_SEED = experiment.RunOptions(seeds=1, eval_every=1, frechet_samples=0, device="cpu", progress=False, tiny=True)


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    return render_dataset(tmp_path_factory.mktemp("data") / "s", scenes=8, seed=5, workers=1, progress=False)


def test_run_preset_trains_evaluates_and_resumes(tiny_root, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    first = experiment.run_preset("tiny_wgan_gp", out, Budget(steps=2), data_root=tiny_root, options=TWO_SEEDS)
    assert first["step"] == 2 and first["seeds"] == 2 and first["judge_tiny"] is True
    assert "CPU" in first["hardware"] and first["images"] == 24
    for which in ("G", "G_ema"):
        for name in ("test", "new_test", "random"):
            entry = first["results"][which]["files"][name]
            assert len(entry["per_seed"]) == 2 and 0.0 <= entry["accuracy_mean"] <= 1.0
            assert 0.0 <= entry["exact_set_mean"] <= 1.0
    assert first["images_seen"] == 2 * 4 * 5 and first["request"]["classifier_sha256"] is None
    assert first["results"]["G"]["judge_sha256"] == first["results"]["G_ema"]["judge_sha256"] == first["judge_sha256"]
    assert json.loads((out / "metrics.json").read_text())["step"] == 2
    again = experiment.run_preset("tiny_wgan_gp", out, Budget(steps=2), data_root=tiny_root, options=TWO_SEEDS)
    assert again == first  # budget already met: nothing retrained, the saved metrics are returned
    more = experiment.run_preset("tiny_wgan_gp", out, Budget(steps=3), data_root=tiny_root, options=TWO_SEEDS)
    assert more["step"] == 3  # a larger budget resumes the run
    table = report_figures.comparison_table({"tiny": more})
    assert "| tiny | cbn / projection+acgan / wasserstein | 3 |" in table
    unmatched = [more["results"]["G_ema"]["files"][f]["unmatched_mean"] for f in ("test", "new_test")]
    assert f"| {unmatched[0]:.3f} / {unmatched[1]:.3f} |" in table
    for x in ("epoch", "minutes"):
        line = report_figures.plot_accuracy_curves({"tiny": more}, x=x).axes[0].lines[0]
        assert len(line.get_xdata()) == 3 and list(line.get_xdata()) == sorted(line.get_xdata())
    chance_line = report_figures.plot_accuracy_curves({"tiny": more}, chance=0.1).axes[0].lines[-1]
    assert list(chance_line.get_ydata()) == [0.1, 0.1] and chance_line.get_label() == "chance"
    with pytest.raises(ValueError, match="'epoch' or 'minutes'"):
        report_figures.plot_accuracy_curves({"tiny": more}, x="steps")
    assert report_figures.plot_losses(out).axes and report_figures.plot_per_class(more).axes
    compact = compact_stats(out, tmp_path / "compact.jsonl", every=2)  # what ships beside weights
    rows = read_stats(compact)
    assert [r["step"] for r in rows if "d_loss" in r] == [2, 3]  # multiples of 2, and the last row
    assert [r["step"] for r in rows if "eval_ema" in r] == [1, 2, 3]  # every evaluation
    curves = report_figures.plot_training(compact, chance=0.1)
    assert [line.get_label() for line in curves.axes[1].lines] == ["test.json", "new_test.json", "chance"]
    assert {"d_loss", "g_loss", "gp"} <= {line.get_label() for line in curves.axes[0].lines}
    check_notebook_helpers(more, out, tmp_path / "figures", capsys, monkeypatch)
    budget = {"budget": Budget(steps=3), "data_root": tiny_root, "options": TWO_SEEDS}
    G, own = notebook.final_generator("tiny_wgan_gp", out, budget)  # the user's own run wins over weights/
    assert own == more and G.z_dim == more["config"]["z_dim"]
    assert more["request"]["data_key"] and more["request"]["conditions_sha256"]
    (out / "metrics.json").write_text('{"step": 3, "res')  # cut short
    with pytest.warns(UserWarning, match=r"metrics\.json: not a metrics dict"):
        measured = experiment.run_preset("tiny_wgan_gp", out, **budget)
    assert measured["step"] == 3 and measured["results"]["G_ema"]["files"] == more["results"]["G_ema"]["files"]


def check_notebook_helpers(summary, run_dir, figures, capsys, monkeypatch):
    import torch

    from lab5_utils.gan.checkpoint import load_generator

    figures.mkdir()
    capsys.readouterr()
    assert notebook.plot_run(summary, run_dir).axes
    assert notebook.run_line(summary) in capsys.readouterr().out
    assert notebook.run_line({**summary, "judge_holdout_accuracy": None}).endswith("(held-out accuracy n/a)")
    grids = notebook.show_grids(load_generator(run_dir / "last.pt"), figures, prefix="tiny")
    assert len(grids.axes) == 2 and sorted(p.name for p in figures.iterdir()) == ["tiny_new_test_grid.png",
                                                                                  "tiny_test_grid.png"]
    beside = notebook.show_grids(load_generator(run_dir / "last.pt"), figures, prefix="tiny", reference=True)
    assert len(beside.axes) == 4 and "our render" in beside.axes[1].get_title()  # below the generated grid
    assert len(list(figures.iterdir())) == 2  # the reference row is shown, never saved
    rendered = notebook.reference_images([["red cube"], ["blue sphere", "gray cylinder"]])
    assert rendered.shape == (2, 3, 64, 64) and rendered.dtype == torch.uint8
    shown = []
    monkeypatch.setattr(notebook, "display", shown.append)
    assert notebook.show_metrics(summary, figures / "per_class.png").axes
    printed = capsys.readouterr().out
    assert "chance level on test.json" in printed
    tables = [m.data for m in shown]  # Markdown tables, one per generator
    assert len(tables) == 2 and "raw generator" in tables[1] and "| test | **" in tables[0]
    assert (figures / "per_class.png").is_file()


def test_run_preset_refuses_another_presets_run(tiny_root, tmp_path, monkeypatch):
    out = tmp_path / "run"
    experiment.run_preset("tiny_dcgan", out, Budget(steps=1), data_root=tiny_root, options=ONE_SEED)
    with pytest.raises(ValueError, match="tiny_dcgan"):
        experiment.run_preset("tiny_sagan", out, Budget(steps=1), data_root=tiny_root, options=ONE_SEED)


def test_cli_prints_the_metrics_table_of_a_generator_checkpoint(tiny_root, tmp_path, monkeypatch, capsys):
    from lab5_utils.cli import main

    monkeypatch.setenv("LAB5_FAST", "1")
    out = tmp_path / "run"
    experiment.run_preset("tiny_dcgan", out, Budget(steps=1), data_root=tiny_root, options=ONE_SEED)
    capsys.readouterr()
    assert main(["evaluator", "eval", "--ckpt", str(out / "last.pt"), "--data", str(tiny_root), "--seeds", "2",
                 "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "EMA generator" in printed and "TINY test judge" in printed
    assert "test" in printed and "new_test" in printed and "frechet_judge_distance" in printed


def test_chance_accuracy_matches_a_random_judge():
    import torch

    from lab5_utils.judge.model import compute_acc
    from lab5_utils.labels import encode_batch, load_conditions, resolve_conditions

    conditions = load_conditions(resolve_conditions("test"))
    y = encode_batch(conditions).repeat(400, 1)
    random_scores = torch.rand(y.shape, generator=torch.Generator().manual_seed(0))
    assert abs(compute_acc(random_scores, y) - experiment.chance_accuracy(conditions)) < 0.01
    assert experiment.chance_accuracy([["red cube"]]) == 1 / 24


def test_a_judge_trained_on_the_gan_data_keeps_its_held_out_scenes_out_of_training(tmp_path, monkeypatch):
    """Nothing a judge is measured on enters a training loss: a judge trained on the GAN's own folder (the real
    data's case) names its held-out scenes, and run_preset trains the GAN and its aux classifier without them."""
    from scenes import write_scenes

    from lab5_utils.data.dataset import load_arrays
    from lab5_utils.evaluation.real import heldout_report, real_vs_real_frechet
    from lab5_utils.judge.cache import train_judge
    from lab5_utils.judge.fit import JudgeConfig, heldout_scenes
    from lab5_utils.judge.model import judge_meta, load_judge

    root = write_scenes(tmp_path / "real", 10, layout="label")
    judge = tmp_path / "judge.pth"
    train_judge(root, judge, JudgeConfig(epochs=1, holdout_fraction=0.2, tiny=True), progress=False)
    held = heldout_scenes(judge_meta(judge), root)
    assert len(held) == 2  # 20 % of 10 scenes, all three frames of each
    other = write_scenes(tmp_path / "other", 10, seed=1)
    assert heldout_scenes(judge_meta(judge), other) == frozenset()  # another folder: nothing to keep out
    monkeypatch.setenv("LAB5_JUDGE", str(judge))
    summary = experiment.run_preset("tiny_sprite_cls", tmp_path / "run", Budget(steps=1), data_root=root,
                                    options=dataclasses.replace(ONE_SEED, eval_every=0))
    assert summary["images"] == 24 and summary["excluded_scenes"] == 2 and summary["request"]["excluded_scenes"]
    classifier = judge_meta(experiment.ensure_classifier(root, exclude_scenes=held, progress=False, tiny=True))
    assert sorted({int(name[12:18]) for name in classifier["excluded_files"]}) == sorted(held)
    report = heldout_report(judge, root)
    assert report["scenes"] == 2 and report["images"] == 6 and 0.0 <= report["exact_set"] <= report["top_k"] <= 1
    with pytest.raises(ValueError, match="was not trained on"):
        heldout_report(judge, other)
    images, _, names = load_arrays(root, progress=False)
    assert real_vs_real_frechet(load_judge(judge), images, names, samples=8) >= 0.0


def test_reference_images_of_the_real_data_are_training_images_of_exactly_that_set(tmp_path):
    import torch
    from test_evaluator import write_toy_folder

    from lab5_utils.data.dataset import load_arrays
    from lab5_utils.labels import encode_batch

    folder = write_toy_folder(tmp_path / "real", scenes=3)  # the real layout: no scenes.json
    images, labels, _ = load_arrays(folder, progress=False)
    listing = json.loads((folder / "train.json").read_text())
    wanted = [listing[sorted(listing)[4]], ["red cube", "blue cube", "gray cube"]]  # one shown, one (likely) not
    shown = notebook.reference_images(wanted, data_root=folder)
    first = (labels == encode_batch(wanted[:1])).all(1)
    assert any(torch.equal(shown[0], images[i]) for i in torch.nonzero(first).flatten().tolist())
    if not (labels == encode_batch(wanted[1:])).all(1).any():
        assert (shown[1] == 128).all()  # no such image: mid-grey, never another set
