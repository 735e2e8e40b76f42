"""How long a run trains: one value passed from the CLI, the notebooks and the benchmarks to ``run_preset``, the
trainer and its ETA.

``Budget(train_minutes=60)``, ``Budget(epochs=100)``, ``Budget(steps=406)``; caps combine, the first one met ends
the run. All but ``wall_minutes`` are totals over resumes, so a met budget trains nothing.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any


@dataclasses.dataclass(frozen=True)
class Budget:
    """``train_minutes``: minutes of training-step time (evaluations and checkpoints not counted), summed over
    resumes; ``epochs``: passes over the training set; ``steps``: generator steps; ``wall_minutes``: wall time of
    one call. ``None``: no such cap."""

    train_minutes: float | None = None
    epochs: int | None = None
    steps: int | None = None
    wall_minutes: float | None = None

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            whole = field.name in ("epochs", "steps")
            if value is None:
                continue
            number = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
            if not number or value < 0 or (whole and value != int(value)):  # 2 and 2.0 are whole, 2.5 is not
                kind = "a whole number" if whole else "a number"
                raise ValueError(f"budget: {field.name}={value!r} must be {kind} >= 0 (or None: no cap)")

    @property
    def given(self) -> bool:
        """Whether any cap is set (a run needs one)."""
        return any(getattr(self, f.name) is not None for f in dataclasses.fields(self))

    def met(self, *, step: int, epoch: int, wall_s: float, train_s: float) -> bool:
        """Whether a run at generator ``step``, finished ``epoch``s, ``wall_s`` seconds into this call and
        ``train_s`` seconds of training time in total has met any cap."""
        return any(limit is not None and reached >= limit for limit, reached in self._pairs(step, epoch, wall_s,
                                                                                              train_s))

    def seconds_left(self, *, step: int, epoch: int, wall_s: float, train_s: float, step_s: float,
                     steps_per_epoch: float) -> float:
        """Seconds until the nearest cap at ``step_s`` seconds per generator step (the ETA)."""
        per_unit = (step_s, step_s * steps_per_epoch, 1.0, 1.0)  # seconds per step, epoch, wall s, training s
        left = [max(0.0, limit - reached) * unit
                for (limit, reached), unit in zip(self._pairs(step, epoch, wall_s, train_s), per_unit, strict=True)
                if limit is not None]
        return min(left) if left else math.inf

    def _pairs(self, step: int, epoch: int, wall_s: float, train_s: float) -> list[tuple[float | None, float]]:
        minutes = (None if m is None else 60.0 * m for m in (self.wall_minutes, self.train_minutes))
        return list(zip((self.steps, self.epochs, *minutes), (step, epoch, wall_s, train_s), strict=True))

    def record(self) -> dict[str, Any]:
        """What ``metrics.json`` keeps of it (``budget`` and the request): ``minutes``, ``epochs``, ``steps``."""
        return {"minutes": self.train_minutes, "epochs": self.epochs, "steps": self.steps}

    def describe(self) -> str:
        """``"10 training minutes"``, ``"406 steps"``, ``"5 epochs or 60 training minutes"`` ..."""
        parts = [f"{v:g} {unit}" for v, unit in ((self.steps, "steps"), (self.epochs, "epochs"),
                                                 (self.train_minutes, "training minutes"),
                                                 (self.wall_minutes, "wall minutes")) if v is not None]
        return " or ".join(parts) or "no budget"
