"""Cut square, upright face crops: the eye-levelling rotation, the rotated square crop,
and the whole-image fallback.

:class:`Face` is one face with its crop. :func:`square_crop` cuts a square centred on a
point, rotated about it (``cv2.warpAffine``); :func:`eye_angle` is the tilt of the eye line
that the rotation undoes; :func:`whole_image_face` treats the centre square of an image as
the face (the fallback when no face is found, and right for inputs that already are crops).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image

from .images import MAX_IMAGE_PIXELS, ImageSource, load_image

__all__ = [
    "MAX_CROP_SIDE",
    "LANDMARK_NAMES",
    "BORDERS",
    "Face",
    "square_crop",
    "eye_angle",
    "whole_image_face",
]

MAX_CROP_SIDE: int = 1024
"""Largest side of a face crop when ``crop_size`` is ``None`` (native resolution)."""

LANDMARK_NAMES: tuple[str, ...] = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
"""Landmark keys, with left/right *as seen in the image* (``left_eye`` has the smaller x
for an upright face; it is the subject's right eye)."""

BORDERS: dict[str, int] = {"replicate": cv2.BORDER_REPLICATE, "constant": cv2.BORDER_CONSTANT}
"""Accepted ``border`` modes (how crop parts outside the image are filled) -> OpenCV flag."""


@dataclass


class Face:
    """One face found in an image.

    Attributes:
        box: ``(x0, y0, x1, y1)`` in pixels of the loaded (EXIF-upright) original image,
            clipped to it; ``x1``/``y1`` are exclusive.
        score: Detector confidence in ``[0, 1]`` (YuNet). The Haar backend has no
            confidence and reports ``1.0``; :func:`whole_image_face` reports ``0.0``.
        landmarks: Points in original-image pixels keyed by :data:`LANDMARK_NAMES`
            (``left_eye`` = the eye on the image's left), or ``None`` when the detector
            gives none (Haar, whole-image fallback).
        crop: The face as a square RGB PIL image cut around the box by the detector's
            framing (:mod:`sqsnet.faces.framing`), rotated so the eyes are level when
            aligned; out-of-image parts are filled by the detector's ``border`` mode.
        angle: Degrees the crop was rotated counter-clockwise to level the eyes (``0.0``
            when not aligned). Equal to the eye line's tilt in the original image.
        whole_image: ``True`` for the :func:`whole_image_face` fallback (not detected).
    """

    box: tuple[int, int, int, int]
    score: float
    landmarks: dict[str, tuple[float, float]] | None
    crop: Image.Image = field(repr=False)
    angle: float = 0.0
    whole_image: bool = False

    @property
    def width(self) -> int:
        """Box width in pixels."""
        return self.box[2] - self.box[0]

    @property
    def height(self) -> int:
        """Box height in pixels."""
        return self.box[3] - self.box[1]

    @property
    def area(self) -> int:
        """Box area in pixels."""
        return self.width * self.height

    @property
    def center(self) -> tuple[float, float]:
        """Box centre ``(x, y)``."""
        return ((self.box[0] + self.box[2]) / 2.0, (self.box[1] + self.box[3]) / 2.0)


def square_crop(
    rgb: np.ndarray,
    center: tuple[float, float],
    side: float,
    angle: float,
    out_size: int | None,
    border: int,
) -> Image.Image:
    """Cut a ``side`` x ``side`` square centred on ``center``, rotated by ``angle`` degrees
    counter-clockwise about it, resampled to ``out_size`` (native, capped, when ``None``)."""
    side = max(float(side), 1.0)
    native = max(1, int(round(side)))
    target = out_size if out_size is not None else min(native, MAX_CROP_SIDE)
    # Warp at native resolution when shrinking a lot, then area-resample (no aliasing).
    warp_size = target if target >= native / 2 else native
    scale = warp_size / side
    cx, cy = center
    matrix = cv2.getRotationMatrix2D((float(cx), float(cy)), float(angle), float(scale))
    matrix[0, 2] += warp_size / 2.0 - cx
    matrix[1, 2] += warp_size / 2.0 - cy
    crop = cv2.warpAffine(
        rgb,
        matrix,
        (warp_size, warp_size),
        flags=cv2.INTER_LINEAR if scale <= 1.0 else cv2.INTER_CUBIC,
        borderMode=border,
        borderValue=(0, 0, 0),
    )
    if warp_size != target:
        crop = cv2.resize(crop, (target, target), interpolation=cv2.INTER_AREA)
    return Image.fromarray(crop, "RGB")


def eye_angle(points: np.ndarray) -> float:
    """Tilt in degrees of the line from the image-left eye to the image-right eye."""
    (lx, ly), (rx, ry) = points[0], points[1]
    if lx > rx:  # detector order is image-left first for upright faces; be robust anyway
        (lx, ly), (rx, ry) = (rx, ry), (lx, ly)
    return math.degrees(math.atan2(ry - ly, rx - lx))


def whole_image_face(
    image: ImageSource,
    *,
    crop_size: int | None = None,
    name: str | None = None,
    max_pixels: int | None = MAX_IMAGE_PIXELS,
) -> Face:
    """Treat the whole image as one face: its centre square, without margin or alignment.

    The fallback when no face is found, and the right thing for inputs that already are
    face crops (FERPlus-style 48x48 images).

    Args:
        image: Anything :func:`load_image` accepts.
        crop_size: Side of the crop; ``None`` keeps the native resolution (capped at
            :data:`MAX_CROP_SIDE`).
        name: Name for the input in error messages.
        max_pixels: Passed to :func:`load_image`.

    Returns:
        A :class:`Face` with ``whole_image=True``, ``score=0.0`` and no landmarks.

    Raises:
        ImageLoadError: ``image`` cannot be read as an image.
    """
    im = load_image(image, name=name, max_pixels=max_pixels)
    width, height = im.size
    side = min(width, height)
    x0, y0 = (width - side) // 2, (height - side) // 2
    box = (x0, y0, x0 + side, y0 + side)
    target = crop_size if crop_size is not None else min(side, MAX_CROP_SIDE)
    crop = im.crop(box)
    if target != side:
        resample = Image.Resampling.LANCZOS if target < side else Image.Resampling.BICUBIC
        crop = crop.resize((target, target), resample)
    return Face(box=box, score=0.0, landmarks=None, crop=crop, angle=0.0, whole_image=True)

