"""Small HTML pieces the browser draws at the size shown: probability bars, colour bars, and
figures shown at their natural width.

Plain HTML with the page's CSS (:data:`.components.CSS`), so they stay sharp at any width
(a phone or a desktop) and cost the server nothing to draw. A matplotlib figure has its text
drawn into its pixels, so :func:`figure_html` shows it at exactly its natural width (one
image pixel per CSS pixel, its text as tall as it was drawn, at least 11 px), scrolling
sideways inside its own box where the screen is narrower, never shrunk.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path

from sqsnet.service.explain import CAM_LEGEND, colormap_stops, ranked
from sqsnet.viz.scales import ColourScale

__all__ = ["FILE_ROUTE", "cam_legend_html", "contrast_legend_html", "faces_html", "figure_html",
           "probability_bars_html"]

FILE_ROUTE = "gradio_api/file="
"""How the page fetches a file of Gradio's cache folder (relative to the page's address)."""


def probability_bars_html(probabilities: Mapping[str, float], title: str) -> str:
    """Every class probability as a horizontal bar, most probable first.

    Args:
        probabilities: Class name -> probability (all classes).
        title: The chart's heading, e.g. ``"Face 1"``.

    Returns:
        HTML: a heading, then one row per class (name, bar, percentage); the top class is
        highlighted, and an ``aria-label`` reads the whole chart out.
    """
    rows = ranked(probabilities)
    spoken = ", ".join(f"{name} {p:.0%}" for name, p in rows)
    lines = [f'<div class="sqs-bars" role="img" aria-label="{html.escape(title)}: '
             f'{html.escape(spoken)}">',
             f'<div class="sqs-bars-title">{html.escape(title)}</div>']
    for k, (name, p) in enumerate(rows):
        top = " sqs-bar-top" if k == 0 else ""
        lines.append(
            f'<div class="sqs-bar{top}"><span class="sqs-bar-name">{html.escape(name)}</span>'
            f'<span class="sqs-bar-track"><span class="sqs-bar-fill" '
            f'style="width:{100 * p:.1f}%"></span></span>'
            f'<span class="sqs-bar-pct">{100 * p:.1f}%</span></div>')
    lines.append("</div>")
    return "\n".join(lines)


def cam_legend_html() -> str:
    """The Grad-CAM colour bar (low to high, in the overlays' colour map) and how to read it."""
    gradient = ", ".join(colormap_stops())
    return (
        '<div class="sqs-cam-legend">'
        '<div class="sqs-cam-scale"><span>low</span>'
        f'<span class="sqs-cam-bar" style="background: linear-gradient(to right, {gradient})">'
        '</span><span>high</span></div>'
        f'<p><b>Reading Grad-CAM.</b> {html.escape(CAM_LEGEND)}</p></div>'
    )



def figure_html(path: str | Path | None, size: tuple[int, int], alt: str,
                caption: str = "", text_px: float | None = None,
                elem_class: str = "sqs-figure") -> str:
    """A figure image shown at its natural width, scrolling sideways in its box if need be.

    Args:
        path: The image file, inside Gradio's cache folder (``None``: an empty string).
        size: Its ``(width, height)`` in pixels.
        alt: The alt text (what the figure shows, for screen readers).
        caption: Shown under the figure.
        text_px: Height of the figure's smallest text in image pixels (kept as
            ``data-text-px`` for tests that measure it as rendered).
        elem_class: CSS class of the ``<figure>``.

    Returns:
        HTML: ``<figure>`` with a scrolling box holding the ``<img>`` (``width`` and
        ``height`` its natural size) and the caption.
    """
    if path is None:
        return ""
    w, h = int(size[0]), int(size[1])
    data = f' data-text-px="{text_px:.2f}"' if text_px is not None else ""
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return (f'<figure class="{html.escape(elem_class)}"><div class="sqs-scroll">'
            f'<img src="{FILE_ROUTE}{html.escape(str(path))}" width="{w}" height="{h}" '
            f'alt="{html.escape(alt)}"{data}></div>{cap}</figure>')


def faces_html(faces: list[tuple[str, str]], side: int) -> str:
    """Face images with their captions, as many to a row as the screen's width allows.

    Args:
        faces: ``(path, caption)`` of each image (files inside Gradio's cache folder).
        side: Their natural side in pixels (they are shown at most this wide).

    Returns:
        HTML: a grid of ``<figure>``, each an ``<img>`` (its caption as alt text) and the
        caption in full under it.
    """
    items = "".join(
        f'<figure><img src="{FILE_ROUTE}{html.escape(path)}" width="{side}" height="{side}" '
        f'alt="{html.escape(caption)}"><figcaption>{html.escape(caption)}</figcaption></figure>'
        for path, caption in faces)
    return f'<div class="sqs-faces" style="--sqs-face-side: {int(side)}px">{items}</div>'


def contrast_legend_html(scale: ColourScale, margin: float) -> str:
    """The colour bar of a contrast map (low to high, white at the margin) and its reading.

    Args:
        scale: The map's :class:`~sqsnet.viz.scales.ColourScale` (diverging, centred on
            ``margin``: the gradient's middle is the centre, as in the overlay, whose two
            halves are stretched to ``vmin .. m`` and ``m .. vmax``).
        margin: The SQS margin ``m``.
    """
    gradient = ", ".join(colormap_stops(scale.cmap))
    spoken = (f"Colour bar from {scale.vmin:.2f} (blue) through m = {margin:g} (white) to "
              f"{scale.vmax:.2f} (red)")
    return (
        '<div class="sqs-cam-legend">'
        f'<div class="sqs-cam-scale"><span>{scale.vmin:.2f}</span>'
        f'<span class="sqs-cam-bar" role="img" aria-label="{html.escape(spoken)}" '
        f'style="background: linear-gradient(to right, {gradient})">'
        f'</span><span>{scale.vmax:.2f}</span></div>'
        f'<p>White (the bar\'s middle) = the margin m = {margin:g}; the colours span the '
        f'{html.escape(scale.label.split(",")[0])} of the contrast. <b>Red</b>: the '
        'face is closer to the positive than to both negatives by more than the margin; '
        '<b>blue</b>: less than the margin (or closer to a negative). The outlined square is '
        'the location with the largest contrast.</p></div>'
    )
