"""Model cost measurements and `sqsnet profile`."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from sqsnet.cli import main
from sqsnet.config import ConfigError, TrainConfig, load_config
from sqsnet.models import SQSNet
from sqsnet.profiling import (
    STEP_MODES,
    count_gflops,
    count_parameters,
    measure_train_throughput,
    time_sqs_steps,
)
from sqsnet.utils.runtime import autocast_dtype
from tests.helpers import write_tiny_config


def test_flops_and_parameters_of_a_known_layer():
    conv = nn.Conv2d(3, 8, kernel_size=3, padding=1)
    # 8 x 8 outputs x 8 channels x (3 x 3 x 3) multiply-adds, 2 FLOPs each
    assert count_gflops(conv, img_size=8) == pytest.approx(2 * 8 * 8 * 8 * 27 / 1e9)
    assert count_parameters(conv) == 8 * 27 + 8
    conv.bias.requires_grad_(False)
    assert count_parameters(conv, trainable_only=True) == 8 * 27
    assert count_parameters(conv) == 8 * 27 + 8


def test_autocast_precision_follows_the_train_config():
    assert autocast_dtype(TrainConfig(), "cuda") == torch.float16
    assert autocast_dtype(TrainConfig(amp=False), "cuda") is None
    assert autocast_dtype(TrainConfig(), "cpu") is None  # amp alone is CUDA only
    assert autocast_dtype(TrainConfig(amp_cpu=True), "cpu") == torch.bfloat16
    assert autocast_dtype(TrainConfig(amp=False, amp_cpu=True), "cuda") is None


@pytest.mark.parametrize("native", [True, False])
def test_auto_cpu_precision_uses_bfloat16_only_where_the_cpu_runs_it(native, monkeypatch,
                                                                      caplog):
    import sqsnet.utils.runtime as train_mod

    monkeypatch.setattr(train_mod, "cpu_has_native_bfloat16", lambda: native)
    auto = autocast_dtype(TrainConfig(amp_cpu="auto"), "cpu")
    assert auto == (torch.bfloat16 if native else None)
    assert autocast_dtype(TrainConfig(amp=False, amp_cpu="auto"), "cuda") is None
    # true forces bfloat16 and says when that is emulated
    assert autocast_dtype(TrainConfig(amp_cpu=True), "cpu") == torch.bfloat16
    assert ("no native bfloat16" in caplog.text) is (not native)


def test_unknown_cpu_precision_is_a_config_error():
    with pytest.raises(ConfigError, match="train.amp_cpu='fast': expected true, false or auto"):
        autocast_dtype(TrainConfig(amp_cpu="fast"), "cpu")


def test_bfloat16_channels_last_throughput_runs_the_training_call(tmp_path):
    cfg = load_config(write_tiny_config(tmp_path / "tiny.yaml"))
    model = SQSNet(cfg.model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rate = measure_train_throughput(model, cfg.model.img_size, batch_size=8, steps=1,
                                    autocast_dtype=torch.bfloat16, channels_last=True)
    assert rate > 0
    after = model.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)  # AdamW stepped
    assert all(torch.isfinite(v).all() for v in after.values() if v.is_floating_point())


@pytest.mark.parametrize("overrides, precision, channels_last", [
    ((), "float32", False),
    (("train.amp_cpu=true", "train.channels_last=true"), "bfloat16", True),
])
def test_profile_cli_measures_training_as_the_config_sets_it(tmp_path, capsys, overrides,
                                                             precision, channels_last):
    cfg_path = write_tiny_config(tmp_path / "tiny.yaml")
    out = tmp_path / "profile.json"
    set_args = ["--set", *overrides] if overrides else []
    assert main(["profile", "--config", str(cfg_path), "--train-batch", "8", "--steps", "1",
                 "--latency-batches", "1", "--json", str(out), *set_args]) == 0
    result = json.loads(out.read_text())
    assert result["train_precision"] == precision
    assert result["train_channels_last"] is channels_last
    assert result["train_images_per_s"] > 0 and result["latency_ms_b1"] > 0
    cfg = load_config(cfg_path)
    assert result["params_m"] == pytest.approx(count_parameters(SQSNet(cfg.model)) / 1e6)
    assert result["grid"] == list(SQSNet(cfg.model).grid_size)
    assert f"({precision}" in capsys.readouterr().out


def test_sqs_step_timing_steps_all_three_modes_from_the_same_weights(tmp_path, monkeypatch):
    cfg = load_config(write_tiny_config(tmp_path / "tiny.yaml"))
    stepped: list[tuple[bool, int]] = []
    real_forward = SQSNet.forward_train

    def recording(self, batch):
        stepped.append((self.sqs is not None, batch.images.shape[0]))
        return real_forward(self, batch)

    monkeypatch.setattr(SQSNet, "forward_train", recording)
    times = time_sqs_steps(cfg.model, batch_size=8, rounds=2, warmup=1)
    assert list(times) == list(STEP_MODES) == ["a_base", "b_sqs_batch", "c_sqs_four_pass"]
    assert all(len(v) == 2 and min(v) > 0 for v in times.values())
    # interleaved round by round: base, in-batch (8 images), four-pass (32 images)
    assert stepped == [(False, 8), (True, 8), (True, 32)] * 3
