"""benchmarks/gpu_smoke.py: one clear line without a GPU, and its logic on the CPU."""

from __future__ import annotations

import json
import runpy
import sys

import pytest
import torch

from tests.helpers import REPO, write_tiny_config

SCRIPT = str(REPO / "benchmarks" / "gpu_smoke.py")


def _run(monkeypatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["gpu_smoke.py", *args])
    with pytest.raises(SystemExit) as info:
        runpy.run_path(SCRIPT, run_name="__main__")
    return info.value.code


def test_without_cuda_it_says_so_in_one_line_and_exits_2(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert _run(monkeypatch) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gpu_smoke: no CUDA GPU on this machine (cuda)")
    assert "--device cpu --config" in err[0] and captured.out == ""


def test_cpu_escape_hatch_runs_the_measurement_on_a_tiny_config(tmp_path, monkeypatch,
                                                                capsys):
    cfg = write_tiny_config(tmp_path / "tiny.yaml")
    out = tmp_path / "smoke.json"
    assert _run(monkeypatch, "--device", "cpu", "--config", str(cfg), "--batch", "8",
                "--steps", "2", "--rounds", "1", "--warmup", "1", "--json", str(out)) == 0
    result = json.loads(out.read_text())
    assert result["batch"] == 8 and result["steps"] == 2 and result["precision"] == "float32"
    assert result["train_images_per_s"] > 0 and result["peak_memory_gib"] is None
    assert set(result["step_s"]) == {"a_base", "b_sqs_batch", "c_sqs_four_pass"}
    assert result["ratio_b_over_a"] == pytest.approx(
        result["step_s"]["b_sqs_batch"] / result["step_s"]["a_base"])
    assert result["device"]["device"] == "cpu"
    table = capsys.readouterr().out
    assert "| (c) SQS four-pass |" in table and "peak memory n/a (CPU)" in table
