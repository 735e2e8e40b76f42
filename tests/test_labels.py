import json

import pytest
import torch

from lab5_utils import labels as L


def test_class_names_follow_objects_json():
    names = L.class_names()
    assert len(names) == L.NUM_CLASSES
    assert names[0] == "gray cube" and names[8] == "gray sphere" and names[23] == "yellow cylinder"
    assert names == [f"{c} {s}" for s in L.SHAPES for c in L.COLORS]


@pytest.mark.parametrize("condition", [["red cube"], ["blue sphere", "red cube"], ["gray cube", "cyan sphere",
                                                                                    "yellow cylinder"]])
def test_round_trip(condition):
    vector = L.encode(condition)
    assert vector.shape == (24,) and vector.dtype == torch.float32
    assert vector.sum().item() == len(condition)
    assert sorted(L.decode(vector)) == sorted(condition)


def test_every_class_round_trips():
    for index, name in enumerate(L.class_names()):
        vector = L.encode([name])
        assert vector.argmax().item() == index
        assert L.decode(vector) == [name]


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ([], "empty condition"),
        (["red cube", "blue cube", "gray cube", "cyan cube"], "at most 3"),
        (["red cube", "red cube"], "label 1: duplicate label 'red cube'"),
        (["red cube", "bleu sphere"], "label 1: unknown label 'bleu sphere'; did you mean 'blue sphere'"),
        (["red cube", 3], "label 1: expected a string"),
        ("red cube", "expected a list"),
    ],
)
def test_bad_conditions_name_the_label_and_position(condition, message):
    with pytest.raises(ValueError, match=message):
        L.encode(condition, where="mine.json, condition 7")
    with pytest.raises(ValueError, match="mine.json, condition 7"):
        L.encode(condition, where="mine.json, condition 7")


def test_load_conditions_names_file_and_index(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps([["red cube"], ["blue sphere", "gray cylinder"]]))
    assert L.load_conditions(good) == [["red cube"], ["blue sphere", "gray cylinder"]]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([["red cube"], ["red cube", "purple cone"]]))
    with pytest.raises(ValueError, match=r"bad\.json, condition 1, label 1: unknown label 'purple cone'"):
        L.load_conditions(bad)
    broken = tmp_path / "broken.json"
    broken.write_text("[[")
    with pytest.raises(ValueError, match="broken.json: not valid JSON"):
        L.load_conditions(broken)
    latin = tmp_path / "latin1.json"
    latin.write_bytes('[["red cube"]] \u00e9'.encode("latin-1"))
    with pytest.raises(ValueError, match="latin1.json: not UTF-8"):
        L.load_conditions(latin)
    with pytest.raises(FileNotFoundError, match="nope.json"):
        L.load_conditions(tmp_path / "nope.json")
    (tmp_path / "empty.json").write_text("[]")
    with pytest.raises(ValueError, match="empty.json: no conditions"):
        L.load_conditions(tmp_path / "empty.json")


def test_packaged_condition_files():
    test = L.load_conditions(L.resolve_conditions("test"))
    new_test = L.load_conditions(L.resolve_conditions("new_test.json"))
    assert len(test) == len(new_test) == 32
    assert L.encode_batch(test).shape == (32, 24)
    train = json.loads(L.package_file("train.json").read_text())
    assert len(train) == 18009


def test_decode_rejects_wrong_shape():
    with pytest.raises(ValueError, match=r"\(24,\)"):
        L.decode(torch.zeros(23))
