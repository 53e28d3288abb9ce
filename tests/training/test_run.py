"""``train()`` end to end: determinism, the caller's config, the run folder it claims, the
splits it records, and ``sqsnet train --overwrite``."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sqsnet.checkpoint import load_checkpoint
from sqsnet.cli import main
from sqsnet.config import ConfigError, config_to_dict, load_config
from sqsnet.data import FERPLUS_CLASSES
from sqsnet.training import RunExistsError, train
from tests.training.helpers import metric_rows, train_tiny, weights_equal


def test_training_is_deterministic_under_a_seed(tmp_path, fixture_data, tiny_cfg_path):
    r1 = train_tiny(tiny_cfg_path, fixture_data, tmp_path / "x", epochs=1)
    r2 = train_tiny(tiny_cfg_path, fixture_data, tmp_path / "y", epochs=1)
    a = load_checkpoint(r1 / "last.safetensors").model_state
    b = load_checkpoint(r2 / "last.safetensors").model_state
    assert weights_equal(a, b)


def test_train_leaves_the_callers_config_alone_and_returns_the_resolved_copy(
        tmp_path, fixture_data, tiny_cfg_path):
    cfg = load_config(tiny_cfg_path, ["train.max_steps_per_epoch=2", "train.epochs=1",
                                      "train.tta=false", f"train.out_dir={tmp_path}"])
    before = copy.deepcopy(config_to_dict(cfg))
    result = train(cfg, data_root=str(fixture_data), progress=False)
    assert config_to_dict(cfg) == before  # num_classes, class_names, data.root untouched
    resolved = result.config
    assert resolved is not cfg and cfg.model.class_names == [] and cfg.data.root is None
    assert resolved.model.class_names == list(FERPLUS_CLASSES)
    assert resolved.model.num_classes == len(FERPLUS_CLASSES)
    assert resolved.data.root == str(fixture_data)
    assert load_config(result.run_dir / "config.yaml").model.class_names == \
        resolved.model.class_names


def test_existing_run_folder_needs_resume_or_overwrite(tmp_path, fixture_data, tiny_cfg_path):
    run = train_tiny(tiny_cfg_path, fixture_data, tmp_path / "a", epochs=2)
    (run / "notes.txt").write_text("mine")
    before = {name: (run / name).read_bytes() for name in ("metrics.csv", "last.safetensors")}
    with pytest.raises(RunExistsError, match=rf"run folder {run} already holds a run .*"
                       r"--resume .* --overwrite"):
        train_tiny(tiny_cfg_path, fixture_data, tmp_path / "a", epochs=1)
    assert {name: (run / name).read_bytes() for name in before} == before  # untouched
    with pytest.raises(ConfigError, match="--resume and --overwrite: choose one"):
        train_tiny(tiny_cfg_path, fixture_data, tmp_path / "a", epochs=1, resume=True,
                   overwrite=True)
    (run / "wall_time.json").write_text(json.dumps({"total_s": 10000.0}))  # the old run's
    train_tiny(tiny_cfg_path, fixture_data, tmp_path / "a", epochs=1, overwrite=True)
    rows = metric_rows(run)
    assert len(rows) == 2 and rows[1].startswith("1,")  # the new run's one epoch
    summary = json.loads((run / "summary.json").read_text())
    assert summary["config"]["train"]["epochs"] == 1
    # the wall time is the new run's own, not added to the replaced run's
    assert summary["total_wall_time_s"] < 1000.0
    assert summary["total_wall_time_s"] == pytest.approx(
        json.loads((run / "wall_time.json").read_text())["total_s"])
    assert (run / "notes.txt").read_text() == "mine"  # only the run's own files go


def test_cli_overwrite_flag_and_the_one_line_refusal(tmp_path, fixture_data, tiny_cfg_path,
                                                     capsys):
    args = ["train", "--config", str(tiny_cfg_path), "--data-root", str(fixture_data),
            "--out-dir", str(tmp_path), "--run-name", "r", "--no-progress",
            "--set", "train.max_steps_per_epoch=1", "train.epochs=1", "train.tta=false"]
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"sqsnet: error: run folder {tmp_path / 'r'} ")
    assert "--resume" in err[0] and "--overwrite" in err[0]
    assert main([*args, "--overwrite"]) == 0


def _flat_folder(root: Path, per_class: int = 10) -> Path:
    rng = np.random.default_rng(0)
    for c, name in enumerate(("neutral", "happy", "sad", "angry")):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 60, (48, 48)).astype(np.uint8)
            pixels[c * 12:(c + 1) * 12] = 230
            Image.fromarray(pixels, "L").save(root / name / f"{i}.png")
    return root


def test_labelled_folder_hold_out_is_recorded_in_the_run(tmp_path, tiny_cfg_path, caplog):
    """A flat class tree trains on one side of a seeded stratified hold-out and validates on
    the other; the run says so in its log, summary.json and checkpoint metadata."""
    data = _flat_folder(tmp_path / "faces")
    cfg = load_config(tiny_cfg_path, ["data.dataset=folder", "train.max_steps_per_epoch=2",
                                      "train.epochs=1", "train.tta=false",
                                      f"train.out_dir={tmp_path / 'runs'}"])
    with caplog.at_level(logging.INFO, logger="sqsnet.training"):
        result = train(cfg, data_root=str(data), progress=False)
    summary = json.loads((result.run_dir / "summary.json").read_text())
    splits = summary["splits"]
    assert splits["train"]["images"] + splits["valid"]["images"] == 40
    for side in ("train", "valid"):
        hold = splits[side]["holdout"]
        assert hold["source"] == str(data) and hold["seed"] == 0 and 0 < hold["fraction"] < 1
        assert (hold["train"], hold["valid"]) == (splits["train"]["images"],
                                                  splits["valid"]["images"])
    assert summary["val"]["n"] == splits["valid"]["images"]
    assert "seeded stratified hold-out" in caplog.text and str(data) in caplog.text
    meta = json.loads((result.run_dir / "best.json").read_text())["meta"]
    assert meta["splits"] == splits
    assert summary["test"]["available"] is False  # a flat tree has no test split


def test_ferplus_run_records_its_splits_without_a_hold_out(tmp_path, fixture_data,
                                                           tiny_cfg_path):
    run = train_tiny(tiny_cfg_path, fixture_data, tmp_path / "a", epochs=1)
    splits = json.loads((run / "summary.json").read_text())["splits"]
    assert splits == {"train": {"images": 24, "holdout": None},
                      "valid": {"images": 12, "holdout": None}}
