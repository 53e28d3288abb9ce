"""Train/eval transforms, the 5 TTA views and the Mixup/CutMix glue (the TTA prediction
over them is in tests/test_evaluate.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from sqsnet.data.transforms import (
    CenterCropFraction,
    MixupCutmix,
    build_eval_transform,
    build_train_transform,
    tta_views,
)
from sqsnet.models import hard_labels, smooth_targets


@pytest.mark.parametrize("image", [
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (48, 48), dtype=np.uint8)),  # L
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (90, 70, 3), dtype=np.uint8)),  # RGB
    torch.randint(0, 256, (1, 48, 48), dtype=torch.uint8),  # gray tensor
])
def test_transform_shapes(image) -> None:
    torch.manual_seed(0)
    for tf in (build_train_transform(64), build_eval_transform(64)):
        out = tf(image)
        assert type(out) is torch.Tensor and out.dtype == torch.float32
        assert out.shape == (3, 64, 64)
    if isinstance(image, Image.Image) and image.mode == "L":
        out = build_eval_transform(32)(image)
        assert torch.allclose(out[0] * 0.229 + 0.485, out[1] * 0.224 + 0.456, atol=1e-5)  # replicated gray
    one = build_train_transform(32, in_chans=1)(image)
    assert one.shape == (1, 32, 32)


def test_eval_transform_deterministic_train_random() -> None:
    img = Image.fromarray(np.random.default_rng(2).integers(0, 256, (48, 48, 3), dtype=np.uint8))
    ev = build_eval_transform(40)
    assert torch.equal(ev(img), ev(img))
    tr = build_train_transform(40)
    torch.manual_seed(0)
    assert not torch.equal(tr(img), tr(img))


def test_eval_crop_keeps_the_central_share_of_each_side() -> None:
    # a 40 x 40 image whose centre 38 x 38 (crop_pct 0.95) is white and whose 1-px border is black
    arr = np.zeros((40, 40), np.uint8)
    arr[1:39, 1:39] = 255
    img = Image.fromarray(arr)
    whole = build_eval_transform(38)(img)
    cropped = build_eval_transform(38, crop_pct=0.95)(img)
    white = (1.0 - 0.485) / 0.229
    assert torch.allclose(cropped[0], torch.full((38, 38), white), atol=1e-5)  # border gone
    assert whole[0, 0, 0] < 0 and whole[0, 19, 19] == pytest.approx(white, abs=1e-5)
    assert torch.equal(build_eval_transform(38, crop_pct=1.0)(img), whole)
    # non-square inputs lose the same share of each side
    tall = torch.zeros(1, 100, 60, dtype=torch.uint8)
    assert CenterCropFraction(0.9)(tall).shape == (1, 90, 54)
    assert CenterCropFraction(1.0)(tall) is tall


@pytest.mark.parametrize("bad", [0, 0.0, -0.5, 1.5, True, "0.9"])
def test_eval_crop_rejects_fractions_outside_0_1(bad) -> None:
    with pytest.raises(ValueError, match=r"crop_pct must be a number in \(0, 1\]"):
        build_eval_transform(48, crop_pct=bad)


def test_tta_views_deterministic() -> None:
    x = torch.randn(2, 3, 20, 20)
    v = tta_views(x)
    assert v.shape == (5, 2, 3, 20, 20)
    assert torch.equal(v, tta_views(x))
    assert torch.equal(v[0], x) and torch.equal(v[1], x.flip(-1))
    for i in range(5):
        for j in range(i + 1, 5):
            assert not torch.allclose(v[i], v[j])


def _fixed(mix: MixupCutmix, lam: float, cutmix: bool = False) -> None:
    mix.mixup._params_per_batch = lambda: (lam, cutmix)  # type: ignore[method-assign]


def _mix(mix: MixupCutmix, x: torch.Tensor, y: torch.Tensor):
    """Mix as the trainer does: the hard labels come with the batch."""
    return mix(x, y, hard_labels(y))


def test_mixup_dominant_labels_hand_made() -> None:
    x = torch.arange(4, dtype=torch.float32).view(4, 1, 1, 1).expand(4, 3, 2, 2).clone()
    y = torch.tensor([0, 1, 2, 3])
    mix = MixupCutmix(num_classes=4)
    _fixed(mix, 0.3)
    xm, soft, dom = _mix(mix, x, y)
    assert torch.equal(x[:, 0, 0, 0], torch.arange(4.0))  # input untouched
    assert torch.allclose(xm[:, 0, 0, 0], 0.3 * torch.arange(4.0) + 0.7 * torch.arange(3.0, -1, -1))
    assert dom.tolist() == [3, 2, 1, 0]  # lam < 0.5: the partner (B-1-i) dominates
    assert torch.allclose(soft[0], torch.tensor([0.3, 0.0, 0.0, 0.7]))
    _fixed(mix, 0.5)
    assert _mix(mix, x, y)[2].tolist() == [0, 1, 2, 3]  # lam >= 0.5: own label
    _fixed(mix, 0.8)
    _, soft, dom = _mix(mix, x, y)
    assert dom.tolist() == [0, 1, 2, 3]
    assert torch.allclose(soft.sum(1), torch.ones(4))


def test_mixup_targets_smoothed_by_the_loss_match_timm() -> None:
    """The mixer hands over unsmoothed mixtures; smoothed as the loss smooths every target,
    they are timm's smoothed mixup targets."""
    from timm.data.mixup import mixup_target

    y = torch.tensor([2, 0, 1, 1])
    mix = MixupCutmix(num_classes=3)
    _fixed(mix, 0.35)
    _, soft, _ = _mix(mix, torch.zeros(4, 3, 4, 4), y)
    assert torch.allclose(soft, mixup_target(y, 3, 0.35, 0.0))
    assert torch.allclose(smooth_targets(soft, 3, 0.1), mixup_target(y, 3, 0.35, 0.1))


