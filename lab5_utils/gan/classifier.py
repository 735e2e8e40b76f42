"""The frozen auxiliary classifier: a compact CNN trained once on the GAN's OWN training images, whose multi-label BCE
on generated images joins the generator's loss (``TrainConfig.cls_weight``).

It is deliberately not the judge: another architecture (a plain 8-layer CNN, not a ResNet18), another data set (the
GAN's training folder, never the judge's render or its held-out split), so a generator that merely learns patterns
this classifier reads would not carry them to the judge. Trained with the judge's loop
(:func:`lab5_utils.judge.fit.fit_multilabel`: split by scene, BCE, AdamW + OneCycle, shifts and flips, no colour
jitter), stored in the course's checkpoint format and cached per data folder (keyed by the folder's content and the
settings) like the judge.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lab5_utils.data.dataset import cache_key, content_key, listing_path
from lab5_utils.device import default_device
from lab5_utils.judge.fit import JudgeConfig, fit_folder, fit_multilabel
from lab5_utils.judge.model import load_course_format
from lab5_utils.labels import NUM_CLASSES
from lab5_utils.paths import keyed_cache_file, provision

FORMAT = "lab5_utils aux classifier v1"


@dataclass(frozen=True)
class ClassifierConfig(JudgeConfig):
    """Aux classifier settings: ``width`` channels in the first stage (x2 per stage, 4 stages), and the judge
    loop's training settings (:class:`lab5_utils.judge.fit.JudgeConfig`) with this classifier's defaults."""

    width: int = 32
    epochs: int = 8
    lr: float = 3e-3

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.width < 1:
            raise ValueError(f"ClassifierConfig: width must be >= 1, got {self.width}")

    @classmethod
    def tiny_config(cls, seed: int = 0) -> ClassifierConfig:
        """A CI/test classifier: width 4, 1 epoch on at most 256 images (marked ``tiny``)."""
        return cls(width=4, epochs=1, max_images=256, tiny=True, holdout_fraction=0.1, seed=seed)


def _conv_bn(c_in: int, c_out: int, stride: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class AuxClassifier(nn.Module):
    """``x: (B, 3, 64, 64) in [-1, 1] -> logits (B, 24)``: four stages of two 3x3 conv-BN-ReLU (the first of
    each halves the size: 64 -> 32 -> 16 -> 8 -> 4, channels w, 2w, 4w, 8w), global average pool, linear."""

    def __init__(self, width: int = 32, num_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for stage in range(4):
            c_out = width * 2 ** stage
            layers += _conv_bn(c_in, c_out, 2) + _conv_bn(c_out, c_out, 1)
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c_in, num_classes)
        self.width = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x).mean(dim=(2, 3)))


def _logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return model(x)


def fit_classifier(images: torch.Tensor, labels: torch.Tensor, scenes: list[int],
                   config: ClassifierConfig = ClassifierConfig(), device: str | torch.device = "cpu",
                   progress: bool = True) -> tuple[AuxClassifier, dict[str, Any]]:
    """Train on ``images: (N,3,64,64) uint8``, ``labels: (N,24)``, ``scenes`` (per image, for the held-out
    split); returns ``(model in eval mode, meta)`` with the held-out top-k accuracy per epoch."""
    model, meta = fit_multilabel(images, labels, scenes, config, device, progress,
                                 build=lambda: AuxClassifier(config.width), logits=_logits, name="aux classifier")
    meta.update(format=FORMAT, classifier_config=asdict(config))
    return model, meta  # type: ignore[return-value]


def classifier_cache_path(data_root: Path, config: ClassifierConfig, exclude_scenes: frozenset[int] = frozenset(),
                          legacy: bool = False) -> Path:
    """``cache_dir()/classifier/classifier_<hash>.pt``, keyed as the judge is: by the folder's
    :func:`~lab5_utils.data.dataset.content_key` (what it holds, not where or when it was written), ``config`` and
    the excluded scenes (none: no entry in the key). ``legacy``: the key of older versions (the image cache's key,
    with file times)."""
    data = cache_key(data_root, 64) if legacy else content_key(data_root)
    key = [FORMAT, data, asdict(config)] + ([sorted(exclude_scenes)] if exclude_scenes else [])
    return keyed_cache_file("classifier", key, config.tiny, ".pt")


def train_classifier(data_root: str | Path, out: str | Path, config: ClassifierConfig = ClassifierConfig(),
                     device: str | torch.device = "cpu", progress: bool = True,
                     exclude_scenes: frozenset[int] = frozenset()) -> dict[str, Any]:
    """Train on the folder ``data_root`` less ``exclude_scenes`` (the judges' held-out scenes) and write
    ``{'model': state_dict, 'meta': ...}`` atomically to ``out``."""
    return fit_folder(data_root, out, lambda *data: fit_classifier(*data, config, device, progress), "classifier",
                      progress, exclude_scenes)


def load_classifier(path: str | Path, device: str | torch.device = "cpu") -> AuxClassifier:
    """A frozen classifier (eval mode, no grad) from ``path``; another file or architecture names the file."""
    ckpt = load_course_format(path)
    meta = ckpt.get("meta") if isinstance(ckpt.get("meta"), dict) else {}
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path}: not an aux classifier checkpoint (format {FORMAT!r} expected)")
    model = AuxClassifier(int(meta["classifier_config"]["width"]))
    try:
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in ckpt["model"].items()})
    except RuntimeError as err:
        raise ValueError(f"{path}: state dict does not match the aux classifier ({err})") from err
    return model.to(device).eval().requires_grad_(False)


def ensure_classifier(data_root: str | Path, config: ClassifierConfig | None = None,
                      device: str | torch.device | None = None, progress: bool = True,
                      exclude_scenes: frozenset[int] = frozenset(), tiny: bool = False) -> Path:
    """The cached classifier of ``data_root`` (the GAN's training folder) less ``exclude_scenes``, trained on first
    use (minutes) as a judge is (:func:`~lab5_utils.paths.provision`).

    ``config`` defaults to :class:`ClassifierConfig` (its ``tiny_config`` for ``tiny``, CI's smoke tests)."""
    data_root = Path(data_root).expanduser()
    listing_path(data_root)  # a folder without train.json: an error naming it, before any work
    config = config or (ClassifierConfig.tiny_config() if tiny else ClassifierConfig())
    return provision(classifier_cache_path(data_root, config, exclude_scenes),
                     lambda path: train_classifier(data_root, path, config, device=device or default_device(),
                                                   progress=progress, exclude_scenes=exclude_scenes),
                     f"the aux classifier on {data_root}",
                     legacy=classifier_cache_path(data_root, config, exclude_scenes, legacy=True), progress=progress)
