"""Training augmentations that make FER2013-style crops look like faces cut from real photos.

The lab trains on FER2013 / FERPlus: 48 px grey crops, framed by hand. ``sqsnet predict``
and the app see faces in people's photos: colour, of any resolution, often JPEG-compressed,
and framed by the detector (:data:`sqsnet.faces.FER2013_FRAMING`), whose box wanders around
the face from photo to photo. Each augmentation here simulates one of those differences and
is off unless its probability (a ``data.train_transform`` key) is above 0, so presets that do
not name them, and the bundled model, train exactly as before.

* ``box_jitter`` (parameters ``box_scale``, ``box_shift``): re-frames the crop, a window of
  ``s`` times the frame's side (``s`` log-uniform in ``box_scale``) around the frame centre
  moved by ``N(0, box_shift)`` frame sides per axis (clipped at 2.5 std); what lies outside
  the image is mirrored. Simulates the detector's box: on 500 upscaled FERPlus faces the
  framing it gives (frame side / box side) has median 0.97, 10th-90th percentile 0.80-1.17
  and centre offsets of std 0.052 / 0.059 frame sides, so a crop of 0.97 box sides spans
  0.83-1.21 frame sides (``benchmarks/framing.py``).
* ``grayscale``: the luminance on every channel (:class:`ToGrey`). Simulates grey photos (a
  no-op on grey sources such as FER2013).
* ``tint`` (``tint_strength``): each channel times its own gain in ``1 +- tint_strength``.
  Simulates colour photos and white balance; on grey sources it is what makes them colour.
* ``blur`` (``blur_sigma``): Gaussian blur, sigma uniform in ``blur_sigma`` (output pixels).
  Simulates out-of-focus and moving faces.
* ``downscale`` (``downscale_factor``): down to a side fraction uniform in
  ``downscale_factor`` (antialiased), then back up (bilinear). Simulates small faces in large
  photos, upscaled to the model's input by the detector crop.
* ``jpeg`` (``jpeg_quality``): a JPEG round trip (Pillow) at an integer quality uniform in
  ``jpeg_quality``. Simulates compressed photos (8 px block artefacts, ringing, chroma loss).

Order inside :func:`sqsnet.data.transforms.build_train_transform`: ``box_jitter`` first (it
re-frames the source crop, before rotation and ``RandomResizedCrop``), the rest after the
resize to the model's input (``grayscale``, ``tint``, ``blur``, ``downscale``, ``jpeg``: the
order a photo's history has, capture then size then compression), all on ``uint8`` images.

Randomness: every draw is from torch's global generator, so
:class:`sqsnet.data.sampling.SeededItems` makes each item's augmentation a function of
``(seed, epoch, index)`` like the rest of the pipeline.

At evaluation nothing here runs; grey photos and colour photos go in as they are unless the
eval transform is asked to convert to grey (``build_eval_transform(grayscale=True)``).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image
from torchvision import tv_tensors
from torchvision.transforms import v2

__all__ = [
    "FER2013_BOX_SCALE",
    "FER2013_BOX_SHIFT",
    "ChannelTint",
    "Downscale",
    "FramingJitter",
    "JpegRoundTrip",
    "PhotoAugment",
    "ToGrey",
]

FER2013_BOX_SCALE: tuple[float, float] = (0.83, 1.21)
"""Crop side / FER2013 frame side, 10th-90th percentile, for crops of
:data:`~sqsnet.faces.FER2013_FRAMING` (0.97 box sides) over the measured frame side / box
side (p10 0.80, p90 1.17; ``benchmarks/results/framing_measure_*.json``: 0.97 / 1.17 and
0.97 / 0.80)."""

FER2013_BOX_SHIFT: float = 0.055
"""Std of the detector box centre's offset from the FER2013 frame centre, in frame sides
(measured 0.052 horizontally, 0.059 vertically)."""


class ToGrey(torch.nn.Module):
    """Turn a colour image ``[3, H, W]`` into its luminance on all three channels.

    An image whose channels are already equal (a grey face replicated to RGB) is returned
    as it is, so grey inputs come out bit for bit as without this step (torchvision's
    luminance weights sum to 0.9999 and would darken them by one level).
    """

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        """Args: img: ``[C, H, W]``. Returns: the same shape, channels equal when ``C == 3``."""
        if img.shape[-3] != 3 or (torch.equal(img[0], img[1]) and torch.equal(img[1], img[2])):
            return img
        return v2.functional.rgb_to_grayscale(img, num_output_channels=3)


def _uniform(low: float, high: float) -> float:
    """A float uniform in ``[low, high]`` from torch's global generator."""
    return float(torch.empty(()).uniform_(float(low), float(high)))


