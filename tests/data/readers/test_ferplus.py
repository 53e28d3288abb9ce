"""FERPlus reader: generated and raw layouts, majority and probability labels, cache, bad input, real counts."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from sqsnet.data import DatasetError, FERPlus
from sqsnet.data.labels import FERPLUS_CLASSES


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


@pytest.mark.parametrize("first", [
    'fer0000000.png,"(0, 0, 48, 48)",1,2,3',          # too few fields
    'fer0000000.jpg,"(0, 0, 48, 48)",1,2,x,0,0,0,0,0,0,0',  # not a .png, bad count
    "Image name,face box,neutral,happy",                # a header-like line that is not one
    "garbage",
])
def test_ferplus_malformed_first_row_is_reported(ferplus_root, first: str) -> None:
    """Only a real header line is skipped; a malformed first row names the file and line 1."""
    root, _ = ferplus_root
    f = root / "FER2013Train" / "label.csv"
    lines = f.read_text().splitlines()
    f.write_text("\n".join([first] + lines[1:]) + "\n")
    with pytest.raises(DatasetError, match=r"FER2013Train/label\.csv, line 1: "):
        FERPlus(root, "train")
