"""RAF-DB reader: official layout, seeded stratified hold-out, bad rows, missing files."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from sqsnet.data import RAFDB, DatasetError
from sqsnet.data.labels import RAFDB_CLASSES


def test_rafdb_splits(fx: SimpleNamespace, tmp_path: Path) -> None:
    labels = fx.make_rafdb(tmp_path / "RAF-DB", n_train_per_class=10)
    tr = RAFDB(tmp_path / "RAF-DB", "train")
    va = RAFDB(tmp_path / "RAF-DB" / "basic", "valid")  # root may be basic/
    te = RAFDB(tmp_path / "RAF-DB", "test")
    assert tr.classes == RAFDB_CLASSES
    assert len(tr) + len(va) == len(labels["train"]) == 70 and len(va) == 7
    assert set(tr.samples).isdisjoint(va.samples)
    assert sorted(va.targets) == list(range(7))  # stratified: one per class
    assert te.targets == [lab - 1 for lab in labels["test"]]
    assert te.samples[0].endswith("test_00001_aligned.jpg")
    assert RAFDB(tmp_path / "RAF-DB", "valid").samples == va.samples  # seeded
    assert RAFDB(tmp_path / "RAF-DB", "valid", seed=1).samples != va.samples
    img, label = te[0]
    assert img.size == (100, 100) and label == 0  # file label 1 = surprise
    assert len(RAFDB(tmp_path / "RAF-DB", "train", val_fraction=0)) == 70


@pytest.mark.parametrize("line,match", [
    ("train_00001.jpg 8", r"line 1: unknown label 8"),
    ("train_00001.jpg", r"line 1: expected '<image name> <label 1..7>'"),
    ("train_00001.jpg five", r"line 1: label must be an integer"),
])
def test_rafdb_bad_rows(fx: SimpleNamespace, tmp_path: Path, line: str, match: str) -> None:
    fx.make_rafdb(tmp_path)
    f = tmp_path / "basic" / "EmoLabel" / "list_patition_label.txt"
    rows = f.read_text().splitlines()
    f.write_text("\n".join([line] + rows[1:]) + "\n")
    with pytest.raises(DatasetError, match=match):
        RAFDB(tmp_path, "train")


def test_rafdb_missing(fx: SimpleNamespace, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"RAF-DB: expected .*list_patition_label\.txt"):
        RAFDB(tmp_path, "train")
    fx.make_rafdb(tmp_path)
    (tmp_path / "basic" / "Image" / "aligned" / "test_00003_aligned.jpg").unlink()
    with pytest.raises(DatasetError, match=r"1 image\(s\) listed in .*test_00003_aligned\.jpg \(line \d+\)"):
        RAFDB(tmp_path, "test")


def _named(ds: RAFDB) -> list[tuple[str, int]]:
    return [(Path(s).name, t) for s, t in zip(ds.samples, ds.targets)]


@pytest.mark.parametrize("labels_csv,dataset_dir", [(False, True), (True, True), (False, False)])
def test_rafdb_mirror_matches_official(fx: SimpleNamespace, tmp_path: Path, labels_csv: bool,
                                       dataset_dir: bool) -> None:
    """The public mirror (DATASET/train|test/<1..7>/, with or without the labels csv) reads
    to the same samples, labels, class counts and hold-out as the official layout."""
    fx.make_rafdb(tmp_path / "official", n_train_per_class=10)
    fx.make_rafdb_mirror(tmp_path / "official", tmp_path / "mirror", labels_csv=labels_csv,
                         dataset_dir=dataset_dir)
    for split in ("train", "valid", "test"):
        official = RAFDB(tmp_path / "official", split)
        mirror = RAFDB(tmp_path / "mirror", split)
        assert official.layout == "official" and mirror.layout == "mirror"
        assert _named(mirror) == _named(official)
        assert mirror.class_counts() == official.class_counts()
        assert (mirror.holdout is None) == (split == "test")  # valid held out of train, not test
    assert len(RAFDB(tmp_path / "mirror", "valid")) == 7
    img, label = RAFDB(tmp_path / "mirror", "test")[0]
    assert img.size == (100, 100) and label == 0


def test_rafdb_mirror_bad_input(fx: SimpleNamespace, tmp_path: Path) -> None:
    fx.make_rafdb(tmp_path / "official")
    root = fx.make_rafdb_mirror(tmp_path / "official", tmp_path / "m", labels_csv=True)
    csv = root / "train_labels.csv"
    rows = csv.read_text().splitlines()
    csv.write_text("\n".join(rows[:3] + ["train_00003_aligned.jpg,9"] + rows[4:]) + "\n")
    with pytest.raises(DatasetError, match=r"train_labels\.csv, line 4: unknown label '9'"):
        RAFDB(root, "train")
    csv.write_text("\n".join(rows[:3] + ["train_09999_aligned.jpg,2"] + rows[4:]) + "\n")
    with pytest.raises(DatasetError, match=r"listed in .*train_labels\.csv.*train_09999_aligned"
                                           r"\.jpg \(line 4\)"):
        RAFDB(root, "train")
    bare = fx.make_rafdb_mirror(tmp_path / "official", tmp_path / "bare")
    (bare / "DATASET" / "train" / "8").mkdir()
    with pytest.raises(DatasetError, match=r"unknown class folder\(s\) '8'.*1 surprise"):
        RAFDB(bare, "train")
