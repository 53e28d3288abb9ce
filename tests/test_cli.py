"""The ``sqsnet`` command under hostile input: repeated ``--set``, usage errors, a folder with
a bad image, and ``sqsnet diagnose`` (end-to-end training through the CLI is in
tests/test_train_cli.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sqsnet.checkpoint import save_checkpoint
from sqsnet.cli import _load_cfg, build_parser, main
from sqsnet.config import Config
from sqsnet.data import FERPLUS_CLASSES
from sqsnet.diagnostics import diagnose_checkpoint
from sqsnet.models import SQSNet
from tests.helpers import make_ferplus_fixture, tiny_model_config


@pytest.mark.parametrize("command", [["train", "--config", "cpu"], ["profile"],
                                     ["ablate", "--config", "cpu"]])
def test_repeated_set_accumulates(command):
    args = build_parser().parse_args([*command, "--set", "train.lr=1e-3", "--set",
                                      "train.seed=7", "model.use_sqs=false"])
    assert args.overrides == ["train.lr=1e-3", "train.seed=7", "model.use_sqs=false"]
    cfg = _load_cfg(args)
    assert cfg.train.lr == 1e-3 and cfg.train.seed == 7 and cfg.model.use_sqs is False


def test_train_flags_are_checked_with_the_config_before_any_data_is_read(tmp_path, capsys):
    assert main(["train", "--config", "cpu", "--data-root", str(tmp_path / "missing"),
                 "--epochs", "-1", "--out-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["sqsnet: error: overrides: train.epochs=-1: expected a positive integer"]
    assert main(["train", "--config", "cpu", "--data-root", str(tmp_path / "missing"),
                 "--set", "model.sqs.tau=0"]) == 2
    assert capsys.readouterr().err.strip() == (
        "sqsnet: error: overrides: model.sqs.tau=0: expected a number > 0")
    assert not list(tmp_path.iterdir())  # no run folder was made


@pytest.mark.parametrize("flag,value,expected", [
    ("--batch-size", "0", "expected a positive integer, got '0'"),
    ("--batch-size", "many", "expected a positive integer, got 'many'"),
    ("--workers", "-1", "expected an integer >= 0, got '-1'"),
])
def test_eval_numbers_outside_their_range_are_usage_errors(flag, value, expected, capsys):
    with pytest.raises(SystemExit) as info:
        main(["eval", "--dataset", "ferplus", flag, value])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"sqsnet eval: error: argument {flag}: {expected}"


def test_predict_goes_on_past_bad_images_and_lists_them(tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a_broken.jpg").write_text("not an image")
    face = np.random.default_rng(0).integers(0, 255, (48, 48), dtype=np.uint8)
    Image.fromarray(face, "L").save(folder / "b_face.png")
    (folder / "c_empty.png").write_bytes(b"")
    assert main(["predict", str(folder)]) == 2
    captured = capsys.readouterr()
    assert "b_face.png face 1:" in captured.out  # after the first bad file
    err = captured.err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("sqsnet: error: ") for line in err)
    assert "a_broken.jpg" in err[0] and "c_empty.png" in err[1]
    assert err[2] == "sqsnet: error: 2 of 3 images could not be read"
    assert "Traceback" not in captured.err


@pytest.fixture
def tiny_checkpoint(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    cfg = Config(model=tiny_model_config(num_classes=8, class_names=list(FERPLUS_CLASSES)))
    return save_checkpoint(tmp_path / "tiny.safetensors", SQSNet(cfg.model), cfg,
                           {"class_names": list(FERPLUS_CLASSES), "dataset": "ferplus"})


def test_diagnose_prints_and_writes_what_the_library_measures(tmp_path, tiny_checkpoint,
                                                              capsys):
    data = make_ferplus_fixture(tmp_path / "ferplus")
    out = tmp_path / "d.json"
    assert main(["diagnose", "--checkpoint", str(tiny_checkpoint), "--dataset", "ferplus",
                 "--data-root", str(data), "--limit", "6", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "6 images (crop_pct 1)" in text and "| Swin branch mean-ablated |" in text
    assert "| CNN (local) |" in text
    record = json.loads(out.read_text())
    assert record == json.loads(json.dumps(
        diagnose_checkpoint(tiny_checkpoint, "ferplus", str(data), limit=6)))
    assert record["scores"]["full"]["n"] == 6


def test_diagnose_input_errors_are_one_line(tmp_path, tiny_checkpoint, capsys):
    data = make_ferplus_fixture(tmp_path / "ferplus")
    cfg = Config(model=tiny_model_config(use_local=False, num_classes=8,
                                         class_names=list(FERPLUS_CLASSES)))
    single = save_checkpoint(tmp_path / "swin.safetensors", SQSNet(cfg.model), cfg)
    assert main(["diagnose", "--checkpoint", str(single), "--dataset", "ferplus",
                 "--data-root", str(data)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"sqsnet: error: {single}: branch knockout needs a checkpoint with both branches")
    with pytest.raises(SystemExit):
        main(["diagnose", "--checkpoint", str(tiny_checkpoint), "--dataset", "ferplus",
              "--limit", "0"])
    assert "argument --limit: expected a positive integer" in capsys.readouterr().err


def test_help_of_the_diagnose_command(capsys):
    with pytest.raises(SystemExit) as info:
        main(["diagnose", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "usage: sqsnet diagnose" in out and "--limit" in out and "--json" in out
