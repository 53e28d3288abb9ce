"""build_dataset: names and spellings, option filtering, folder splits."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from sqsnet.data import RAFDB, DatasetError, FERPlus, build_dataset
from sqsnet.data.labels import AFFECTNET_CLASSES_7


def test_build_dataset(fx: SimpleNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fx.make_ferplus_generated(tmp_path / "ferplus")
    monkeypatch.setenv("SQSNET_DATA", str(tmp_path / "ferplus"))
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


def test_build_folder_flat_tree_never_trains_on_valid(fx: SimpleNamespace, tmp_path: Path) -> None:
    """``--dataset folder`` on a flat tree: train and valid are disjoint (issue: 93 / 93)."""
    fx.make_folder(tmp_path / "flat", {"happy": 6, "sad": 6, "anger": 6})
    tr = build_dataset("folder", tmp_path / "flat", "train")
    va = build_dataset("folder", tmp_path / "flat", "valid")
    assert set(tr.samples).isdisjoint(va.samples) and len(tr) + len(va) == 18
    assert va.holdout is not None and va.holdout["valid"] == len(va)
    assert len(build_dataset("folder", tmp_path / "flat", None)) == 18
    assert len(build_dataset("folder", tmp_path / "flat", "all")) == 18


def test_build_dataset_auto(fx: SimpleNamespace, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """``auto`` picks the reader from the layout and says which, once per folder."""
    fx.make_ferplus_generated(tmp_path / "fp")
    fx.make_rafdb(tmp_path / "raf")
    fx.make_rafdb_mirror(tmp_path / "raf", tmp_path / "rafm", labels_csv=True)
    fx.make_folder(tmp_path / "flat", {"happy": 5, "sad": 5})
    with caplog.at_level("INFO", logger="sqsnet.data.factory"):
        ds = build_dataset("auto", tmp_path / "fp", "train", label_mode="majority", cache=False)
        build_dataset("AUTO", tmp_path / "fp", "valid")
    said = [r.getMessage() for r in caplog.records if "dataset auto" in r.getMessage()]
    assert isinstance(ds, FERPlus) and len(said) == 1 and "FERPlus reader" in said[0]
    assert "generated layout of ferplus" in said[0]
    mirror = build_dataset("auto", tmp_path / "rafm", "test")
    assert isinstance(mirror, RAFDB) and mirror.layout == "mirror"
    assert mirror.targets == build_dataset("rafdb", tmp_path / "raf", "test").targets
    # options the chosen reader does not take are left out under auto
    flat = build_dataset("auto", tmp_path / "flat", "valid", label_mode="probability", num_classes=8)
    assert flat.classes == ("happiness", "sadness") and flat.holdout is not None
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "readme.md").write_text("?")
    with pytest.raises(DatasetError, match=r"no known layout in .*junk \(found at the top: "
                                           r"readme\.md\); known layouts: ferplus \(generated\)"):
        build_dataset("auto", tmp_path / "junk", "train")
