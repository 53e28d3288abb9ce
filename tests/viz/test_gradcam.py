"""Grad-CAM per branch: one map per image, values in [0, 1], hooks released; the same maps
as pytorch-grad-cam's GradCAM, from one forward pass that also gives the logits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

from sqsnet.checkpoint import load_model
from sqsnet.data import build_eval_transform
from sqsnet.faces import load_image
from sqsnet.models import SQSNet
from sqsnet.service.examples import load_examples
from sqsnet.viz import (
    available_branches,
    gradcam,
    gradcam_overlay,
    plot_gradcam,
    save_figure,
)
from sqsnet.viz._style import DPI, MIN_TEXT_PX, text_sizes_px
from sqsnet.viz.gradcam import predict_with_gradcam
from tests.helpers import tiny_model_config
from tests.viz.conftest import assert_png


def _batch(model: SQSNet, faces: list[Image.Image]) -> torch.Tensor:
    tf = build_eval_transform(model.cfg.img_size)
    return torch.stack([tf(f) for f in faces[:3]])


def _hook_count(layer: torch.nn.Module) -> int:
    return len(layer._forward_hooks) + len(layer._backward_hooks)


def _reference(model: SQSNet, x: torch.Tensor, branch: str,
               target_class: list[int] | None = None) -> np.ndarray:
    """pytorch-grad-cam's own GradCAM (what ``gradcam`` computed before it was fused)."""
    layer, reshape = model.gradcam_targets()[branch]
    targets = None if target_class is None else [ClassifierOutputTarget(c) for c in target_class]
    with GradCAM(model=model, target_layers=[layer], reshape_transform=reshape) as cam, \
            torch.enable_grad():
        maps = cam(input_tensor=x, targets=targets)
    model.zero_grad(set_to_none=True)
    return np.clip(np.nan_to_num(maps.astype(np.float32)), 0, 1)


@pytest.mark.parametrize("branch", ["local", "global", "fused"])
def test_maps_equal_pytorch_grad_cam_on_a_tiny_model(
    tiny_model: SQSNet, faces: list[Image.Image], branch: str
) -> None:
    x = _batch(tiny_model, faces)
    assert np.abs(gradcam(tiny_model, x, branch) - _reference(tiny_model, x, branch)).max() < 1e-5
    chosen = gradcam(tiny_model, x, branch, target_class=[2, 0, 1])
    assert np.abs(chosen - _reference(tiny_model, x, branch, [2, 0, 1])).max() < 1e-5


def test_maps_and_logits_of_the_bundled_model_from_one_pass() -> None:
    """Nine example faces, every branch: the maps are pytorch-grad-cam's, the logits are
    ``model(x)``'s, the model runs once, and no parameter gradient is left behind."""
    model = load_model("default")
    tf = build_eval_transform(model.cfg.img_size, crop_pct=model.cfg.crop_pct)
    crops = [load_image(e.path) for e in load_examples().faces[::3]]
    x = torch.stack([tf(c) for c in crops])
    with torch.no_grad():
        expected = model(x)
    for branch in available_branches(model):
        calls: list[int] = []
        handle = model.register_forward_hook(lambda m, i, o, seen=calls: seen.append(1))
        try:
            logits, maps = predict_with_gradcam(model, x, branch)
        finally:
            handle.remove()
        assert len(calls) == 1  # one forward pass gives both
        assert torch.allclose(logits, expected, atol=1e-5) and not logits.requires_grad
        assert np.abs(maps - _reference(model, x, branch)).max() < 1e-5, branch
        assert maps.shape == (len(crops), model.cfg.img_size, model.cfg.img_size)
    assert all(p.grad is None for p in model.parameters())
    assert torch.is_grad_enabled()  # the hook switched autograd on mid-pass, and back
    with torch.no_grad():
        predict_with_gradcam(model, x[:1], "fused")
        assert not torch.is_grad_enabled()  # the hook's switch does not leak
    assert torch.is_grad_enabled()


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


def test_a_target_layer_the_forward_pass_never_calls_is_named(
    faces: list[Image.Image], monkeypatch: pytest.MonkeyPatch
) -> None:
    model = SQSNet(tiny_model_config()).eval()
    monkeypatch.setattr(model, "gradcam_targets", lambda: {"fused": (torch.nn.Identity(), None)})
    with pytest.raises(ValueError, match="Identity.*not called"):
        gradcam(model, _batch(model, faces), "fused")
    assert torch.is_grad_enabled()


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
    fig = plot_gradcam(tiny_model, faces[:2], true_labels=[0, 1], flat=["global"])
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 2 * 4  # input + local, global, fused per row
    bars = [ax for ax in fig.axes if hasattr(ax, "_colorbar")]
    assert len(bars) == 1 and "Grad-CAM" in bars[0].get_ylabel()
    assert "flat branch" in panels[2].get_title() and "flat" not in panels[1].get_title()
    assert fig.dpi == DPI and min(text_sizes_px(fig)) >= MIN_TEXT_PX
    assert_png(save_figure(fig, tmp_path / "gradcam.png"))
