"""Labelled-folder reader: synonyms, class order, suffixes, errors, undecodable images."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from sqsnet.data import IMAGE_EXTENSIONS, DatasetError, LabelledFolder
from sqsnet.data.labels import FER2013_CLASSES


def test_labelled_folder(fx: SimpleNamespace, tmp_path: Path) -> None:
    fx.make_folder(tmp_path, {"Happy": 2, "neutral": 2, "Disgusted": 1}, ext=".JPG")
    (tmp_path / "happy_notes.txt").write_text("not a class folder")
    (tmp_path / "neutral" / "readme.txt").write_text("ignored")
    ds = LabelledFolder(tmp_path)
    assert ds.classes == ("neutral", "happiness", "disgust")  # canonical order of those found
    assert ds.targets == [0, 0, 1, 1, 2]
    assert all(ds[i][0].mode == "RGB" for i in range(len(ds)))
    ds2 = LabelledFolder(tmp_path, classes=FER2013_CLASSES)
    assert ds2.classes == FER2013_CLASSES and ds2.targets == [1, 3, 3, 6, 6]


def test_labelled_folder_reads_every_listed_suffix(fx: SimpleNamespace, tmp_path: Path) -> None:
    """The folder reader and ``sqsnet predict`` share one suffix list, TIFF and GIF included."""
    assert {".tif", ".tiff", ".gif", ".webp"} <= set(IMAGE_EXTENSIONS)
    fx.make_folder(tmp_path / "mixed", {"happy": 1}, ext=".tif")
    fx.make_folder(tmp_path / "mixed", {"sad": 1}, ext=".gif")
    ds = LabelledFolder(tmp_path / "mixed")
    assert ds.classes == ("happiness", "sadness") and ds.targets == [0, 1]
    assert ds[0][0].mode == "RGB" and ds[1][0].mode == "RGB"


def test_labelled_folder_errors(fx: SimpleNamespace, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        LabelledFolder(tmp_path / "none")
    fx.make_folder(tmp_path / "a", {"happy": 1, "bored": 1})
    with pytest.raises(DatasetError, match=r"unknown class folder\(s\) 'bored'.*Accepted names.*happy"):
        LabelledFolder(tmp_path / "a")
    fx.make_folder(tmp_path / "b", {"happy": 1, "Happiness": 1})
    with pytest.raises(DatasetError, match="both mean 'happiness'"):
        LabelledFolder(tmp_path / "b")
    fx.make_folder(tmp_path / "c", {"happy": 1, "contempt": 1})
    with pytest.raises(DatasetError, match="not among the requested classes"):
        LabelledFolder(tmp_path / "c", classes=FER2013_CLASSES)


def test_labelled_folder_corrupt_image_skip(fx: SimpleNamespace, tmp_path: Path) -> None:
    fx.make_folder(tmp_path, {"happy": 3})
    (tmp_path / "happy" / "img001.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(DatasetError, match="img001.png"):
        LabelledFolder(tmp_path)[1]
    ds = LabelledFolder(tmp_path, skip_bad_images=True)
    assert len(ds) == 2 and len(ds.skipped) == 1


def test_flat_folder_holds_out_valid(fx: SimpleNamespace, tmp_path: Path,
                                     caplog: pytest.LogCaptureFixture) -> None:
    """A flat tree never trains and validates on the same images: a seeded, stratified,
    logged hold-out, recorded in ``holdout``; test is refused; 'all' reads everything."""
    fx.make_folder(tmp_path, {"happy": 10, "sad": 10, "neutral": 10})
    with caplog.at_level("INFO"):
        tr = LabelledFolder(tmp_path, split="train")
    va = LabelledFolder(tmp_path, split="valid")
    assert set(tr.samples).isdisjoint(va.samples)
    assert len(tr) + len(va) == 30 and len(va) == 3
    assert sorted(va.targets) == [0, 1, 2]  # stratified: one per class
    assert "holding out" in caplog.text and "3 valid" in caplog.text
    assert va.holdout == tr.holdout == {"source": str(tmp_path), "fraction": 0.1, "seed": 0,
                                        "train": 27, "valid": 3}
    assert LabelledFolder(tmp_path, split="val").samples == va.samples  # seeded
    assert LabelledFolder(tmp_path, split="valid", seed=1).samples != va.samples
    assert len(LabelledFolder(tmp_path, split="valid", val_fraction=0.5)) == 15
    assert len(LabelledFolder(tmp_path, split="all")) == len(LabelledFolder(tmp_path)) == 30
    assert LabelledFolder(tmp_path).holdout is None
    with pytest.raises(DatasetError, match="no test split"):
        LabelledFolder(tmp_path, split="test")


def test_split_folders_and_missing_valid(fx: SimpleNamespace, tmp_path: Path) -> None:
    """train/ + test/ without a validation folder: valid is held out of train, never test."""
    fx.make_folder(tmp_path / "train", {"happy": 5, "sad": 5})
    fx.make_folder(tmp_path / "Test", {"happy": 2, "sad": 2})
    tr = LabelledFolder(tmp_path, split="train")
    va = LabelledFolder(tmp_path, split="valid")
    te = LabelledFolder(tmp_path, split="test")
    assert len(te) == 4 and te.holdout is None
    assert all("/train/" in s for s in tr.samples + va.samples)
    assert set(tr.samples).isdisjoint(va.samples) and len(tr) + len(va) == 10
    assert va.holdout is not None and va.holdout["source"] == str(tmp_path / "train")
    fx.make_folder(tmp_path / "val", {"happy": 1, "sad": 1})
    assert len(LabelledFolder(tmp_path, split="train")) == 10  # a real validation folder
    assert len(LabelledFolder(tmp_path, split="valid")) == 2
    with pytest.raises(DatasetError, match=r"holds split folders .*pass split="):
        LabelledFolder(tmp_path)


def test_empty_class_folder_is_refused(fx: SimpleNamespace, tmp_path: Path) -> None:
    fx.make_folder(tmp_path, {"happy": 3, "sad": 3})
    (tmp_path / "anger").mkdir()
    (tmp_path / "anger" / "notes.txt").write_text("no images here")
    with pytest.raises(DatasetError, match=r"class folder .*anger holds no images"):
        LabelledFolder(tmp_path)
    with pytest.raises(DatasetError, match=r"anger holds no images"):
        LabelledFolder(tmp_path, split="train")
