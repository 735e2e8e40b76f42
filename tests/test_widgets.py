"""The preview's logic without a browser: toggles, the 4th-label refusal, seeds, the judge's readings."""

import torch

from lab5_utils.labels import class_names, encode
from lab5_utils.report.widgets import Preview, judge_readings


class ColourCode(torch.nn.Module):
    """A fake generator: writes the condition's multi-hot code into the image so the oracle can read it back."""

    z_dim = 4

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        image = torch.full((z.shape[0], 3, 64, 64), -1.0)
        image[:, 0, 0, :24] = y * 2 - 1
        image[:, 1, 1, :4] = z.tanh()
        return image


class Oracle(torch.nn.Module):
    """A fake judge reading the code back: (N,3,64,64) -> (N,24) scores."""

    def __init__(self) -> None:
        super().__init__()
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x[:, 0, 0, :24] + 1) / 2 + self.dummy


def test_toggles_build_the_condition_and_a_fourth_is_refused():
    preview = Preview(ColourCode(), z_dim=4)
    assert len(preview.toggles) == 24
    for name in ["red cube", "blue sphere", "gray cylinder"]:
        preview.toggles[name].value = True
    assert preview.condition == ["red cube", "blue sphere", "gray cylinder"]
    preview.toggles["cyan cube"].value = True
    assert preview.toggles["cyan cube"].value is False
    assert preview.condition == ["red cube", "blue sphere", "gray cylinder"]
    assert "At most 3 objects" in preview.message.value
    preview.toggles["blue sphere"].value = False
    assert preview.condition == ["red cube", "gray cylinder"]


def test_generate_button_shows_images_and_the_judges_reading():
    preview = Preview(ColourCode(), z_dim=4, judge=Oracle())
    preview.toggles["red cube"].value = True
    preview.toggles["yellow cylinder"].value = True
    preview.samples.value = 3
    preview.seed.value = 7
    preview.button.click()
    assert preview.last_images is not None and preview.last_images.shape == (3, 3, 64, 64)
    assert torch.equal(preview.last_images[0, 0, 0, :24], encode(["red cube", "yellow cylinder"]) * 2 - 1)
    assert len(preview.gallery.children) == 3
    assert all(r.match and set(r.labels) == {"red cube", "yellow cylinder"} for r in preview.last_readings)
    assert "judge matches 3/3" in preview.message.value
    first = preview.last_images.clone()
    preview.button.click()
    assert torch.equal(preview.last_images, first)  # same seed, same images
    preview.seed.value = 8
    preview.button.click()
    assert not torch.equal(preview.last_images, first)


def test_generate_without_labels_says_so():
    preview = Preview(ColourCode(), z_dim=4)
    assert preview.generate() is None
    assert "Pick 1 to 3" in preview.message.value


def test_readings_flag_a_mismatch():
    images = ColourCode()(torch.zeros(1, 4), encode(["red cube"])[None])
    reading = judge_readings(Oracle(), images, ["blue cube"])[0]
    assert reading.labels == ("red cube",) and not reading.match
    assert class_names().index("red cube") == 1


def test_preview_accepts_a_loaded_course_format_judge(tmp_path):
    from lab5_utils.judge.model import build_judge, load_judge, save_course_format

    path = save_course_format(build_judge(), tmp_path / "judge.pth")
    preview = Preview(ColourCode(), z_dim=4, judge=load_judge(path))
    preview.toggles["red cube"].value = True
    preview.samples.value = 2
    preview.button.click()
    assert len(preview.last_readings) == 2 and all(len(r.labels) == 1 for r in preview.last_readings)
    assert "judge matches" in preview.message.value
