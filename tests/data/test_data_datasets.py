"""Dataset readers on tiny fixtures in each real format, bad input, and the real FERPlus counts."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from sqsnet.data import (
    AffectNet,
    DatasetError,
    FER2013,
    FERPlus,
    LabelledFolder,
    RAFDB,
    build_dataset,
    resolve_data_root,
)
from sqsnet.data.labels import AFFECTNET_CLASSES_7, FER2013_CLASSES, FERPLUS_CLASSES, RAFDB_CLASSES

# ----------------------------------------------------------------------------- FERPlus


def test_ferplus_generated_majority(ferplus_root) -> None:
    root, expected = ferplus_root
    ds = FERPlus(root, "train")
    assert ds.classes == FERPLUS_CLASSES
    assert ds.targets == expected["FER2013Train"]
    assert len(ds) == len(ds.samples) == 9
    img, label = ds[0]
    assert isinstance(img, Image.Image) and img.mode == "RGB" and img.size == (48, 48)
    assert label == 0
    assert FERPlus(root, "valid").targets == expected["FER2013Valid"]
    assert sum(ds.class_counts().values()) == len(ds)


def test_ferplus_header_row_is_tolerated(fx: SimpleNamespace, tmp_path: Path) -> None:
    expected = fx.make_ferplus_generated(tmp_path, splits=("FER2013Train",), header=True)
    assert FERPlus(tmp_path, "train").targets == expected["FER2013Train"]


def test_ferplus_probability_mode(ferplus_root) -> None:
    root, _ = ferplus_root
    maj = FERPlus(root, "train")
    ds = FERPlus(root, "train", label_mode="probability", transform=lambda im: torch.zeros(1))
    assert ds.targets == maj.targets
    for i in range(len(ds)):
        _, p = ds[i]
        assert p.dtype == torch.float32 and p.shape == (8,)
        assert torch.isclose(p.sum(), torch.tensor(1.0)) and int(p.argmax()) == ds.targets[i]
    # row 2 of the fixture: surprise 6 + unknown 4 -> all emotion mass on surprise
    assert torch.equal(ds[3][1], torch.eye(8)[2])
    # fear 5, contempt 4 -> 5/9, 4/9
    assert torch.allclose(ds[7][1][6:], torch.tensor([5 / 9, 4 / 9]))


def test_ferplus_cache_never_touches_disk(ferplus_root) -> None:
    root, _ = ferplus_root
    ds = FERPlus(root, "train", cache=True)
    expected = [np.asarray(FERPlus(root, "train").load_image(i)) for i in range(len(ds))]
    shutil.rmtree(root / "FER2013Train")
    for i in range(len(ds)):
        assert np.array_equal(np.asarray(ds[i][0]), expected[i])


def test_ferplus_raw_pair_matches_generated(fx: SimpleNamespace, tmp_path: Path) -> None:
    exp = fx.make_ferplus_raw(tmp_path / "raw")
    tr = FERPlus(tmp_path / "raw", "train")
    assert tr.layout == "raw" and tr.targets == exp["Training"]
    assert FERPlus(tmp_path / "raw", "valid").targets == exp["PublicTest"]
    te = FERPlus(tmp_path / "raw", "test", cache=True)
    assert te.targets == exp["PrivateTest"]
    img, _ = te[0]
    assert img.mode == "RGB" and img.size == (48, 48)
    gen = fx.make_ferplus_generated(tmp_path / "gen", splits=("FER2013Train",))
    assert gen["FER2013Train"] == tr.targets


def test_ferplus_missing_root(fx: SimpleNamespace, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"FER2013Train/label\.csv.*fer2013new\.csv.*does not exist"):
        FERPlus(tmp_path / "nowhere", "train")
    fx.make_ferplus_generated(tmp_path / "fp")
    with pytest.raises(DatasetError, match=r"FER2013Test.*has FER2013Train, FER2013Valid only"):
        FERPlus(tmp_path / "fp", "test")


def test_ferplus_missing_images_named_with_lines(ferplus_root) -> None:
    root, _ = ferplus_root
    for k in (0, 1, 3, 7, 9):
        (root / "FER2013Train" / f"fer{k:07d}.png").unlink()
    with pytest.raises(DatasetError) as err:
        FERPlus(root, "train")
    msg = str(err.value)
    assert "4 image(s) listed in" in msg and "label.csv" in msg  # fer0000003 is dropped by the rule anyway
    assert "fer0000000.png (line 1)" in msg and "and 1 more" in msg


def test_ferplus_malformed_row(ferplus_root) -> None:
    root, _ = ferplus_root
    f = root / "FER2013Train" / "label.csv"
    lines = f.read_text().splitlines()
    lines[4] = 'fer0000004.png,"(0, 0, 48, 48)",1,2,3'
    f.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r"label\.csv, line 5: expected 12 comma-separated fields"):
        FERPlus(root, "train")
    lines[4] = 'fer0000004.png,"(0, 0, 48, 48)",1,2,x,0,0,0,0,0,0,0'
    f.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r"line 5: the 10 vote counts must be integers"):
        FERPlus(root, "train")


def test_ferplus_corrupt_png_error_and_skip(ferplus_root) -> None:
    root, expected = ferplus_root
    bad = root / "FER2013Train" / "fer0000001.png"
    bad.write_bytes(bad.read_bytes()[:40])  # truncated PNG
    ds = FERPlus(root, "train")  # lazy: fails when read
    with pytest.raises(DatasetError, match=r"cannot decode image .*fer0000001\.png.*line 2.*skip_bad_images"):
        ds[1]
    with pytest.raises(DatasetError, match="fer0000001.png"):
        FERPlus(root, "train", cache=True)
    for cache in (False, True):
        skipping = FERPlus(root, "train", skip_bad_images=True, cache=cache)
        assert len(skipping) == len(expected["FER2013Train"]) - 1
        assert len(skipping.skipped) == 1 and skipping.skipped[0][0].endswith("fer0000001.png")
        assert skipping.targets == [t for i, t in enumerate(expected["FER2013Train"]) if i != 1]
        assert all(skipping[i][0].size == (48, 48) for i in range(len(skipping)))


def test_ferplus_real_data_counts(fx: SimpleNamespace) -> None:
    base = fx.real_data_root()
    root = base / "ferplus" if (base / "ferplus").is_dir() else base
    if not (root / "FER2013Train" / "label.csv").is_file():
        pytest.skip(f"real FERPlus data not found at {root} (set SQSNET_DATA to the folder holding ferplus/)")
    counts = {
        "train": (25045, dict(neutral=8733, happiness=7284, surprise=3136, sadness=3022, anger=2098,
                              fear=536, disgust=116, contempt=120)),
        "valid": (3191, dict(neutral=1180, happiness=862, surprise=411, sadness=348, anger=289,
                             fear=60, disgust=25, contempt=16)),
    }
    for split, (n, per_class) in counts.items():
        ds = FERPlus(root, split)
        assert len(ds) == n
        assert ds.class_counts() == {c: per_class[c] for c in FERPLUS_CLASSES}
    img, label = ds[0]
    assert img.mode == "RGB" and img.size == (48, 48) and 0 <= label < 8


# ------------------------------------------------------------------------------- RAF-DB


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


# ---------------------------------------------------------------------------- AffectNet


def test_affectnet_crop_and_label_filter(fx: SimpleNamespace, tmp_path: Path) -> None:
    exprs = fx.make_affectnet(tmp_path / "AffectNet")
    tr = AffectNet(tmp_path / "AffectNet", "train")
    assert tr.targets == [e for e in exprs["training"] if e <= 7]
    img, label = tr[0]
    assert img.size == (60, 50) and img.mode == "RGB" and label == 0  # cropped to the face box
    va7 = AffectNet(tmp_path / "AffectNet", "valid", num_classes=7)
    assert va7.classes == AFFECTNET_CLASSES_7 and va7.targets == [0, 1, 2, 3, 4, 5, 6]
    assert tr.class_counts()["contempt"] == 1 and tr.class_counts()["happiness"] == 2
    # root pointing at the images' parent folder
    alt = AffectNet(tmp_path / "AffectNet" / "Manually_Annotated_Images", "valid")
    assert alt.samples == AffectNet(tmp_path / "AffectNet", "valid").samples
    with pytest.raises(DatasetError, match="test set is not public"):
        AffectNet(tmp_path / "AffectNet", "test")


def test_affectnet_bad_input(fx: SimpleNamespace, tmp_path: Path) -> None:
    fx.make_affectnet(tmp_path, {"training": [1, 11], "validation": [0]})
    with pytest.raises(DatasetError, match=r"training\.csv, line 3: unknown expression 11"):
        AffectNet(tmp_path, "train")
    f = tmp_path / "Manually_Annotated_file_lists" / "validation.csv"
    f.write_text(fx.AFFECTNET_HEADER + "\n1/x.jpg,1,2,3\n")
    with pytest.raises(DatasetError, match=r"validation\.csv, line 2: expected 9 comma-separated fields"):
        AffectNet(tmp_path, "valid")
    f.write_text(fx.AFFECTNET_HEADER + "\n1/missing.jpg,0,0,10,10,,1,0,0\n")
    with pytest.raises(DatasetError, match=r"image\(s\) listed in .*missing\.jpg \(line 2\)"):
        AffectNet(tmp_path, "valid")
    with pytest.raises(DatasetError, match=r"AffectNet train: expected .*Manually_Annotated_file_lists"):
        AffectNet(tmp_path / "x" / "elsewhere", "train")


# ------------------------------------------------------------------------------ FER2013


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


# ------------------------------------------------------------------------ LabelledFolder


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
    from sqsnet.data.datasets import IMAGE_EXTENSIONS

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


# ---------------------------------------------------------------------- factory and roots


def test_build_dataset_and_roots(fx: SimpleNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fx.make_ferplus_generated(tmp_path / "ferplus")
    monkeypatch.delenv("SQSNET_DATA", raising=False)
    with pytest.raises(DatasetError, match="SQSNET_DATA"):
        resolve_data_root(None, "ferplus")
    monkeypatch.setenv("SQSNET_DATA", str(tmp_path))
    assert resolve_data_root(None, "ferplus") == tmp_path / "ferplus"
    monkeypatch.setenv("SQSNET_DATA", str(tmp_path / "ferplus"))
    assert resolve_data_root(None, "FERPlus") == tmp_path / "ferplus"
    assert resolve_data_root("/x/y", "ferplus") == Path("/x/y")
    ds = build_dataset("FER+", None, "valid", label_mode="probability", cache=True)
    assert isinstance(ds, FERPlus) and ds.label_mode == "probability"
    fx.make_rafdb(tmp_path / "raf")
    assert isinstance(build_dataset("raf-db", tmp_path / "raf", "test", label_mode="majority"), RAFDB)
    fx.make_affectnet(tmp_path / "an")
    assert build_dataset("affectnet7", tmp_path / "an", "valid").classes == AFFECTNET_CLASSES_7
    fx.make_folder(tmp_path / "tree" / "train", {"happy": 1, "sad": 1})
    assert build_dataset("folder", tmp_path / "tree", "train").classes == ("happiness", "sadness")
    with pytest.raises(ValueError, match="Unknown dataset 'kdef'"):
        build_dataset("kdef", tmp_path, "train")
    with pytest.raises(TypeError, match="does not take option"):
        build_dataset("rafdb", tmp_path / "raf", "train", label_mode="probability")
