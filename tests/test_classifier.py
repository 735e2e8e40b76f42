"""The frozen auxiliary classifier: shapes, that its loop learns a toy task, its cache and file checks, and how
the trainer uses it (G's loss only, the classifier never changes, exact resume)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from PIL import Image
from test_evaluator import toy_images, toy_labels  # the toy i-CLEVR drawer shared with the judge tests

from lab5_utils.gan import classifier as C
from lab5_utils.gan.budget import Budget
from lab5_utils.gan.config import PRESETS
from lab5_utils.gan.stream import random_dataset
from lab5_utils.gan.trainer import Trainer
from lab5_utils.judge.model import compute_acc, save_course_format
from lab5_utils.labels import package_file


def _tiny_classifier() -> C.AuxClassifier:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return C.AuxClassifier(width=4)


def test_classifier_shapes_and_logits() -> None:
    model = _tiny_classifier().eval()
    out = model(torch.rand(5, 3, 64, 64) * 2 - 1)
    assert out.shape == (5, 24)
    assert (out < 0).any()  # logits, not probabilities


def test_fit_classifier_learns_a_toy_task() -> None:
    y = toy_labels(384, 0)
    config = C.ClassifierConfig(width=16, epochs=8, batch_size=32, lr=5e-3, max_shift=2, holdout_fraction=0.1)
    model, meta = C.fit_classifier(toy_images(y, 1), y, list(range(len(y))), config, progress=False)
    y_test = toy_labels(100, 7)
    with torch.no_grad():
        acc = compute_acc(model(toy_images(y_test, 8).float() / 127.5 - 1), y_test)
    assert acc > 0.6, acc  # chance is ~0.09
    assert meta["format"] == C.FORMAT and meta["classifier_config"]["width"] == 16


def _folder(root: Path, n_scenes: int = 6) -> Path:
    y = toy_labels(3 * n_scenes, 3)
    images = toy_images(y, 4)
    names = [f"CLEVR_train_{s:06d}_{t}.png" for s in range(n_scenes) for t in range(3)]
    (root / "images").mkdir(parents=True)
    classes = json.loads(package_file("objects.json").read_text())
    inverse = {v: k for k, v in classes.items()}
    listing = {}
    for name, image, row in zip(names, images, y, strict=True):
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(root / "images" / name)
        listing[name] = [inverse[int(i)] for i in torch.nonzero(row).flatten()]
    (root / "train.json").write_text(json.dumps(listing))
    return root


def test_ensure_classifier_trains_once_and_loads_frozen(tmp_path: Path) -> None:
    root = _folder(tmp_path / "data")
    path = C.ensure_classifier(root, C.ClassifierConfig.tiny_config(), device="cpu", progress=False)
    mtime = path.stat().st_mtime_ns
    assert C.ensure_classifier(root, C.ClassifierConfig.tiny_config(), device="cpu", progress=False) == path
    assert path.stat().st_mtime_ns == mtime  # cached, not retrained
    model = C.load_classifier(path)
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    loaded = torch.load(path, weights_only=True, map_location="cpu")
    assert set(loaded) == {"model", "meta"}


def test_the_classifier_is_provisioned_as_the_judge_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 21: one cache key per data folder (its content, as the judge's: a copied folder keeps it, an older
    version's key is adopted, not retrained), and the mode comes from the caller, not from LAB5_FAST."""
    import shutil

    root = _folder(tmp_path / "data")
    trained: list[C.ClassifierConfig] = []

    def fake_train(data_root, out, config, device="cpu", progress=True, exclude_scenes=frozenset()):
        trained.append(config)
        save_course_format(C.AuxClassifier(config.width), out, {"format": C.FORMAT,
                                                                 "classifier_config": dataclasses.asdict(config)})

    monkeypatch.setattr(C, "train_classifier", fake_train)
    monkeypatch.setenv("LAB5_CACHE", str(tmp_path / "cache"))  # empty: other tests cached classifiers of this folder
    monkeypatch.setenv("LAB5_FAST", "1")  # the environment does not pick the mode
    full = C.ensure_classifier(root, progress=False)
    assert trained == [C.ClassifierConfig()]
    assert C.ensure_classifier(root, tiny=True, progress=False) != full
    assert trained[-1] == C.ClassifierConfig.tiny_config()
    shutil.copytree(root, tmp_path / "moved")  # another path, new file times, the same content
    assert C.ensure_classifier(tmp_path / "moved", progress=False) == full and len(trained) == 2
    config = C.ClassifierConfig(width=8)
    legacy = C.classifier_cache_path(root, config, legacy=True)  # where an older version cached it
    assert legacy != C.classifier_cache_path(root, config)
    fake_train(root, legacy, config)
    assert C.ensure_classifier(root, config, progress=False) == C.classifier_cache_path(root, config)
    assert len(trained) == 3 and not legacy.exists()  # adopted, not trained again