def test_mixup_soft_targets_and_odd_batch() -> None:
    probs = torch.tensor([[0.6, 0.4, 0.0], [0.0, 0.2, 0.8], [1.0, 0.0, 0.0]])
    mix = MixupCutmix(num_classes=3)
    _fixed(mix, 0.25)
    x = torch.randn(3, 3, 4, 4)
    xm, soft, dom = _mix(mix, x, probs)
    # odd batch: samples 0 and 1 are partners, sample 2 stays unmixed
    assert torch.allclose(soft[0], 0.25 * probs[0] + 0.75 * probs[1])
    assert torch.allclose(soft[2], probs[2]) and torch.equal(xm[2], x[2])
    assert dom.tolist() == [2, 0, 0]  # argmax of the dominant sample's distribution


def test_mixup_dominant_label_is_the_batch_label_never_re_derived() -> None:
    """The dominant rule picks among the labels handed in, whatever the targets say."""
    mix = MixupCutmix(num_classes=3)
    _fixed(mix, 0.8)
    probs = torch.tensor([[0.6, 0.4, 0.0], [0.0, 0.2, 0.8]])
    _, _, dom = mix(torch.zeros(2, 3, 4, 4), probs, torch.tensor([1, 0]))
    assert dom.tolist() == [1, 0]
    with pytest.raises(ValueError, match="2 images but 2 targets and 3 labels"):
        mix(torch.zeros(2, 3, 4, 4), probs, torch.tensor([1, 0, 2]))


def test_mixup_cutmix_elem_mode_uses_per_sample_lam() -> None:
    torch.manual_seed(0)
    np.random.seed(0)
    mix = MixupCutmix(num_classes=5, mode="elem")
    y = torch.tensor([0, 1, 2, 3, 4, 0])
    _, soft, dom = _mix(mix, torch.randn(6, 3, 16, 16), y)
    lam = mix.last_lam
    assert lam is not None and lam.shape == (6,)
    partner = y.flip(0)
    assert torch.equal(dom, torch.where(lam >= 0.5, y, partner))
    assert torch.allclose(soft.sum(1), torch.ones(6))


def test_mixup_disabled_passes_through() -> None:
    mix = MixupCutmix(num_classes=3, mixup_alpha=0.0, cutmix_alpha=0.0)
    x = torch.randn(4, 3, 4, 4)
    xm, soft, dom = _mix(mix, x, torch.tensor([0, 1, 2, 0]))
    assert torch.equal(xm, x) and dom.tolist() == [0, 1, 2, 0]
    assert torch.equal(soft.argmax(1), dom)


def test_eval_transform_keeps_colour_unless_asked_for_grey() -> None:
    rgb = np.zeros((24, 24, 3), np.uint8)
    rgb[..., 0] = 200  # a red image
    colour = build_eval_transform(24)(Image.fromarray(rgb))
    grey = build_eval_transform(24, grayscale=True)(Image.fromarray(rgb))
    unnorm = lambda x: x * torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1) \
        + torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)  # noqa: E731
    assert unnorm(colour)[0].mean() > 0.7 and unnorm(colour)[1].mean() < 0.05  # colour kept
    g = unnorm(grey)
    assert torch.allclose(g[0], g[1], atol=1e-5) and torch.allclose(g[1], g[2], atol=1e-5)
    assert g[0].mean() == pytest.approx(0.299 * 200 / 255, abs=0.01)  # luminance
    gray_face = Image.fromarray(rgb[..., 0])  # already grey: unchanged by the option
    assert torch.allclose(build_eval_transform(24, grayscale=True)(gray_face),
                          build_eval_transform(24)(gray_face), atol=1e-6)
    assert build_eval_transform(24, in_chans=1, grayscale=True)(Image.fromarray(rgb)).shape \
        == (1, 24, 24)


def test_model_eval_transform_follows_the_model_settings() -> None:
    from sqsnet.config import ModelConfig
    from sqsnet.data import model_eval_transform

    rgb = np.zeros((40, 40, 3), np.uint8)
    rgb[..., 0] = 200
    rgb[:4] = 255  # a white band the 0.8 crop removes
    image = Image.fromarray(rgb)
    cfg = ModelConfig(img_size=24, crop_pct=0.8)
    assert torch.equal(model_eval_transform(cfg)(image),
                       build_eval_transform(24, crop_pct=0.8)(image))
    cfg.eval_grayscale = True
    grey = model_eval_transform(cfg)(image)
    assert torch.equal(grey, build_eval_transform(24, crop_pct=0.8, grayscale=True)(image))
    assert not torch.equal(grey, build_eval_transform(24, crop_pct=0.8)(image))
    cfg.in_chans = 1
    assert model_eval_transform(cfg)(image).shape == (1, 24, 24)
