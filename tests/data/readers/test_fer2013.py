"""FER2013 reader: fer2013.csv and class folders, bad rows."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from sqsnet.data import FER2013, DatasetError
from sqsnet.data.labels import FER2013_CLASSES


def test_fer2013_csv(fx: SimpleNamespace, tmp_path: Path) -> None:
    rows = [(0, "Training"), (3, "Training"), (6, "PublicTest"), (5, "PrivateTest"), (2, "Training")]
    fx.make_fer2013_csv(tmp_path / "fer2013" / "fer2013.csv", rows)
    tr = FER2013(tmp_path, "train")  # folder holding fer2013/fer2013.csv
    assert tr.classes == FER2013_CLASSES and tr.targets == [0, 3, 2]
    img, label = tr[1]
    assert img.mode == "RGB" and img.size == (48, 48) and label == 3
    assert FER2013(tmp_path / "fer2013" / "fer2013.csv", "valid").targets == [6]
    assert FER2013(tmp_path / "fer2013", "test").targets == [5]


def test_fer2013_bad_rows(fx: SimpleNamespace, tmp_path: Path) -> None:
    path = tmp_path / "fer2013.csv"
    fx.make_fer2013_csv(path, [(0, "Training"), (7, "Training")])
    with pytest.raises(DatasetError, match=r"fer2013\.csv, line 3: unknown emotion 7"):
        FER2013(path, "train")
    path.write_text("emotion,pixels,Usage\n1,1 2 3,Training\n")
    with pytest.raises(DatasetError, match=r"line 2: 'pixels' must hold a square image"):
        FER2013(path, "train")


def test_fer2013_class_folders(fx: SimpleNamespace, tmp_path: Path) -> None:
    fx.make_folder(tmp_path / "train", {"angry": 2, "happy": 3, "neutral": 1})
    fx.make_folder(tmp_path / "test", {"sad": 2})
    tr = FER2013(tmp_path, "train")
    assert tr.layout == "folders" and tr.classes == FER2013_CLASSES
    assert tr.targets == [0, 0, 3, 3, 3, 6]
    assert tr[5][0].mode == "RGB"
    assert FER2013(tmp_path, "test").targets == [4, 4]
    with pytest.raises(DatasetError, match="FER2013 valid: expected"):
        FER2013(tmp_path, "valid")
