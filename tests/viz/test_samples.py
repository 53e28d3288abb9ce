"""Notebook helpers: finding data, picking faces, drawing stand-in faces, model cards."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sqsnet.viz import (
    class_indices,
    find_data_root,
    read_model_card,
    subset_per_class,
    synthetic_face,
)


def test_synthetic_faces_differ_and_are_rgb() -> None:
    a = synthetic_face("happiness", size=64)
    b = synthetic_face("sadness", size=64)
    assert a.size == (64, 64) and a.mode == "RGB"
    assert not np.array_equal(np.asarray(a), np.asarray(b))
    assert np.array_equal(np.asarray(a), np.asarray(synthetic_face("happiness", size=64)))


def test_find_data_root_env_and_absent(tmp_path, monkeypatch) -> None:
    fake = tmp_path / "data" / "ferplus" / "FER2013Valid"
    fake.mkdir(parents=True)
    (fake / "label.csv").write_text("")
    monkeypatch.setenv("SQSNET_DATA", str(tmp_path / "data"))
    assert find_data_root("ferplus") == (tmp_path / "data" / "ferplus").resolve()
    assert find_data_root("ferplus", root=tmp_path / "data" / "ferplus") is not None
    monkeypatch.chdir(tmp_path)
    assert find_data_root("affectnet") is None or find_data_root("affectnet").is_dir()


def test_read_model_card_missing_checkpoint(tmp_path) -> None:
    assert read_model_card(tmp_path / "nope.safetensors") is None
    card = read_model_card("default")
    assert card is None or isinstance(card, str)


def test_class_indices_and_subset(ferplus_root: Path) -> None:
    from sqsnet.data import FERPlus

    ds = FERPlus(ferplus_root, "valid")
    idx = class_indices(ds)
    assert list(idx) == list(ds.classes)
    assert all(ds.targets[i] == k for k, name in enumerate(ds.classes) for i in idx[name][:5])
    small = subset_per_class(ds, 3, seed=0)
    assert len(small) == 3 * len(ds.classes)
    assert len(ds) > len(small) and small.classes == ds.classes
    img, label = small[0]
    assert img.mode == "RGB" and 0 <= label < len(ds.classes)
