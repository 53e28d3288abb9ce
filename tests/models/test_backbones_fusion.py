"""Backbone adapter layouts, fusion modules with unequal grids, pretrained errors."""

from __future__ import annotations

import pytest
import timm
import torch

from sqsnet.models import SQSNet
from sqsnet.models.backbones import (
    Backbone,
    PretrainedWeightsError,
    UnknownModelError,
)
from sqsnet.models.fusion import ConcatFusion, CrossAttentionFusion, create_fusion
from tests.helpers import tiny_model_config

SWIN_KW = dict(img_size=32, embed_dim=16, depths=[1, 1], num_heads=[1, 2], window_size=4)


def test_swin_nhwc_is_converted_to_nchw() -> None:
    bb = Backbone("swin_tiny_patch4_window7_224", img_size=32, timm_kwargs=SWIN_KW)
    assert bb.channels_last_output
    raw = bb.model.forward_features(torch.randn(2, 3, 32, 32))
    out = bb(torch.randn(2, 3, 32, 32))
    assert raw.shape == (2, 4, 4, 32)  # timm gives NHWC
    assert out.shape == (2, bb.out_channels, 4, 4) == (2, 32, 4, 4)
    assert bb.grid_size == (4, 4)


def test_forward_is_always_one_map_and_to_nchw_is_the_one_conversion() -> None:
    """``Backbone.forward`` returns one tensor (no tapped pair); the Grad-CAM reshape of an
    NHWC branch is the backbone's own ``to_nchw``."""
    bb = Backbone("swin_tiny_patch4_window7_224", img_size=32, timm_kwargs=SWIN_KW)
    x = torch.randn(2, 3, 32, 32)
    out = bb(x)
    assert isinstance(out, torch.Tensor)
    torch.testing.assert_close(out, bb.to_nchw(bb.model.forward_features(x)))
    tokens = torch.randn(2, 16, 32)  # B x N x C of a 4 x 4 grid
    torch.testing.assert_close(bb.to_nchw(tokens), tokens.reshape(2, 4, 4, 32).permute(0, 3, 1, 2))
    model = SQSNet(tiny_model_config())
    targets = model.gradcam_targets()
    assert targets["global"][1] == model.global_branch.to_nchw  # NHWC Swin: converted
    assert targets["local"][1] is None and targets["fused"][1] is None  # NCHW already


def test_swin_features_only_stage_is_nchw() -> None:
    bb = Backbone("swin_tiny_patch4_window7_224", img_size=32, out_index=0,
                  timm_kwargs=SWIN_KW)
    out = bb(torch.randn(1, 3, 32, 32))
    assert out.shape == (1, 16, 8, 8)


@pytest.mark.parametrize("out_index,channels,grid", [(None, 512, 1), (2, 128, 4), (3, 256, 2)])
def test_cnn_branch_stage_selection(out_index: int | None, channels: int, grid: int) -> None:
    bb = Backbone("resnet10t", img_size=32, out_index=out_index)
    assert not bb.channels_last_output
    out = bb(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, channels, grid, grid)
    assert torch.isfinite(out).all()


def test_unknown_model_name() -> None:
    with pytest.raises(UnknownModelError, match="unknown timm model 'resnet_nope'"):
        Backbone("resnet_nope", img_size=32)


def test_pretrained_offline_fails_fast_with_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", "/nonexistent-sqsnet-cache")
    with pytest.raises(PretrainedWeightsError) as info:
        Backbone("resnet10t", img_size=32, pretrained=True)
    message = str(info.value)
    assert "pretrained_path" in message and "resnet10t" in message
    assert "\n" not in message


def test_pretrained_unreachable_hub_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    # an endpoint on a closed local port: no network traffic leaves the machine
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("HF_HOME", "/nonexistent-sqsnet-cache")
    with pytest.raises(PretrainedWeightsError, match="unreachable"):
        Backbone("resnet10t", img_size=32, pretrained=True)