class FramingJitter(torch.nn.Module):
    """Re-frame a face crop the way the detector would frame it in a photo.

    A window of ``s`` times the image's sides (``log s`` uniform between the logs of
    ``scale``) is cut around the image centre moved by ``(dx, dy)`` image sides, each
    ``N(0, shift)`` clipped at 2.5 std. ``s > 1`` or a shift reaches outside the image; that
    border is filled by mirroring the image (``reflect``), a stand-in for the head and
    background a real photo has there. The output keeps the window's own size (the resize
    to the model's input follows).

    Args:
        p: Probability of re-framing an image.
        scale: ``(lo, hi)`` window side / image side, within ``[0.5, 1.5]``.
        shift: Std of the centre offset in image sides, within ``[0, 0.1]``.
    """

    def __init__(self, p: float = 1.0, scale: Sequence[float] = FER2013_BOX_SCALE,
                 shift: float = FER2013_BOX_SHIFT) -> None:
        super().__init__()
        lo, hi = (float(v) for v in scale)
        if not 0.5 <= lo <= hi <= 1.5:
            raise ValueError(f"box_scale must be [lo, hi] within [0.5, 1.5], got {list(scale)}")
        if not 0.0 <= shift <= 0.1:
            raise ValueError(f"box_shift must be within [0, 0.1], got {shift}")
        self.p, self.scale, self.shift = float(p), (lo, hi), float(shift)

    def window(self, height: int, width: int) -> tuple[int, int, int, int]:
        """Draw a window ``(top, left, h, w)`` in image pixels (may reach outside the image)."""
        s = math.exp(_uniform(math.log(self.scale[0]), math.log(self.scale[1])))
        limit = 2.5 * self.shift
        dx, dy = (torch.randn(2) * self.shift).clamp(-limit, limit).tolist()
        h, w = max(1, round(s * height)), max(1, round(s * width))
        top = round(height * (0.5 + dy) - h / 2.0)
        left = round(width * (0.5 + dx) - w / 2.0)
        return top, left, h, w

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        """Args: img: ``[C, H, W]``. Returns: ``[C, h, w]``, the re-framed crop (or ``img``)."""
        if self.p <= 0 or float(torch.rand(())) >= self.p:
            return img
        height, width = img.shape[-2:]
        top, left, h, w = self.window(height, width)
        pads = [max(0, -left), max(0, -top), max(0, left + w - width), max(0, top + h - height)]
        out = img
        if any(pads):
            out = v2.functional.pad(img.as_subclass(torch.Tensor), pads, padding_mode="reflect")
            top, left = top + pads[1], left + pads[0]
        out = out[..., top:top + h, left:left + w]
        return tv_tensors.wrap(out.contiguous(), like=img) if isinstance(img, tv_tensors.Image) \
            else out.contiguous()

    def extra_repr(self) -> str:
        return f"p={self.p}, scale={self.scale}, shift={self.shift}"


class ChannelTint(torch.nn.Module):
    """Multiply each channel of a ``uint8`` image by its own gain in ``1 +- strength``.

    Args:
        p: Probability of tinting an image.
        strength: Half-width of the gain range, in ``[0, 1)``.
    """

    def __init__(self, p: float = 1.0, strength: float = 0.15) -> None:
        super().__init__()
        if not 0.0 <= strength < 1.0:
            raise ValueError(f"tint_strength must be within [0, 1), got {strength}")
        self.p, self.strength = float(p), float(strength)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        """Args: img: ``[C, H, W]`` uint8. Returns: the same shape and dtype."""
        if self.p <= 0 or float(torch.rand(())) >= self.p:
            return img
        c = img.shape[-3]
        gains = 1.0 + (torch.rand(c) * 2.0 - 1.0) * self.strength
        out = (img.float() * gains.view(c, 1, 1)).round().clamp(0, 255).to(img.dtype)
        return tv_tensors.wrap(out, like=img) if isinstance(img, tv_tensors.Image) else out

    def extra_repr(self) -> str:
        return f"p={self.p}, strength={self.strength}"


