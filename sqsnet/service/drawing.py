"""Images as the page shows them: sizes, resizing and figures rendered to pictures."""

from __future__ import annotations

import io

from matplotlib.figure import Figure
from PIL import Image

__all__ = ["DISPLAY_SIDE", "FACE_CROP_SIDE", "figure_to_image", "fit", "fit_within"]

FACE_CROP_SIDE = 224
"""Side of the face crops and overlays shown in the page."""
DISPLAY_SIDE = 1024
"""Longest side of a photo shown in the page."""


def fit(image: Image.Image, side: int) -> Image.Image:
    """A copy resized so that its longer side is ``side`` (aspect ratio kept).

    Args:
        image: Any PIL image.
        side: Target length of the longer side in pixels.

    Returns:
        A new image (a plain copy when the size already fits).
    """
    w, h = image.size
    scale = side / max(w, h)
    if abs(scale - 1.0) < 1e-6:
        return image.copy()
    resample = Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BICUBIC
    return image.resize((max(1, round(w * scale)), max(1, round(h * scale))), resample)


def fit_within(image: Image.Image, side: int = DISPLAY_SIDE) -> Image.Image:
    """``image`` downscaled to at most ``side`` on its longer side (never upscaled)."""
    return fit(image, side) if max(image.size) > side else image


def figure_to_image(fig: Figure, dpi: int = 110) -> Image.Image:
    """Render a matplotlib figure (made without pyplot) to an RGB image.

    Args:
        fig: The figure.
        dpi: Resolution of the rendering.

    Returns:
        The rendered figure, cropped to its content.
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    buf.seek(0)
    return Image.open(buf).convert("RGB")
