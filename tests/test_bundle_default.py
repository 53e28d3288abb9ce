"""The bundling script's verdict and comparison-command wording (it writes the model card)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[1] / "scripts" / "bundle_default.py"
_spec = importlib.util.spec_from_file_location("bundle_default", _PATH)
bundle = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bundle)


def _summary(acc: float, tta: float) -> dict:
    return {"val": {"accuracy": acc}, "val_tta": {"accuracy": tta}}


@pytest.mark.parametrize("acc,tta,expected", [
    (0.8374, 0.8458, "misses the 88% target by 3.4 points and stays below the plain"),
    (0.8600, 0.8700, "misses the 88% target by 1.0 points and is 0.6 points above the plain"),
    (0.8756, 0.8844, "meets the 88% target with TTA only (0.4 points short without it) and is "
                     "2.0 points above the plain"),
    (0.8810, 0.8790, "meets the 88% target and is 1.7 points above the plain"),
])
def test_verdict_against_target_and_plain_cnn(acc: float, tta: float, expected: str) -> None:
    assert expected in bundle._verdict(_summary(acc, tta))


def test_verdict_against_a_lab_baseline() -> None:
    text = bundle._verdict(_summary(0.87, 0.88), [("CNN only, no SQS", _summary(0.8650, 0.87))])
    assert "*CNN only, no SQS* run on the same recipe (86.50%, 87.00% with TTA)" in text
    assert "ahead by 0.50 points without TTA and ahead by 1.00 with it" in text
    text = bundle._verdict(_summary(0.86, 0.87), [("b", _summary(0.8650, 0.87))])
    assert "behind by 0.50 points" in text


def test_verdict_carries_mcnemar_against_a_baseline() -> None:
    from sqsnet.evaluate import mcnemar_test

    result = mcnemar_test([True] * 8 + [False] * 2, [False] * 8 + [True] * 2)
    line = bundle._mcnemar_text(result, tta=True)
    assert line == ("McNemar's exact test on the same 10 Valid images with TTA: p = 0.109 "
                    "(8 images only the bundled model gets right, 2 only the baseline)")
    text = bundle._verdict(_summary(0.87, 0.88), [("b", _summary(0.8650, 0.87))],
                           {"b": [line]})
    assert text.endswith(line + ". The test compares these two trained models on Valid, not "
                         "the two recipes: that takes several seeds.")


def test_config_diff_gives_the_set_overrides() -> None:
    ref = {"name": "a", "model": {"use_sqs": True, "use_global": True, "img_size": 48,
                                  "global_branch": {"kwargs": {"depths": [2, 2]}}},
           "train": {"run_name": "x", "epochs": 25}}
    other = {"name": "b", "model": {"use_sqs": False, "use_global": True, "img_size": 48,
                                    "global_branch": {"kwargs": {"depths": [2, 2]}}},
             "train": {"run_name": "y", "epochs": 30, "new_key": 1}}
    assert bundle._config_diff(ref, other) == ["model.use_sqs=false", "train.epochs=30"]
    # sqsnet.config's rule: data.train_transform is one value, replaced whole by --set
    ref["data"] = {"train_transform": {"rotation": 10, "scale": [0.8, 1.0]}}
    other["data"] = {"train_transform": {"rotation": 5}}
    assert bundle._config_diff(ref, other)[0] == "data.train_transform={rotation: 5}"


def _seed(seed: int, acc: float, tta: float) -> dict[str, float]:
    return {"seed": seed, "accuracy": acc, "tta": tta, "macro_f1": 70.0, "wall": 60.0}


def test_seed_section_gives_mean_std_and_a_paired_ttest() -> None:
    hybrid = [_seed(0, 87.56, 88.44), _seed(1, 88.00, 88.50)]
    cnn = [_seed(1, 87.00, 88.50), _seed(0, 86.96, 87.90)]  # order must not matter
    table, verdict = bundle._seed_section([("SQSNet", hybrid), ("CNN only", cnn)])
    # mean of 87.56 and 88.00 is 87.78; their sample std is 0.44 / sqrt(2) = 0.311
    assert "| SQSNet | 0, 1 | 87.78 ± 0.31 | 88.47 ± 0.04 | 70.00 ± 0.00 | 60 |" in table
    assert "| CNN only | 1, 0 | 86.98 ± 0.03 |" in table
    # differences 0.60 and 1.00: mean 0.8, sd 0.2828, t = 0.8 / (0.2828 / sqrt 2) = 4.0 on
    # 1 degree of freedom, two-sided p = 1 - 2 atan(4) / pi = 0.156
    assert ("over seeds 0, 1 *SQSNet* is ahead of *CNN only* by 0.80 points on average "
            "without TTA (paired t-test, t = 4.00, p = 0.156)") in verdict
    # with TTA the differences are 0.54 and 0.00: mean 0.27, t = 1.00, p = 0.5
    assert "by 0.27 points on average with TTA (paired t-test, t = 1.00, p = 0.5)" in verdict


def test_seed_section_with_one_shared_seed_gives_no_pvalue() -> None:
    _, verdict = bundle._seed_section([("a", [_seed(0, 87.0, 88.0), _seed(2, 87.5, 88.0)]),
                                       ("b", [_seed(0, 87.5, 87.0)])])
    assert "over seeds 0 *a* is behind *b* by 0.50 points on average without TTA " \
           "(paired t-test, too few seeds for a p-value)" in verdict
    with pytest.raises(SystemExit, match="share no seed"):
        bundle._seed_section([("a", [_seed(0, 87.0, 88.0)]), ("b", [_seed(1, 87.0, 88.0)])])


def test_machine_text_names_the_cpu_and_precision_a_run_recorded() -> None:
    hw = {"machine": "x86_64", "cpu": "AMD EPYC", "cpu_cores": 2, "torch_threads": 2,
          "native_bfloat16": False, "device": "cpu", "world_size": 1,
          "train_precision": "float32"}
    assert bundle._machine_text({"hardware": hw}) == (
        "AMD EPYC (x86_64, 2 cores, 2 torch threads, no GPU), float32 training steps")
    gpu = {**hw, "device": "cuda:0", "gpu": "NVIDIA H200", "world_size": 2,
           "train_precision": "float16"}
    assert bundle._machine_text({"hardware": gpu}) == (
        "NVIDIA H200, 2 processes, float16 training steps")
    # runs from before the record: only the platform is known
    assert "with 2 CPU cores and no GPU" in bundle._machine_text({})


def test_wall_text_names_the_machine_sharing_and_a_note() -> None:
    hw = {"machine": "x86_64", "cpu": "AMD EPYC", "cpu_cores": 2, "torch_threads": 2,
          "world_size": 1, "train_precision": "float32"}
    assert bundle._wall_text(81.6, {"hardware": hw}) == (
        "wall time 82 minutes on AMD EPYC (x86_64, 2 cores, 2 torch threads, no GPU), "
        "float32 training steps.")
    # a run from before the hardware record: the bundler names the machine in words
    text = bundle._wall_text(82.0, {}, machine="an Intel Xeon with AMX",
                             shared="tests ran in epoch 2", note=" Elsewhere it is slower. ")
    assert text == ("wall time 82 minutes on an Intel Xeon with AMX (tests ran in epoch 2). "
                    "Elsewhere it is slower.")


def test_param_count_is_the_same_from_weights_or_from_the_config_alone(tmp_path: Path) -> None:
    """A run kept as records only (``results/runs/``: summary and curve, no weights) still
    gets its parameter count in the card, and it equals the count from its checkpoint."""
    from sqsnet.checkpoint import save_checkpoint
    from sqsnet.config import Config, config_to_dict
    from sqsnet.models import SQSNet

    from tests.helpers import tiny_model_config

    cfg = Config(model=tiny_model_config())
    model = SQSNet(cfg.model)
    full, records = tmp_path / "full", tmp_path / "records"
    full.mkdir(), records.mkdir()
    save_checkpoint(full / "best.safetensors", model, cfg, {"class_names": list("abcd")})
    config = config_to_dict(cfg)
    expected = sum(v.numel() for v in model.state_dict().values() if v.is_floating_point())
    assert bundle._param_count(full, config) == expected
    assert bundle._param_count(records, config) == expected
    # a different model in the config gives a different count: the config is what is read
    config["model"]["fused_dim"] = 64
    assert bundle._param_count(records, config) != expected


def _curve_row(epoch: int, acc: str, live: str | None) -> dict[str, str]:
    row = {"epoch": str(epoch), "train_loss": "1.25", "val_accuracy": acc,
           "val_macro_f1": "0.5", "images_per_s": "120.4"}
    if live is not None:
        row["val_accuracy_live"] = live
    return row


def test_curve_table_shows_the_live_weights_beside_the_average_for_ema_runs() -> None:
    head, rows = bundle._curve_table([_curve_row(1, "0.7032", "0.5951")])
    assert head.splitlines()[0] == ("| epoch | train loss | val acc., EMA (%) | val acc., live "
                                    "weights (%) | val macro-F1 (%) | train images/s |")
    assert head.splitlines()[1].count("|") == 7
    assert rows == "| 1 | 1.250 | 70.32 | 59.51 | 50.00 | 120 |"
    # a run without EMA (no column, or an empty one) keeps the plain table
    for live in (None, ""):
        head, rows = bundle._curve_table([_curve_row(2, "0.8756", live)])
        assert "live" not in head and head.splitlines()[1].count("|") == 6
        assert rows == "| 2 | 1.250 | 87.56 | 50.00 | 120 |"


def test_a_tie_is_level_not_ahead_or_behind() -> None:
    assert bundle._standing(0.6, " points") == "ahead by 0.60 points"
    assert bundle._standing(-0.28) == "behind by 0.28"
    assert bundle._standing(0.004, " points") == "level"
    assert bundle._standing(-0.5, " points", of=" *b*") == "behind *b* by 0.50 points"
    assert bundle._standing(0.5, " points", of=" *b*") == "ahead of *b* by 0.50 points"
    text = bundle._verdict(_summary(0.87, 0.88), [("b", _summary(0.87, 0.8750))])
    assert "the bundled model is level without TTA and ahead by 0.50 with it" in text
    _, verdict = bundle._seed_section([("a", [_seed(0, 87.0, 88.0), _seed(1, 87.5, 88.0)]),
                                       ("b", [_seed(0, 87.0, 87.5), _seed(1, 87.5, 88.5)])])
    assert "*a* is level with *b* on average without TTA (paired t-test, " in verdict
    assert "behind" not in verdict.split("without TTA")[0]


def _finished_run(folder: Path) -> Path:
    """A run folder as the trainer leaves it, for a tiny model: best checkpoint, summary, curve."""
    import csv
    import json

    from sqsnet.checkpoint import save_checkpoint
    from sqsnet.config import Config, config_to_dict
    from sqsnet.models import SQSNet
    from sqsnet.training import METRIC_FIELDS

    from tests.helpers import tiny_model_config

    folder.mkdir(parents=True)
    cfg = Config(model=tiny_model_config(num_classes=8))
    torch_model = SQSNet(cfg.model)
    names = ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt"]
    save_checkpoint(folder / "best.safetensors", torch_model, cfg, {"class_names": names})
    val = {"accuracy": 0.8, "macro_f1": 0.6, "balanced_accuracy": 0.62}
    (folder / "summary.json").write_text(json.dumps({
        "best_epoch": 2, "val": val, "val_tta": {**val, "accuracy": 0.81},
        "val_full": {**val, "per_class": {n: {"precision": 0.5, "recall": 0.5, "f1": 0.5,
                                              "support": 3} for n in names}},
        "config": config_to_dict(cfg)}))
    with open(folder / "metrics.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, METRIC_FIELDS)
        writer.writeheader()
        for epoch in (1, 2):
            writer.writerow({k: 0.5 for k in METRIC_FIELDS} | {
                "epoch": epoch, "val_accuracy": 0.7 + 0.1 * (epoch - 1), "best": 1,
                "val_accuracy_live": ""})
    return folder


def _bundle_main(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *argv: str) -> Path:
    """Run the script's ``main`` with its weights and docs folders moved under ``tmp_path``."""
    import sys

    weights = tmp_path / "repo" / "sqsnet" / "weights"
    weights.mkdir(parents=True, exist_ok=True)
    (tmp_path / "repo" / "docs").mkdir(exist_ok=True)
    monkeypatch.setattr(bundle, "WEIGHTS", weights)
    monkeypatch.setattr(bundle, "REPO", tmp_path / "repo")
    monkeypatch.setattr(sys, "argv", ["bundle_default.py", *argv])
    bundle.main()
    return weights