class Downscale(torch.nn.Module):
    """Resize an image down to a random side fraction, then back up to its size.

    The downsizing is antialiased (what a photo of a small face holds); the way back is
    bilinear (what the detector crop's resize does).

    Args:
        p: Probability of downscaling an image.
        factor: ``(lo, hi)`` side fraction, within ``(0, 1]``.
    """

    def __init__(self, p: float = 1.0, factor: Sequence[float] = (0.25, 0.75)) -> None:
        super().__init__()
        lo, hi = (float(v) for v in factor)
        if not 0.0 < lo <= hi <= 1.0:
            raise ValueError(f"downscale_factor must be [lo, hi] within (0, 1], got {list(factor)}")
        self.p, self.factor = float(p), (lo, hi)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        """Args: img: ``[C, H, W]``. Returns: the same shape and dtype."""
        if self.p <= 0 or float(torch.rand(())) >= self.p:
            return img
        height, width = img.shape[-2:]
        f = _uniform(*self.factor)
        small = [max(1, round(height * f)), max(1, round(width * f))]
        down = v2.functional.resize(img, small, antialias=True)
        return v2.functional.resize(down, [height, width], antialias=False)

    def extra_repr(self) -> str:
        return f"p={self.p}, factor={self.factor}"


class JpegRoundTrip(torch.nn.Module):
    """Encode a ``uint8`` image as JPEG at a random quality and decode it again (Pillow).

    Args:
        p: Probability of compressing an image.
        quality: ``(lo, hi)`` integer JPEG quality, within ``[1, 100]`` (uniform, inclusive).
    """

    def __init__(self, p: float = 1.0, quality: Sequence[int] = (20, 90)) -> None:
        super().__init__()
        lo, hi = (int(v) for v in quality)
        if not 1 <= lo <= hi <= 100:
            raise ValueError(f"jpeg_quality must be [lo, hi] within [1, 100], got {list(quality)}")
        self.p, self.quality = float(p), (lo, hi)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        """Args: img: ``[C, H, W]`` uint8, ``C`` 1 or 3. Returns: the same shape and dtype."""
        if self.p <= 0 or float(torch.rand(())) >= self.p:
            return img
        quality = int(torch.randint(self.quality[0], self.quality[1] + 1, ()))
        arr = img.as_subclass(torch.Tensor).permute(1, 2, 0).numpy()
        pil = Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr)
        buffer = io.BytesIO()
        pil.save(buffer, format="JPEG", quality=quality)
        decoded = np.array(Image.open(io.BytesIO(buffer.getvalue())))
        out = torch.from_numpy(decoded.reshape(*decoded.shape[:2], -1)).permute(2, 0, 1)
        out = out.contiguous()
        return tv_tensors.wrap(out, like=img) if isinstance(img, tv_tensors.Image) else out

    def extra_repr(self) -> str:
        return f"p={self.p}, quality={self.quality}"


def _blur_kernel(sigma_max: float) -> int:
    """Odd Gaussian kernel side covering +-3 sigma."""
    return 2 * max(1, math.ceil(3.0 * sigma_max)) + 1


@dataclass(frozen=True)
class PhotoAugment:
    """The real-photo settings of ``data.train_transform`` (see the module docstring).

    Each ``<name>`` is the probability an image gets that augmentation (0: off); the other
    fields are its parameters. Values are checked by
    :func:`sqsnet.config_checks.check_train_transform` (``build_train_transform`` does).
    """

    grayscale: float = 0.0
    tint: float = 0.0
    tint_strength: float = 0.15
    blur: float = 0.0
    blur_sigma: tuple[float, float] = (0.3, 1.5)
    downscale: float = 0.0
    downscale_factor: tuple[float, float] = (0.25, 0.75)
    jpeg: float = 0.0
    jpeg_quality: tuple[int, int] = (20, 90)
    box_jitter: float = 0.0
    box_scale: tuple[float, float] = FER2013_BOX_SCALE
    box_shift: float = FER2013_BOX_SHIFT

    def framing_ops(self) -> list[Callable[[Any], Any]]:
        """Ops on the source crop, before rotation and ``RandomResizedCrop``."""
        if self.box_jitter <= 0:
            return []
        return [FramingJitter(self.box_jitter, self.box_scale, self.box_shift)]

    def photo_ops(self) -> list[Callable[[Any], Any]]:
        """Ops on the resized ``uint8`` image: grey, tint, blur, downscale, JPEG."""
        ops: list[Callable[[Any], Any]] = []
        if self.grayscale > 0:
            ops.append(v2.RandomApply([ToGrey()], p=self.grayscale))
        if self.tint > 0:
            ops.append(ChannelTint(self.tint, self.tint_strength))
        if self.blur > 0:
            blur = v2.GaussianBlur(_blur_kernel(self.blur_sigma[1]), sigma=tuple(self.blur_sigma))
            ops.append(v2.RandomApply([blur], p=self.blur))
        if self.downscale > 0:
            ops.append(Downscale(self.downscale, self.downscale_factor))
        if self.jpeg > 0:
            ops.append(JpegRoundTrip(self.jpeg, self.jpeg_quality))
        return ops
