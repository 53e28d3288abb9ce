"""``benchmarks/atlas.py`` runs end to end on a tiny checkpoint (it times nothing here)."""

from __future__ import annotations

import json
import runpy
import sys

import torch

from sqsnet.checkpoint import save_checkpoint
from sqsnet.config import Config
from sqsnet.models import SQSNet
from tests.helpers import REPO, make_ferplus_fixture, tiny_model_config


def test_atlas_benchmark_reports_every_stage(tmp_path, monkeypatch, capsys) -> None:
    torch.manual_seed(0)
    cfg = Config(model=tiny_model_config())
    ckpt = save_checkpoint(tmp_path / "tiny.safetensors", SQSNet(cfg.model), cfg,
                           {"class_names": ["neutral", "happiness", "surprise", "sadness"]})
    data = make_ferplus_fixture(tmp_path / "ferplus", classes=(0, 1),
                                splits={"FER2013Valid": 6})
    out = tmp_path / "atlas.json"
    monkeypatch.setattr(sys, "argv", [
        "atlas.py", "--data-root", str(data), "--checkpoint", str(ckpt), "--quads-per-pair",
        "8", "--permutations", "4", "--no-progress", "--json", str(out)])
    runpy.run_path(str(REPO / "benchmarks" / "atlas.py"), run_name="__main__")
    result = json.loads(out.read_text())
    assert result["images"] == 12 and result["pool_images"] == 12
    assert {"features_s", "table_fused_s", "table_local_s", "pairs_s", "total_s"} == set(
        result["stages_s"])
    assert result["within_budget"] is True and result["cpu_cores"] >= 1
    table = capsys.readouterr().out
    assert "| table_local |" in table and "| everything, figures and JSON written |" in table
