"""benchmarks/predict_latency.py runs end to end on a tiny FERPlus fixture (it times nothing
here: the numbers are only checked for shape and order)."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import pytest

from tests.faces.helpers import needs_detector
from tests.helpers import make_ferplus_fixture

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "predict_latency.py"


@needs_detector
def test_predict_latency_reports_p50_p95_per_stage(tmp_path, monkeypatch, capsys):
    data = make_ferplus_fixture(tmp_path / "ferplus", per_class=2)
    out = tmp_path / "latency.json"
    monkeypatch.chdir(tmp_path)  # the photo maker is found next to the script, not by cwd
    monkeypatch.setattr(sys, "argv", ["predict_latency.py", "--data-root", str(data),
                                      "--photos", "3", "--repeats", "2", "--warmup", "1",
                                      "--json", str(out)])
    runpy.run_path(str(SCRIPT), run_name="__main__")
    result = json.loads(out.read_text())
    assert result["checkpoint"] == "default" and result["photos"] == 3
    assert result["photo_size"] == [640, 480] and result["face_sides"] == [120, 220]
    for stage in ("predict", "detect", "model"):
        row = result[stage]
        assert row["n"] == 6 and 0 < row["p50_ms"] <= row["p95_ms"]
    assert result["faces_per_photo"] >= 1  # a face, or the whole-image fallback
    table = capsys.readouterr().out
    assert "| predict: decode + detection + crop + model | 6 |" in table


def test_predict_latency_refuses_bad_counts(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["predict_latency.py", "--photos", "0"])
    with pytest.raises(SystemExit):
        runpy.run_path(str(SCRIPT), run_name="__main__")
    assert "--photos and --repeats must be >= 1" in capsys.readouterr().err
