"""AffectNet reader: official layout, face-box crops, label filter, bad input."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from sqsnet.data import AffectNet, DatasetError
from sqsnet.data.labels import AFFECTNET_CLASSES_7


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


MIRROR = {"train": {"neutral": 4, "happiness": 5, "anger": 3, "contempt": 2},
          "val": {"neutral": 2, "happiness": 2, "anger": 1, "contempt": 1}}


def _relative(ds: AffectNet) -> list[tuple[str, int]]:
    return [(Path(s).name, t) for s, t in zip(ds.samples, ds.targets)]


def test_affectnet_mirrors_by_name_and_code(fx: SimpleNamespace, tmp_path: Path) -> None:
    """Class folders named by class or by code 0..7 read to the same samples and counts,
    and to the class counts of the official layout holding the same labels."""
    by_name = fx.make_affectnet_mirror(tmp_path / "named", MIRROR, by_code=False)
    by_code = fx.make_affectnet_mirror(tmp_path / "coded", MIRROR, by_code=True)
    codes = {"neutral": 0, "happiness": 1, "anger": 6, "contempt": 7}
    fx.make_affectnet(tmp_path / "official", {
        name: [codes[c] for c, n in MIRROR[folder].items() for _ in range(n)]
        for name, folder in (("training", "train"), ("validation", "val"))})
    for split in ("train", "valid"):
        named, coded = AffectNet(by_name, split), AffectNet(by_code, split)
        official = AffectNet(tmp_path / "official", split)
        assert named.layout == coded.layout == "mirror" and official.layout == "official"
        assert _relative(named) == _relative(coded)
        assert named.class_counts() == coded.class_counts() == official.class_counts()
    assert AffectNet(by_name, "train").class_counts()["contempt"] == 2
    seven = AffectNet(by_code, "train", num_classes=7)  # contempt folder left out
    assert seven.classes == AFFECTNET_CLASSES_7 and len(seven) == 12
    with pytest.raises(DatasetError, match="test set is not public"):
        AffectNet(by_name, "test")


def test_affectnet_mirror_validation_rule(fx: SimpleNamespace, tmp_path: Path) -> None:
    """valid = val/valid folder, else a mirror's test folder (the official validation
    images), else a seeded stratified hold-out of train."""
    test_only = fx.make_affectnet_mirror(tmp_path / "t", {"train": MIRROR["train"],
                                                          "test": MIRROR["val"]}, by_code=True)
    va = AffectNet(test_only, "valid")
    assert len(va) == 6 and va.holdout is None and all("/test/" in s for s in va.samples)
    train_only = fx.make_affectnet_mirror(tmp_path / "tr", {"train": {"neutral": 10, "anger": 10}},
                                          by_code=False)
    tr, va = AffectNet(train_only, "train"), AffectNet(train_only, "valid")
    assert set(tr.samples).isdisjoint(va.samples) and len(tr) + len(va) == 20
    assert va.holdout == {"source": str(train_only / "train"), "fraction": 0.1, "seed": 0,
                          "train": 18, "valid": 2}
    both = fx.make_affectnet_mirror(tmp_path / "b", {**MIRROR, "test": {"anger": 2}}, by_code=True)
    assert len(AffectNet(both, "test")) == 2 and len(AffectNet(both, "valid")) == 6
    (train_only / "train" / "9").mkdir()
    with pytest.raises(DatasetError, match=r"unknown class folder\(s\) '9'.*0 neutral"):
        AffectNet(train_only, "train")
