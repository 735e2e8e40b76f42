"""Generator metrics on toy generators (one returning real toy images, one returning noise), the Frechet
distance against an independent formula, and the grid helpers."""

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from PIL import Image
from test_evaluator import toy_images, toy_judge, toy_labels  # the toy i-CLEVR drawer shared with the judge tests
from torch import nn

from lab5_utils.evaluation import metrics as M
from lab5_utils.evaluation.measurement import Measurement, MeasureSettings, evaluate_generator, report_conditions
from lab5_utils.labels import class_names, encode_batch
from lab5_utils.report import viz
from lab5_utils.report.figures import metrics_table


def conditions_of(y: torch.Tensor) -> list[list[str]]:
    names = class_names()
    return [[names[i] for i in torch.nonzero(row).flatten().tolist()] for row in y]


class RealToy(nn.Module):
    """Returns the toy 'real' image of each condition (ignores z): the ceiling generator."""

    z_dim = 8

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return toy_images(y.cpu(), seed=9).float() / 127.5 - 1


class Noise(nn.Module):
    """Uniform noise in [-1,1] from z: ignores the condition."""

    z_dim = 8

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))
        self.register_buffer("pattern", torch.randn(3, 64, 64, generator=torch.Generator().manual_seed(0)))

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        expand = z.repeat_interleave(64 * 64 * 3 // 8, dim=1).view(-1, 3, 64, 64)
        return torch.tanh(expand * self.scale + self.pattern)


@pytest.fixture(scope="module")
def judge(tmp_path_factory):
    judge = toy_judge(tmp_path_factory.getbasetemp())
    judge.meta["tiny"] = True  # a test judge: the table must say so
    return judge


def test_frechet_distance_matches_an_independent_formula():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 6)) @ rng.normal(size=(6, 6))
    b = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6)) + 0.5
    cov_a, cov_b = np.cov(a.T), np.cov(b.T)
    cross = np.sqrt(np.clip(np.linalg.eigvals(cov_a @ cov_b).real, 0, None)).sum()
    expected = np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * cross
    got = M.frechet_distance(torch.from_numpy(a), torch.from_numpy(b))
    assert got == pytest.approx(expected, rel=1e-6)
    assert M.frechet_distance(torch.from_numpy(a), torch.from_numpy(a)) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="features"):
        M.frechet_distance(torch.zeros(5, 3), torch.zeros(5, 4))


def test_generate_is_seeded_on_cpu_and_restores_training_mode():
    G = Noise().train()
    y = encode_batch([["red cube"]] * 5)
    first, again, other = M.generate(G, y, 3, batch_size=2), M.generate(G, y, 3), M.generate(G, y, 4)
    assert torch.equal(first, again) and not torch.equal(first, other) and G.training
    assert first.shape == (5, 3, 64, 64)
    with pytest.raises(ValueError, match="z_dim"):
        M.generate(nn.Identity(), y, 0)


def test_real_generator_reaches_the_ceiling_and_noise_is_near_chance(judge):
    y = toy_labels(32, 11)
    conds = conditions_of(y)
    real = toy_images(y, seed=9)
    ref_y = toy_labels(100, 12)
    reference = (toy_images(ref_y, 13), ref_y)
    kwargs = {"ceiling": {"toy": real}, "reference": reference}
    good = evaluate_generator(RealToy(), {"toy": conds}, judge, settings=MeasureSettings(progress=False), **kwargs)
    bad = evaluate_generator(Noise(), {"toy": conds}, judge, settings=MeasureSettings(range(3), progress=False),
                             **kwargs)
    g, b = good["files"]["toy"], bad["files"]["toy"]
    assert g["per_seed"] == [g["ceiling"]] * 10 and g["ceiling"] == judge.accuracy(real.float() / 127.5 - 1, y)
    assert g["accuracy_mean"] == pytest.approx(g["ceiling"], abs=1e-12)
    assert g["accuracy_std"] == pytest.approx(0.0, abs=1e-12) and good["seeds"] == list(range(10))
    assert b["ceiling"] == g["ceiling"] and len(b["per_seed"]) == 3
    assert b["accuracy_mean"] < 0.5 * g["ceiling"]
    assert b["best_seed"]["accuracy"] == max(b["per_seed"]) and b["best_seed"]["seed"] in range(3)
    assert set(g["per_class"]) == set(class_names()) and set(g["per_count"]) == {1, 2, 3}
    present = y.sum(0) > 0
    assert all((v is None) == (not p) for v, p in zip(g["per_class"].values(), present.tolist(), strict=True))
    assert good["frechet_samples"] == {"generated": 100, "real": 100} and good["frechet_full_rank"] is False
    assert good["frechet_judge_distance"] < bad["frechet_judge_distance"]
    assert g["accuracy_mean"] - g["unmatched_mean"] > b["accuracy_mean"] - b["unmatched_mean"]
    table = metrics_table(good)
    assert "toy" in table and "frechet_judge_distance" in table and "TINY" in table and "unmatched" in table