def test_load_classifier_names_a_foreign_file(tmp_path: Path) -> None:
    judge_like = tmp_path / "judge.pth"
    save_course_format(torch.nn.Linear(2, 2), judge_like, {"format": "something else"})
    with pytest.raises(ValueError, match="judge.pth: not an aux classifier"):
        C.load_classifier(judge_like)
    missing = tmp_path / "nope.pt"
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        C.load_classifier(missing)


def test_ensure_classifier_names_a_folder_without_listing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="train.json"):
        C.ensure_classifier(tmp_path, C.ClassifierConfig.tiny_config(), progress=False)


def test_cls_weight_needs_a_classifier(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs the frozen aux classifier"):
        Trainer(PRESETS["tiny_sngan_cls"], random_dataset(8), tmp_path, device="cpu", progress=False)


@pytest.mark.parametrize("preset", ["tiny_sngan_cls", "tiny_dcgan_cls", "tiny_sagan_cls", "tiny_wgan_gp_cls",
                                    "tiny_projected_cls"])
def test_classifier_loss_moves_g_and_never_the_classifier(preset: str, tmp_path: Path) -> None:
    classifier = _tiny_classifier()
    frozen = {k: v.clone() for k, v in classifier.state_dict().items()}
    trainer = Trainer(PRESETS[preset], random_dataset(8), tmp_path, device="cpu", progress=False,
                      classifier=classifier)
    g_before = {k: v.clone() for k, v in trainer.G.state_dict().items()}
    values = trainer.train_step()
    assert "g_cls" in values and values["g_cls"] > 0
    assert any(not torch.equal(g_before[k], v) for k, v in trainer.G.state_dict().items())
    assert all(torch.equal(frozen[k], v) for k, v in classifier.state_dict().items())  # BN stats included


def test_classifier_term_changes_the_generator_update(tmp_path: Path) -> None:
    """The same run with cls_weight 0 and 1 differs in G after one step, and not in D (the classifier term is in
    G's loss only; D's update comes first and sees the same fakes)."""
    states = []
    for weight in (0.0, 1.0):
        cfg = dataclasses.replace(PRESETS["tiny_sngan_cls"], cls_weight=weight, cls_warmup=0)
        trainer = Trainer(cfg, random_dataset(8), tmp_path / str(weight), device="cpu", progress=False,
                          classifier=_tiny_classifier())
        trainer.train_step()
        states.append((trainer.G.state_dict(), trainer.D.state_dict()))
    (g0, d0), (g1, d1) = states
    assert all(torch.equal(d0[k], d1[k]) for k in d0)
    assert any(not torch.equal(g0[k], g1[k]) for k in g0 if g0[k].is_floating_point())


def _check_resume_is_exact(cfg, tmp_path: Path, steps: int) -> None:
    """``steps`` in one run vs half of them, then a resume to ``steps``: the same EMA generator."""
    data = random_dataset(12)

    def trainer(folder: str, resume: bool = False) -> Trainer:
        return Trainer(cfg, data, tmp_path / folder, resume=resume, device="cpu", progress=False,
                       classifier=_tiny_classifier())

    full = trainer("full").run(Budget(steps=steps))
    trainer("part").run(Budget(steps=steps // 2))
    resumed = trainer("part", resume=True).run(Budget(steps=steps))
    for key, value in full.G_ema.state_dict().items():
        assert torch.equal(value, resumed.G_ema.state_dict()[key]), key


def test_resume_with_classifier_and_d_shift_is_exact(tmp_path: Path) -> None:
    _check_resume_is_exact(dataclasses.replace(PRESETS["tiny_sngan_cls"], d_shift=2), tmp_path, steps=6)


def test_projected_discriminator_learns_only_its_heads(tmp_path: Path) -> None:
    classifier = _tiny_classifier()
    trainer = Trainer(PRESETS["tiny_projected_cls"], random_dataset(8), tmp_path, device="cpu", progress=False,
                      classifier=classifier)
    D = trainer.D
    frozen = {k: v.clone() for k, v in D.state_dict().items() if k.startswith(("features.", "mix."))}
    assert all(torch.equal(frozen[f"features.{k}"], v) for k, v in classifier.features.state_dict().items())
    heads_before = {k: v.clone() for k, v in D.heads.state_dict().items()}
    for _ in range(2):
        trainer.train_step()
    assert not D.features.training  # BatchNorm keeps the classifier's statistics
    assert all(torch.equal(frozen[k], v) for k, v in D.state_dict().items() if k in frozen)
    assert any(not torch.equal(heads_before[k], v) for k, v in D.heads.state_dict().items())
    assert {id(p) for p in trainer.d_params} == {id(p) for p in D.heads.parameters()}
    score, aux = D(torch.zeros(2, 3, 64, 64), random_dataset(2)[1])
    assert score.shape == (2,) and aux is None


def test_projected_discriminator_refuses_what_has_no_meaning_on_features() -> None:
    from lab5_utils.gan.models.projected import Discriminator

    with pytest.raises(ValueError, match="only projection"):
        Discriminator(cond="concat")
    with pytest.raises(ValueError, match="expected an AuxClassifier"):
        Discriminator().load_features(torch.nn.Linear(2, 2))


def test_projected_resume_is_exact(tmp_path: Path) -> None:
    _check_resume_is_exact(PRESETS["tiny_projected_cls"], tmp_path, steps=4)


def test_classifier_weight_ramps_up_from_zero(tmp_path: Path) -> None:
    """With ``cls_warmup=k`` the classifier's weight is step/k: zero on the first step (the same G update as
    without the classifier), then growing."""
    runs = {}
    for name, weight, warmup in (("off", 0.0, 0), ("ramp", 1.0, 4), ("full", 1.0, 0)):
        cfg = dataclasses.replace(PRESETS["tiny_sngan_cls"], cls_weight=weight, cls_warmup=warmup)
        runs[name] = Trainer(cfg, random_dataset(8), tmp_path / name, device="cpu", progress=False,
                             classifier=_tiny_classifier())
        runs[name].train_step()
    g = {name: t.G.state_dict() for name, t in runs.items()}
    assert all(torch.equal(g["off"][k], g["ramp"][k]) for k in g["off"])
    assert any(not torch.equal(g["off"][k], g["full"][k]) for k in g["off"] if g["off"][k].is_floating_point())
    with pytest.raises(ValueError, match="cls_warmup"):
        dataclasses.replace(PRESETS["sngan_cls"], cls_warmup=-1)


def test_resume_with_another_classifier_warns(tmp_path: Path) -> None:
    cfg, data = PRESETS["tiny_sngan_cls"], random_dataset(8)
    Trainer(cfg, data, tmp_path, device="cpu", progress=False, classifier=_tiny_classifier()).run(Budget(steps=1))
    other = _tiny_classifier()
    with torch.no_grad():
        other.fc.bias.add_(1.0)
    with pytest.warns(UserWarning, match="another aux classifier"):
        Trainer(cfg, data, tmp_path, resume=True, device="cpu", progress=False, classifier=other)
