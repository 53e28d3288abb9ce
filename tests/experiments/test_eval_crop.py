"""experiments/eval_crop: crop_sweep.sh and set_eval_crop.py on a tiny checkpoint and fixture data."""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from sqsnet.checkpoint import load_checkpoint, load_model, save_checkpoint
from sqsnet.cli import main
from sqsnet.config import Config
from sqsnet.data import FERPLUS_CLASSES
from sqsnet.evaluate import mcnemar_test, read_predictions_csv
from sqsnet.models import SQSNet
from tests.helpers import make_ferplus_fixture, tiny_model_config

HERE = Path(__file__).resolve().parents[2] / "experiments" / "eval_crop"


@pytest.fixture
def tiny_checkpoint(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    cfg = Config(model=tiny_model_config(num_classes=8, class_names=list(FERPLUS_CLASSES)))
    model = SQSNet(cfg.model)
    return save_checkpoint(tmp_path / "tiny.safetensors", model, cfg,
                           {"class_names": list(FERPLUS_CLASSES), "dataset": "ferplus"})


def test_sweep_then_set_crop_round_trip(tmp_path, tiny_checkpoint):
    data = make_ferplus_fixture(tmp_path / "ferplus")
    sweep = tmp_path / "sweep"
    env = {**os.environ, "SQSNET_DATA": str(data), "SQSNET_VENV": str(Path(sys.executable).parents[1])}
    done = subprocess.run(["bash", str(HERE / "crop_sweep.sh"), str(sweep),
                           str(tiny_checkpoint), "1", "0.6"], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in sweep.iterdir()) == [
        "crop0.6-tta.json", "crop0.6.csv", "crop0.6.json", "crop1-tta.json", "crop1.csv",
        "crop1.json"]
    assert "| 1 |" in done.stdout
    at = {f.name: json.loads(f.read_text()) for f in sweep.glob("*.json")}
    a, b = read_predictions_csv(sweep / "crop0.6.csv"), read_predictions_csv(sweep / "crop1.csv")
    t = mcnemar_test([a[k] for k in sorted(a)], [b[k] for k in sorted(a)])
    assert f"| 0.6 | {100 * at['crop0.6.json']['accuracy']:.2f} |" in done.stdout
    assert f"{t.a_only} / {t.b_only}, p = {t.pvalue:.3g} |" in done.stdout
    assert at["crop0.6.json"]["crop_pct"] == 0.6 and at["crop1-tta.json"]["tta"] is True

    before = load_checkpoint(tiny_checkpoint).model_state
    set_crop = runpy.run_path(str(HERE / "set_eval_crop.py"))["main"]
    assert set_crop([str(tiny_checkpoint), "--crop-pct", "0.6", "--sweep", str(sweep),
                     "--note", "picked on the fixture"]) == 0
    ckpt = load_checkpoint(tiny_checkpoint)
    assert ckpt.config.model.crop_pct == 0.6
    assert all(torch.equal(before[k], ckpt.model_state[k]) for k in before)  # weights untouched
    record = ckpt.meta["eval_crop"]
    assert record["previous_crop_pct"] == 1.0 and record["note"] == "picked on the fixture"
    assert record["after"]["val"]["accuracy"] == at["crop0.6.json"]["accuracy"]
    assert record["before"]["val_tta"]["accuracy"] == at["crop1-tta.json"]["accuracy"]
    sidecar = json.loads(tiny_checkpoint.with_suffix(".json").read_text())
    assert sidecar["config"]["model"]["crop_pct"] == 0.6
    assert load_model(tiny_checkpoint).cfg.crop_pct == 0.6
    # the checkpoint now evaluates at its own crop: the same score as the sweep's 0.6 row
    out = tmp_path / "eval.json"
    assert main(["eval", "--checkpoint", str(tiny_checkpoint), "--dataset", "ferplus",
                 "--data-root", str(data), "--split", "valid", "--json", str(out)]) == 0
    again = json.loads(out.read_text())
    assert again["crop_pct"] == 0.6 and again["accuracy"] == at["crop0.6.json"]["accuracy"]


def test_set_crop_refuses_a_sweep_without_that_crop(tmp_path, tiny_checkpoint):
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    run = runpy.run_path(str(HERE / "set_eval_crop.py"))["main"]
    before = tiny_checkpoint.read_bytes()
    with pytest.raises(SystemExit, match=r"no single-view result at crop_pct 0.9"):
        run([str(tiny_checkpoint), "--crop-pct", "0.9", "--sweep", str(sweep)])
    with pytest.raises(SystemExit, match=r"--crop-pct 1.5: expected a number in \(0, 1\]"):
        run([str(tiny_checkpoint), "--crop-pct", "1.5"])
    assert tiny_checkpoint.read_bytes() == before  # nothing written


def test_crop_sweep_says_how_to_call_it(tmp_path):
    done = subprocess.run(["bash", str(HERE / "crop_sweep.sh"), str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "usage:" in done.stderr
