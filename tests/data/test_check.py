"""``sqsnet data check``: real FERPlus, the muxspace folder, broken fixtures, unknown folders."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from sqsnet.cli import main
from sqsnet.data.check import check_data
from sqsnet.data.root import default_data_dir


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    rc = main(["data", "check", *args])
    return rc, capsys.readouterr().out


def _real(name: str, marker: str) -> Path:
    root = default_data_dir() / name
    if not (root / marker).exists():
        pytest.skip(f"real {name} data not found at {root} (set SQSNET_DATA)")
    return root


def test_check_real_ferplus(capsys: pytest.CaptureFixture[str]) -> None:
    root = _real("ferplus", "FER2013Valid/label.csv")
    rc, out = _run(capsys, "--data-root", str(root))
    assert rc == 0
    assert "reader: FERPlus (ferplus, chosen by --dataset auto), layout: generated" in out
    assert "neutral" in out and " 8733 " in out and " 1180 " in out
    lines = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.strip()}
    assert lines["images"] == ["25045", "3191", "-"]
    assert lines["undecodable"] == ["0", "0", "-"]
    assert "test: absent: FERPlus test" in out and "result: OK" in out


def test_check_real_muxspace(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    root = _real("muxspace", "contempt")
    rc, out = _run(capsys, "--data-root", str(root), "--json", str(tmp_path / "r.json"))
    assert rc == 0 and "reader: LabelledFolder (folder" in out and "layout: class tree" in out
    assert "seeded stratified hold-out of" in out and "result: OK" in out
    report = json.loads((tmp_path / "r.json").read_text())
    train, valid, test = report["splits"]
    assert train["images"] + valid["images"] == 1925 and test["error"] is not None
    assert train["class_counts"]["contempt"] + valid["class_counts"]["contempt"] == 9
    assert report["ok"] is True and report["dataset"] == "folder"


def test_check_broken_fixture(fx: SimpleNamespace, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    """A mirror with a label outside RAF-DB's codes and an undecodable image: both named,
    exit status 1."""
    fx.make_rafdb(tmp_path / "official")
    root = fx.make_rafdb_mirror(tmp_path / "official", tmp_path / "broken", labels_csv=True)
    csv = root / "train_labels.csv"
    rows = csv.read_text().splitlines()
    csv.write_text("\n".join(rows[:3] + ["train_00003_aligned.jpg,9"] + rows[4:]) + "\n")
    bad = root / "DATASET" / "test" / "2" / "test_00002_aligned.jpg"
    bad.write_bytes(bad.read_bytes()[:60])
    rc, out = _run(capsys, "--data-root", str(root), "--dataset", "rafdb")
    assert rc == 1
    assert "reader: RAFDB (rafdb, as asked), layout: mirror" in out
    assert "train: cannot be read: " in out and "train_labels.csv, line 4: unknown label '9'" in out
    assert "test: 1 undecodable image(s): " in out and "test_00002_aligned.jpg" in out
    assert "result: FAILED" in out


def test_check_missing_and_undecodable(fx: SimpleNamespace, tmp_path: Path) -> None:
    root, _ = tmp_path / "fp", fx.make_ferplus_generated(tmp_path / "fp")
    for k in (0, 1):
        (root / "FER2013Train" / f"fer{k:07d}.png").unlink()
    report = check_data(root)
    assert not report.ok and report.layout == "generated"
    assert "2 image(s) listed in" in report.problems[0] and "fer0000000.png (line 1)" in report.problems[0]
    fx.make_folder(tmp_path / "tree", {"happy": 10, "sad": 10})
    for name in ("img000.png", "img001.png", "img002.png", "img003.png"):
        (tmp_path / "tree" / "happy" / name).write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    report = check_data(tmp_path / "tree", "folder")
    assert not report.ok and report.splits[0].undecodable
    assert any("data.skip_bad_images=true" in p for p in report.problems)
    assert check_data(tmp_path / "tree", "folder", decode=False).ok  # only a decode finds them


def test_check_unknown_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "photos").mkdir()
    rc, out = _run(capsys, "--data-root", str(tmp_path))
    assert rc == 1
    assert "no known layout found; at the top of the folder: notes.txt, photos/" in out
    assert "known layouts:" in out and "rafdb (mirror): [DATASET/]train|test/<1..7>/*.jpg" in out
    assert "affectnet (mirror)" in out and "result: FAILED" in out
    rc, out = _run(capsys, "--data-root", str(tmp_path / "missing"))
    assert rc == 1 and "does not exist" in out
