"""The real-photo training augmentations: each changes images the way it claims, draws only
from the seeded generator, and is checked when a config is loaded."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import v2

from sqsnet.config import ConfigError, apply_overrides, config_from_dict, load_config
from sqsnet.data.photo_augment import (
    FER2013_BOX_SCALE,
    FER2013_BOX_SHIFT,
    ChannelTint,
    Downscale,
    FramingJitter,
    JpegRoundTrip,
    PhotoAugment,
)
from sqsnet.data.sampling import SeededItems
from sqsnet.data.transforms import build_train_transform


def _smooth_rgb(size: int = 64, seed: int = 0) -> torch.Tensor:
    """A smooth colour image ``[3, size, size]`` uint8 (bicubic-upsampled random blobs)."""
    blobs = np.random.default_rng(seed).integers(0, 256, (6, 6, 3), dtype=np.uint8)
    img = Image.fromarray(blobs).resize((size, size), Image.Resampling.BICUBIC)
    return torch.from_numpy(np.array(img)).permute(2, 0, 1).contiguous()


def _noise(size: int = 64, channels: int = 3, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (channels, size, size), generator=gen, dtype=torch.uint8)


def _high_freq(img: torch.Tensor) -> float:
    """Mean squared Laplacian: the image's high-frequency energy."""
    x = img.float()
    lap = 4 * x[..., 1:-1, 1:-1] - x[..., :-2, 1:-1] - x[..., 2:, 1:-1] - x[..., 1:-1, :-2] \
        - x[..., 1:-1, 2:]
    return float((lap ** 2).mean())


def _run(ops: list, img: torch.Tensor, seed: int = 0) -> torch.Tensor:
    torch.manual_seed(seed)
    return v2.Compose(ops)(img)


def test_jpeg_at_quality_10_leaves_8px_block_edges() -> None:
    img = _smooth_rgb(64)
    out = _run(PhotoAugment(jpeg=1.0, jpeg_quality=(10, 10)).photo_ops(), img).float()
    # steps between horizontally adjacent pixels: across the 8 px block borders vs inside
    step = (out[..., :, 1:] - out[..., :, :-1]).abs().mean(dim=(0, 1))  # [63]
    border = step[7::8].mean()
    inside = torch.cat([step[i::8] for i in range(7)]).mean()
    assert border > 1.5 * inside  # block artefacts
    assert (out - img.float()).abs().mean() > 1.0  # and a real change of the picture
    before = (img.float()[..., :, 1:] - img.float()[..., :, :-1]).abs().mean(dim=(0, 1))
    assert before[7::8].mean() < 1.2 * torch.cat([before[i::8] for i in range(7)]).mean()


def test_jpeg_keeps_shape_and_dtype_for_grey_and_colour() -> None:
    for img in (_noise(24, channels=1), _noise(24, channels=3)):
        out = _run([JpegRoundTrip(1.0, (50, 50))], img)
        assert out.shape == img.shape and out.dtype == torch.uint8
        assert not torch.equal(out, img)
    assert torch.equal(_run([JpegRoundTrip(0.0, (50, 50))], img), img)  # p = 0: untouched


def test_grayscale_gives_equal_channels_and_tint_colours_grey() -> None:
    colour = _smooth_rgb(32)
    grey = _run(PhotoAugment(grayscale=1.0).photo_ops(), colour)
    assert grey.shape == colour.shape
    assert torch.equal(grey[0], grey[1]) and torch.equal(grey[1], grey[2])
    assert not torch.equal(colour[0], colour[1])
    already_grey = colour[:1].expand(3, -1, -1).clone()  # a FER2013 face: left bit for bit
    assert torch.equal(_run(PhotoAugment(grayscale=1.0).photo_ops(), already_grey), already_grey)

    flat = torch.full((3, 16, 16), 100, dtype=torch.uint8)  # a grey source
    tinted = _run([ChannelTint(1.0, 0.2)], flat, seed=1)
    values = tinted[:, 0, 0].float()
    assert len(set(values.tolist())) > 1  # the channels differ: colour
    assert ((values >= 80) & (values <= 120)).all()  # gains within 1 +- 0.2
    assert torch.equal(tinted, tinted[:, :1, :1].expand_as(tinted))  # one gain per channel
    assert torch.equal(_run([ChannelTint(0.0, 0.2)], flat), flat)


