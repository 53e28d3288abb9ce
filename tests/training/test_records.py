"""The run folder's records: metrics.csv on resume, stale temporary files, the wall time."""

from __future__ import annotations

import csv
import json
import time

import pytest

from sqsnet.checkpoint import CheckpointError
from sqsnet.training import METRIC_FIELDS
from sqsnet.training import state as state_mod
from sqsnet.training.records import (
    MetricsLog,
    RunExistsError,
    WallClock,
    claim_run_dir,
    remove_stale_temp_files,
)
from tests.training.helpers import metric_rows, train_tiny


def _epochs(run) -> list[str]:
    with open(run / "metrics.csv", newline="") as fh:
        return [row["epoch"] for row in csv.DictReader(fh)]


def test_kill_between_the_metrics_row_and_the_checkpoint_leaves_no_duplicate_row(
        tmp_path, fixture_data, tiny_cfg_path, monkeypatch):
    straight = train_tiny(tiny_cfg_path, fixture_data, tmp_path / "a", epochs=3)
    real_save = state_mod.save_checkpoint

    class Killed(Exception):
        pass

    def die_before_epoch_2s_checkpoint(path, model, cfg, meta, train_state=None):
        if meta.get("epoch") == 2:
            raise Killed
        real_save(path, model, cfg, meta, train_state=train_state)

    monkeypatch.setattr(state_mod, "save_checkpoint", die_before_epoch_2s_checkpoint)
    with pytest.raises(Killed):
        train_tiny(tiny_cfg_path, fixture_data, tmp_path / "b", epochs=3)
    run = tmp_path / "b" / "run"
    assert _epochs(run) == ["1", "2"]  # epoch 2's row is written, its checkpoint is not
    monkeypatch.setattr(state_mod, "save_checkpoint", real_save)
    train_tiny(tiny_cfg_path, fixture_data, tmp_path / "b", epochs=3, resume=True)
    assert _epochs(run) == ["1", "2", "3"]
    strip = lambda row: row.split(",")[:12]  # noqa: E731
    assert [strip(r) for r in metric_rows(run)] == [strip(r) for r in metric_rows(straight)]


def test_resume_removes_the_temporary_files_of_killed_writes(tmp_path, fixture_data,
                                                             tiny_cfg_path):
    run = train_tiny(tiny_cfg_path, fixture_data, tmp_path / "a", epochs=1)
    stale = [run / ".last.safetensors.k2j4x_.tmp", run / ".metrics.csv.abc.tmp",
             run / ".best.json.q.tmp"]
    for path in stale:
        path.write_bytes(b"half a file")
    (run / ".notes.tmp").write_text("not ours")
    train_tiny(tiny_cfg_path, fixture_data, tmp_path / "a", epochs=2, resume=True)
    assert not any(path.exists() for path in stale)
    assert (run / ".notes.tmp").exists()  # only the run's own temporary files go
    assert not list(run.glob(".*.safetensors.*.tmp"))


def test_metrics_log_keeps_the_rows_of_the_resumed_epochs_once(tmp_path):
    path = tmp_path / "metrics.csv"
    header = ",".join(f for f in METRIC_FIELDS if f != "val_global_std") + ",train_aux"
    rows = ["1," + ",".join(["0.1"] * (len(METRIC_FIELDS) - 1)),
            "2," + ",".join(["0.2"] * (len(METRIC_FIELDS) - 1)),
            "2," + ",".join(["0.3"] * (len(METRIC_FIELDS) - 1)),  # a duplicate of epoch 2
            "3," + ",".join(["0.4"] * (len(METRIC_FIELDS) - 1))]
    path.write_text("\n".join([header, *rows]) + "\n")
    log = MetricsLog(path)
    log.start(epochs_done=2)
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        kept = list(reader)
    assert reader.fieldnames == METRIC_FIELDS  # current columns, the retired one dropped
    assert [r["epoch"] for r in kept] == ["1", "2"]
    assert kept[1]["lr"] == "0.3"  # the row written last for an epoch is its checkpoint's
    assert kept[0]["val_global_std"] == ""
    log.start(epochs_done=0)
    assert path.read_text().strip() == ",".join(METRIC_FIELDS)
    path.write_text("epoch,bogus\n1,2\n")
    with pytest.raises(CheckpointError, match=r"metrics.csv: unexpected columns \['bogus'\]"):
        MetricsLog(path).start(epochs_done=1)


def test_claim_run_dir(tmp_path):
    run = tmp_path / "run"
    assert claim_run_dir(run, resume=False, overwrite=False) is False  # not there yet
    run.mkdir()
    (run / "notes.txt").write_text("x")
    assert claim_run_dir(run, resume=False, overwrite=False) is False  # no run in it
    (run / "metrics.csv").write_text("epoch\n")
    with pytest.raises(RunExistsError, match="already holds a run \\(metrics.csv\\)"):
        claim_run_dir(run, resume=False, overwrite=False)
    assert claim_run_dir(run, resume=True, overwrite=False) is False
    assert claim_run_dir(run, resume=False, overwrite=True) is True


def test_remove_stale_temp_files_names_what_it_removed(tmp_path):
    (tmp_path / ".last.json.x.tmp").write_text("")
    (tmp_path / "last.json").write_text("{}")
    assert [p.name for p in remove_stale_temp_files(tmp_path)] == [".last.json.x.tmp"]
    assert (tmp_path / "last.json").exists()


def test_resumed_wall_time_counts_each_session_once(tmp_path, fixture_data, tiny_cfg_path):
    """The resumed run's total is its checkpoint's wall time plus this session, not whatever
    wall_time.json was left holding."""
    run = train_tiny(tiny_cfg_path, fixture_data, tmp_path / "a", epochs=1)
    first = json.loads((run / "summary.json").read_text())["total_wall_time_s"]
    (run / "wall_time.json").write_text(json.dumps({"total_s": 10000.0}))
    start = time.time()
    train_tiny(tiny_cfg_path, fixture_data, tmp_path / "a", epochs=2, resume=True)
    second = time.time() - start
    summary = json.loads((run / "summary.json").read_text())
    assert summary["wall_time_s"] <= summary["total_wall_time_s"] <= first + second


def test_wall_clock_adds_this_session_to_the_earlier_ones(tmp_path):
    clock = WallClock(before_s=100.0)
    assert 100.0 <= clock.total_s < 110.0
    total = clock.save(tmp_path)
    assert WallClock.recorded(tmp_path) == total
    assert WallClock.recorded(tmp_path / "missing") == 0.0
