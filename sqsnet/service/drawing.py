"""Images as the page shows them: sizes, resizing and figures rendered to pictures."""

from __future__ import annotations

import io

from matplotlib.figure import Figure
from matplotlib.text import Text
from PIL import Image

__all__ = ["DISPLAY_SIDE", "FACE_CROP_SIDE", "figure_text_px", "figure_to_image", "fit",
           "fit_within"]

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


def figure_to_image(fig: Figure, dpi: float | None = None) -> Image.Image:
    """Render a matplotlib figure (made without pyplot) to an RGB image.

    Args:
        fig: The figure.
        dpi: Resolution of the rendering (``None``: the figure's own, so that the image
            is as many pixels wide as the figure was drawn for, and its text as tall as
            :func:`figure_text_px` says).

    Returns:
        The rendered figure, cropped to its content.
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi or fig.dpi, bbox_inches="tight")
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def figure_text_px(fig: Figure, dpi: float | None = None) -> float:
    """Height in pixels of the smallest text of a figure rendered at ``dpi``.

    Args:
        fig: The figure.
        dpi: The rendering's resolution (``None``: the figure's own).

    Returns:
        The smallest visible text's font size in pixels of the rendered image (``inf``
        for a figure without text). Shown at ``w`` of its natural width ``W`` pixels, it
        is ``figure_text_px * w / W`` pixels tall on the screen.
    """
    sizes = [float(t.get_fontsize()) for t in fig.findobj(Text)
             if t.get_visible() and t.get_text().strip()]
    return min(sizes) * float(dpi or fig.dpi) / 72.0 if sizes else float("inf")