def test_downscale_and_blur_remove_high_frequencies_and_keep_the_size() -> None:
    img = _noise(64)
    down = _run(PhotoAugment(downscale=1.0, downscale_factor=(0.25, 0.25)).photo_ops(), img)
    blur = _run(PhotoAugment(blur=1.0, blur_sigma=(1.5, 1.5)).photo_ops(), img)
    for out in (down, blur):
        assert out.shape == img.shape and out.dtype == torch.uint8
        assert _high_freq(out) < 0.1 * _high_freq(img)
    mild = _run([Downscale(1.0, (0.9, 0.9))], img)
    assert _high_freq(down) < _high_freq(mild) < _high_freq(img)  # smaller factor, less detail
    assert (down.float().mean() - img.float().mean()).abs() < 3  # brightness kept


def _coordinates(side: int = 48) -> torch.Tensor:
    """Channel 0 = column * 5, channel 1 = row * 5: each pixel says where it came from."""
    cols = torch.arange(side).view(1, side).expand(side, side)
    rows = torch.arange(side).view(side, 1).expand(side, side)
    return torch.stack([cols * 5, rows * 5, torch.zeros_like(cols)]).to(torch.uint8)


def test_box_jitter_frames_the_face_as_the_detector_does() -> None:
    side = 48
    img = _coordinates(side)
    jitter = FramingJitter(1.0, FER2013_BOX_SCALE, FER2013_BOX_SHIFT)
    torch.manual_seed(0)
    scales, dx, dy = [], [], []
    for _ in range(400):
        out = jitter(img)
        h, w = out.shape[-2:]
        assert h == w  # a square frame stays square
        scales.append(w / side)
        # which source pixel lands at the crop centre: the face centre's offset, frame sides
        cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
        src = out[:, int(cy), int(cx)].float() / 5.0
        dx.append((float(src[0]) - (side - 1) / 2.0) / side)
        dy.append((float(src[1]) - (side - 1) / 2.0) / side)
    scales_a, dx_a, dy_a = np.array(scales), np.array(dx), np.array(dy)
    lo, hi = FER2013_BOX_SCALE
    assert scales_a.min() >= lo - 1.0 / side and scales_a.max() <= hi + 1.0 / side
    assert abs(np.median(scales_a) - 1.0) < 0.05  # median crop = the FER2013 frame
    assert (scales_a < 0.9).mean() > 0.2 and (scales_a > 1.1).mean() > 0.2  # both ways
    limit = 2.5 * FER2013_BOX_SHIFT + 1.5 / side
    for offsets in (dx_a, dy_a):
        assert np.abs(offsets).max() <= limit
        assert 0.035 < offsets.std() < 0.075 and abs(offsets.mean()) < 0.012


