"""The VGG-style CNNs for small faces: timm registration, stage maps, Grad-CAM layer."""

from __future__ import annotations

import pytest
import timm
import torch

from sqsnet.config import load_config
from sqsnet.models import FerVGG, SQSNet
from sqsnet.models.backbones import Backbone


@pytest.mark.parametrize("name,widths,params_m", [("fer_vgg_s", (32, 64, 128, 256), 1.18),
                                                  ("fer_vgg_m", (64, 128, 256, 512), 4.69)])
def test_registered_with_timm_and_classifies(name: str, widths: tuple, params_m: float) -> None:
    assert timm.is_model(name)
    model = timm.create_model(name, num_classes=8)
    assert isinstance(model, FerVGG)
    assert [info["num_chs"] for info in model.feature_info] == list(widths)
    assert sum(p.numel() for p in model.parameters()) / 1e6 == pytest.approx(params_m, abs=0.01)
    logits = model(torch.randn(2, 3, 48, 48))
    assert logits.shape == (2, 8) and torch.isfinite(logits).all()
    model.reset_classifier(3)
    assert model(torch.randn(1, 3, 48, 48)).shape == (1, 3)
    assert model.get_classifier().out_features == 3


def test_stages_halve_the_grid_and_features_only_matches_forward_features() -> None:
    torch.manual_seed(0)
    full = timm.create_model("fer_vgg_s", num_classes=0, global_pool="")
    feats = timm.create_model("fer_vgg_s", features_only=True, out_indices=(0, 1, 2, 3))
    # FeatureListNet flattens "stages.0" into a child "stages_0"
    state = {k.replace("stages.", "stages_", 1): v for k, v in full.state_dict().items()
             if k.startswith("stages.")}
    feats.load_state_dict(state)
    x = torch.randn(2, 3, 48, 48)
    maps = feats.eval()(x)
    assert [tuple(m.shape[1:]) for m in maps] == [(32, 48, 48), (64, 24, 24), (128, 12, 12),
                                                  (256, 6, 6)]
    assert torch.allclose(maps[-1], full.eval().forward_features(x), atol=1e-5)
    assert feats.feature_info.reduction() == [1, 2, 4, 8]


@pytest.mark.parametrize("out_index,channels,grid", [(None, 256, 6), (2, 128, 12), (3, 256, 6)])
def test_backbone_adapter_and_grayscale_input(out_index, channels, grid) -> None:
    bb = Backbone("fer_vgg_s", img_size=48, in_chans=1, out_index=out_index)
    out = bb(torch.randn(2, 1, 48, 48))
    assert out.shape == (2, channels, grid, grid) and bb.grid_size == (grid, grid)


def test_bad_arguments_are_one_clear_error() -> None:
    with pytest.raises(ValueError, match="at least one stage"):
        FerVGG(widths=())


def test_ferplus_cpu_preset_grids_and_gradcam_layer_fires() -> None:
    model = SQSNet(load_config("ferplus_cpu").model)
    assert model.cfg.img_size == 48
    assert model.local_branch.grid_size == model.global_branch.grid_size == (6, 6)
    layer, reshape = model.gradcam_targets()["local"]
    assert reshape is None
    seen = []
    handle = layer.register_forward_hook(lambda m, i, o: seen.append(o.shape))
    with torch.no_grad():
        assert model.eval()(torch.randn(2, 3, 48, 48)).shape == (2, 8)
    handle.remove()
    # the CNN's last stage: 512 channels of fer_vgg_m on the 6 x 6 grid
    assert model.local_branch.out_channels == 512
    assert seen == [torch.Size([2, 512, 6, 6])]
