"""Checkpoints under hostile input: the tensor checksum, retired settings in a saved config,
weights that do not fit their config; round trips, and writes that are killed or interrupted
(sqsnet.checkpoint)."""

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
from safetensors import safe_open
from safetensors.torch import load_file, save_file

import sqsnet.checkpoint as checkpoint_mod
from sqsnet.checkpoint import (
    DEFAULT_CHECKPOINT,
    CheckpointError,
    load_checkpoint,
    load_model,
    save_checkpoint,
    tensor_checksum,
)
from sqsnet.config import Config, ConfigError, config_to_dict, load_config
from sqsnet.models import SQSNet
from sqsnet.training import train
from tests.helpers import REPO, tiny_model_config, write_tiny_config


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    cfg = Config(model=tiny_model_config())
    return save_checkpoint(tmp_path / "tiny.safetensors", SQSNet(cfg.model), cfg,
                           {"class_names": ["a", "b", "c", "d"]})


def _metadata(path: Path) -> dict[str, str]:
    with safe_open(str(path), framework="pt") as fh:
        return dict(fh.metadata())


def _rewrite(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    save_file(tensors, str(path), metadata=metadata)


def test_checkpoints_carry_a_checksum_of_their_tensors(tiny):
    meta = _metadata(tiny)
    tensors = load_file(str(tiny))
    assert meta["sqsnet_sha256"] == tensor_checksum(tensors)
    flipped = dict(tensors)
    name = next(k for k in flipped if k.startswith("model.head"))
    flipped[name] = flipped[name].clone()
    flipped[name].view(-1)[0] += 1
    assert tensor_checksum(flipped) != tensor_checksum(tensors)
    renamed = {("model.x" if k == name else k): v for k, v in tensors.items()}
    assert tensor_checksum(renamed) != tensor_checksum(tensors)  # names count too
    assert load_model(tiny).class_names == ["class_0", "class_1", "class_2", "class_3"]


def test_a_damaged_checkpoint_fails_naming_the_file(tiny):
    data = bytearray(tiny.read_bytes())
    data[-3] ^= 0xFF  # one flipped byte in the last tensor: still a valid safetensors file
    tiny.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=rf"^{tiny} is damaged: its tensors do not "
                       "match the checksum"):
        load_checkpoint(tiny)
    with pytest.raises(CheckpointError, match="is damaged"):
        load_model(tiny)


def test_files_written_before_the_checksum_load_unverified(tiny):
    assert "sqsnet_sha256" not in _metadata(DEFAULT_CHECKPOINT)  # the bundled default
    assert load_model("default").class_names[0] == "neutral"
    meta = _metadata(tiny)
    del meta["sqsnet_sha256"]
    _rewrite(tiny, load_file(str(tiny)), meta)
    assert load_checkpoint(tiny).model_state


def _with_config(path: Path, edit) -> None:
    meta = _metadata(path)
    header = json.loads(meta["sqsnet"])
    edit(header["config"])
    meta["sqsnet"] = json.dumps(header)
    _rewrite(path, load_file(str(path)), meta)


@pytest.mark.parametrize("section,key,value", [
    ("model", "local_drop_rate", 0.3), ("model", "global_from_local", 1),
    ("train", "global_lr_scale", 0.1), ("loss", "global_aux_weight", 0.5)])
def test_a_checkpoint_with_a_retired_setting_on_fails_naming_file_and_setting(
        tiny, section, key, value):
    def edit(cfg: dict) -> None:
        (cfg["model"]["loss"] if section == "loss" else cfg[section])[key] = value

    _with_config(tiny, edit)
    dotted = f"model.loss.{key}" if section == "loss" else f"{section}.{key}"
    with pytest.raises(ConfigError, match=rf"^{tiny}: {dotted}={value} is retired .* see "
                       r"docs/experiments.md"):
        load_model(tiny)


def test_a_checkpoint_with_retired_settings_off_loads(tiny):
    expected = load_model(tiny)(torch.zeros(1, 3, 32, 32))

    def edit(cfg: dict) -> None:  # as runs written while the knobs existed store them
        cfg["model"].update(local_drop_rate=0.0, global_from_local=None)
        cfg["model"]["loss"]["global_aux_weight"] = 0.0
        cfg["train"]["global_lr_scale"] = 1.0

    _with_config(tiny, edit)
    torch.testing.assert_close(load_model(tiny)(torch.zeros(1, 3, 32, 32)), expected)


