"""A measurement built once and applied to any number of generators.

``Measurement(judges, conditions, ceiling=..., reference=..., settings=...)`` validates and encodes the conditions,
loads the judges (never trains one), renders the ceiling's real images and scores them, and keeps the Fréchet
reference's features; ``measurement(G)`` then costs only the generator's images and the judges' passes over them.
The numbers are those of :func:`lab5_utils.evaluation.metrics.file_metrics` (course top-k over noise seeds, exact set,
per class / object count, unmatched control), each file's ``ceiling`` (the judge on real images of the same
conditions: what a perfect generator scores) and ``frechet_judge_distance`` in the first judge's feature space (not
an FID: only comparable between runs read by the same judge).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from lab5_utils.data.dataset import load_arrays
from lab5_utils.data.default import ensure_default_data
from lab5_utils.evaluation.metrics import file_metrics, frechet_distance
from lab5_utils.evaluation.sampling import Renderer, generate, real_to_signed, render_real
from lab5_utils.judge.model import Judge, as_judge, compute_acc, exact_set_hits
from lab5_utils.labels import encode_batch, load_conditions, random_conditions, resolve_conditions
from lab5_utils.paths import rendered_by_us

# The course's two condition files, as a measurement's ``conditions`` (name -> file).
CONDITION_FILES = {"test": "test", "new_test": "new_test"}
RANDOM_CONDITIONS = 96  # the generalisation check: random valid conditions in neither course file (seed 0)
Conditions = Sequence[Sequence[str]]


def report_conditions() -> dict[str, Any]:
    """What a run's final metrics measure: both course files and ``random``, :data:`RANDOM_CONDITIONS` random
    valid conditions of 1-3 objects that are in neither file (:func:`lab5_utils.labels.random_conditions`)."""
    return {**CONDITION_FILES, "random": random_conditions(RANDOM_CONDITIONS, seed=0)}


def encode_conditions(conditions: Mapping[str, Conditions | str | Path] | Conditions | str | Path,
                      ) -> dict[str, tuple[list[list[str]], torch.Tensor]]:
    """``{name: (conditions, (N, 24) multi-hot)}`` of a condition file, a list, or a mapping of either, each set
    encoded once (which validates it: errors name the file or entry)."""
    if isinstance(conditions, str | Path):
        items = {Path(str(conditions)).stem: conditions}
    elif isinstance(conditions, Mapping):
        items = dict(conditions)
    else:
        items = {"conditions": conditions}
    out = {}
    for name, value in items.items():
        if isinstance(value, str | Path):
            value = load_conditions(resolve_conditions(value))
        out[str(name)] = ([list(c) for c in value], encode_batch(value, where=str(name)))
    return out


def normalise_conditions(conditions: Mapping[str, Conditions | str | Path] | Conditions | str | Path,
                         ) -> dict[str, list[list[str]]]:
    """``{name: validated conditions}`` (:func:`encode_conditions` without the encoding)."""
    return {name: conds for name, (conds, _) in encode_conditions(conditions).items()}


JudgeLike = Judge | nn.Module | str | Path
# what the ceiling's real images come from: a renderer ``(conditions, seed) -> images``, the images themselves per
# condition set, or None (no ceiling)
Ceiling = Renderer | Mapping[str, torch.Tensor] | None
Reference = tuple[torch.Tensor, torch.Tensor] | str | Path | None


@dataclasses.dataclass(frozen=True)
class MeasureSettings:
    """How a :class:`Measurement` samples: noise ``seeds`` (any iterable of ints: ``range(10)``), the Fréchet
    sample count (0 = skip) and seed, the seed of the ceiling's render, generation batch size, device, progress."""

    seeds: Iterable[int] = range(10)
    frechet_samples: int = 2048
    frechet_seed: int = 0
    render_seed: int = 0
    batch_size: int = 256
    device: str | torch.device = "cpu"
    progress: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))
        if not self.seeds:
            raise ValueError("measurement: seeds is empty")
        if self.frechet_samples < 0 or self.batch_size < 1:
            raise ValueError(f"measurement: frechet_samples={self.frechet_samples} must be >= 0 and "
                             f"batch_size={self.batch_size} >= 1")


def ceiling_for(data_root: str | Path | None) -> Renderer | None:
    """The ceiling of a generator trained on ``data_root``: our render of the conditions when that is our render (it
    has ``scenes.json``) or not given; none for other data (the real images), where a judge reading our render
    measures the render, not a ceiling."""
    return render_real if data_root is None or rendered_by_us(data_root) else None


