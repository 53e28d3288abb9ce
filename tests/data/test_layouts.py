"""Layout detection: each fixture layout is recognised, auto picks the reader, unknown
folders are described."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from sqsnet.data.layouts import (
    LAYOUTS,
    choose_layout,
    detect_layouts,
    looks_like,
    top_entries,
)


def _names(root: Path) -> list[tuple[str, str]]:
    return [(lay.dataset, lay.name) for lay in detect_layouts(root)]


def test_every_layout_is_detected(fx: SimpleNamespace, tmp_path: Path) -> None:
    fx.make_ferplus_generated(tmp_path / "fp")
    fx.make_ferplus_raw(tmp_path / "fpraw")
    fx.make_rafdb(tmp_path / "raf")
    fx.make_rafdb_mirror(tmp_path / "raf", tmp_path / "rafm")
    fx.make_affectnet(tmp_path / "an")
    fx.make_affectnet_mirror(tmp_path / "anm", {"train": {"neutral": 1, "anger": 1}}, by_code=True)
    fx.make_fer2013_csv(tmp_path / "f13" / "fer2013.csv", [(0, "Training")])
    fx.make_folder(tmp_path / "f13dirs" / "train", {"angry": 1, "happy": 1})
    fx.make_folder(tmp_path / "flat", {"happy": 1, "contempt": 1})
    expected = {
        "fp": ("ferplus", "generated"), "fpraw": ("ferplus", "raw"),
        "raf": ("rafdb", "official"), "rafm": ("rafdb", "mirror"),
        "an": ("affectnet", "official"), "anm": ("affectnet", "mirror"),
        "f13": ("fer2013", "csv"), "f13dirs": ("folder", "tree"), "flat": ("folder", "tree"),
    }
    for folder, (dataset, layout) in expected.items():
        chosen = choose_layout(tmp_path / folder)
        assert chosen is not None and (chosen.dataset, chosen.name) == (dataset, layout), folder
        assert looks_like(tmp_path / folder, dataset)
    assert ("fer2013", "folders") in _names(tmp_path / "f13dirs")  # named trees: folder under auto
    assert ("fer2013", "folders") not in _names(tmp_path / "flat")  # contempt, no split folders
    assert _names(tmp_path / "raf" / "basic") == [("rafdb", "official")]
    assert detect_layouts(tmp_path / "f13" / "fer2013.csv")[0].name == "csv"
    assert not looks_like(tmp_path / "flat", "ferplus")
    assert {lay.dataset for lay in LAYOUTS} == {"ferplus", "rafdb", "affectnet", "fer2013", "folder"}


def test_nothing_matches(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "pics").mkdir()
    assert choose_layout(tmp_path) is None and detect_layouts(tmp_path / "missing") == []
    assert top_entries(tmp_path) == ["notes.txt", "pics/"]
