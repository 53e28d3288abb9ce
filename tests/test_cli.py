"""The ``sqsnet`` command: train, eval and predict end to end on tiny fixtures, and under
hostile input (repeated ``--set``, usage errors, a folder with a bad image), and
``sqsnet diagnose``. What training does is tested in tests/training/."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import sqsnet
from sqsnet.checkpoint import save_checkpoint
from sqsnet.cli import _load_cfg, build_parser, main
from sqsnet.config import Config, load_config
from sqsnet.data import FERPLUS_CLASSES, FERPlus, build_eval_transform
from sqsnet.diagnostics import diagnose_checkpoint
from sqsnet.inference import Predictor
from sqsnet.models import SQSNet
from tests.helpers import make_ferplus_fixture, shared_data_root, tiny_model_config


def _cli(*args: str) -> int:
    return main(list(args))


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


def test_train_eval_predict_through_the_cli(tmp_path, fixture_data, tiny_cfg_path, capsys):
    out = tmp_path / "runs"
    assert _cli("train", "--config", str(tiny_cfg_path), "--data-root", str(fixture_data),
                "--out-dir", str(out), "--run-name", "r1", "--no-progress",
                "--set", "train.max_steps_per_epoch=2", "model.crop_pct=0.9") == 0
    run = out / "r1"
    for name in ("config.yaml", "metrics.csv", "best.safetensors", "best.json",
                 "last.safetensors", "summary.json"):
        assert (run / name).is_file(), name
    rows = (run / "metrics.csv").read_text().strip().splitlines()
    assert len(rows) == 3  # header + 2 epochs
    summary = json.loads((run / "summary.json").read_text())
    assert 0.0 <= summary["val"]["accuracy"] <= 1.0 and "val_tta" in summary
    assert summary["test"]["available"] is False
    hardware = summary["hardware"]  # every wall time names its machine
    assert hardware["device"] == "cpu" and hardware["train_precision"] == "float32"
    assert hardware["cpu"] and hardware["cpu_cores"] >= 1 and hardware["world_size"] == 1
    sidecar = json.loads((run / "best.json").read_text())
    assert sidecar["meta"]["class_names"][:2] == ["neutral", "happiness"]
    assert sidecar["config"]["model"]["img_size"] == 32
    assert sidecar["config"]["model"]["crop_pct"] == 0.9  # the checkpoint carries its eval crop
    # the saved config reloads to the same model
    assert load_config(run / "config.yaml").model.fused_dim == 32

    metrics_json = tmp_path / "eval.json"
    preds_csv = tmp_path / "preds.csv"
    assert _cli("eval", "--checkpoint", str(run), "--dataset", "ferplus", "--data-root",
                str(fixture_data), "--split", "valid", "--tta", "--json",
                str(metrics_json), "--predictions", str(preds_csv)) == 0
    metrics = json.loads(metrics_json.read_text())
    assert "per_sample" not in metrics  # the rows go to the CSV only
    lines = preds_csv.read_text().splitlines()
    assert len(lines) == 1 + 12
    correct = [int(line.split(",")[3]) for line in lines[1:]]
    assert sum(correct) / 12 == pytest.approx(metrics["accuracy"])
    assert metrics["n"] == 12 and metrics["tta"] is True
    assert len(metrics["confusion_matrix"]) == 8
    assert metrics["crop_pct"] == 0.9
    assert _cli("eval", "--checkpoint", str(run), "--dataset", "ferplus", "--data-root",
                str(fixture_data), "--split", "valid", "--crop-pct", "1", "--json",
                str(metrics_json)) == 0
    assert json.loads(metrics_json.read_text())["crop_pct"] == 1.0
    assert json.loads(metrics_json.read_text())["eval_grayscale"] is False
    assert _cli("eval", "--checkpoint", str(run), "--dataset", "ferplus", "--data-root",
                str(fixture_data), "--split", "valid", "--grayscale", "on", "--json",
                str(metrics_json)) == 0
    assert json.loads(metrics_json.read_text())["eval_grayscale"] is True

    face = Image.open(next((fixture_data / "FER2013Valid").glob("*.png"))).convert("RGB")
    predictor = Predictor(run / "best.safetensors")
    assert torch.equal(predictor.transform(face), build_eval_transform(32, crop_pct=0.9)(face))
    assert not torch.equal(predictor.transform(face), build_eval_transform(32)(face))

    image = next((fixture_data / "FER2013Valid").glob("*.png"))
    capsys.readouterr()
    assert _cli("predict", str(image), "--checkpoint", str(run / "best.safetensors"),
                "--json") == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["image"] == str(image)
    face = line["faces"][0]
    assert face["label"] in metrics["class_names"] or face["label"] in sidecar["meta"]["class_names"]
    assert sum(face["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("args,message", [
    (["train", "--config", "nope"], "no config file or preset 'nope'"),
    (["train", "--config", "cpu", "--set", "train.lrr=1"], "unknown key 'train.lrr'"),
    (["train", "--config", "cpu", "--data-root", "/nonexistent/ferplus"], "/nonexistent/ferplus"),
    (["eval", "--checkpoint", "/nonexistent.safetensors", "--dataset", "ferplus"],
     "does not exist"),
    (["predict", "/nonexistent.jpg"], "no such image file or folder"),
    (["eval", "--dataset", "nope", "--data-root", "/tmp"], "Unknown dataset 'nope'"),
    (["eval", "--dataset", "ferplus", "--data-root", "/nonexistent", "--split", "bogus"],
     "unknown split 'bogus'"),
    (["eval", "--dataset", "ferplus"], "No data root for 'ferplus'"),
    (["profile", "--config", "cpu", "--set", "model.local_branch.name=resnet_nope"],
     "unknown timm model 'resnet_nope'"),
    (["profile", "--config", "cpu", "--set", "model.fusion=bogus"],
     "model.fusion='bogus': expected one of cross_attention, concat"),
    (["profile", "--config", "ferplus_cpu", "--set", "model.img_size=50"],
     "cannot take a 3 x 50 x 50 input"),
    (["profile", "--config", "cpu", "--set", "model.global_branch.kwargs={img_size: 64, "
      "bogus_option: 1}"], "timm model 'swin_tiny_patch4_window7_224' rejected its settings"),
    (["ablate", "--config", "cpu", "--variants", "bogus"], "unknown ablation variant(s)"),
    (["profile", "--config", "cpu", "--device", "tpu"], "expected cpu, cuda or cuda:N"),
])
def test_bad_cli_input_is_one_clear_line(args, message, capsys, monkeypatch):
    monkeypatch.delenv("SQSNET_DATA", raising=False)
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("sqsnet: error: ")
    assert message in err[0]


def test_too_few_images_for_a_batch_is_one_clear_line(tmp_path, fixture_data, tiny_cfg_path,
                                                      capsys):
    assert main(["train", "--config", str(tiny_cfg_path), "--data-root", str(fixture_data),
                 "--set", "data.batch_size=64", f"train.out_dir={tmp_path}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("sqsnet: error: ferplus train split (24 images)")
    assert "no full batch of 64" in err[0] and "data.batch_size=64" in err[0]


@pytest.mark.parametrize("value", ["0", "1.5", "most"])
def test_eval_crop_pct_outside_0_1_is_a_usage_error(value, capsys):
    with pytest.raises(SystemExit) as info:
        main(["eval", "--dataset", "ferplus", "--crop-pct", value])
    assert info.value.code == 2
    assert f"argument --crop-pct: expected a number in (0, 1], got '{value}'" in \
        capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
@pytest.mark.parametrize("cmd", [["profile", "--config", "cpu"],
                                 ["eval", "--dataset", "ferplus", "--data-root", "/tmp"],
                                 ["predict", "x.jpg"]])
def test_cuda_device_without_a_gpu_is_one_clear_line(cmd, capsys):
    assert main([*cmd, "--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["sqsnet: error: --device cuda: no CUDA GPU is available here; "
                   "use --device cpu"]


def test_predict_rejects_a_non_image(tmp_path, capsys):
    bogus = tmp_path / "notes.jpg"
    bogus.write_text("this is not an image")
    assert main(["predict", str(bogus)]) == 2
    err = capsys.readouterr().err
    assert "notes.jpg" in err and "Traceback" not in err


def test_predict_folder_without_images_names_the_accepted_suffixes(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("no faces here")
    assert main(["predict", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert str(tmp_path) in err and "folder contains no images" in err
    assert ".tiff" in err and ".jpg" in err


def test_help_of_every_command(capsys):
    for cmd in ("train", "eval", "predict", "profile", "ablate"):
        with pytest.raises(SystemExit) as info:
            main([cmd, "--help"])
        assert info.value.code == 0
        assert f"usage: sqsnet {cmd}" in capsys.readouterr().out


def test_package_level_load_model_gives_the_bundled_default():
    """``sqsnet.load_model("default")`` as the model card and README use it: no data, no network."""
    assert "load_model" in sqsnet.__all__
    model = sqsnet.load_model("default")
    assert isinstance(model, sqsnet.SQSNet) and not model.training
    assert model.class_names == list(FERPLUS_CLASSES)
    assert model.checkpoint_meta["dataset"] == "ferplus"
    with torch.no_grad():
        logits = model(torch.randn(2, 3, 48, 48))
    assert logits.shape == (2, 8) and torch.isfinite(logits).all()


def test_eval_default_checkpoint_on_real_faces(tmp_path, capsys):
    """The bundled model on a few real FERPlus faces, arranged as a labelled folder."""
    root = shared_data_root() / "ferplus"
    if not (root / "FER2013Valid" / "label.csv").is_file():
        pytest.skip(f"real FERPlus data not found at {root} (set SQSNET_DATA)")
    valid = FERPlus(root, "valid")
    folder = tmp_path / "faces"
    taken: dict[str, int] = {}
    for path, label in zip(valid.samples, valid.targets):
        name = valid.classes[label]
        if name in ("contempt", "disgust") or taken.get(name, 0) >= 4:
            continue
        (folder / name).mkdir(parents=True, exist_ok=True)
        os.symlink(path, folder / name / Path(path).name)
        taken[name] = taken.get(name, 0) + 1
    out = tmp_path / "m.json"
    assert main(["eval", "--checkpoint", "default", "--dataset", "folder", "--data-root",
                 str(folder), "--split", "all", "--json", str(out)]) == 0
    metrics = json.loads(out.read_text())
    assert metrics["n"] == 24
    assert set(metrics["dropped"]["model_only"]) == {"contempt", "disgust"}
    assert "classes not scored" in capsys.readouterr().out