def test_box_jitter_fills_outside_the_frame_by_mirroring() -> None:
    img = _coordinates(48)
    jitter = FramingJitter(1.0, (1.4, 1.4), 0.0)
    out = jitter(img)
    assert out.shape[-2:] == (67, 67)
    cols = [v // 5 for v in out[0, 33].tolist()]  # source column of each output pixel
    pad = cols.index(0)
    assert 5 <= pad <= 14 and cols.count(0) == 1  # 9.5 px outside the frame on each side
    # reflect: ... 2, 1, 0, 1, 2 ... at the border (no black or smeared fill)
    assert cols[:pad] == cols[pad + 1:2 * pad + 1][::-1]
    assert cols[pad:pad + 48] == list(range(48))


def test_off_by_default_the_pipeline_is_unchanged() -> None:
    img = Image.fromarray(np.random.default_rng(3).integers(0, 256, (48, 48), dtype=np.uint8))
    plain = build_train_transform(40)
    zeros = build_train_transform(40, grayscale=0.0, tint=0.0, blur=0.0, downscale=0.0,
                                  jpeg=0.0, box_jitter=0.0, jpeg_quality=[5, 9])
    assert [type(t) for t in plain.transforms] == [type(t) for t in zeros.transforms]
    outputs = []
    for tf in (plain, zeros):
        torch.manual_seed(7)
        random.seed(7)  # timm's RandomErasing draws from Python's generator
        outputs.append(tf(img))
    assert torch.equal(*outputs)
    assert PhotoAugment().framing_ops() == [] and PhotoAugment().photo_ops() == []


class _Faces:
    """A tiny map-style dataset of PIL faces through a transform."""

    def __init__(self, transform) -> None:
        rng = np.random.default_rng(0)
        self.images = [Image.fromarray(rng.integers(0, 256, (48, 48), dtype=np.uint8))
                       for _ in range(3)]
        self.targets = [0, 1, 2]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return self.transform(self.images[i]), self.targets[i]


ALL_ON = dict(grayscale=0.5, tint=0.8, blur=0.5, downscale=0.5, jpeg=0.8, box_jitter=1.0)


def test_augmentations_are_a_function_of_seed_epoch_and_index() -> None:
    items = SeededItems(_Faces(build_train_transform(48, **ALL_ON)), seed=5)
    first = [items[i][0] for i in range(3)]
    torch.manual_seed(123)  # the caller's RNG does not matter
    assert all(torch.equal(first[i], items[i][0]) for i in range(3))
    items.set_epoch(1)
    assert not any(torch.equal(first[i], items[i][0]) for i in range(3))
    items.set_epoch(0)
    assert torch.equal(first[2], items[2][0])
    other = SeededItems(_Faces(build_train_transform(48, **ALL_ON)), seed=6)
    assert not torch.equal(first[0], other[0][0])


@pytest.mark.parametrize("setting, message", [
    ("{jpeg: 1.5}", r"data\.train_transform\.jpeg=1\.5: expected a number in \[0, 1\]"),
    ("{jpeg_quality: [0, 50]}", (r"jpeg_quality=\[0, 50\]: expected two integers \[lo, hi\] "
                                 r"with lo <= hi, within \[1, 100\]")),
    ("{jpeg_quality: [30.5, 50]}", r"jpeg_quality=\[30\.5, 50\]: expected two integers"),
    ("{box_scale: [1.2, 0.9]}", (r"box_scale=\[1\.2, 0\.9\]: expected two numbers \[lo, hi\] "
                                 r"with lo <= hi, within \[0\.5, 1\.5\]")),
    ("{box_shift: 0.3}", r"box_shift=0\.3: expected a number in \[0, 0\.1\]"),
    ("{blur_sigma: 1.0}", r"blur_sigma=1\.0: expected two numbers"),
    ("{downscale_factor: [0, 0.5]}", (r"downscale_factor=\[0, 0\.5\]: expected two numbers "
                                      r"\[lo, hi\] with lo <= hi, within \(0, 1\]")),
    ("{tint: true}", r"tint=True: expected a number in \[0, 1\]"),
    ("{grayscale: -0.1}", r"grayscale=-0\.1: expected a number in \[0, 1\]"),
    ("{jpg: 0.5}", (r"data\.train_transform: unknown key 'jpg' \(expected one of .*jpeg, "
                    r"jpeg_quality")),
    ("{random_erasing: 0.5}", r"unknown key 'random_erasing'"),
])
def test_bad_settings_fail_at_load_in_one_line(setting: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        apply_overrides(load_config("cpu"), [f"data.train_transform={setting}"])
    assert "\n" not in str(info.value)


def test_good_settings_load_and_build() -> None:
    cfg = config_from_dict({"data": {"train_transform": {
        "scale": [0.8, 1.0], "rotation": 10, "color_jitter": 0.2, "jpeg_quality": [30, 95],
        "box_scale": [0.8, 1.25], "blur_sigma": [0.5, 1.0], "downscale_factor": [0.5, 1.0],
        **ALL_ON}}})
    tf = build_train_transform(40, **cfg.data.train_transform)
    torch.manual_seed(0)
    out = tf(Image.fromarray(np.zeros((48, 48), np.uint8)))
    assert out.shape == (3, 40, 40)
    one = build_train_transform(40, in_chans=1, **cfg.data.train_transform)  # grey models too
    assert one(Image.fromarray(np.zeros((48, 48), np.uint8))).shape == (1, 40, 40)
    with pytest.raises(ConfigError, match=r"training transform: data\.train_transform: "
                                          r"unknown key 'jpg'"):
        build_train_transform(40, jpg=0.5)


@pytest.mark.parametrize("make", [
    lambda: FramingJitter(1.0, (0.4, 1.0), 0.05),
    lambda: FramingJitter(1.0, (0.9, 1.1), 0.2),
    lambda: ChannelTint(1.0, 1.0),
    lambda: Downscale(1.0, (0.0, 0.5)),
])
def test_the_modules_refuse_values_out_of_range(make) -> None:
    with pytest.raises(ValueError, match="must be"):
        make()
