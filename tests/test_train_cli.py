"""Training, checkpoints, evaluation and the CLI, end to end on tiny fixtures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from PIL import Image

from sqsnet.checkpoint import CheckpointError, load_checkpoint, load_model, save_checkpoint
from sqsnet.cli import main
from sqsnet.config import ConfigError, load_config
from sqsnet.models import SQSNet
from sqsnet.train import TrainingDivergedError, train
from tests.helpers import make_ferplus_fixture, shared_data_root, write_tiny_config

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def fixture_data(tmp_path: Path) -> Path:
    return make_ferplus_fixture(tmp_path / "ferplus")


@pytest.fixture
def tiny_cfg_path(tmp_path: Path) -> Path:
    return write_tiny_config(tmp_path / "tiny.yaml")


def _cli(*args: str) -> int:
    return main(list(args))


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

    from sqsnet.data import build_eval_transform
    from sqsnet.inference import Predictor

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


def _train_tiny(cfg_path: Path, data: Path, out: Path, epochs: int, resume: bool = False,
                extra: tuple[str, ...] = ()) -> Path:
    cfg = load_config(cfg_path, ["train.max_steps_per_epoch=3", f"train.epochs={epochs}",
                                 "train.tta=false", f"train.out_dir={out}",
                                 "train.run_name=run", "train.t0_epochs=4", *extra])
    return train(cfg, data_root=str(data), resume=resume, progress=False).run_dir


def test_resumed_run_matches_uninterrupted_run(tmp_path, fixture_data, tiny_cfg_path):
    straight = _train_tiny(tiny_cfg_path, fixture_data, tmp_path / "a", epochs=2)
    _train_tiny(tiny_cfg_path, fixture_data, tmp_path / "b", epochs=1)
    resumed = _train_tiny(tiny_cfg_path, fixture_data, tmp_path / "b", epochs=2, resume=True)
    a = load_checkpoint(straight / "last.safetensors").model_state
    b = load_checkpoint(resumed / "last.safetensors").model_state
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)
    rows_a = (straight / "metrics.csv").read_text().splitlines()
    rows_b = (resumed / "metrics.csv").read_text().splitlines()
    assert len(rows_a) == len(rows_b) == 3
    # identical losses and val metrics (timings differ)
    strip = lambda row: row.split(",")[:12]  # noqa: E731
    assert [strip(r) for r in rows_a] == [strip(r) for r in rows_b]


@pytest.mark.parametrize("ema", [(), ("train.ema_decay=0.9",)], ids=["plain", "ema"])
def test_run_killed_mid_epoch_resumes_to_the_uninterrupted_result(tmp_path, fixture_data,
                                                                 tiny_cfg_path, monkeypatch,
                                                                 ema):
    """A resume point inside an epoch (sampler position, RNG, running sums, the weight
    average) loses nothing."""
    import sqsnet.train as train_mod

    every = ("train.checkpoint_every=2", *ema)
    straight = _train_tiny(tiny_cfg_path, fixture_data, tmp_path / "a", epochs=2, extra=every)

    real_save = train_mod.save_checkpoint

    class Killed(Exception):
        pass

    def save_then_die(path, model, cfg, meta, train_state=None):
        real_save(path, model, cfg, meta, train_state=train_state)
        part = (train_state or {}).get("partial_epoch")
        if part is not None and train_state["epoch"] == 0:  # 2 steps into the second epoch
            raise Killed

    monkeypatch.setattr(train_mod, "save_checkpoint", save_then_die)
    with pytest.raises(Killed):
        _train_tiny(tiny_cfg_path, fixture_data, tmp_path / "b", epochs=2, extra=every)
    monkeypatch.setattr(train_mod, "save_checkpoint", real_save)
    ckpt = load_checkpoint(tmp_path / "b" / "run" / "last.safetensors", with_train_state=True)
    assert ckpt.train_state["partial_epoch"]["step"] == 2
    assert len((tmp_path / "b" / "run" / "metrics.csv").read_text().splitlines()) == 2

    resumed = _train_tiny(tiny_cfg_path, fixture_data, tmp_path / "b", epochs=2, resume=True,
                          extra=every)
    for name in ("last.safetensors", "best.safetensors"):
        a = load_checkpoint(straight / name).model_state
        b = load_checkpoint(resumed / name).model_state
        for key in a:
            torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=f"{name} {key}")
    if ema:
        a = load_checkpoint(straight / "last.safetensors", with_train_state=True).train_state
        b = load_checkpoint(resumed / "last.safetensors", with_train_state=True).train_state
        for key in a["ema"]:
            torch.testing.assert_close(a["ema"][key], b["ema"][key], rtol=0, atol=0, msg=key)
    strip = lambda row: row.split(",")[:12]  # noqa: E731
    rows_a = (straight / "metrics.csv").read_text().splitlines()
    rows_b = (resumed / "metrics.csv").read_text().splitlines()
    assert [strip(r) for r in rows_a] == [strip(r) for r in rows_b]
    live = lambda row: row.split(",")[-1]  # noqa: E731
    assert [live(r) for r in rows_a] == [live(r) for r in rows_b]


def test_weight_average_is_what_is_validated_and_saved(tmp_path, fixture_data, tiny_cfg_path,
                                                       monkeypatch):
    """With ``train.ema_decay`` the best checkpoint holds the average of the live weights
    after each optimizer step (hand-computed: decay 0 at the first update, then 0.5)."""
    import sqsnet.train as train_mod

    snapshots: list[dict[str, torch.Tensor]] = []
    real_make = train_mod._make_ema

    class Recording:
        def __init__(self, model, t):
            self.inner = real_make(model, t)
            self.module = self.inner.module

        def update(self, model, step):
            snapshots.append({k: v.detach().clone() for k, v in model.state_dict().items()})
            self.inner.update(model, step=step)

    monkeypatch.setattr(train_mod, "_make_ema", Recording)
    run = _train_tiny(tiny_cfg_path, fixture_data, tmp_path / "a", epochs=1,
                      extra=("train.ema_decay=0.5", "train.ema_warmup=false"))
    assert len(snapshots) == 3  # one update per optimizer step
    w1, w2, w3 = snapshots
    best = load_checkpoint(run / "best.safetensors").model_state
    last = load_checkpoint(run / "last.safetensors").model_state
    moved = 0
    for key, value in best.items():
        if not value.dtype.is_floating_point:
            continue
        expected = 0.25 * w1[key] + 0.25 * w2[key] + 0.5 * w3[key]
        torch.testing.assert_close(value, expected, rtol=1e-5, atol=1e-6, msg=key)
        torch.testing.assert_close(last[key], w3[key], rtol=0, atol=0, msg=key)
        moved += int(not torch.equal(value, w3[key]))
    assert moved > 0  # the saved average is not the live weights
    header, row = (run / "metrics.csv").read_text().strip().splitlines()
    fields = dict(zip(header.split(","), row.split(",")))
    assert 0.0 <= float(fields["val_accuracy_live"]) <= 1.0
    assert 0.0 <= float(fields["val_accuracy"]) <= 1.0


def test_weight_average_leaves_the_training_trajectory_alone(tmp_path, fixture_data,
                                                            tiny_cfg_path):
    """The live weights and losses of a run with EMA are those of the same run without it,
    so one run's ``val_accuracy_live`` column is the run without averaging."""
    plain = _train_tiny(tiny_cfg_path, fixture_data, tmp_path / "a", epochs=2)
    averaged = _train_tiny(tiny_cfg_path, fixture_data, tmp_path / "b", epochs=2,
                           extra=("train.ema_decay=0.9",))
    a = load_checkpoint(plain / "last.safetensors").model_state
    b = load_checkpoint(averaged / "last.safetensors").model_state
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)
    read = lambda run: [dict(zip(rows[0].split(","), r.split(",")))  # noqa: E731
                        for rows in [(run / "metrics.csv").read_text().splitlines()]
                        for r in rows[1:]]
    for p, e in zip(read(plain), read(averaged)):
        assert p["train_loss"] == e["train_loss"]
        assert p["val_accuracy"] == e["val_accuracy_live"]


