"""The benchmark scripts run end to end on a tiny config (they time nothing here)."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import pytest

from tests.helpers import write_tiny_config

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("native", [True, False])
def test_cpu_precision_reports_every_setting_and_what_auto_picks(tmp_path, monkeypatch,
                                                                 capsys, native):
    import sqsnet.utils.runtime as train_mod

    monkeypatch.setattr(train_mod, "cpu_has_native_bfloat16", lambda: native)
    cfg = write_tiny_config(tmp_path / "tiny.yaml")
    out = tmp_path / "precision.json"
    monkeypatch.setattr(sys, "argv", [
        "cpu_precision.py", "--config", str(cfg), "--batch", "8", "--rounds", "1",
        "--steps", "1", "--json", str(out)])
    runpy.run_path(str(REPO / "benchmarks" / "cpu_precision.py"), run_name="__main__")
    result = json.loads(out.read_text())
    rates = result["train_images_per_s"]
    assert set(rates) == {"float32", "float32_channels_last", "bfloat16",
                          "bfloat16_channels_last"}
    assert all(rate > 0 for rate in rates.values())
    assert result["native_bfloat16"] is native
    # the tiny config trains without channels-last: auto picks the precision alone
    assert result["amp_cpu_auto_trains_in"] == ("bfloat16" if native else "float32")
    table = capsys.readouterr().out
    assert "(amp_cpu: auto)" in table and f"native bfloat16: {native}" in table


def test_train_loop_reports_the_loop_rate_per_worker_count(tmp_path, monkeypatch, capsys):
    from tests.helpers import make_ferplus_fixture

    data = make_ferplus_fixture(tmp_path / "ferplus", per_class=8, size=32)
    cfg = write_tiny_config(tmp_path / "tiny.yaml")
    out = tmp_path / "loop.json"
    monkeypatch.chdir(tmp_path)  # a run written to the default runs/ would land here
    monkeypatch.setattr(sys, "argv", [
        "train_loop.py", "--config", str(cfg), "--data-root", str(data), "--workers", "0", "1",
        "--steps", "2", "--json", str(out)])
    runpy.run_path(str(REPO / "benchmarks" / "train_loop.py"), run_name="__main__")
    result = json.loads(out.read_text())
    assert set(result["loop_images_per_s"]) == {"0", "1"}
    assert all(rate > 0 for rate in result["loop_images_per_s"].values())
    assert result["bare_step_images_per_s"] > 0 and result["steps"] == 2
    table = capsys.readouterr().out
    assert "| training loop, 1 DataLoader workers |" in table
    # the runs live in a temporary folder: nothing is left in the working directory's runs/
    assert not (tmp_path / "runs").exists()


def test_compile_step_times_eager_against_compiled_parts(tmp_path, monkeypatch, capsys):
    cfg = write_tiny_config(tmp_path / "tiny.yaml")
    out = tmp_path / "compile.json"
    # the 'eager' backend traces with dynamo but generates no code: the plumbing, quickly
    monkeypatch.setattr(sys, "argv", [
        "compile_step.py", "--config", str(cfg), "--batch", "8", "--rounds", "2",
        "--steps", "1", "--backend", "eager", "--json", str(out)])
    runpy.run_path(str(REPO / "benchmarks" / "compile_step.py"), run_name="__main__")
    result = json.loads(out.read_text())
    assert result["compiled_parts"] == ["local_branch", "global_branch", "fusion"]
    assert all(len(v) == 2 and min(v) > 0 for v in result["train_images_per_s_rounds"].values())
    assert result["speedup"] == pytest.approx(
        result["train_images_per_s"]["compiled"] / result["train_images_per_s"]["eager"])
    table = capsys.readouterr().out
    assert "| compiled |" in table and "backend eager" in table


def test_train_step_times_the_three_sqs_steps(tmp_path, monkeypatch, capsys):
    cfg = write_tiny_config(tmp_path / "tiny.yaml")
    out = tmp_path / "step.json"
    monkeypatch.setattr(sys, "argv", [
        "train_step.py", "--config", str(cfg), "--batch", "8", "--rounds", "1",
        "--json", str(out)])
    runpy.run_path(str(REPO / "benchmarks" / "train_step.py"), run_name="__main__")
    result = json.loads(out.read_text())
    assert set(result["step_s"]) == {"a_base", "b_sqs_batch", "c_sqs_four_pass"}
    assert result["ratio_c_over_a"] == pytest.approx(
        result["step_s"]["c_sqs_four_pass"] / result["step_s"]["a_base"])
    assert result["sqs_inference_flops_share"] == 0.0  # SQS never runs at inference
    assert "| (b) SQS in-batch quads |" in capsys.readouterr().out