def test_renderer_output_is_resized_like_the_loader(judge):
    conds = [["red cube"], ["blue sphere", "yellow cylinder"], ["gray cube", "green sphere", "cyan cylinder"]]
    y = encode_batch(conds)
    big = torch.nn.functional.interpolate(toy_images(y, 2).float(), size=(240, 320)).round().to(torch.uint8)
    calls = []

    def renderer(c, seed):
        calls.append((c, seed))
        return big.permute(0, 2, 3, 1)  # (N,H,W,3) uint8 like render_conditions

    out = evaluate_generator(RealToy(), conds, judge, ceiling=renderer, settings=MeasureSettings(
        seeds=[0], render_seed=5, frechet_samples=0, progress=False))
    assert calls == [(conds, 5)] and out["frechet_judge_distance"] is None
    from lab5_utils.image_ops import resize_uint8

    expected = judge.accuracy(resize_uint8(big, 64).float() / 127.5 - 1, y)
    assert out["files"]["conditions"]["ceiling"] == expected


def test_packaged_condition_files_by_name(judge):
    settings = MeasureSettings(seeds=[0, 1], frechet_samples=0, progress=False)
    out = evaluate_generator(RealToy(), {"test": "test", "new_test": "new_test"}, judge, ceiling=None,
                             settings=settings)
    assert out["files"]["test"]["n_conditions"] == 32 and out["files"]["new_test"]["ceiling"] is None
    with pytest.raises(ValueError, match="mine, condition 0"):
        evaluate_generator(RealToy(), {"mine": [["pink cube"]]}, judge, ceiling=None, settings=settings)
    with pytest.raises(ValueError, match="seeds is empty"):
        MeasureSettings(seeds=[])


def test_a_measurement_is_built_once_and_applied_to_any_generator(judge):
    """The ceiling is rendered once for all judges and generators; each judge reads it; a second generator reuses
    it; the Fréchet distance comes from the first judge only."""
    y = toy_labels(16, 21)
    conds = conditions_of(y)
    calls = []

    def renderer(c, seed):
        calls.append(seed)
        return toy_images(encode_batch(c), seed=9)

    ref_y = toy_labels(40, 12)
    measurement = Measurement({"one": judge, "two": judge}, {"toy": conds}, ceiling=renderer,
                              reference=(toy_images(ref_y, 13), ref_y),
                              settings=MeasureSettings(seeds=[0, 1], frechet_samples=30, progress=False))
    good, bad = measurement(RealToy()), measurement(Noise())
    assert calls == [0] and set(good) == {"one", "two"}
    assert good["one"]["files"] == good["two"]["files"]  # the same judge twice: the same numbers
    assert good["one"]["frechet_judge_distance"] < bad["one"]["frechet_judge_distance"]
    assert good["two"]["frechet_judge_distance"] is None
    assert good["two"]["frechet_samples"] is not bad["two"]["frechet_samples"]  # no dict shared between results
    assert bad["one"]["files"]["toy"]["ceiling"] == good["one"]["files"]["toy"]["ceiling"]
    assert list(measurement(Noise(), ["two"])) == ["two"]
    alone = evaluate_generator(Noise(), {"toy": conds}, judge, ceiling=renderer, reference=(toy_images(ref_y, 13),
                               ref_y), settings=MeasureSettings(seeds=[0, 1], frechet_samples=30, progress=False))
    assert alone["files"] == bad["one"]["files"]
    assert alone["frechet_judge_distance"] == pytest.approx(bad["one"]["frechet_judge_distance"])