class Measurement:
    """``judges``: one judge or ``{label: judge}`` (a :class:`~lab5_utils.judge.model.Judge`, a course-architecture
    module or a checkpoint path); ``conditions``: a list, a file name/path or ``{name: either}`` (default
    :func:`report_conditions`); ``ceiling``: see :data:`Ceiling`; ``reference``:
    the Fréchet distance's real images, ``(uint8 (M,3,64,64), labels (M,24))`` or a data folder (default: the
    synthetic default), loaded on first use."""

    def __init__(self, judges: JudgeLike | Mapping[str, JudgeLike],
                 conditions: Mapping[str, Conditions | str | Path] | Conditions | str | Path | None = None, *,
                 ceiling: Ceiling = render_real, reference: Reference = None,
                 settings: MeasureSettings | None = None) -> None:
        self.settings = settings or MeasureSettings()
        device = self.settings.device
        named = judges if isinstance(judges, Mapping) else {"judge": judges}
        if not named:
            raise ValueError("measurement: no judge given")
        self.judges = {str(label): as_judge(judge, device) for label, judge in named.items()}
        files = encode_conditions(report_conditions() if conditions is None else conditions)
        self.targets = {name: y for name, (_, y) in files.items()}
        real = {name: (ceiling.get(name) if isinstance(ceiling, Mapping)
                       else ceiling(conds, self.settings.render_seed) if ceiling else None)
                for name, (conds, _) in files.items()}  # rendered once, for every judge
        # per judge and condition set: (top-k, exact set) of the judge on those real images (None: no ceiling)
        self.ceilings = {label: {name: _scores(judge, images, self.targets[name])
                                 for name, images in real.items()} for label, judge in self.judges.items()}
        self.reference = reference
        self._reference: tuple[torch.Tensor, torch.Tensor] | None = None  # (real features, conditions to draw)

    def __call__(self, G: nn.Module, labels: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
        """``{judge label: metrics}`` of ``G`` (``G(z: (B, G.z_dim), y: (B, 24)) -> (B, 3, 64, 64) in [-1, 1]``)
        for the judges ``labels`` (default all); the Fréchet distance by the first judge only."""
        s = self.settings
        first = next(iter(self.judges))
        out = {}
        for label in labels or list(self.judges):
            judge = self.judges[label]
            result: dict[str, Any] = {"judge": judge.name, "judge_tiny": bool(judge.meta.get("tiny", False)),
                                      "seeds": list(s.seeds), "files": {}}
            for name, y in tqdm(self.targets.items(), desc="conditions", disable=not s.progress):
                entry = file_metrics(judge, G, y, s.seeds, s.device, s.batch_size)
                entry["ceiling"], entry["ceiling_exact_set"] = self.ceilings[label][name]
                result["files"][name] = entry
            result.update(self._frechet(G) if label == first else _no_frechet())
            out[label] = result
        return out

    def _frechet(self, G: nn.Module) -> dict[str, Any]:
        s = self.settings
        if s.frechet_samples == 0:
            return _no_frechet()
        judge = next(iter(self.judges.values()))
        if self._reference is None:  # the reference's real features and the conditions to draw, once
            if isinstance(self.reference, tuple):
                images, labels = self.reference
            else:
                root = Path(self.reference) if self.reference else ensure_default_data(progress=s.progress)
                images, labels, _ = load_arrays(root, 64, progress=s.progress)
            n = min(s.frechet_samples, len(images))
            rng = np.random.default_rng(s.frechet_seed)
            real_idx = torch.as_tensor(rng.choice(len(images), size=n, replace=False))
            cond_idx = torch.as_tensor(rng.choice(len(labels), size=n, replace=False))
            self._reference = (judge.features(real_to_signed(torch.as_tensor(images)[real_idx])),
                               torch.as_tensor(labels)[cond_idx].float())
        real, conditions = self._reference
        fake = judge.features(generate(G, conditions, s.frechet_seed, s.device, s.batch_size))
        n = len(real)
        return {"frechet_judge_distance": frechet_distance(fake, real),
                "frechet_samples": {"generated": n, "real": n}, "frechet_full_rank": n > fake.shape[1]}


def _no_frechet() -> dict[str, Any]:
    return {"frechet_judge_distance": None, "frechet_samples": {"generated": 0, "real": 0}}  # a new dict each time


def _scores(judge: Judge, real: torch.Tensor | None, y: torch.Tensor) -> tuple[float | None, float | None]:
    if real is None:
        return None, None
    predicted = judge.predict(real_to_signed(real))
    return compute_acc(predicted, y), float(exact_set_hits(predicted, y).float().mean())


def evaluate_generator(G: nn.Module, conditions: Mapping[str, Conditions | str | Path] | Conditions | str | Path,
                       judge: JudgeLike, *, ceiling: Ceiling = render_real, reference: Reference = None,
                       settings: MeasureSettings | None = None) -> dict[str, Any]:
    """All metrics of one generator by one judge: a :class:`Measurement` used once (see there)."""
    return Measurement(judge, conditions, ceiling=ceiling, reference=reference, settings=settings)(G)["judge"]


def periodic_eval(judge: JudgeLike, device: torch.device, seeds: int = 3) -> Callable[[nn.Module], dict[str, float]]:
    """Evaluation during training: ``eval_fn(G) -> {"acc_mean", "acc_test", "acc_new_test"}``, the judge's accuracy
    on both course files, mean over ``seeds`` fixed noise seeds (0..seeds-1); no ceiling, no Fréchet distance."""
    measurement = Measurement(judge, CONDITION_FILES, ceiling=None, settings=MeasureSettings(
        seeds=range(seeds), frechet_samples=0, device=device, progress=False))

    def eval_fn(G: nn.Module) -> dict[str, float]:
        files = measurement(G)["judge"]["files"]
        accs = {f"acc_{name}": float(entry["accuracy_mean"]) for name, entry in files.items()}
        return {"acc_mean": sum(accs.values()) / len(accs), **accs}

    return eval_fn
