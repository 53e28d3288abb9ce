"""scripts/crop_sweep.sh and scripts/set_eval_crop.py on a tiny checkpoint and fixture data."""

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
from sqsnet.models import SQSNet
from tests.helpers import make_ferplus_fixture, tiny_model_config

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def tiny_checkpoint(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    cfg = Config(model=tiny_model_config(num_classes=8, class_names=list(FERPLUS_CLASSES)))
    model = SQSNet(cfg.model)
    return save_checkpoint(tmp_path / "tiny.safetensors", model, cfg,
                           {"class_names": list(FERPLUS_CLASSES), "dataset": "ferplus"})


def test_sweep_then_set_crop_round_trip(tmp_path, tiny_checkpoint, capsys):
    data = make_ferplus_fixture(tmp_path / "ferplus")
    sweep = tmp_path / "sweep"
    env = {**os.environ, "SQSNET_DATA": str(data), "SQSNET_VENV": str(Path(sys.executable).parents[1])}
    done = subprocess.run(["bash", str(REPO / "scripts" / "crop_sweep.sh"), str(sweep),
                           str(tiny_checkpoint), "1", "0.6"], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in sweep.iterdir()) == [
        "crop0.6-tta.json", "crop0.6.csv", "crop0.6.json", "crop1-tta.json", "crop1.csv",
        "crop1.json"]
    assert "| 1 |" in done.stdout
    at = {f.name: json.loads(f.read_text()) for f in sweep.glob("*.json")}
    from sqsnet.evaluate import mcnemar_test, read_predictions_csv

    a, b = read_predictions_csv(sweep / "crop0.6.csv"), read_predictions_csv(sweep / "crop1.csv")
    t = mcnemar_test([a[k] for k in sorted(a)], [b[k] for k in sorted(a)])
    assert f"| 0.6 | {100 * at['crop0.6.json']['accuracy']:.2f} |" in done.stdout
    assert f"{t.a_only} / {t.b_only}, p = {t.pvalue:.3g} |" in done.stdout
    assert at["crop0.6.json"]["crop_pct"] == 0.6 and at["crop1-tta.json"]["tta"] is True

    before = load_checkpoint(tiny_checkpoint).model_state
    runpy_main = runpy.run_path(str(REPO / "scripts" / "set_eval_crop.py"))["main"]
    assert runpy_main([str(tiny_checkpoint), "--crop-pct", "0.6", "--sweep", str(sweep),
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
    run = runpy.run_path(str(REPO / "scripts" / "set_eval_crop.py"))["main"]
    before = tiny_checkpoint.read_bytes()
    with pytest.raises(SystemExit, match=r"no single-view result at crop_pct 0.9"):
        run([str(tiny_checkpoint), "--crop-pct", "0.9", "--sweep", str(sweep)])
    with pytest.raises(SystemExit, match=r"--crop-pct 1.5: expected a number in \(0, 1\]"):
        run([str(tiny_checkpoint), "--crop-pct", "1.5"])
    assert tiny_checkpoint.read_bytes() == before  # nothing written


def test_branch_knockout_script_writes_what_the_library_measures(tmp_path, tiny_checkpoint,
                                                                 capsys):
    from sqsnet.data import build_dataset, build_eval_transform
    from sqsnet.diagnostics import branch_knockout

    script = runpy.run_path(str(REPO / "scripts" / "branch_knockout.py"))
    data = make_ferplus_fixture(tmp_path / "ferplus")
    out = tmp_path / "k.json"
    assert script["main"]([str(tiny_checkpoint), "--data-root", str(data), "--json",
                           str(out), "--untrained"]) == 0
    assert "| Swin branch mean-ablated |" in capsys.readouterr().out
    record = json.loads(out.read_text())
    valid = build_dataset("ferplus", str(data), "valid", transform=build_eval_transform(32))
    assert record["scores"] == branch_knockout(load_model(tiny_checkpoint), valid)
    assert set(record["untrained"]) == {"global_branch", "local_branch"}
    cfg = Config(model=tiny_model_config(use_global=False, num_classes=8,
                                         class_names=list(FERPLUS_CLASSES)))
    single = save_checkpoint(tmp_path / "single.safetensors", SQSNet(cfg.model), cfg,
                             {"class_names": list(FERPLUS_CLASSES), "dataset": "ferplus"})
    with pytest.raises(SystemExit, match="single.safetensors: branch knockout needs a "
                       "checkpoint with both branches"):
        script["main"]([str(single), "--data-root", str(data)])


def _script_env(tmp_path: Path) -> dict[str, str]:
    data = make_ferplus_fixture(tmp_path / "ferplus")
    return {**os.environ, "SQSNET_DATA": str(data), "SQSNET_RUNS": str(tmp_path / "runs"),
            "SQSNET_VENV": str(Path(sys.executable).parents[1])}


SMOKE = ("train.epochs=1 train.max_steps_per_epoch=2 train.tta=false data.num_workers=0 "
         "data.batch_size=8")


def test_variant_jobs_runs_each_seed_once_with_the_recorded_evaluation(tmp_path):
    from sqsnet.config import load_config

    env = _script_env(tmp_path)
    # the shared-stem variant: a JSON value with lists, which must reach sqsnet unchanged
    # even where a file name matches it as a glob pattern
    swin = ('{"img_size":24,"patch_size":2,"embed_dim":48,"depths":[2,2],"num_heads":[2,4],'
            '"window_size":6}')
    stem = f"model.global_from_local=1 model.global_branch.kwargs={swin}"
    (tmp_path / stem.split()[1].replace("[2,2]", "2").replace("[2,4]", "4")).touch()
    cmd = ["bash", str(REPO / "scripts" / "variant_jobs.sh"), "aux",
           f"{SMOKE} model.loss.global_aux_weight=0.3 {stem}", "0", "1"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("exit 0") == 2
    for seed in (0, 1):
        run = tmp_path / "runs" / f"aux-seed{seed}"
        cfg = load_config(run / "config.yaml")
        assert cfg.train.seed == seed and cfg.model.crop_pct == 1.0
        assert cfg.model.loss.global_aux_weight == 0.3
        assert cfg.model.global_from_local == 1
        assert cfg.model.global_branch.kwargs["depths"] == [2, 2]
        assert cfg.model.global_branch.kwargs["patch_size"] == 2
        assert (run / "summary.json").is_file()
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert again.stdout.splitlines() == ["aux-seed0 done", "aux-seed1 done"]
    bad = subprocess.run(cmd[:3], env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "usage:" in bad.stderr


def test_lr_probe_runs_one_short_run_per_swin_learning_rate_scale(tmp_path):
    env = _script_env(tmp_path)
    out = tmp_path / "probe"
    done = subprocess.run(["bash", str(REPO / "scripts" / "lr_probe.sh"), str(out), "1",
                           SMOKE.replace("train.epochs=1 ", ""), "1", "0.1"], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    from sqsnet.config import load_config

    for scale in ("1", "0.1"):
        cfg = load_config(out / f"glr{scale}" / "config.yaml")
        assert cfg.train.global_lr_scale == float(scale) and cfg.train.epochs == 1
        header = (out / f"glr{scale}" / "metrics.csv").read_text().splitlines()[0]
        assert header.endswith("val_local_std,val_global_std")


def test_seed2_jobs_names_the_two_recorded_runs(tmp_path):
    """seed2_jobs.sh goes through variant_jobs.sh: finished runs under those names are kept."""
    env = _script_env(tmp_path)
    names = ["ferplus_cpu_vggm-seed2", "baseline_vggm_cnn_only-seed2"]
    for name in names:
        (tmp_path / "runs" / name).mkdir(parents=True)
        (tmp_path / "runs" / name / "summary.json").write_text("{}")
    done = subprocess.run(["bash", str(REPO / "scripts" / "seed2_jobs.sh")], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"{name} done" for name in names]