def test_pretrained_for_a_model_without_published_weights_says_so(monkeypatch) -> None:
    """The lab's own FER CNNs have no hub weights: no download hint, no network probe."""
    monkeypatch.setattr("sqsnet.models.backbones._hub_reachable", lambda *a: pytest.fail(
        "probed the hub for a model that has no weights there"))
    with pytest.raises(PretrainedWeightsError, match="'fer_vgg_m' has no published "
                       "pretrained weights: train it from scratch") as info:
        Backbone("fer_vgg_m", img_size=48, pretrained=True, out_index=3)
    assert "\n" not in str(info.value)


def test_pretrained_path_loads_local_file(tmp_path) -> None:
    import timm
    from safetensors.torch import save_file

    src = timm.create_model("resnet10t", pretrained=False)
    weights = {k: v.contiguous() for k, v in src.state_dict().items()}
    path = tmp_path / "resnet10t.safetensors"
    save_file(weights, str(path))
    bb = Backbone("resnet10t", img_size=32, pretrained=True, pretrained_path=str(path))
    torch.testing.assert_close(bb.model.conv1[0].weight, src.conv1[0].weight)
    with pytest.raises(PretrainedWeightsError, match="does not exist"):
        Backbone("resnet10t", img_size=32, pretrained=True,
                 pretrained_path=str(tmp_path / "missing.safetensors"))


@pytest.mark.parametrize("local_hw,global_hw", [((4, 4), (4, 4)), ((7, 7), (3, 3)),
                                                 ((4, 6), (8, 2))])
def test_cross_attention_grids_of_different_sizes(local_hw, global_hw) -> None:
    fusion = CrossAttentionFusion(24, 40, dim=32, num_heads=4, mlp_ratio=2.0)
    local = torch.randn(2, 24, *local_hw, requires_grad=True)
    glob = torch.randn(2, 40, *global_hw, requires_grad=True)
    out = fusion(local, glob)
    assert out.shape == (2, 32, *local_hw)
    out.sum().backward()
    assert local.grad is not None and glob.grad is not None
    assert torch.isfinite(out).all()


def test_cross_attention_attends_to_global_tokens() -> None:
    fusion = CrossAttentionFusion(8, 8, dim=8, num_heads=2).eval()
    local = torch.randn(1, 8, 3, 3)
    g1, g2 = torch.randn(1, 8, 2, 2), torch.randn(1, 8, 2, 2)
    assert not torch.allclose(fusion(local, g1), fusion(local, g2))


def test_concat_fusion_resizes_global_map() -> None:
    fusion = ConcatFusion(16, 8, dim=12)
    out = fusion(torch.randn(2, 16, 6, 6), torch.randn(2, 8, 3, 3))
    assert out.shape == (2, 12, 6, 6)


def test_unknown_fusion_name() -> None:
    with pytest.raises(ValueError, match="unknown fusion 'sum'"):
        create_fusion("sum", 4, 4, 8)
    with pytest.raises(ValueError, match="divisible"):
        CrossAttentionFusion(4, 4, dim=10, num_heads=4)


def test_an_efficientnet_cut_early_drops_the_stages_it_does_not_return():
    """timm's EfficientNetFeatures runs every stage even when out_indices stop early; the
    adapter drops the unused ones: same map, a quarter of the parameters (Lite0 cut at 3)."""
    torch.manual_seed(0)
    cut = Backbone("tf_efficientnet_lite0", img_size=64, out_index=3).eval()
    full = timm.create_model("tf_efficientnet_lite0", features_only=True, out_indices=(3,))
    load = full.load_state_dict(cut.model.state_dict(), strict=False)
    assert not load.unexpected_keys and load.missing_keys  # the late blocks are gone
    assert all(k.startswith(("blocks.5.", "blocks.6.")) for k in load.missing_keys)
    assert len(cut.model.blocks) == 5 and cut.out_channels == 112
    full.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(cut(x), full(x)[-1])
    n_cut = sum(p.numel() for p in cut.parameters())
    assert n_cut < 0.3 * sum(p.numel() for p in full.parameters())
    last = Backbone("tf_efficientnet_lite0", img_size=64, out_index=4)
    assert len(last.model.blocks) == 7  # the last stage needs them all
