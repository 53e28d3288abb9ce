"""Image conversions shared by the visualisation modules (internal).

Everything that draws works on PIL RGB images; everything that runs the model works on
normalised ``3 x S x S`` tensors made by the model's own eval transform
(:func:`sqsnet.data.transforms.build_eval_transform`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from sqsnet.data.transforms import (
    IMAGENET_DEFAULT_MEAN,
    IMAGENET_DEFAULT_STD,
    CenterCropFraction,
    model_eval_transform,
)

__all__ = ["ImageLike", "model_device", "model_view", "prepare_batch", "resize_map", "to_pil"]

ImageLike = Image.Image | np.ndarray | torch.Tensor
"""A PIL image, an ``H x W (x C)`` array (uint8, or float in [0, 1]) or a ``C x H x W``
tensor (uint8, float in [0, 1], or already normalised with the ImageNet mean/std)."""


def _is_normalised(t: torch.Tensor) -> bool:
    """A float tensor with values outside [0, 1] is the eval transform's output."""
    return t.is_floating_point() and t.numel() > 0 and (
        float(t.min()) < 0.0 or float(t.max()) > 1.0
    )


def _denormalise(t: torch.Tensor) -> torch.Tensor:
    c = t.shape[0]
    mean = torch.tensor(IMAGENET_DEFAULT_MEAN[:c] if c == 3 else [sum(IMAGENET_DEFAULT_MEAN) / 3])
    std = torch.tensor(IMAGENET_DEFAULT_STD[:c] if c == 3 else [sum(IMAGENET_DEFAULT_STD) / 3])
    return (t.float().cpu() * std.view(-1, 1, 1) + mean.view(-1, 1, 1)).clamp(0, 1)


def to_pil(image: ImageLike) -> Image.Image:
    """Convert an image to PIL RGB (for display).

    Args:
        image: See :data:`ImageLike`. Normalised tensors are de-normalised.

    Returns:
        PIL image in mode ``RGB``.

    Raises:
        TypeError: For an unsupported type.
        ValueError: For an array/tensor of unsupported shape.
    """
    if isinstance(image, Image.Image):
        return image.convert("RGB") if image.mode != "RGB" else image
    if isinstance(image, torch.Tensor):
        t = image.detach().cpu()
        if t.ndim == 4 and t.shape[0] == 1:
            t = t[0]
        if t.ndim != 3 or t.shape[0] not in (1, 3, 4):
            raise ValueError(f"expected a C x H x W image tensor, got shape {tuple(t.shape)}")
        t = t[:3]
        if _is_normalised(t):
            t = _denormalise(t)
        if t.is_floating_point():
            t = (t.clamp(0, 1) * 255).round()
        arr = t.to(torch.uint8).permute(1, 2, 0).numpy()
        return Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr).convert("RGB")
    if isinstance(image, np.ndarray):
        arr = image
        if arr.ndim == 3 and arr.shape[-1] == 1:
            arr = arr[..., 0]
        if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] not in (3, 4)):
            raise ValueError(f"expected an H x W or H x W x 3 image array, got {arr.shape}")
        if arr.dtype != np.uint8:
            arr = (np.clip(arr.astype(np.float64), 0, 1) * 255).round().astype(np.uint8)
        return Image.fromarray(arr).convert("RGB")
    raise TypeError(f"expected a PIL image, numpy array or tensor, got {type(image).__name__}")


def model_device(model: torch.nn.Module) -> torch.device:
    """Device of a model's first parameter (CPU for a model without parameters)."""
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


def model_view(model: Any, image: ImageLike) -> Image.Image:
    """The part of an image the model sees, for drawing maps over it.

    The eval transform keeps the central ``model.cfg.crop_pct`` of each side before
    resizing, so a heatmap from :func:`prepare_batch`'s batch covers that part, not the
    whole image. An already-normalised tensor of the model's size is its own view.

    Args:
        model: An :class:`~sqsnet.models.SQSNet` (``model.cfg.crop_pct``, default 1).
        image: See :data:`ImageLike`.

    Returns:
        PIL RGB image at the input's resolution, centre-cropped like the model's input.
    """
    pil = to_pil(image)
    size = int(model.cfg.img_size)
    if isinstance(image, torch.Tensor) and image.shape[-2:] == (size, size) \
            and _is_normalised(image):
        return pil
    return CenterCropFraction(float(getattr(model.cfg, "crop_pct", 1.0)))(pil)


def prepare_batch(model: Any, images: Sequence[ImageLike]) -> torch.Tensor:
    """Apply the model's eval transform to every image and stack them.

    Args:
        model: An :class:`~sqsnet.models.SQSNet` (``model.cfg.img_size``/``in_chans``).
        images: ``N`` images (see :data:`ImageLike`); a normalised tensor of the model's
            size is used as is.

    Returns:
        ``N x in_chans x S x S`` float tensor on the model's device.
    """
    size = int(model.cfg.img_size)
    in_chans = int(getattr(model.cfg, "in_chans", 3))
    transform = model_eval_transform(model.cfg)
    out = []
    for image in images:
        if (isinstance(image, torch.Tensor) and image.ndim == 3
                and tuple(image.shape) == (in_chans, size, size) and _is_normalised(image)):
            out.append(image.detach().float().cpu())
        else:
            out.append(transform(to_pil(image)))
    return torch.stack(out).to(model_device(model))


def resize_map(heatmap: np.ndarray | torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """Bilinearly resize a 2-D map.

    Args:
        heatmap: ``h x w`` map.
        size: Target ``(width, height)`` (PIL's ``Image.size`` order).

    Returns:
        ``height x width`` float32 array. Bilinear interpolation never leaves the range of
        the input values.
    """
    t = torch.as_tensor(np.asarray(heatmap, dtype=np.float32))
    if t.ndim != 2:
        raise ValueError(f"expected a 2-D map, got shape {tuple(t.shape)}")
    width, height = int(size[0]), int(size[1])
    if tuple(t.shape) == (height, width):
        return t.numpy().copy()
    out = F.interpolate(t[None, None], size=(height, width), mode="bilinear",
                        align_corners=False)
    return out[0, 0].numpy()