def test_ema_resume_needs_a_checkpoint_with_an_average(tmp_path, fixture_data, tiny_cfg_path):
    _train_tiny(tiny_cfg_path, fixture_data, tmp_path / "a", epochs=1)
    with pytest.raises(CheckpointError, match="has no weight average to resume with"):
        _train_tiny(tiny_cfg_path, fixture_data, tmp_path / "a", epochs=2, resume=True,
                    extra=("train.ema_decay=0.9",))
    with pytest.raises(ConfigError, match=r"train.ema_decay=1.5: expected a number in \[0, 1\)"):
        _train_tiny(tiny_cfg_path, fixture_data, tmp_path / "b", epochs=1,
                    extra=("train.ema_decay=1.5",))


def test_resume_refuses_another_model_and_logs_other_changes(tmp_path, fixture_data,
                                                             tiny_cfg_path, caplog):
    run = _train_tiny(tiny_cfg_path, fixture_data, tmp_path / "a", epochs=1)
    before = (run / "last.safetensors").read_bytes()
    with pytest.raises(CheckpointError, match=r"cannot resume .*last.safetensors: it was "
                       r"trained with another model \(model.drop_rate: 0.3 -> 0.5\)"):
        _train_tiny(tiny_cfg_path, fixture_data, tmp_path / "a", epochs=2, resume=True,
                    extra=("model.drop_rate=0.5",))
    assert (run / "last.safetensors").read_bytes() == before  # refused before writing
    with caplog.at_level("WARNING", logger="sqsnet.train"):
        _train_tiny(tiny_cfg_path, fixture_data, tmp_path / "a", epochs=2, resume=True,
                    extra=("train.lr=0.002", "model.crop_pct=0.9"))
    assert "resuming" in caplog.text and "train.epochs: 1 -> 2" in caplog.text
    assert "train.lr: 0.001 -> 0.002" in caplog.text
    assert "model.crop_pct: 1.0 -> 0.9" in caplog.text  # scoring, not the model: allowed


