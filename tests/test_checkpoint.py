"""Checkpoints under hostile input: the tensor checksum, retired settings in a saved config,
weights that do not fit their config (sqsnet.checkpoint; round trips and atomic writes are in
tests/test_train_cli.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

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
from sqsnet.train import train
from tests.helpers import tiny_model_config, write_tiny_config


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