def test_weights_that_do_not_fit_their_config_name_the_file(tiny):
    _with_config(tiny, lambda cfg: cfg["model"].update(fused_dim=64))
    with pytest.raises(CheckpointError, match=rf"^{tiny}: its weights do not fit the model "
                       r"built from its config \(size mismatch for "):
        load_model(tiny)


def test_a_class_count_mismatch_names_the_file(tiny):
    _with_config(tiny, lambda cfg: cfg["model"].update(num_classes=7))
    with pytest.raises(CheckpointError, match=rf"^{tiny}: its weights do not fit .*head.fc"):
        load_model(tiny)
    _with_config(tiny, lambda cfg: cfg["model"].update(num_classes=4, class_names=["a", "b"]))
    with pytest.raises(ConfigError, match=rf"^{tiny}: model.class_names has 2 names but "
                       "model.num_classes is 4"):
        load_model(tiny)


def test_load_model_never_downloads_pretrained_weights(tiny, monkeypatch):
    """The checkpoint's weights replace ImageNet ones: a model trained from pretrained
    branches loads offline."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _with_config(tiny, lambda cfg: cfg["model"].update(pretrained=True))
    model = load_model(tiny)
    assert model.cfg.pretrained is True  # the config is the checkpoint's own
    assert config_to_dict(load_checkpoint(tiny).config)["model"]["pretrained"] is True


class _Faces(torch.utils.data.TensorDataset):
    """Random 32 px images of ``k`` classes, 8 each, with the attributes training reads."""

    def __init__(self, k: int) -> None:
        self.targets = [c for c in range(k) for _ in range(8)]
        super().__init__(torch.randn(len(self.targets), 3, 32, 32), torch.tensor(self.targets))
        self.classes = [f"c{c}" for c in range(k)]


def test_resuming_with_another_class_count_names_the_checkpoint(tmp_path):
    cfg_path = write_tiny_config(tmp_path / "tiny.yaml")
    overrides = ["train.max_steps_per_epoch=2", "train.epochs=1", "train.tta=false",
                 "data.mix_prob=0", f"train.out_dir={tmp_path / 'runs'}", "train.run_name=run"]
    run = train(load_config(cfg_path, overrides), datasets=(_Faces(4), _Faces(4)),
                progress=False).run_dir
    with pytest.raises(CheckpointError, match=rf"^{run / 'last.safetensors'}: its weights do "
                       r"not fit .*head.fc.weight"):
        train(load_config(cfg_path, [*overrides, "train.epochs=2"]),
              datasets=(_Faces(3), _Faces(3)), resume=True, progress=False)


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
    cfg = Config(model=tiny_model_config())
    model = SQSNet(cfg.model)
    path = save_checkpoint(tmp_path / "c.safetensors", model, cfg, {"v": 1})

    def broken(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint_mod, "save_file", broken)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, model, cfg, {"v": 2})
    assert load_checkpoint(path).meta["v"] == 1
    assert [p.name for p in tmp_path.iterdir()] == sorted(["c.safetensors", "c.json"]) or \
        sorted(p.name for p in tmp_path.iterdir()) == ["c.json", "c.safetensors"]


def test_checkpoint_round_trip_and_bad_files(tmp_path):
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


def test_grey_evaluation_travels_in_the_checkpoint(tmp_path: Path):
    from PIL import Image

    from sqsnet.data import build_eval_transform
    from sqsnet.inference import Predictor

    torch.manual_seed(0)
    cfg = Config(model=tiny_model_config())
    cfg.model.eval_grayscale = True
    path = save_checkpoint(tmp_path / "grey.safetensors", SQSNet(cfg.model), cfg,
                           {"class_names": ["a", "b", "c", "d"]})
    predictor = Predictor(path)
    assert predictor.model.cfg.eval_grayscale is True
    red = Image.new("RGB", (40, 40), (200, 30, 30))
    size = cfg.model.img_size
    assert torch.equal(predictor.transform(red), build_eval_transform(size, grayscale=True)(red))
    assert not torch.equal(predictor.transform(red), build_eval_transform(size)(red))