def test_worker_count_does_not_change_training(tmp_path, fixture_data, tiny_cfg_path):
    """Augmentation is seeded per (seed, epoch, image), not per DataLoader worker."""
    r0 = _train_tiny(tiny_cfg_path, fixture_data, tmp_path / "w0", epochs=2)
    r2 = _train_tiny(tiny_cfg_path, fixture_data, tmp_path / "w2", epochs=2,
                     extra=("data.num_workers=2",))
    a = load_checkpoint(r0 / "last.safetensors").model_state
    b = load_checkpoint(r2 / "last.safetensors").model_state
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_training_is_deterministic_under_a_seed(tmp_path, fixture_data, tiny_cfg_path):
    r1 = _train_tiny(tiny_cfg_path, fixture_data, tmp_path / "x", epochs=1)
    r2 = _train_tiny(tiny_cfg_path, fixture_data, tmp_path / "y", epochs=1)
    a = load_checkpoint(r1 / "last.safetensors").model_state
    b = load_checkpoint(r2 / "last.safetensors").model_state
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_bfloat16_training_on_cpu_is_deterministic_and_takes_effect(tmp_path, fixture_data,
                                                                   tiny_cfg_path):
    bf16 = ("train.amp_cpu=true", "train.channels_last=true")
    r1 = _train_tiny(tiny_cfg_path, fixture_data, tmp_path / "b1", epochs=1, extra=bf16)
    r2 = _train_tiny(tiny_cfg_path, fixture_data, tmp_path / "b2", epochs=1, extra=bf16)
    r32 = _train_tiny(tiny_cfg_path, fixture_data, tmp_path / "f32", epochs=1,
                      extra=("train.channels_last=true",))
    a = load_checkpoint(r1 / "last.safetensors").model_state
    b = load_checkpoint(r2 / "last.safetensors").model_state
    c = load_checkpoint(r32 / "last.safetensors").model_state
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert all(a[k].dtype == c[k].dtype for k in a)  # weights stay float32
    assert all(torch.isfinite(a[k]).all() for k in a if a[k].is_floating_point())
    assert any(not torch.equal(a[k], c[k]) for k in a)  # bfloat16 steps differ from float32


