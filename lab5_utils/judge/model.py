"""The course-compatible judge: a torchvision ResNet18 whose ``fc`` is ``Sequential(Linear(512, 24), Sigmoid())``.

Checkpoints use the course format ``{'model': state_dict}`` (extra keys such as ``'meta'`` are allowed and
ignored by the course's ``load_state_dict(ckpt['model'])``). Inputs are ``(B,3,64,64)`` floats in ``[-1,1]``.
The accuracy is the course's: per image take the ``k`` = number-of-labels highest outputs and count how many
of them are true labels; the score is hits / total labels.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torchvision.models import resnet18

from lab5_utils.io import load_weights_only, save_torch
from lab5_utils.labels import NUM_CLASSES

MapLocation = str | torch.device | Callable[..., Any] | Mapping[str, str] | None


def build_judge(num_classes: int = NUM_CLASSES) -> nn.Module:
    """An untrained course-architecture judge: ResNet18 with ``fc = Sequential(Linear(512, C), Sigmoid())``.

    Forward: ``x: (B,3,64,64) in [-1,1]`` -> ``(B,C)`` probabilities in ``[0,1]``.
    """
    model = resnet18(weights=None, num_classes=num_classes)
    model.fc = nn.Sequential(nn.Linear(512, num_classes), nn.Sigmoid())
    return model


def extract_features(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Average-pooled ResNet18 features. ``x: (B,3,64,64) in [-1,1]`` -> ``(B,512)`` float (post-ReLU, >= 0)."""
    h = model.maxpool(model.relu(model.bn1(model.conv1(x))))
    h = model.layer4(model.layer3(model.layer2(model.layer1(h))))
    return torch.flatten(model.avgpool(h), 1)


def judge_logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Pre-sigmoid outputs ``(B,C)`` of a course-architecture judge (for a numerically stable BCE)."""
    return model.fc[0](extract_features(model, x))


def topk_hits(out: torch.Tensor, onehot_labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-label hits of the course's top-k rule, vectorised.

    ``out: (B,C)`` judge outputs, ``onehot_labels: (B,C)`` multi-hot. Returns ``(hit, present)``, both ``(B,C)``
    bool: ``present[i, c]`` marks the labels the course loop counts for row ``i`` (its top-k of the labels,
    k = int(row sum)); ``hit[i, c]`` marks those among them that are also in the row's top-k outputs.
    Rows are grouped by k and ``torch.topk`` runs on CPU, as the course does, so ties break identically.
    """
    if out.ndim != 2 or out.shape != onehot_labels.shape:
        raise ValueError(f"outputs {tuple(out.shape)} and labels {tuple(onehot_labels.shape)} must both be (B,C)")
    out = out.detach().float().cpu()
    labels = onehot_labels.detach().float().cpu()
    ks = labels.sum(dim=1).long()  # int() truncation, as in the course (labels are non-negative)
    hit = torch.zeros(out.shape, dtype=torch.bool)
    present = torch.zeros(out.shape, dtype=torch.bool)
    for k in sorted(set(ks.tolist()) - {0}):
        rows = torch.nonzero(ks == k).flatten()
        outi = out[rows].topk(k, dim=1).indices
        li = labels[rows].topk(k, dim=1).indices
        in_labels = (outi.unsqueeze(2) == li.unsqueeze(1)).any(dim=2)  # (n, k): output index j is in li
        present[rows.unsqueeze(1), li] = True
        hit[rows.unsqueeze(1), outi] = in_labels
    return hit, present


def compute_acc(out: torch.Tensor, onehot_labels: torch.Tensor) -> float:
    """The course's accuracy, equal to its per-row loop. ``out: (B,C)``, ``onehot_labels: (B,C)`` multi-hot."""
    return hits_accuracy(*topk_hits(out, onehot_labels))


def hits_accuracy(hit: torch.Tensor, present: torch.Tensor) -> float:
    """The course's accuracy from :func:`topk_hits`' ``(hit, present)``: hits / counted labels."""
    total = int(present.sum())
    if total == 0:
        raise ValueError("compute_acc: the labels contain no positive entries (total = 0)")
    return int(hit.sum()) / total


