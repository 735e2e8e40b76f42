"""The object-centric generator: one sprite per requested object over a background."""

from __future__ import annotations

import pytest
import torch

from lab5_utils.gan.config import PRESETS
from lab5_utils.gan.models import build_models
from lab5_utils.gan.models.compose import Generator
from lab5_utils.labels import encode_batch


def test_slots_hold_the_requested_classes_in_index_order() -> None:
    y = encode_batch([["yellow cylinder"], ["red cube", "blue sphere"], ["gray cube", "cyan sphere", "red cylinder"]])
    onehot, mask = Generator.slots(y)
    assert mask.tolist() == [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    for row, slot_classes in zip(y, onehot, strict=True):
        wanted = torch.nonzero(row).flatten().tolist()
        got = [int(c.argmax()) for c in slot_classes if c.sum() > 0]
        assert got == wanted
    assert onehot[0, 1:].sum() == 0  # empty slots carry no class


def test_output_shape_range_and_empty_slots_draw_nothing() -> None:
    torch.manual_seed(0)
    G = Generator(z_dim=16, channels=8).eval()
    y = encode_batch([["red cube"], ["red cube", "blue sphere"]])
    z = torch.randn(2, 16)
    with torch.no_grad():
        x = G(z, y)
        assert x.shape == (2, 3, 64, 64) and x.min() >= -1 and x.max() <= 1
        other = z.clone()
        other[:, 8:] = torch.randn(2, 8)  # the noise of slots 2 and 3
        x2 = G(other, y)
    assert torch.equal(x[0], x2[0])  # one object: slots 2-3 are empty, their noise changes nothing
    assert not torch.equal(x[1], x2[1])  # two objects: slot 2's noise moves the second sprite


def test_the_object_moves_with_its_own_class_only() -> None:
    torch.manual_seed(0)
    G = Generator(z_dim=16, channels=8).eval()
    z = torch.randn(1, 16)
    with torch.no_grad():
        a = G(z, encode_batch([["red cube"]]))
        b = G(z, encode_batch([["blue sphere"]]))
    assert not torch.equal(a, b)


def test_compose_refuses_other_designs_and_builds_from_its_preset() -> None:
    with pytest.raises(ValueError, match="only 'cbn'"):
        Generator(cond="concat")
    with pytest.raises(ValueError, match="equal chunks"):
        Generator(z_dim=10)
    G, D = build_models(PRESETS["tiny_compose_cls"])
    y = encode_batch([["red cube", "blue sphere"]] * 2)
    x = G(torch.randn(2, G.z_dim), y)
    assert D(x, y)[0].shape == (2,)
