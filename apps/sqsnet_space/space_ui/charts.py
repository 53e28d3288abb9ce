"""Small HTML charts the browser draws at the size shown: probability bars, a colour bar.

Plain HTML with the page's CSS (:data:`.components.CSS`), so they stay sharp at any width
(a phone or a desktop) and cost the server nothing to draw.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

from sqsnet.service.explain import CAM_LEGEND, colormap_stops, ranked

__all__ = ["cam_legend_html", "probability_bars_html"]


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
