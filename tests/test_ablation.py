"""Collecting an ablation grid: per-variant summaries and the paired t-tests."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from sqsnet.ablation import collect_results, results_markdown
from sqsnet.cli import main
from tests.helpers import make_ferplus_fixture, write_tiny_config


def _fake_run(root: Path, name: str, acc: float, f1: float, rate: float) -> None:
    run = root / name
    run.mkdir(parents=True)
    summary = {"best_epoch": 2, "total_wall_time_s": 120.0,
               "val": {"accuracy": acc, "macro_f1": f1, "balanced_accuracy": f1}}
    (run / "summary.json").write_text(json.dumps(summary))
    (run / "metrics.csv").write_text(f"epoch,images_per_s\n1,{rate}\n2,{rate + 2}\n")


def test_collect_results_with_hand_computed_ttests(tmp_path: Path) -> None:
    accs = {"full": [0.70, 0.72, 0.71], "no_sqs": [0.68, 0.69, 0.70], "no_swin": [0.71, 0.74, 0.72]}
    for variant, values in accs.items():
        for seed, acc in enumerate(values):
            _fake_run(tmp_path, f"{variant}-seed{seed}", acc, acc / 2, 100.0 + seed)
    (tmp_path / "no_cnn-seed0").mkdir()  # unfinished: no summary.json, not counted
    _fake_run(tmp_path, "four_pass-seed0", 0.73, 0.40, 30.0)
    results = collect_results(tmp_path, ["full", "no_sqs", "no_cnn", "no_swin", "four_pass"])
    assert list(results["variants"]) == ["full", "no_sqs", "no_swin", "four_pass"]
    full = results["variants"]["full"]
    assert full["seeds"] == [0, 1, 2] and full["images_per_s"] == [101.0, 102.0, 103.0]
    assert full["val_accuracy_summary"]["mean"] == pytest.approx(0.71)
    assert full["val_accuracy_summary"]["std"] == pytest.approx(0.01)  # sample std (ddof=1)

    # differences full - no_sqs: 0.02, 0.03, 0.01 -> mean 0.02, sd 0.01, t = 0.02 / (0.01/sqrt 3)
    tt = results["ttests"]["full_vs_no_sqs/val_accuracy"]
    assert tt["mean_diff"] == pytest.approx(0.02)
    assert tt["statistic"] == pytest.approx(2 * math.sqrt(3))
    assert tt["pvalue"] == pytest.approx(0.0742, abs=5e-4)  # two-sided, 2 degrees of freedom
    assert results["ttest_full_vs_no_sqs"] == tt
    # full - no_swin: -0.01, -0.02, -0.01 -> full is worse, negative t
    worse = results["ttests"]["full_vs_no_swin/val_accuracy"]
    assert worse["mean_diff"] == pytest.approx(-0.04 / 3) and worse["statistic"] < 0
    assert set(results["ttests"]) == {f"full_vs_{v}/{m}" for v in ("no_sqs", "no_swin", "four_pass")
                                      for m in ("val_accuracy", "val_macro_f1")}
    single = results["ttests"]["full_vs_four_pass/val_accuracy"]  # one common seed: no test
    assert single["seeds"] == [0] and math.isnan(single["pvalue"])
    assert single["mean_diff"] == pytest.approx(-0.03)

    md = results_markdown(results)
    assert "| SQSNet (in-batch quads) | 3 | 71.00 ± 1.00 |" in md
    assert "| w/o SQS | accuracy | 3 | +2.00 | 3.46 | 0.074 |" in md
    assert "| w/o Swin (CNN only) | macro-F1 | 3 |" in md
    assert "| SQS, paper's four-pass quads | accuracy | 1 | -3.00 | - | - (needs 2+ seeds) |" in md


def test_committed_results_match_their_table_and_results_md() -> None:
    """results/ablation holds the lab's grid; RESULTS.md must quote the same table."""
    repo = Path(__file__).resolve().parents[1]
    folder = repo / "results" / "ablation"
    results = json.loads((folder / "results.json").read_text())
    assert set(results["variants"]) == {"full", "no_sqs", "no_cnn", "no_swin", "four_pass"}
    for name, entry in results["variants"].items():
        assert entry["seeds"] == ([0] if name == "four_pass" else [0, 1, 2])
    table = results_markdown(results)
    assert table == (folder / "results.md").read_text()
    assert table.strip() in (repo / "RESULTS.md").read_text()


def test_ablation_grid_on_a_fixture(tmp_path, caplog, capsys):
    fixture_data = make_ferplus_fixture(tmp_path / "ferplus")
    tiny_cfg_path = write_tiny_config(tmp_path / "tiny.yaml")
    out = tmp_path / "grid"
    args = ["ablate", "--config", str(tiny_cfg_path), "--data-root", str(fixture_data),
            "--seeds", "1", "--epochs", "1", "--variants", "full", "no_sqs", "--out-dir",
            str(out), "--no-progress", "--set", "train.max_steps_per_epoch=2",
            "train.tta=false"]
    assert main(args) == 0
    text = (out / "results.json").read_text()
    assert "NaN" not in text  # strict JSON: the one-seed t-test has null t and p
    results = json.loads(text)
    assert set(results["variants"]) == {"full", "no_sqs"}
    assert results["ttest_full_vs_no_sqs"]["pvalue"] is None
    for entry in results["variants"].values():
        assert entry["seeds"] == [0] and len(entry["val_accuracy"]) == 1
    assert (out / "results.csv").read_text().count("\n") == 3
    assert "w/o SQS" in (out / "results.md").read_text()
    assert results["ttests"]["full_vs_no_sqs/val_accuracy"]["seeds"] == [0]
    stamp = (out / "full-seed0" / "summary.json").stat().st_mtime
    caplog.clear()
    with caplog.at_level("INFO"):
        assert main(args) == 0
    assert (out / "full-seed0" / "summary.json").stat().st_mtime == stamp
    assert "finished already, skipping" in caplog.text
    # the same folder with other settings: refused, naming the run and the difference
    capsys.readouterr()
    assert main([*args[:args.index("--epochs")], "--epochs", "2",
                 *args[args.index("--epochs") + 2:]]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "full-seed0 was trained with other settings" in err[0]
    assert "train.epochs: 1 -> 2" in err[0] and "--out-dir" in err[0]
    assert (out / "full-seed0" / "summary.json").stat().st_mtime == stamp