def test_four_pass_and_ablation_variants_train(tmp_path, fixture_data, tiny_cfg_path):
    for i, extra in enumerate((("model.sqs.quads=dataset",), ("model.use_sqs=false",),
                               ("model.use_local=false",), ("model.use_global=false",))):
        run = _train_tiny(tiny_cfg_path, fixture_data, tmp_path / f"v{i}", epochs=1,
                          extra=extra)
        assert (run / "best.safetensors").is_file()


def test_nan_loss_stops_with_a_clear_message(tmp_path, fixture_data, tiny_cfg_path):
    # a distillation temperature of 1e-45 (0 is refused at load) overflows the logits to
    # infinity: NaN at the first step
    with pytest.raises(TrainingDivergedError, match="loss became nan at epoch 1, step 1"):
        _train_tiny(tiny_cfg_path, fixture_data, tmp_path / "nan", epochs=1,
                    extra=("model.loss.kd_temperature=1e-45",))


_WRITER = """
import sys, torch
from sqsnet.checkpoint import save_checkpoint
from sqsnet.models import SQSNet
from tests.helpers import tiny_model_config
from sqsnet.config import Config
cfg = Config(model=tiny_model_config())
model = SQSNet(cfg.model)
print("ready", flush=True)
i = 0
while True:
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float(i))
    save_checkpoint(sys.argv[1], model, cfg, {"i": i})
    i += 1
"""


def test_killed_write_leaves_a_loadable_checkpoint(tmp_path):
    target = tmp_path / "ckpt.safetensors"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(target)], cwd=REPO,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    deadline = time.time() + 60
    while not target.exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.7)  # let it be in the middle of further writes
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    ckpt = load_checkpoint(target)
    i = ckpt.meta["i"]
    params = {name for name, _ in SQSNet(ckpt.config.model).named_parameters()}
    assert params
    for name in params:  # weights and metadata come from the same, complete write
        assert torch.all(ckpt.model_state[name] == float(i)), name


def test_interrupted_save_keeps_the_old_file(tmp_path, monkeypatch):
    from tests.helpers import tiny_model_config
    from sqsnet.config import Config
    import sqsnet.checkpoint as ck

    cfg = Config(model=tiny_model_config())
    model = SQSNet(cfg.model)
    path = save_checkpoint(tmp_path / "c.safetensors", model, cfg, {"v": 1})

    def broken(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(ck, "save_file", broken)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, model, cfg, {"v": 2})
    assert load_checkpoint(path).meta["v"] == 1
    assert [p.name for p in tmp_path.iterdir()] == sorted(["c.safetensors", "c.json"]) or \
        sorted(p.name for p in tmp_path.iterdir()) == ["c.json", "c.safetensors"]


def test_checkpoint_round_trip_and_bad_files(tmp_path):
    from tests.helpers import tiny_model_config
    from sqsnet.config import Config

    cfg = Config(model=tiny_model_config())
    cfg.model.class_names = ["neutral", "happiness", "surprise", "sadness"]
    model = SQSNet(cfg.model).eval()
    path = save_checkpoint(tmp_path / "m.safetensors", model, cfg, {"dataset": "x"})
    loaded = load_model(path)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))
    assert loaded.class_names == cfg.model.class_names
    assert oct(path.stat().st_mode & 0o777) == oct(0o666 & ~_umask())
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        load_checkpoint(junk)
    from safetensors.torch import save_file

    plain = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(plain))
    with pytest.raises(CheckpointError, match="no SQSNet metadata"):
        load_checkpoint(plain)
    with pytest.raises(CheckpointError, match="without best.safetensors"):
        load_checkpoint(tmp_path / "nothing-here" if (tmp_path / "nothing-here").mkdir() is None
                        else tmp_path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


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
    import sqsnet
    from sqsnet.data.labels import FERPLUS_CLASSES

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
    from sqsnet.data import FERPlus

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


def test_ablation_grid_on_a_fixture(tmp_path, fixture_data, tiny_cfg_path, caplog, capsys):
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
