"""A run's log: ``stats.jsonl`` (one JSON object per log step or evaluation, averaged over a window), reading it
back (torn lines of a kill or a full disk skipped with a warning), and the ETA line printed in a run's first
minute."""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from lab5_utils.gan.run_folder import STATS_FILE
from lab5_utils.io import atomic_write


def eta_line(cfg: Any, seconds_left: float, step_s: float) -> str:
    """The line a run prints once in its first minute: its speed and when its budget will be met (``seconds_left``,
    from :meth:`lab5_utils.gan.budget.Budget.seconds_left`)."""
    finish = time.strftime("%H:%M", time.localtime(time.time() + seconds_left))
    return (f"{cfg.name}: {step_s:.2f} s/step ({cfg.batch_size * cfg.n_critic / step_s:.0f} real img/s) -> budget "
            f"met in about {seconds_left / 60:.0f} min (~{finish}), plus evaluations")


def host_floats(values: Mapping[str, torch.Tensor | float]) -> dict[str, float]:
    """0-d tensors (any device) and floats -> floats, the tensors copied to the host in one transfer."""
    tensors = {k: v for k, v in values.items() if isinstance(v, torch.Tensor)}
    copied = torch.stack([v.float() for v in tensors.values()]).tolist() if tensors else []
    return {k: float(v) for k, v in {**values, **dict(zip(tensors, copied, strict=True))}.items()}


class StatsLog:
    """Averages per-step values over a window (each key over the steps that reported it: a lazy GP is not in
    every step) and appends one JSON object per line to ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def add(self, values: Mapping[str, float | torch.Tensor]) -> None:
        """Add one step's values: floats, or 0-d tensors summed where they live (no host sync until a read)."""
        for key, value in values.items():
            self.sums[key] = self.sums[key] + value if key in self.sums else value
            self.counts[key] = self.counts.get(key, 0) + 1

    def means(self) -> dict[str, float]:
        """The open window's mean of each key (copies tensor sums to the host: one sync)."""
        return {k: v / self.counts[k] for k, v in host_floats(self.sums).items()}

    def state_dict(self) -> dict[str, dict[str, Any]]:
        """The open window (saved in checkpoints, so the first row after a resume averages a whole window)."""
        return {"sums": host_floats(self.sums), "counts": dict(self.counts)}

    def load_state_dict(self, state: Mapping[str, Mapping[str, Any]]) -> None:
        self.sums = {k: float(v) for k, v in state.get("sums", {}).items()}
        self.counts = {k: int(v) for k, v in state.get("counts", {}).items()}

    def flush(self, extra: Mapping[str, Any]) -> dict[str, Any]:
        """Write ``extra`` and the window's means as one row and open a new window; returns the row."""
        row = {**extra, **self.means()}
        self.write(row)
        self.sums, self.counts = {}, {}
        return row

    def write(self, row: Mapping[str, Any]) -> None:
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
        with self.path.open("a") as f:
            f.write(json.dumps(clean) + "\n")

    def truncate_after(self, step: int) -> None:
        """Drop lines logged after ``step`` (an interrupted run's tail, before a resume from ``step``) and lines
        that are not JSON (a torn last line of a full disk or a kill), with a warning naming the file."""
        if not self.path.is_file():
            return
        parsed, torn = _parse_lines(self.path)
        lines = [line for line, row in parsed if isinstance(row, dict) and row.get("step", 0) <= step]
        if torn:
            warnings.warn(f"{self.path}: dropped {len(torn)} torn line(s) (line {', '.join(map(str, torn))}), "
                          "written when the run was killed or the disk was full", stacklevel=2)
        atomic_write(self.path, "".join(line + "\n" for line in lines))


def _parse_lines(path: Path) -> tuple[list[tuple[str, Any]], list[int]]:
    """``([(line, parsed JSON)] of the non-empty lines, [numbers of lines that are not JSON])`` of a log."""
    parsed, torn = [], []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if line.strip():
            try:
                parsed.append((line, json.loads(line)))
            except ValueError:
                torn.append(number)
    return parsed, torn


def read_stats(path: str | Path) -> list[dict[str, Any]]:
    """All rows of a ``stats.jsonl`` file (a run folder or the file itself)."""
    path = Path(path)
    path = path / STATS_FILE if path.is_dir() else path
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no stats file")
    parsed, torn = _parse_lines(path)
    if torn:  # cut short by a kill or a full disk (dropped for good on the next resume)
        warnings.warn(f"{path}: skipped {len(torn)} torn line(s)", stacklevel=2)
    return [row for _, row in parsed]


def compact_stats(source: str | Path, out: str | Path, every: int = 50) -> Path:
    """A small copy of a run's ``stats.jsonl`` to ship beside its weights, so a fresh clone draws its curves: every
    evaluation row, and the log rows at multiples of ``every`` generator steps (plus the last one)."""
    rows = read_stats(source)
    logged = [r for r in rows if "d_loss" in r]
    last_step = logged[-1]["step"] if logged else None
    keep = [r for r in rows if "d_loss" not in r or r["step"] % every == 0 or r["step"] == last_step]
    atomic_write(Path(out), "".join(json.dumps(r) + "\n" for r in keep))
    return Path(out)
