import json

import matplotlib

matplotlib.use("Agg")

from lab5_utils.data import explore  # noqa: E402
from lab5_utils.labels import load_conditions, package_file, resolve_conditions  # noqa: E402


def test_summary_of_the_course_files_matches_their_spec():
    train_sets = list(json.loads(package_file("train.json").read_text()).values())
    train = explore.summary(train_sets)
    assert train["conditions"] == 18009 and train["objects_1_2_3"] == [6003, 6003, 6003]
    counts = train["class_counts"]
    assert min(counts.values()) == counts["green sphere"] and max(counts.values()) == counts["purple cube"]
    test = explore.summary(load_conditions(resolve_conditions("test")), train_sets)
    new_test = explore.summary(load_conditions(resolve_conditions("new_test")), train_sets)
    assert test["objects_1_2_3"] == [6, 12, 14] and new_test["objects_1_2_3"] == [0, 12, 20]
    assert test["sets_seen_in_train"] == 31 and new_test["sets_seen_in_train"] == 32


def test_cooccurrence_is_symmetric_with_class_counts_on_the_diagonal():
    conditions = [["red cube", "blue sphere"], ["red cube"], ["blue sphere", "gray cube", "red cube"]]
    matrix = explore.cooccurrence(conditions)
    assert (matrix == matrix.T).all()
    assert matrix[1, 1] == 3 and matrix[1, 10] == 2 and matrix[0, 10] == 1 and matrix[0, 2] == 0


def test_figures_build():
    conditions = load_conditions(resolve_conditions("test"))
    assert explore.plot_label_histograms({"test": conditions}).axes
    assert explore.plot_cooccurrence(conditions).axes


def test_scene_statistics_on_a_small_render(tmp_path):
    from lab5_utils.synth.render import render_dataset

    root = render_dataset(tmp_path / "s", scenes=4, seed=3, workers=1, progress=False)
    records = json.loads((root / "scenes.json").read_text())
    stats = explore.scene_statistics(records)
    assert len(stats["shape"]) == 12  # 4 scenes x 3 objects in the last frame
    assert set(stats["material"]) <= {"rubber", "metal"}
    assert min(stats["visible_pixels"]) > 0
    table = explore.scene_statistics_table(stats)
    assert "| material |" in table and "over 12 objects" in table