def test_bundling_writes_weights_card_and_curve_together(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = _finished_run(tmp_path / "runs" / "r-seed0")
    weights = _bundle_main(monkeypatch, tmp_path, str(run), "--command", "sqsnet train x")
    from sqsnet.checkpoint import load_checkpoint

    assert load_checkpoint(weights / "default.safetensors").meta["bundled_from"] == "r-seed0"
    assert "sqsnet train x" in (weights / "MODEL_CARD.md").read_text()
    assert (tmp_path / "repo" / "docs" / "default_model_curve.png").stat().st_size > 0
    assert sorted(p.name for p in weights.iterdir()) == [
        "MODEL_CARD.md", "default.json", "default.safetensors"]  # no scratch folder left


def test_a_failed_bundle_leaves_the_bundled_default_as_it_was(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = _finished_run(tmp_path / "runs" / "r-seed0")
    weights = tmp_path / "repo" / "sqsnet" / "weights"
    weights.mkdir(parents=True)
    before = {"default.safetensors": b"old weights", "default.json": b"{}",
              "MODEL_CARD.md": b"old card"}
    for name, data in before.items():
        (weights / name).write_bytes(data)
    monkeypatch.setattr(bundle, "MAX_MB", 1e-4)  # the tiny model is over this budget
    with pytest.raises(SystemExit, match=r"r-seed0/best.safetensors bundles to .* MB, over"):
        _bundle_main(monkeypatch, tmp_path, str(run), "--command", "c")
    assert {p.name: p.read_bytes() for p in weights.iterdir()} == before
    assert not (tmp_path / "repo" / "docs" / "default_model_curve.png").exists()


def test_missing_run_files_are_one_line_naming_the_folder_before_anything_is_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = _finished_run(tmp_path / "runs" / "r-seed0")
    records = tmp_path / "results" / "b-seed0"  # a baseline kept as records only
    records.mkdir(parents=True)
    for name in ("summary.json", "metrics.csv"):
        (records / name).write_bytes((run / name).read_bytes())
    # records are enough for the card's row ...
    weights = _bundle_main(monkeypatch, tmp_path, str(run), "--command", "c",
                           "--baseline", f"CNN only={records}")
    assert "| CNN only |" in (weights / "MODEL_CARD.md").read_text()
    card = (weights / "MODEL_CARD.md").read_bytes()
    # ... but McNemar's test re-scores the baseline's weights
    with pytest.raises(SystemExit) as err:
        _bundle_main(monkeypatch, tmp_path, str(run), "--command", "c", "--data-root", "x",
                     "--baseline", f"CNN only={records}")
    assert str(err.value) == (f"{records}: baseline 'CNN only' (McNemar's test with --data-root "
                              "needs its weights) has no best.safetensors")
    assert (weights / "MODEL_CARD.md").read_bytes() == card
    for bad, expected in [
        (["--seed-runs", f"a={tmp_path / 'nowhere'}"], "seed run of 'a' has no summary.json"),
        (["--baseline", "no-path"], "expected NAME=RUN_DIR"),
        (["--earlier", f"x={records}"], "expected NAME=RUN_DIR=COMMIT"),
    ]:
        with pytest.raises(SystemExit, match=expected):
            _bundle_main(monkeypatch, tmp_path, str(run), "--command", "c", *bad)
