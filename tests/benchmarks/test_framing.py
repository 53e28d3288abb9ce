"""benchmarks/framing.py runs end to end on a tiny FERPlus fixture and on a few real faces
(it times nothing here)."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import pytest

from sqsnet.faces import FER2013_FRAMING
from tests.faces.helpers import needs_detector
from tests.helpers import make_ferplus_fixture

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "framing.py"


def run_script(monkeypatch: pytest.MonkeyPatch, *args: str) -> None:
    monkeypatch.setattr(sys, "argv", ["framing.py", *args])
    runpy.run_path(str(SCRIPT), run_name="__main__")


@needs_detector
def test_measure_mode_on_a_fixture_reports_every_statistic(tmp_path, monkeypatch, capsys):
    data = make_ferplus_fixture(tmp_path / "ferplus", per_class=3)
    out = tmp_path / "measure.json"
    # the data root comes from $SQSNET_DATA when --data-root is not given
    monkeypatch.setenv("SQSNET_DATA", str(tmp_path))
    run_script(monkeypatch, "--limit", "5", "--size", "96", "--json", str(out))
    result = json.loads(out.read_text())
    assert result["mode"] == "measure" and result["faces"] == 5 and result["face_side"] == 96
    assert Path(result["data_root"]) == data.resolve()
    assert 0 <= result["detected"] <= 5 and 0.0 <= result["detection_rate"] <= 1.0
    assert set(result["stats"]) == {"box_width", "box_height", "center_dx", "center_dy",
                                    "fit_scale", "fit_offset_x", "fit_offset_y"}
    assert set(result["stats"]["fit_scale"]) == {"median", "p25", "p75", "p10", "p90", "mean", "std"}
    assert result["fer2013_framing"]["scale"] == FER2013_FRAMING.scale
    table = capsys.readouterr().out
    assert "| box_height |" in table and "FER2013_FRAMING in sqsnet.faces" in table


@needs_detector
def test_paste_mode_on_a_fixture_compares_framings_with_direct_crops(tmp_path, monkeypatch, capsys):
    data = make_ferplus_fixture(tmp_path / "ferplus", per_class=4)
    out = tmp_path / "paste.json"
    run_script(monkeypatch, "--paste", "--data-root", str(data), "--limit", "4",
               "--margins", "0.25", "--json", str(out))
    result = json.loads(out.read_text())
    assert result["mode"] == "paste" and result["faces"] == 4 and result["checkpoint"] == "default"
    assert [row["framing"] for row in result["framings"]] == ["margin 0.25", "fer2013"]
    assert [row["scale"] for row in result["framings"]] == [1.5, FER2013_FRAMING.scale]
    for row in result["framings"]:
        assert 0.0 <= row["detection_rate"] <= 1.0 and 0.0 <= row["accuracy"] <= 1.0
        direct = result["direct_accuracy"]
        assert row["gap_to_direct_points"] == pytest.approx(100 * (row["accuracy"] - direct), abs=0.01)
    table = capsys.readouterr().out
    assert "| margin 0.25 (scale 1.5) |" in table and "| direct 48 px crops |" in table


@needs_detector
def test_measure_mode_on_real_faces_finds_the_frame(ferplus_root, tmp_path, monkeypatch):
    out = tmp_path / "measure.json"
    run_script(monkeypatch, "--data-root", str(ferplus_root), "--limit", "8", "--json", str(out))
    result = json.loads(out.read_text())
    assert result["detected"] >= 6
    # a FER2013 frame is about as large as the detector's box and centred on it
    assert 0.75 < result["stats"]["fit_scale"]["median"] < 1.2
    assert abs(result["stats"]["center_dx"]["median"]) < 0.1


def test_a_missing_data_root_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setattr("sqsnet.data.root.usual_data_dirs", lambda: [tmp_path / "none"])
    monkeypatch.setenv("SQSNET_DATA", str(tmp_path / "empty"))
    with pytest.raises(SystemExit, match="no FERPlus folder found"):
        run_script(monkeypatch, "--limit", "2")
