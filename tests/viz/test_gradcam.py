"""Grad-CAM per branch: one map per image, values in [0, 1], hooks released."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from sqsnet.data import build_eval_transform
from sqsnet.models import SQSNet
from sqsnet.viz import (
    available_branches,
    gradcam,
    gradcam_overlay,
    plot_gradcam,
    save_figure,
)
from tests.helpers import tiny_model_config
from tests.viz.conftest import assert_png


def _batch(model: SQSNet, faces: list[Image.Image]) -> torch.Tensor:
    tf = build_eval_transform(model.cfg.img_size)
    return torch.stack([tf(f) for f in faces[:3]])


def _hook_count(layer: torch.nn.Module) -> int:
    return len(layer._forward_hooks) + len(layer._backward_hooks)


@pytest.mark.parametrize("branch", ["local", "global", "fused"])
def test_gradcam_one_map_per_image_and_hooks_released(
    tiny_model: SQSNet, faces: list[Image.Image], branch: str
) -> None:
    x = _batch(tiny_model, faces)
    layer, _ = tiny_model.gradcam_targets()[branch]
    before = _hook_count(layer)
    maps = gradcam(tiny_model, x, branch)
    s = tiny_model.cfg.img_size
    assert maps.shape == (3, s, s) and maps.dtype == np.float32
    assert np.isfinite(maps).all() and maps.min() >= 0 and maps.max() <= 1
    assert _hook_count(layer) == before == 0
    assert all(p.grad is None for p in tiny_model.parameters())
    # explicit target classes: one for all, and one per image
    assert gradcam(tiny_model, x, branch, target_class=1).shape == (3, s, s)
    assert gradcam(tiny_model, x, branch, target_class=[0, 1, 2]).shape == (3, s, s)
    assert _hook_count(layer) == 0


def test_gradcam_hooks_released_on_error(tiny_model: SQSNet, faces: list[Image.Image]) -> None:
    x = _batch(tiny_model, faces)
    layer, _ = tiny_model.gradcam_targets()["fused"]
    with pytest.raises(IndexError):
        gradcam(tiny_model, x, "fused", target_class=[99, 99, 99])  # no such class
    assert _hook_count(layer) == 0


def test_gradcam_unknown_branch(tiny_model: SQSNet, faces: list[Image.Image]) -> None:
    with pytest.raises(ValueError, match="branch"):
        gradcam(tiny_model, _batch(tiny_model, faces), "nope")
    with pytest.raises(ValueError, match="entries"):
        gradcam(tiny_model, _batch(tiny_model, faces), "fused", target_class=[0])


def test_gradcam_restores_training_mode(faces: list[Image.Image]) -> None:
    model = SQSNet(tiny_model_config()).train()
    gradcam(model, _batch(model, faces), "global")
    assert model.training


def test_single_branch_ablation_has_two_targets(faces: list[Image.Image]) -> None:
    model = SQSNet(tiny_model_config(use_global=False)).eval()
    assert available_branches(model) == ["local", "fused"]
    assert gradcam(model, _batch(model, faces), "local").shape[0] == 3


def test_features_only_cnn_target_is_the_returned_stage() -> None:
    """EfficientNet features_only keeps all blocks in one Sequential: hook the used stage."""
    from sqsnet.config import BranchConfig

    cfg = tiny_model_config(local_branch=BranchConfig(name="efficientnet_b0", out_index=2))
    model = SQSNet(cfg).eval()
    layer, reshape = model.gradcam_targets()["local"]
    calls: list[tuple[int, ...]] = []
    handle = layer.register_forward_hook(lambda m, i, o: calls.append(tuple(o.shape)))
    try:
        with torch.no_grad():
            model(torch.randn(1, 3, 32, 32))
    finally:
        handle.remove()
    assert reshape is None
    assert len(calls) == 1 and calls[0][1] == model.local_branch.out_channels


def test_overlay_and_plot(tiny_model: SQSNet, faces: list[Image.Image], tmp_path) -> None:
    over = gradcam_overlay(faces[0], np.random.default_rng(0).random((32, 32)))
    assert over.size == faces[0].size and over.mode == "RGB"
    fig = plot_gradcam(tiny_model, faces[:2], true_labels=[0, 1])
    assert len(fig.axes) == 2 * 4  # input + local, global, fused per row
    assert_png(save_figure(fig, tmp_path / "gradcam.png"))
