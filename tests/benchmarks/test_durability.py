"""benchmarks/durability.py with two kills: every resume finishes, the weights equal the
uninterrupted run's, one metrics row per epoch, no temporary file left."""

from __future__ import annotations

import json
import runpy
import sys

import pytest

from tests.helpers import REPO


@pytest.mark.slow
def test_two_kills_resume_to_the_uninterrupted_run(tmp_path, monkeypatch, capsys):
    out = tmp_path / "durability.json"
    monkeypatch.setattr(sys, "argv", [
        "durability.py", "--kills", "2", "--epochs", "2", "--steps", "3", "--seed", "1",
        "--work-dir", str(tmp_path / "work"), "--json", str(out)])
    with pytest.raises(SystemExit) as info:
        runpy.run_path(str(REPO / "benchmarks" / "durability.py"), run_name="__main__")
    result = json.loads(out.read_text())
    assert info.value.code == 0, result
    assert result["ok"] and result["every_resume_finished"]
    assert result["weights_equal_uninterrupted"] and result["metric_rows_equal"]
    assert result["epochs_logged"] == [1, 2] and result["duplicate_metric_rows"] == 0
    assert result["temp_files_left"] == [] and result["summary_written"]
    launches = result["launches"]
    assert len(launches) == 3 and launches[-1]["rc"] == 0 and not launches[-1]["killed"]
    assert launches[0]["resumed_from"] is None  # the first launch starts the run
    table = capsys.readouterr().out
    assert "| launch | killed after" in table and "- ok: True" in table
