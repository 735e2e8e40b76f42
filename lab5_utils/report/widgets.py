"""Label-picking preview: 24 toggle buttons (8 colours x 3 shapes, at most 3 on), a seed, a sample count
and a Generate button; shows the generated images and what the judge reads in each.

The logic needs no browser: set ``preview.toggles[name].value = True``, call ``preview.generate()`` (or
``preview.button.click()``) and read ``preview.condition``, ``preview.last_images`` and
``preview.last_readings``.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ipywidgets as W
import torch
from IPython.display import display
from PIL import Image

from lab5_utils.evaluation.weights import load_shipped_generator
from lab5_utils.image_ops import to_uint8
from lab5_utils.judge.model import Judge, as_judge, load_judge
from lab5_utils.labels import COLORS, MAX_OBJECTS, SHAPES, class_names, encode
from lab5_utils.paths import JUDGE_FILE, shipped, weights_dir

#: CLEVR's colours, used to frame the toggle buttons.
CLEVR_RGB = {"gray": (87, 87, 87), "red": (173, 35, 35), "blue": (42, 75, 215), "green": (29, 105, 20),
             "brown": (129, 74, 25), "purple": (129, 38, 192), "cyan": (41, 208, 208), "yellow": (255, 238, 51)}


@dataclass(frozen=True)
class Reading:
    """What the judge reads in one image: its top-k labels (k = objects asked for) and whether they match."""

    labels: tuple[str, ...]
    match: bool


def judge_readings(judge: Judge | torch.nn.Module, images: torch.Tensor, condition: list[str]) -> list[Reading]:
    """``images: (N, 3, 64, 64) in [-1, 1]`` -> the judge's top-k labels per image, k = ``len(condition)``.
    ``judge``: an :class:`~lab5_utils.judge.model.Judge` (``load_judge(path)``) or a course-format module."""
    names = class_names()
    scores = as_judge(judge).predict(images)
    top = scores.topk(len(condition), dim=1).indices
    return [Reading(tuple(names[i] for i in row.tolist()), {names[i] for i in row.tolist()} == set(condition))
            for row in top]


class Preview:
    """The widget. ``generate_fn(z, y) -> (N, 3, 64, 64) in [-1, 1]`` is usually a generator in eval mode;
    ``z_dim`` its noise size; noise for seed ``s`` is ``torch.randn(N, z_dim, generator=manual_seed(s))`` on CPU,
    so a seed shows the same images on any machine."""

    def __init__(self, generate_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], z_dim: int,
                 judge: Judge | torch.nn.Module | None = None, device: str | torch.device = "cpu",
                 max_samples: int = 16) -> None:
        self.generate_fn, self.z_dim, self.device = generate_fn, z_dim, torch.device(device)
        self.judge = as_judge(judge, self.device) if judge is not None else None
        self.selected: list[str] = []
        self.last_images: torch.Tensor | None = None
        self.last_readings: list[Reading] = []
        self.toggles = {name: self._toggle(name) for name in class_names()}
        self.seed = W.BoundedIntText(value=0, min=0, max=2**31 - 1, description="seed")
        self.samples = W.IntSlider(value=min(8, max_samples), min=1, max=max_samples, description="samples")
        self.button = W.Button(description="Generate", button_style="primary", icon="play")
        self.button.on_click(lambda _: self.generate())
        self.message = W.HTML()
        self.gallery = W.HBox(layout=W.Layout(flex_flow="row wrap"))
        grid = W.GridBox([self.toggles[f"{c} {s}"] for s in SHAPES for c in COLORS],
                         layout=W.Layout(grid_template_columns="repeat(8, 120px)"))
        self.widget = W.VBox([grid, W.HBox([self.seed, self.samples, self.button]), self.message, self.gallery])

    @classmethod
    def from_weights(cls, device: str | torch.device = "cpu", **kwargs: Any) -> Preview:
        """The preview of the generator shipped under ``weights/``, read by the shipped judge: nothing to train,
        seconds to start. ``FileNotFoundError`` names the folder when nothing is shipped."""
        G = load_shipped_generator(device)
        judge_path = shipped(JUDGE_FILE)
        if judge_path is None:
            raise FileNotFoundError(f"{weights_dir() / JUDGE_FILE}: no shipped judge")
        return cls(G, G.z_dim, judge=load_judge(judge_path, device=device), device=device, **kwargs)

    def _toggle(self, name: str) -> W.ToggleButton:
        color, _ = name.split(" ")
        swatch = "#{:02x}{:02x}{:02x}".format(*CLEVR_RGB[color])
        button = W.ToggleButton(description=name, layout=W.Layout(width="115px", border=f"3px solid {swatch}"))
        button.observe(lambda change: self._on_toggle(name, change["new"]), names="value")
        return button

    def _on_toggle(self, name: str, on: bool) -> None:
        if on and name not in self.selected:
            if len(self.selected) >= MAX_OBJECTS:
                self.toggles[name].value = False  # refused: revert, and say why
                self.message.value = (f"<b style='color:#b00'>At most {MAX_OBJECTS} objects: unselect one of "
                                      f"{', '.join(self.selected)} before adding {name}.</b>")
                return
            self.selected.append(name)
        elif not on and name in self.selected:
            self.selected.remove(name)
        self.message.value = f"condition: {self.selected}" if self.selected else ""

    @property
    def condition(self) -> list[str]:
        """The labels switched on, in the order they were picked."""
        return list(self.selected)

    def generate(self) -> torch.Tensor | None:
        """Generate ``samples`` images for the current condition and seed; returns them ``(N,3,64,64)`` in [-1,1]."""
        if not self.selected:
            self.message.value = "<b style='color:#b00'>Pick 1 to 3 objects first.</b>"
            return None
        count = int(self.samples.value)
        y = encode(self.selected).expand(count, -1).contiguous()
        z = torch.randn(count, self.z_dim, generator=torch.Generator().manual_seed(int(self.seed.value)))
        with torch.no_grad():
            images = self.generate_fn(z.to(self.device), y.to(self.device)).float().cpu()
        self.last_images = images
        self.last_readings = judge_readings(self.judge, images, self.selected) if self.judge is not None else []
        self.gallery.children = [self._tile(i) for i in range(count)]
        hits = sum(r.match for r in self.last_readings)
        judged = f"; judge matches {hits}/{count}" if self.last_readings else ""
        self.message.value = f"condition: {self.selected}, seed {int(self.seed.value)}{judged}"
        return images

    def _tile(self, index: int) -> W.VBox:
        assert self.last_images is not None
        pixels = to_uint8(self.last_images[index]).permute(1, 2, 0).numpy()
        buffer = io.BytesIO()
        Image.fromarray(pixels).resize((128, 128), Image.Resampling.NEAREST).save(buffer, format="PNG")
        parts: list[W.Widget] = [W.Image(value=buffer.getvalue(), format="png", width=128, height=128)]
        if self.last_readings:
            reading = self.last_readings[index]
            mark = "&#10003;" if reading.match else "&#10007;"
            parts.append(W.HTML(f"<small>{mark} {', '.join(reading.labels)}</small>",
                                layout=W.Layout(width="130px")))
        return W.VBox(parts)

    def _ipython_display_(self) -> None:
        display(self.widget)