def unmatched_accuracy(out: torch.Tensor, onehot_labels: torch.Tensor) -> float:
    """Control for :func:`compute_acc`: the judge outputs ``out: (B,C)`` of images made for the conditions
    ``onehot_labels: (B,C)``, each scored against every OTHER condition with the same number of objects (pooled
    like the course metric). It is what the images score whatever was asked: a generator that ignores its
    condition scores the same here as on its own conditions (exactly so when all have one size); the gap to
    ``compute_acc`` is what following the condition buys. NaN when no two conditions share a size."""
    ks = onehot_labels.detach().float().cpu().sum(dim=1)
    same = (ks.unsqueeze(0) == ks.unsqueeze(1)) & ~torch.eye(len(ks), dtype=torch.bool)
    image_rows, label_rows = torch.nonzero(same, as_tuple=True)
    if len(image_rows) == 0:
        return float("nan")
    return compute_acc(out.detach().float().cpu()[image_rows], onehot_labels.detach().cpu()[label_rows])


def exact_set_hits(out: torch.Tensor, onehot_labels: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """``(B,)`` bool: the judge's thresholded outputs (``out > threshold``, sigmoid probabilities ``(B, 24)``)
    are exactly the requested set. Unlike the course's top-k, an extra or a missing object is a miss."""
    if out.shape != onehot_labels.shape:
        raise ValueError(f"outputs {tuple(out.shape)} and labels {tuple(onehot_labels.shape)} must both be (B,C)")
    return ((out.detach().float().cpu() > threshold) == (onehot_labels.detach().cpu() > 0.5)).all(dim=1)


def _check_images(x: torch.Tensor) -> None:
    if x.dtype == torch.uint8 or not torch.is_floating_point(x):
        raise ValueError(f"expected float images in [-1,1], got dtype {x.dtype} (convert uint8 with x/127.5 - 1)")
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"expected images (B,3,H,W), got shape {tuple(x.shape)}")


