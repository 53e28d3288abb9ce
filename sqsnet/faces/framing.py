"""How a face crop is framed around a detector box: the FER2013 training framing, or a margin.

The expression model learned from FER2013 faces, whose 48x48 frames are barely larger than
the face: the lab's detector (YuNet), run on upscaled training faces, returns a box about as
tall as the frame (median 1.03 of the frame side) and 0.82 of it wide, centred on the frame
(median offsets under 0.01 of the side) (``benchmarks/framing.py``; BENCHMARKS.md, "Face framing"). A crop of
1.5 times the box (the old ``margin=0.25``) shows the model a face smaller than any it
trained on. :data:`FER2013_FRAMING` cuts real photos the way FER2013 frames its faces, and
is the default of :class:`~sqsnet.faces.FaceDetector`; :meth:`FaceFraming.from_margin` gives
the old margin-style crops.

A framing maps a detector box to a square: side ``scale`` times the box's longer side,
centred on the box centre moved by ``(offset_x, offset_y)`` box sides. With an eye-levelling
rotation the offset is taken along the face's own axes (rotated with the face), so that
"below the box centre" means towards the chin.

Example::

    from sqsnet.faces import FER2013_FRAMING, frame_face

    crop = frame_face(photo, (120, 80, 262, 252), FER2013_FRAMING, crop_size=48)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .alignment import BORDERS, square_crop
from .images import MAX_IMAGE_PIXELS, ImageSource, load_image

__all__ = [
    "FaceFraming",
    "FER2013_FRAMING",
    "Box",
    "framing_square",
    "fit_framing",
    "frame_face",
]

Box = tuple[float, float, float, float]
"""A box ``(x0, y0, x1, y1)`` in pixels, ``x1``/``y1`` exclusive (floats allowed)."""

_MAX_SCALE = 9.0  # margin 4 (the old upper bound) gives scale 9
_MAX_OFFSET = 2.0


@dataclass(frozen=True)
class FaceFraming:
    """Where to cut a square face crop, relative to a detector box.

    Attributes:
        scale: Crop side as a multiple of the box's longer side (``1 + 2 * margin`` for a
            margin-style crop; ``0.97`` for FER2013).
        offset_x: Crop centre minus box centre, horizontally, in box longer sides
            (positive: towards the image's right, or the face's left side when aligned).
        offset_y: The same vertically (positive: down, towards the chin).
        name: A short label for tables and logs.

    Raises:
        ValueError: ``scale`` outside ``(0, 9]`` or an offset outside ``[-2, 2]``.
    """

    scale: float
    offset_x: float = 0.0
    offset_y: float = 0.0
    name: str = ""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.scale) and 0.0 < self.scale <= _MAX_SCALE):
            raise ValueError(f"FaceFraming.scale must be within (0, {_MAX_SCALE:g}], got {self.scale}")
        for key in ("offset_x", "offset_y"):
            value = getattr(self, key)
            if not (math.isfinite(value) and abs(value) <= _MAX_OFFSET):
                raise ValueError(f"FaceFraming.{key} must be within [-2, 2], got {value}")

    @classmethod
    def from_margin(cls, margin: float) -> FaceFraming:
        """The margin-style crop: centred on the box, ``margin`` box sides added on each side.

        Args:
            margin: Fraction of the box's longer side added on each side, in ``[0, 4]``
                (``0.25`` makes the crop 1.5 times the box).

        Returns:
            ``FaceFraming(1 + 2 * margin, 0, 0, name="margin <margin>")``.

        Raises:
            ValueError: ``margin`` outside ``[0, 4]``.
        """
        if not (math.isfinite(margin) and 0.0 <= margin <= 4.0):
            raise ValueError(f"margin must be within [0, 4], got {margin}")
        return cls(1.0 + 2.0 * float(margin), 0.0, 0.0, name=f"margin {float(margin):g}")

    @property
    def label(self) -> str:
        """``name``, else a description of the numbers."""
        if self.name:
            return self.name
        return f"scale {self.scale:g}, offset ({self.offset_x:g}, {self.offset_y:g})"


FER2013_FRAMING = FaceFraming(scale=0.97, offset_x=0.0, offset_y=0.0, name="fer2013")
"""The framing of FER2013's own faces as the lab's detector sees them: a square of 0.97 times
the box's longer side, centred on the box. Measured by ``benchmarks/framing.py`` on 500
FERPlus training faces upscaled to 192 px in 640x480 photos (median frame side / longer box
side 0.970, IQR 0.89-1.06; 0.965 with another seed; median centre offsets within 0.005 box
sides, so none is applied).
The default framing of :class:`~sqsnet.faces.FaceDetector`."""


def _box_geometry(box: Box) -> tuple[float, float, float]:
    x0, y0, x1, y1 = (float(v) for v in box)
    width, height = x1 - x0, y1 - y0
    if not (width > 0 and height > 0 and all(map(math.isfinite, (x0, y0, x1, y1)))):
        raise ValueError(f"a face box needs x0 < x1 and y0 < y1 (finite), got {tuple(box)}")
    return (x0 + x1) / 2.0, (y0 + y1) / 2.0, max(width, height)


def framing_square(box: Box, framing: FaceFraming, angle: float = 0.0) -> tuple[float, float, float]:
    """The square a framing cuts around a box.

    Args:
        box: Detector box ``(x0, y0, x1, y1)`` in image pixels (not clipped to the image).
        framing: The framing.
        angle: Degrees the crop is rotated counter-clockwise to level the eyes (the eye
            line's tilt, :func:`~sqsnet.faces.alignment.eye_angle`); the offset turns with
            the face.

    Returns:
        ``(cx, cy, side)``: the square's centre in image pixels and its side.

    Raises:
        ValueError: ``box`` is empty or not finite.
    """
    cx, cy, longer = _box_geometry(box)
    dx, dy = framing.offset_x * longer, framing.offset_y * longer
    theta = math.radians(angle)
    cos, sin = math.cos(theta), math.sin(theta)
    # The face's right/down axes in the image are the image axes turned by the eye tilt.
    return cx + dx * cos - dy * sin, cy + dx * sin + dy * cos, framing.scale * longer


def fit_framing(box: Box, frame: Box) -> FaceFraming:
    """The framing that turns ``box`` into the square ``frame`` (the inverse of
    :func:`framing_square` without rotation): how a known face frame sits on its box.

    Args:
        box: Detector box ``(x0, y0, x1, y1)``.
        frame: The face's known square frame ``(x0, y0, x1, y1)`` (e.g. where a 48x48
            FER2013 face was pasted); its side is the mean of its width and height.

    Returns:
        The fitted :class:`FaceFraming`.

    Raises:
        ValueError: An empty box or frame, or a frame so far from the box that the fit is
            out of :class:`FaceFraming`'s range.
    """
    cx, cy, longer = _box_geometry(box)
    fx, fy, _ = _box_geometry(frame)
    side = ((frame[2] - frame[0]) + (frame[3] - frame[1])) / 2.0
    return FaceFraming(side / longer, (fx - cx) / longer, (fy - cy) / longer)


def frame_face(
    image: ImageSource,
    box: Box,
    framing: FaceFraming = FER2013_FRAMING,
    *,
    angle: float = 0.0,
    crop_size: int | None = None,
    border: str = "replicate",
    name: str | None = None,
    max_pixels: int | None = MAX_IMAGE_PIXELS,
) -> Image.Image:
    """Cut the square crop a framing gives around a face box.

    Parts of the square outside the image are filled like :class:`~sqsnet.faces.FaceDetector`
    fills them (``border``), so a face at the edge still gives a full square.

    Args:
        image: Anything :func:`~sqsnet.faces.load_image` accepts.
        box: Face box ``(x0, y0, x1, y1)`` in image pixels.
        framing: The framing (default :data:`FER2013_FRAMING`).
        angle: Rotate the crop counter-clockwise by this many degrees about its centre
            (to level the eyes).
        crop_size: Side of the returned crop; ``None`` keeps the native resolution (capped
            at :data:`~sqsnet.faces.MAX_CROP_SIDE`).
        border: ``"replicate"`` (edge pixels) or ``"constant"`` (black).
        name: Name for the input in error messages.
        max_pixels: Passed to :func:`~sqsnet.faces.load_image`.

    Returns:
        The crop, an RGB PIL image of ``crop_size`` (or native) pixels square.

    Raises:
        ValueError: An empty box or an unknown ``border``.
        ImageLoadError: ``image`` cannot be read as an image.
    """
    if border not in BORDERS:
        raise ValueError(f"border must be one of {sorted(BORDERS)}, got {border!r}")
    rgb = np.asarray(load_image(image, name=name, max_pixels=max_pixels))
    cx, cy, side = framing_square(box, framing, angle)
    return square_crop(rgb, (cx, cy), side, angle, crop_size, BORDERS[border])
