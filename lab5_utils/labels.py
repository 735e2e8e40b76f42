"""Label names <-> indices <-> 24-dim multi-hot vectors, driven by the course's ``objects.json``.

Conditions are lists of 1-3 distinct label names such as ``["red cube", "blue sphere"]``.
Every bad condition raises a ``ValueError`` that names the file (or "condition"), the
condition's position and the offending label.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import torch

NUM_CLASSES = 24
MAX_OBJECTS = 3
COLORS = ("gray", "red", "blue", "green", "brown", "purple", "cyan", "yellow")
SHAPES = ("cube", "sphere", "cylinder")


def package_file(name: str) -> Path:
    """Path of a data file shipped in ``lab5_utils/data`` (objects.json, train.json, test.json, new_test.json)."""
    path = Path(str(resources.files("lab5_utils") / "data" / name))
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such packaged data file")
    return path


def read_json(path: str | Path) -> object:
    """Read a JSON file; a missing or malformed file raises an error naming it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start}), so not a JSON file") from err
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from err


@lru_cache(maxsize=8)
def _load_objects_cached(path: str) -> tuple[tuple[str, int], ...]:
    mapping = read_json(path)
    if not isinstance(mapping, dict) or not mapping:
        raise ValueError(f"{path}: expected a non-empty dict of label name -> index")
    indices = sorted(mapping.values())
    if indices != list(range(len(mapping))):
        raise ValueError(f"{path}: indices must be 0..{len(mapping) - 1} without gaps, got {indices}")
    return tuple(sorted(mapping.items(), key=lambda item: item[1]))


def load_objects(path: str | Path | None = None) -> dict[str, int]:
    """``objects.json`` as ``{name: index}``; defaults to the packaged course file."""
    return dict(_load_objects_cached(str(path or package_file("objects.json"))))


def class_names(path: str | Path | None = None) -> list[str]:
    """The 24 label names in index order ("gray cube", "red cube", ..., "yellow cylinder")."""
    return list(load_objects(path))


def validate_condition(
    labels: Sequence[str],
    where: str = "condition",
    objects: dict[str, int] | None = None,
) -> list[str]:
    """Check one condition and return it as a list.

    Raises ``ValueError`` naming ``where`` (e.g. ``"test.json, condition 3"``) for an empty
    condition, more than ``MAX_OBJECTS`` labels, a non-string, an unknown label (with the closest
    valid name) or a duplicate.
    """
    objects = objects or load_objects()
    if isinstance(labels, str) or not isinstance(labels, Sequence):
        raise ValueError(f"{where}: expected a list of label names, got {labels!r}")
    if len(labels) == 0:
        raise ValueError(f"{where}: empty condition; give 1 to {MAX_OBJECTS} labels")
    if len(labels) > MAX_OBJECTS:
        raise ValueError(f"{where}: {len(labels)} labels {list(labels)}; at most {MAX_OBJECTS} are allowed")
    seen: set[str] = set()
    for position, label in enumerate(labels):
        if not isinstance(label, str):
            raise ValueError(f"{where}, label {position}: expected a string, got {label!r}")
        if label not in objects:
            close = difflib.get_close_matches(label, list(objects), n=1, cutoff=0.0)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"{where}, label {position}: unknown label {label!r}{hint}")
        if label in seen:
            raise ValueError(f"{where}, label {position}: duplicate label {label!r}")
        seen.add(label)
    return list(labels)


def encode(labels: Sequence[str], where: str = "condition", objects: dict[str, int] | None = None) -> torch.Tensor:
    """One condition -> multi-hot ``(24,) float32`` in {0, 1}."""
    objects = objects or load_objects()
    labels = validate_condition(labels, where, objects)
    vector = torch.zeros(len(objects), dtype=torch.float32)
    vector[[objects[label] for label in labels]] = 1.0
    return vector


def encode_batch(conditions: Sequence[Sequence[str]], where: str = "conditions") -> torch.Tensor:
    """Many conditions -> ``(N, 24) float32`` multi-hot; errors name ``where`` and the condition index."""
    objects = load_objects()
    if len(conditions) == 0:
        raise ValueError(f"{where}: no conditions")
    return torch.stack([encode(c, f"{where}, condition {i}", objects) for i, c in enumerate(conditions)])


def decode(vector: torch.Tensor) -> list[str]:
    """Multi-hot ``(24,)`` (values > 0.5 count as present) -> label names in index order."""
    if vector.shape != (NUM_CLASSES,):
        raise ValueError(f"expected a ({NUM_CLASSES},) vector, got shape {tuple(vector.shape)}")
    names = class_names()
    return [names[i] for i in torch.nonzero(vector > 0.5).flatten().tolist()]


def load_conditions(path: str | Path) -> list[list[str]]:
    """A condition file (``test.json``-style list of label lists), validated; errors name the file."""
    data = read_json(path)
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON list of conditions, got {type(data).__name__}")
    if not data:
        raise ValueError(f"{path}: no conditions")
    objects = load_objects()
    return [validate_condition(c, f"{path}, condition {i}", objects) for i, c in enumerate(data)]


def resolve_conditions(name_or_path: str | Path) -> Path:
    """``"test"``/``"test.json"``/``"new_test"`` -> packaged file; anything else is taken as a path."""
    name = str(name_or_path)
    if name in {"test", "new_test"}:
        name += ".json"
    if name in {"test.json", "new_test.json"} and not Path(name).exists():
        return package_file(name)
    return Path(name)


def random_conditions(n: int = 96, seed: int = 0, exclude: Sequence[str | Path] = ("test", "new_test"),
                      ) -> list[list[str]]:
    """``n`` distinct random valid conditions of 1-3 objects (sizes 1, 2, 3, 1, ... in turn while sizes remain:
    there are only 24 one-object conditions), none of which is, as a set, a condition of the files in
    ``exclude``: a generalisation check beyond the 64 conditions a generator could be tuned to. Labels of a
    condition are in index order; the same ``seed`` gives the same list."""
    available = {k: math.comb(NUM_CLASSES, k) for k in range(1, MAX_OBJECTS + 1)}
    taken = {frozenset(c) for source in exclude for c in load_conditions(resolve_conditions(source))}
    for condition in taken:
        available[len(condition)] -= 1
    if not 1 <= n <= sum(available.values()):
        raise ValueError(f"random_conditions: n must be in [1, {sum(available.values())}], got {n}")
    names = class_names()
    rng = np.random.default_rng(seed)
    out: list[list[str]] = []
    while len(out) < n:
        sizes = [k for k in range(1, MAX_OBJECTS + 1) if available[k] > 0]
        k = sizes[len(out) % len(sizes)]
        picked = sorted(rng.choice(NUM_CLASSES, size=k, replace=False).tolist())
        condition = [names[i] for i in picked]
        if frozenset(condition) not in taken:
            taken.add(frozenset(condition))
            available[k] -= 1
            out.append(condition)
    return out
