"""Figures drawn at the size they are shown (internal).

A notebook shows a figure's PNG at one CSS pixel per figure pixel when the output area is
at least as wide as the figure, and the PNG has ``fig.dpi`` pixels per inch. So a figure of
``w x h`` inches made at :data:`DPI` (100) is shown ``100 w x 100 h`` pixels, and a font of
``s`` points is ``s * DPI / 72`` pixels tall. :data:`STYLE` sets every font to at least
:data:`SMALL_PT` (8.5 pt = 11.8 px at 100 dpi), so no text is under :data:`MIN_TEXT_PX`
(11 px). The figures here are at most :data:`MAX_WIDTH_IN` (9 in = 900 px) wide, which fits
a notebook's output area on a 1366 px desktop (JupyterLab, Colab) without being scaled down.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import matplotlib
from matplotlib.figure import Figure
from matplotlib.text import Text

__all__ = ["DPI", "MAX_WIDTH_IN", "MIN_TEXT_PX", "SMALL_PT", "TITLE_PT", "STYLE",
           "styled", "new_figure", "text_sizes_px"]

DPI: int = 100
"""Pixels per inch of every figure made here (and of the PNGs the atlas writes)."""

MIN_TEXT_PX: float = 11.0
"""Smallest text height, in pixels as shown, that a figure may have."""

SMALL_PT: float = 8.5
"""Size of the smallest text (tick labels, colour-bar labels, notes): 11.8 px at 100 dpi."""

TITLE_PT: float = 10.0
"""Size of panel titles: 13.9 px at 100 dpi."""

MAX_WIDTH_IN: float = 9.0
"""Widest figure drawn here, in inches (900 px at :data:`DPI`)."""

STYLE: dict[str, object] = {
    "font.size": 9.0,
    "axes.titlesize": TITLE_PT,
    "axes.labelsize": 9.0,
    "xtick.labelsize": SMALL_PT,
    "ytick.labelsize": SMALL_PT,
    "legend.fontsize": SMALL_PT,
    "figure.titlesize": 11.0,
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
}
"""Matplotlib settings applied while a figure here is built."""


@contextmanager
def styled() -> Iterator[None]:
    """Apply :data:`STYLE` while building a figure (the global settings are restored)."""
    with matplotlib.rc_context(STYLE):
        yield


def new_figure(width: float, height: float) -> Figure:
    """A constrained-layout figure of ``width x height`` inches at :data:`DPI`.

    Build it inside :func:`styled` so its text gets the sizes of :data:`STYLE`.
    """
    return Figure(figsize=(min(width, MAX_WIDTH_IN), height), dpi=DPI, layout="constrained")


def text_sizes_px(fig: Figure) -> list[float]:
    """Height in pixels, as shown at ``fig.dpi``, of every visible non-empty text."""
    sizes = []
    for text in fig.findobj(Text):
        if text.get_visible() and text.get_text().strip():
            sizes.append(float(text.get_fontsize()) * fig.dpi / 72.0)
    return sizes