def test_save_grid_round_trips_pixels_and_lays_out_8_per_row(tmp_path):
    pixels = torch.randint(0, 256, (10, 3, 64, 64), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    path = viz.save_grid(pixels.float() / 127.5 - 1, tmp_path / "grid.png")
    grid = torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1)
    assert grid.shape == (3, 2 * 66 + 2, 8 * 66 + 2)
    for i in range(10):
        row, col = divmod(i, 8)
        assert torch.equal(grid[:, 2 + 66 * row:66 * (row + 1), 2 + 66 * col:66 * (col + 1)], pixels[i])
    clipped = viz.grid_uint8(torch.full((1, 3, 4, 4), 3.0), padding=0)
    assert int(clipped.min()) == 255
    with pytest.raises(ValueError, match="float"):
        viz.save_grid(pixels, tmp_path / "bad.png")
    assert isinstance(viz.show_grid(pixels[:3].float() / 127.5 - 1, title="x"), Figure)
    history = [{"epoch": 1, "train_loss": 0.5, "holdout_accuracy": 0.4}, {"epoch": 2, "train_loss": 0.3}]
    assert len(viz.plot_history(history).axes[0].lines) == 2


def test_real_images_in_the_wrong_range_are_refused():
    import torch

    from lab5_utils.evaluation.sampling import real_to_signed

    with pytest.raises(ValueError, match=r"in \[-1,1\] \(not \[0,1\]"):
        real_to_signed(torch.rand(2, 3, 64, 64))  # [0, 1] floats
    assert real_to_signed(torch.rand(2, 3, 64, 64) * 2 - 1).shape == (2, 3, 64, 64)


def test_exact_set_counts_only_exactly_the_requested_set():
    y = torch.zeros(4, 24)
    y[0, [1, 2]] = y[1, [1, 2]] = y[2, [1, 2]] = y[3, 5] = 1
    out = torch.full((4, 24), 0.1)
    out[0, [1, 2]] = 0.9  # exactly the set
    out[1, [1, 2, 7]] = 0.9  # an extra object: top-k still hits both, exact set misses
    out[2, 1] = 0.9  # a missing object
    out[3, 5] = 0.5  # not above the threshold
    assert M.exact_set_hits(out, y).tolist() == [True, False, False, False]
    with pytest.raises(ValueError, match="must both be"):
        M.exact_set_hits(out[:, :3], y)


def test_exact_set_and_its_ceiling_in_the_metrics(judge):
    y = toy_labels(32, 11)
    conds = conditions_of(y)
    real = toy_images(y, seed=9)
    kwargs = {"ceiling": {"toy": real}, "settings": MeasureSettings(range(2), frechet_samples=0, progress=False)}
    good = evaluate_generator(RealToy(), {"toy": conds}, judge, **kwargs)["files"]["toy"]
    bad = evaluate_generator(Noise(), {"toy": conds}, judge, **kwargs)["files"]["toy"]
    expected = float(M.exact_set_hits(judge.predict(real.float() / 127.5 - 1), y).float().mean())
    assert good["exact_set_mean"] == pytest.approx(expected) == pytest.approx(good["ceiling_exact_set"])
    assert good["exact_set_std"] == pytest.approx(0.0, abs=1e-12)
    assert bad["exact_set_mean"] < good["exact_set_mean"]
    assert "exact set" in metrics_table({"files": {"toy": good}, "seeds": [0, 1]})


def test_random_conditions_are_valid_new_and_seeded():
    from lab5_utils.labels import load_conditions, random_conditions, resolve_conditions

    conds = random_conditions(96, seed=0)
    assert conds == random_conditions(96, seed=0) and conds != random_conditions(96, seed=1)
    encode_batch(conds)  # valid: known, distinct labels, 1-3 of them
    sets = [frozenset(c) for c in conds]
    assert len(set(sets)) == 96
    course = {frozenset(c) for f in ("test", "new_test") for c in load_conditions(resolve_conditions(f))}
    assert not set(sets) & course
    sizes = [len(c) for c in conds]
    assert set(sizes) == {1, 2, 3} and min(sizes.count(k) for k in (2, 3)) >= 32
    assert report_conditions()["random"] == conds
    with pytest.raises(ValueError, match="random_conditions: n must be in"):
        random_conditions(10**6)