class Judge:
    """A judge ready for inference: eval mode, ``no_grad``, batched, on ``device``.

    ``predict(x: (N,3,64,64) in [-1,1]) -> (N,24)`` probabilities on CPU; ``accuracy(x, y: (N,24)) -> float``
    (the course metric); ``features(x) -> (N,512)`` on CPU.
    """

    def __init__(self, model: nn.Module, device: str | torch.device = "cpu", batch_size: int = 256,
                 name: str = "judge", meta: Mapping[str, Any] | None = None) -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.batch_size = batch_size
        self.name = name
        self.meta = dict(meta or {})  # our checkpoints' 'meta' ({} for the course checkpoint)

    def _batched(self, x: torch.Tensor, fn: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        _check_images(x)
        chunks = []
        with torch.no_grad():
            for start in range(0, x.shape[0], self.batch_size):
                chunks.append(fn(x[start:start + self.batch_size].to(self.device)).float().cpu())
        return torch.cat(chunks) if chunks else torch.zeros(0)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """``x: (N,3,64,64) in [-1,1]`` -> ``(N,24)`` sigmoid outputs in ``[0,1]`` (CPU)."""
        return self._batched(x, self.model)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``x: (N,3,64,64) in [-1,1]`` -> ``(N,512)`` avgpool features (CPU)."""
        return self._batched(x, lambda batch: extract_features(self.model, batch))

    def accuracy(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """Course top-k accuracy of ``x: (N,3,64,64) in [-1,1]`` against ``y: (N,24)`` multi-hot."""
        return compute_acc(self.predict(x), y)

    eval = accuracy  # the course's name: ``evaluation_model().eval(images, labels)``


def _describe_mismatch(path: Path, model: nn.Module, state: Mapping[str, Any]) -> str | None:
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [f"{k}: checkpoint {tuple(v.shape)} vs expected {tuple(expected[k].shape)}"
              for k, v in state.items()
              if k in expected and isinstance(v, torch.Tensor) and v.shape != expected[k].shape]
    if not (missing or unexpected or shapes):
        return None
    parts = [f"{path}: state dict does not match the course judge (torchvision resnet18 with "
             f"fc = Sequential(Linear(512, {NUM_CLASSES}), Sigmoid()))"]
    for title, items in (("missing keys", missing), ("unexpected keys", unexpected), ("wrong shapes", shapes)):
        if items:
            more = f" ... (+{len(items) - 8} more)" if len(items) > 8 else ""
            parts.append(f"{title}: {', '.join(items[:8])}{more}")
    return "; ".join(parts)


def load_course_format(path: str | Path, map_location: MapLocation = "cpu") -> dict[str, Any]:
    """Read a course-format checkpoint dict with ``torch.load(weights_only=True)``; errors name the file."""
    path = Path(path).expanduser()
    ckpt = load_weights_only(path, map_location, "course-format judge checkpoint {'model': state_dict}")
    if isinstance(ckpt, dict) and ckpt and all(isinstance(v, torch.Tensor) for v in ckpt.values()):
        raise ValueError(f"{path}: a bare state_dict ({len(ckpt)} tensors, e.g. {next(iter(ckpt))!r}); the course "
                         "format wraps it: torch.save({'model': state_dict}, path)")
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("model"), Mapping):
        keys = list(ckpt)[:8] if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ValueError(f"{path}: expected a dict {{'model': state_dict}} (course format), got {keys}")
    return ckpt


def load_judge(path: str | Path, device: str | torch.device = "cpu", map_location: MapLocation = None,
               batch_size: int = 256) -> Judge:
    """Load a course-format judge (the course's ``checkpoint.pth`` or ours) as a :class:`Judge` on ``device``.

    ``map_location`` defaults to CPU, so checkpoints saved from CUDA load anywhere; the weights are then moved
    to ``device``. Another architecture or wrong keys/shapes raise ``ValueError`` naming the file and keys.
    """
    ckpt = load_course_format(path, "cpu" if map_location is None else map_location)
    model = build_judge()
    problem = _describe_mismatch(Path(path), model, ckpt["model"])
    if problem:
        raise ValueError(problem)
    model.load_state_dict(ckpt["model"])
    meta = ckpt.get("meta")
    return Judge(model, device=device, batch_size=batch_size, name=str(path),
                 meta=meta if isinstance(meta, Mapping) else None)


def judge_meta(path: str | Path) -> dict[str, Any]:
    """The ``'meta'`` dict stored next to ``'model'`` in our judges (``{}`` for the course checkpoint)."""
    meta = load_course_format(path).get("meta", {})
    return dict(meta) if isinstance(meta, Mapping) else {}


def _plain(value: Any, where: str = "meta") -> Any:
    """``value`` as weights-only-safe builtins (str subclasses, Paths, numpy/torch scalars, tuples converted)."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    for kind in (bool, int, float):  # subclasses such as numpy.float64 or IntEnum
        if isinstance(value, kind):
            return kind(value)
    if isinstance(value, str | Path):  # e.g. torch's TorchVersion
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return value.item()
    raise ValueError(f"{where}: {type(value).__name__} cannot be stored in a weights-only checkpoint")


def save_course_format(model: nn.Module, path: str | Path, meta: Mapping[str, Any] | None = None) -> Path:
    """Write ``{'model': state_dict (CPU), 'meta': meta}`` atomically (:func:`lab5_utils.io.save_torch`).

    ``meta`` must hold only weights-only-safe values (str/int/float/bool/None, lists and dicts of them).
    """
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    payload: dict[str, Any] = {"model": state}
    if meta is not None:
        payload["meta"] = _plain(dict(meta))
    save_torch(payload, path)
    return path


def as_judge(judge: Judge | nn.Module | str | Path, device: str | torch.device = "cpu") -> Judge:
    """Accept a :class:`Judge`, a course-architecture module or a checkpoint path."""
    if isinstance(judge, Judge):
        return judge
    if isinstance(judge, nn.Module):
        return Judge(judge, device=device)
    return load_judge(judge, device=device)
