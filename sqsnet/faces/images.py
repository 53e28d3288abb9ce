"""Read any image a user may hand the lab (path, bytes, PIL image, array) as upright 8-bit RGB.

:func:`load_image` applies the EXIF orientation; RGBA/LA/P (composited on white),
grayscale, CMYK and 16-bit images are converted; anything that is not a readable image, a
truncated file or an image over :data:`MAX_IMAGE_PIXELS` raises :class:`ImageLoadError`
naming the file.
"""

from __future__ import annotations

import io
import logging
import os
import warnings
from typing import Any, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from sqsnet.errors import SQSNetError

__all__ = [
    "MAX_IMAGE_PIXELS",
    "ImageSource",
    "ImageLoadError",
    "describe_source",
    "load_image",
]

logger = logging.getLogger(__name__)

MAX_IMAGE_PIXELS: int = 40_000_000
"""Largest image accepted by :func:`load_image` (width x height), 40 megapixels.

Checked from the file header before any pixel is decoded, so a decompression bomb (a small
file that declares a huge size) is refused without allocating memory. Pillow's own bomb
guard (about 179 megapixels) stays in force as well.
"""

ImageSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, Image.Image, np.ndarray]
"""Anything :func:`load_image` accepts."""


class ImageLoadError(SQSNetError, ValueError):
    """An input could not be read as an image (not an image, truncated, too large, ...).

    Attributes:
        source: A short description of the input (the file path, or e.g. ``<1234 bytes>``).
    """

    def __init__(self, source: str, message: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source


_EXPECTED = "expected an image file (PNG, JPEG, WebP, BMP, GIF or TIFF)"


def describe_source(source: Any, name: str | None) -> str:
    """How to name ``source`` in messages: ``name``, the path, or a short description
    such as ``<1234 bytes>`` or ``<array 48x48 uint8>``."""
    if name:
        return str(name)
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"<{len(source)} bytes>"
    if isinstance(source, Image.Image):
        filename = getattr(source, "filename", "")
        return str(filename) if filename else f"<PIL image {source.mode} {source.width}x{source.height}>"
    if isinstance(source, np.ndarray):
        return f"<array {'x'.join(map(str, source.shape))} {source.dtype}>"
    return f"<{type(source).__name__}>"


def _check_size(label: str, width: int, height: int, max_pixels: int | None) -> None:
    if width < 1 or height < 1:
        raise ImageLoadError(label, f"image has no pixels ({width}x{height}); {_EXPECTED}")
    if max_pixels is not None and width * height > max_pixels:
        raise ImageLoadError(
            label,
            f"image is too large: {width}x{height} = {width * height / 1e6:.1f} megapixels, "
            f"the limit is {max_pixels / 1e6:.1f} megapixels (refused as a possible "
            "decompression bomb; downscale the image first)",
        )


def _to_uint8(arr: np.ndarray, sixteen_bit: bool) -> np.ndarray:
    """Scale an integer or float array to uint8 (16-bit by 1/257, floats in [0,1] by 255)."""
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if np.issubdtype(arr.dtype, np.floating):
        arr = np.nan_to_num(arr.astype(np.float32), nan=0.0, posinf=255.0, neginf=0.0)
        if arr.size and float(arr.max()) <= 1.0:
            arr = arr * 255.0
        return np.clip(np.rint(arr), 0, 255).astype(np.uint8)
    if sixteen_bit or (arr.size and int(arr.max()) > 255):
        arr = np.clip(arr, 0, 65535).astype(np.float32) / 257.0
        return np.clip(np.rint(arr), 0, 255).astype(np.uint8)
    return np.clip(arr, 0, 255).astype(np.uint8)


def _to_rgb(im: Image.Image, label: str) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB (alpha composited on white)."""
    mode = im.mode
    if mode == "RGB":
        return im
    if mode.startswith("I;16") or mode == "I":
        gray = _to_uint8(np.asarray(im), sixteen_bit=mode.startswith("I;16"))
        return Image.fromarray(gray, "L").convert("RGB")
    if mode == "F":
        return Image.fromarray(_to_uint8(np.asarray(im), False), "L").convert("RGB")
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
    try:
        if has_alpha:
            rgba = im.convert("RGBA")
            canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            canvas.alpha_composite(rgba)
            return canvas.convert("RGB")
        return im.convert("RGB")  # L, 1, P, CMYK, YCbCr, HSV, ...
    except (ValueError, OSError) as exc:
        raise ImageLoadError(label, f"unsupported colour mode {mode!r} ({exc})") from exc


def _array_to_image(arr: np.ndarray, label: str) -> Image.Image:
    arr = np.asarray(arr)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise ImageLoadError(
            label,
            "expected an image array of shape HxW (gray), HxWx3 (RGB) or HxWx4 (RGBA), "
            f"got shape {arr.shape}",
        )
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_) or np.iscomplexobj(arr):
        raise ImageLoadError(label, f"expected a numeric image array, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(_to_uint8(arr, sixteen_bit=arr.dtype == np.uint16))
    mode = "L" if arr.ndim == 2 else ("RGB" if arr.shape[2] == 3 else "RGBA")
    return Image.fromarray(arr, mode)


def _open_and_load(fp: Any, label: str, max_pixels: int | None) -> Image.Image:
    """Open with Pillow, check the declared size, then decode fully (all errors typed)."""
    try:
        with warnings.catch_warnings():
            # Large-but-allowed images trip Pillow's warning; our own limit decides.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(fp)
    except FileNotFoundError as exc:
        raise ImageLoadError(label, "no such file") from exc
    except (IsADirectoryError, PermissionError) as exc:
        raise ImageLoadError(label, f"cannot read the file ({exc.strerror})") from exc
    except Image.DecompressionBombError as exc:
        raise ImageLoadError(
            label,
            f"image is too large (declared size refused as a possible decompression bomb: {exc})",
        ) from exc
    except UnidentifiedImageError as exc:
        raise ImageLoadError(label, f"not a readable image; {_EXPECTED}") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageLoadError(label, f"cannot be opened as an image ({exc}); {_EXPECTED}") from exc
    try:
        _check_size(label, im.width, im.height, max_pixels)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                im.load()
        except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
            raise ImageLoadError(
                label, f"image data is truncated or corrupt ({exc}); {_EXPECTED}"
            ) from exc
        return im
    except BaseException:
        im.close()
        raise


def _exif_transpose(im: Image.Image, label: str) -> Image.Image:
    try:
        out = ImageOps.exif_transpose(im)
    except Exception as exc:  # a broken EXIF block must not lose the image
        logger.warning("%s: ignoring unreadable EXIF orientation (%s)", label, exc)
        return im
    return im if out is None else out


def load_image(
    source: ImageSource,
    *,
    name: str | None = None,
    max_pixels: int | None = MAX_IMAGE_PIXELS,
) -> Image.Image:
    """Read an image from a path, bytes, a PIL image or an array as 8-bit RGB.

    The EXIF orientation tag is honoured (the returned image is upright as a viewer shows
    it). Modes are converted: RGBA/LA/P with transparency are composited on white,
    grayscale and CMYK become RGB, 16-bit images are scaled to 8 bits (``value / 257``).
    Multi-frame files (GIF, TIFF) give their first frame.

    Args:
        source: A file path (``str``/``Path``), the encoded file as ``bytes``, a PIL image,
            or a numpy array (``HxW``, ``HxWx1``, ``HxWx3`` RGB or ``HxWx4`` RGBA; ``uint8``,
            ``uint16`` (16-bit), ``bool``, or floats in ``[0, 1]`` or ``[0, 255]``).
        name: How to name the input in error messages (e.g. the original upload name when
            ``source`` is bytes). Defaults to the path or a short description.
        max_pixels: Refuse images with more pixels than this (checked before decoding).
            ``None`` disables this check (Pillow's own bomb limit still applies).

    Returns:
        A fully loaded ``RGB`` PIL image (a new object; the input is not modified).

    Raises:
        ImageLoadError: The input is not an image, is truncated or corrupt, is too large,
            or is an array of the wrong shape. The message names the input.
    """
    label = describe_source(source, name)
    if isinstance(source, Image.Image):
        im = source
        _check_size(label, im.width, im.height, max_pixels)
        try:
            im.load()
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise ImageLoadError(label, f"image data is truncated or corrupt ({exc})") from exc
        im = _exif_transpose(im, label)
        rgb = _to_rgb(im, label)
        return rgb.copy() if rgb is source else rgb
    if isinstance(source, np.ndarray):
        if source.ndim >= 2:
            _check_size(label, int(source.shape[1]), int(source.shape[0]), max_pixels)
        return _to_rgb(_array_to_image(source, label), label)
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise ImageLoadError(label, f"empty input; {_EXPECTED}")
        fp: Any = io.BytesIO(bytes(source))
    elif isinstance(source, (str, os.PathLike)):
        fp = os.fspath(source)
    else:
        raise ImageLoadError(
            label,
            "expected a path, bytes, a PIL image or a numpy array, "
            f"got {type(source).__name__}",
        )
    im = _open_and_load(fp, label, max_pixels)
    try:
        upright = _exif_transpose(im, label)
        rgb = _to_rgb(upright, label)
        if rgb is im:  # do not hand out the object that owns the file handle
            rgb = rgb.copy()
        return rgb
    finally:
        im.close()
