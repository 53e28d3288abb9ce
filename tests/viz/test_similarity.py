"""SQS similarity maps: shapes, ranges, identities, loss, contrast, CNN-branch maps, overlays."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.text import Text
from PIL import Image

from sqsnet.data import build_eval_transform
from sqsnet.models import SQSNet, TrainBatch
from sqsnet.models.sqs import sqs_loss
from sqsnet.viz import (
    MAP_KEYS,
    QuadMaps,
    compute_quad_maps,
    overlay_heatmap,
    plot_quad_maps,
    save_figure,
)
from tests.helpers import tiny_model_config
from tests.viz.conftest import assert_png


def test_maps_shapes_ranges_and_loss(tiny_model: SQSNet, faces: list[Image.Image]) -> None:
    maps = compute_quad_maps(tiny_model, *faces, labels=["a", "a", "b", "b"])
    assert isinstance(maps, QuadMaps)
    h, w = tiny_model.grid_size
    for key in MAP_KEYS:
        arr = getattr(maps, key)
        assert arr.shape == (h, w) and np.isfinite(arr).all()
    for key in ("s_ap", "s_an1", "s_an2"):
        arr = getattr(maps, key)
        assert (arr > 0).all() and (arr <= 1 + 1e-6).all()
    assert (maps.hinge >= 0).all()
    assert maps.loss == pytest.approx(float(maps.hinge.mean()), abs=1e-6)
    expected = sqs_loss(*(torch.from_numpy(getattr(maps, k))[None]
                          for k in ("s_ap", "s_an1", "s_an2")), maps.margin)
    assert maps.loss == pytest.approx(float(expected), abs=1e-6)
    alpha, beta = maps.params["alpha"], maps.params["beta"]
    np.testing.assert_allclose(maps.r, alpha * maps.s_ap - beta * (maps.s_an1 + maps.s_an2),
                               atol=1e-6)
    assert maps.labels == ["a", "a", "b", "b"] and len(maps.images) == 4
    assert maps.params["from_model"] is True


def test_maps_equal_the_models_training_call(tiny_model: SQSNet,
                                             faces: list[Image.Image]) -> None:
    maps = compute_quad_maps(tiny_model, *faces)
    tf = build_eval_transform(tiny_model.cfg.img_size)
    x = [tf(f)[None] for f in faces]
    with torch.no_grad():
        out = tiny_model.forward_train(TrainBatch.from_quads(*x, torch.zeros(1, dtype=torch.long)))
    np.testing.assert_allclose(maps.s_ap, out.sqs.s_ap[0].numpy(), atol=1e-6)
    np.testing.assert_allclose(maps.r, out.sqs.r[0].numpy(), atol=1e-6)
    assert maps.loss == pytest.approx(float(out.losses["sqs"]), abs=1e-6)


def test_contrast_is_what_the_hinge_acts_on(tiny_model: SQSNet,
                                            faces: list[Image.Image]) -> None:
    maps = compute_quad_maps(tiny_model, *faces)
    np.testing.assert_allclose(maps.contrast, maps.s_ap - np.maximum(maps.s_an1, maps.s_an2))
    active = maps.contrast < maps.margin
    # a location adds to the hinge exactly where its contrast is below the margin
    assert np.array_equal(maps.hinge > 1e-7, active)
    assert (maps.contrast >= -1 - 1e-6).all() and (maps.contrast <= 1 + 1e-6).all()


def test_cnn_branch_maps_come_from_the_same_module_on_the_branch_output(
    tiny_model: SQSNet, faces: list[Image.Image]
) -> None:
    maps = compute_quad_maps(tiny_model, *faces, labels=["a", "a", "b", "b"])
    local = maps.local
    assert local is not None and local.branch == "local" and maps.branch == "fused"
    assert local.grid == maps.grid  # the fusion keeps the CNN grid
    assert local.params["channels"] == tiny_model.local_branch.out_channels
    assert maps.params["channels"] == tiny_model.cfg.fused_dim
    tf = build_eval_transform(tiny_model.cfg.img_size)
    x = torch.stack([tf(f) for f in faces])
    with torch.no_grad():
        feats = tiny_model.local_branch(x)
        ref = tiny_model.sqs(feats[0:1], feats[1:2], feats[2:3], feats[3:4])
    np.testing.assert_allclose(local.s_ap, ref.s_ap[0].numpy(), atol=1e-6)
    np.testing.assert_allclose(local.s_an2, ref.s_an2[0].numpy(), atol=1e-6)
    assert local.labels == ["a", "a", "b", "b"] and local.local is None
    assert not np.allclose(local.s_ap, maps.s_ap)  # a different feature map
    assert compute_quad_maps(tiny_model, *faces, local=False).local is None


def test_model_without_cnn_branch_has_no_local_maps(faces: list[Image.Image]) -> None:
    model = SQSNet(tiny_model_config(use_local=False)).eval()
    maps = compute_quad_maps(model, *faces)
    assert maps.local is None and maps.s_ap.shape == tuple(model.grid_size)


def test_upsampled_maps_have_the_image_size(tiny_model: SQSNet) -> None:
    rng = np.random.default_rng(1)
    imgs = [Image.fromarray(rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)) for _ in range(4)]
    maps = compute_quad_maps(tiny_model, *imgs)
    up = maps.upsampled(imgs[0].size)  # PIL order: (width 80, height 60)
    assert set(up) == set(MAP_KEYS)
    for key, arr in up.items():
        assert arr.shape == (60, 80), key
    for key in ("s_ap", "s_an1", "s_an2"):
        assert (up[key] > 0).all() and (up[key] <= 1 + 1e-6).all()
        assert up[key].min() >= getattr(maps, key).min() - 1e-6
    assert (up["hinge"] >= 0).all()
    assert maps.upsampled(32)["s_ap"].shape == (32, 32)


def test_identical_anchor_and_positive_give_full_similarity(
    tiny_model: SQSNet, faces: list[Image.Image]
) -> None:
    maps = compute_quad_maps(tiny_model, faces[0], faces[0], faces[1], faces[2])
    np.testing.assert_allclose(maps.s_ap, 1.0, atol=1e-5)
    # with S_AP = 1 each hinge term is relu(m + S_AN - 1) <= m
    assert (maps.hinge <= 2 * maps.margin + 1e-5).all()


def test_accepts_arrays_and_tensors(tiny_model: SQSNet, faces: list[Image.Image]) -> None:
    ref = compute_quad_maps(tiny_model, *faces)
    arrays = [np.asarray(f) for f in faces]
    tensors = [torch.from_numpy(np.array(f)).permute(2, 0, 1) for f in faces]  # uint8 CHW
    tf = build_eval_transform(tiny_model.cfg.img_size)
    normalised = [tf(f) for f in faces]
    for inputs in (arrays, tensors, normalised):
        maps = compute_quad_maps(tiny_model, *inputs)
        np.testing.assert_allclose(maps.s_ap, ref.s_ap, atol=1e-5)
        assert all(isinstance(im, Image.Image) and im.mode == "RGB" for im in maps.images)


def test_model_mode_is_restored(faces: list[Image.Image]) -> None:
    model = SQSNet(tiny_model_config()).train()
    compute_quad_maps(model, *faces)
    assert model.training


def test_model_without_sqs_uses_a_fresh_module(faces: list[Image.Image]) -> None:
    model = SQSNet(tiny_model_config(use_sqs=False)).eval()
    assert model.sqs is None
    maps = compute_quad_maps(model, *faces)
    assert maps.params["from_model"] is False
    assert maps.s_ap.shape == tuple(model.grid_size)
    assert (maps.s_ap > 0).all() and (maps.hinge >= 0).all()
    assert maps.local is not None and maps.local.params["from_model"] is False


def test_bad_labels_raise(tiny_model: SQSNet, faces: list[Image.Image]) -> None:
    with pytest.raises(ValueError, match="4 images"):
        compute_quad_maps(tiny_model, *faces, labels=["a", "b"])


def test_overlay_keeps_the_image_size() -> None:
    img = Image.new("L", (70, 50), 128)
    out = overlay_heatmap(img, np.linspace(0, 1, 12).reshape(3, 4))
    assert out.size == (70, 50) and out.mode == "RGB"
    same = overlay_heatmap(img, np.zeros((3, 4)), alpha=0.0)
    assert np.array_equal(np.asarray(same), np.asarray(img.convert("RGB")))
    with pytest.raises(ValueError):
        overlay_heatmap(img, np.zeros((3, 4)), alpha=2.0)


def test_overlay_with_a_centre_draws_it_in_the_middle_colour() -> None:
    img = Image.new("L", (8, 8), 0)
    # asymmetric range -1 .. 1 with the centre at 0.5: the centre gets the map's middle colour
    centred = overlay_heatmap(img, np.full((2, 2), 0.5), -1.0, 1.0, "RdBu_r", alpha=1.0,
                              centre=0.5)
    middle = overlay_heatmap(img, np.full((2, 2), 0.0), -1.0, 1.0, "RdBu_r", alpha=1.0)
    assert np.array_equal(np.asarray(centred), np.asarray(middle))
    low = np.asarray(overlay_heatmap(img, np.full((2, 2), -1.0), -1.0, 1.0, "RdBu_r",
                                     alpha=1.0, centre=0.5))
    high = np.asarray(overlay_heatmap(img, np.full((2, 2), 1.0), -1.0, 1.0, "RdBu_r",
                                      alpha=1.0, centre=0.5))
    assert low[0, 0, 2] > low[0, 0, 0] and high[0, 0, 0] > high[0, 0, 2]  # blue .. red


def test_plot_quad_maps_renders_png(tiny_model: SQSNet, faces: list[Image.Image],
                                    tmp_path) -> None:
    maps = compute_quad_maps(tiny_model, *faces, labels=["happy", "happy", "sad", "sad"])
    fig = plot_quad_maps(maps)
    texts = [t.get_text() for t in fig.findobj(Text)]
    assert any("L_SQS" in t for t in texts)
    path = save_figure(fig, tmp_path / "quad.png")
    assert_png(path)


def test_maps_cover_the_models_eval_crop(faces: list[Image.Image]) -> None:
    """With model.crop_pct < 1 the maps describe the central crop, and the images say so."""
    from sqsnet.viz import model_view

    torch.manual_seed(0)
    model = SQSNet(tiny_model_config()).eval()
    model.cfg.crop_pct = 0.5
    maps = compute_quad_maps(model, *faces)
    centre = [f.crop((12, 12, 36, 36)) for f in faces]  # the central half of each 48 px side
    assert [im.size for im in maps.images] == [(24, 24)] * 4
    assert np.array_equal(np.asarray(maps.images[0]), np.asarray(centre[0]))
    model.cfg.crop_pct = 1.0
    same = compute_quad_maps(model, *centre)
    for key in MAP_KEYS:
        np.testing.assert_allclose(getattr(maps, key), getattr(same, key), atol=1e-5)
    # a normalised model-sized tensor is already the model's view: not cropped again
    model.cfg.crop_pct = 0.5
    x = build_eval_transform(model.cfg.img_size)(faces[0])
    assert model_view(model, x).size == (model.cfg.img_size, model.cfg.img_size)
