"""The sprite generator: layout, perspective and looks learned from the training scenes; objects drawn where the
layout puts them; checkpoints carry what it learned; training resumes exactly."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from scenes import HEIGHT_B, draw_scenes

from lab5_utils.gan.budget import Budget
from lab5_utils.gan.checkpoint import load_generator
from lab5_utils.gan.config import PRESETS
from lab5_utils.gan.models import build_models
from lab5_utils.gan.models.sprite import Generator, shape_and_colour
from lab5_utils.gan.stream import random_dataset
from lab5_utils.gan.trainer import Trainer
from lab5_utils.labels import encode_batch


def _fitted(seed: int = 0) -> Generator:
    torch.manual_seed(seed)
    G = Generator(z_dim=16, channels=4)
    images, labels, _, _ = draw_scenes(12, seed=4)
    assert G.fit_layout(images, labels, seed=0)
    return G.eval()


def test_shape_and_colour_split_the_class() -> None:
    shape, colour = shape_and_colour(encode_batch([["red sphere"], ["yellow cylinder"], ["gray cube"]]))
    assert shape.argmax(1).tolist() == [1, 2, 0] and colour.argmax(1).tolist() == [1, 7, 0]


def test_fit_layout_learns_from_scenes_and_warns_without_them() -> None:
    G = _fitted()
    assert abs(float(G.perspective[1]) - HEIGHT_B) < 0.08
    first = G.layouts[:, 0]
    # object 0 near the centre, as drawn (measured against the median floor, which the centre objects colour)
    assert (first - torch.tensor([31.0, 27.0])).abs().max() < 4.0
    assert float(G.albedo.detach().sigmoid().std()) > 0.05  # colours learned (all grey before)
    blank = Generator(z_dim=16, channels=4)
    with pytest.warns(UserWarning, match="no scene frames"):
        assert not blank.fit_layout(*random_dataset(12))


def test_output_range_determinism_and_empty_slots() -> None:
    G = _fitted()
    y = encode_batch([["red cube"], ["red cube", "blue sphere"]])
    z = torch.randn(2, 16)
    with torch.no_grad():
        x = G(z, y)
        assert x.shape == (2, 3, 64, 64) and x.min() >= -1 and x.max() <= 1
        assert torch.equal(x, G(z, y))
        other = z.clone()
        other[:, 12:] = torch.randn(2, 4)  # slot 3's noise: no third object requested
        assert torch.equal(x, G(other, y))
        moved = z.clone()
        moved[:, 0] = -z[:, 0] + 0.5  # another layout
        assert not torch.equal(x[1], G(moved, y)[1])


def test_each_object_is_drawn_in_its_box() -> None:
    G = _fitted()
    z = torch.randn(4, 16)
    with torch.no_grad():
        for slot, condition in enumerate([["gray cube"], ["gray cube", "red sphere"]]):
            base = encode_batch([condition] * 4)
            changed = base.clone()
            changed[:, [0 if slot == 0 else 9]] = 0.0  # swap the object in this slot for another colour
            changed[:, [5 if slot == 0 else 13]] = 1.0
            diff = (G(z, base) - G(z, changed)).abs().sum(1)  # (4, 64, 64): where that object is
            box = G.boxes(z)[:, slot]
            ys, xs = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
            weight = diff / diff.sum((1, 2), keepdim=True)
            centre = torch.stack([(weight * xs).sum((1, 2)), (weight * ys).sum((1, 2))], 1)
            assert (centre - box[:, :2]).abs().max() < 3.0, (slot, centre, box)


def test_training_keeps_the_layout_in_checkpoints_and_resumes_exactly(tmp_path: Path) -> None:
    cfg = dataclasses.replace(PRESETS["tiny_sprite_cls"], cls_weight=0.0, cls_alone=0.0)
    images, labels, _, _ = draw_scenes(6, seed=5)
    full = Trainer(cfg, (images, labels), tmp_path / "full", device="cpu", progress=False).run(Budget(steps=4))
    Trainer(cfg, (images, labels), tmp_path / "part", device="cpu", progress=False).run(Budget(steps=2))
    resumed = Trainer(cfg, (images, labels), tmp_path / "part", resume=True, device="cpu", progress=False)
    resumed.run(Budget(steps=4))
    for key, value in full.G_ema.state_dict().items():
        assert torch.equal(value, resumed.G_ema.state_dict()[key]), key
    loaded = load_generator(tmp_path / "full" / "last.pt")
    assert torch.equal(loaded.layouts, full.G_ema.layouts) and torch.equal(loaded.perspective, full.G.perspective)
    assert float(loaded.perspective[1]) > 0  # measured on the scenes, not the default


def test_sprite_builds_from_its_preset_and_refuses_other_designs() -> None:
    with pytest.raises(ValueError, match="only 'cbn'"):
        Generator(cond="concat")
    with pytest.raises(ValueError, match="chunks"):
        Generator(z_dim=10)
    G, D = build_models(PRESETS["tiny_sprite_cls"])
    y = encode_batch([["red cube", "blue sphere"]] * 2)
    assert D(G(torch.randn(2, G.z_dim), y), y)[0].shape == (2,)


def test_each_object_alone_and_its_classifier_term() -> None:
    G = _fitted()
    y = encode_batch([["red cube"], ["red cube", "blue sphere", "yellow cylinder"]])
    z = torch.randn(2, 16)
    with torch.no_grad():
        alone, classes = G.alone(z, y)
        both = G(z, y)
    assert alone.shape == (4, 3, 64, 64) and classes.argmax(1).tolist() == [1, 1, 10, 23]
    assert torch.allclose(alone[0], both[0])  # one object: alone is the image itself
    assert not torch.allclose(alone[1], both[1])  # the others are missing from it
    with pytest.raises(ValueError, match="cls_alone"):
        dataclasses.replace(PRESETS["tiny_compose_cls"], cls_alone=1.0)


def test_training_with_the_per_object_term_logs_it(tmp_path: Path) -> None:
    from lab5_utils.gan.classifier import AuxClassifier

    cfg = dataclasses.replace(PRESETS["tiny_sprite_cls"], cls_alone=1.0, cls_warmup=0)
    images, labels, _, _ = draw_scenes(6, seed=5)
    torch.manual_seed(0)
    trainer = Trainer(cfg, (images, labels), tmp_path, device="cpu", progress=False, classifier=AuxClassifier(4))
    trainer.run(Budget(steps=2))
    rows = (tmp_path / "stats.jsonl").read_text().splitlines()
    assert "g_cls_alone" in rows[-1]


@pytest.mark.parametrize("family", ["dcgan", "sagan", "wgan_gp"])
def test_every_course_family_trains_the_sprite_generator(family: str, tmp_path: Path) -> None:
    """The generator design is its own axis: the family's D and loss, the sprite G and its classifier terms."""
    from lab5_utils.gan.classifier import AuxClassifier
    from lab5_utils.gan.models import DISCRIMINATORS

    cfg = dataclasses.replace(PRESETS[f"tiny_{family}_sprite_cls"], cls_warmup=0)
    own = PRESETS[f"tiny_{family}"]
    G, D = build_models(cfg)
    assert isinstance(G, Generator) and type(D) is DISCRIMINATORS[own.arch]
    assert (cfg.arch, cfg.loss, cfg.n_critic, cfg.gp_lambda) == (own.arch, own.loss, own.n_critic, own.gp_lambda)
    images, labels, _, _ = draw_scenes(6, seed=5)
    torch.manual_seed(0)
    trainer = Trainer(cfg, (images, labels), tmp_path, device="cpu", progress=False, classifier=AuxClassifier(4))
    trainer.run(Budget(steps=2))
    assert "g_cls_alone" in (tmp_path / "stats.jsonl").read_text().splitlines()[-1]
    G_loaded = load_generator(tmp_path / "last.pt", ema=True)
    assert isinstance(G_loaded, Generator)
    with pytest.raises(ValueError, match="generator='blob'"):
        dataclasses.replace(cfg, generator="blob")
