"""Figures of one quad's SQS maps: every map with its colour bar, and the contrast alone.

* :func:`plot_quad_maps`: the four faces, then one row per feature map (the fused map SQS
  trains on, and the CNN branch's map before fusion when the model has one) with ``S_AP``,
  ``S_AN1``, ``S_AN2``, ``R``, the hinge and the contrast ``S_AP - max(S_AN1, S_AN2)``
  over the anchor, each with its own colour bar.
* :func:`plot_contrast`: the four faces and the contrast of both feature maps side by side,
  the figure to read first: blue where the hinge is still active (contrast below the margin
  ``m``), red where that location is done.

Colours follow :mod:`sqsnet.viz.scales` (``scale="absolute"``: each map's full range, the
same for every quad; ``scale="own"``: each map's own range, stated on its colour bar).
Figures are drawn at 100 dpi and at most 9 in wide with no text under 11 px as shown
(:mod:`sqsnet.viz._style`). Each map is one value per grid location (6 x 6 for the 48 px
default model), upsampled bilinearly for display: read it region by region.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure, SubFigure
from PIL import Image

from sqsnet.viz._images import resize_map
from sqsnet.viz._style import SMALL_PT, new_figure, styled
from sqsnet.viz.scales import MAP_TITLES, ColourScale, check_scale, map_scale
from sqsnet.viz.similarity import MAP_KEYS, ROLES, QuadMaps

__all__ = ["BRANCH_TITLES", "draw_map", "plot_contrast", "plot_quad_maps", "scale_of"]

BRANCH_TITLES: dict[str, str] = {
    "fused": "fused map F (what SQS trains on)",
    "local": "CNN branch before fusion",
}
"""Titles of the two feature maps."""

ROW_LABELS: dict[str, str] = {"fused": "fused map F", "local": "CNN, pre-fusion"}


def scale_of(maps: QuadMaps, key: str, scale: str = "absolute") -> ColourScale:
    """The colour scale of one of a quad's maps (:func:`sqsnet.viz.scales.map_scale`)."""
    p = maps.params
    return map_scale(key, getattr(maps, key), scale, maps.margin,
                     float(p.get("alpha", 1.0)), float(p.get("beta", 0.5)))


def _blank(ax: Any) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


def draw_map(
    host: Figure | SubFigure,
    ax: Any,
    background: Image.Image,
    values: np.ndarray,
    colours: ColourScale,
    title: str,
    orientation: str = "horizontal",
) -> None:
    """Draw one grid map over a face, with its own colour bar.

    Args:
        host: The figure or subfigure that holds ``ax`` (the colour bar goes there).
        ax: The axes.
        background: The face (drawn in grey under the map).
        values: ``H x W`` map (upsampled bilinearly to the face).
        colours: Its :class:`~sqsnet.viz.scales.ColourScale`.
        title: Panel title.
        orientation: Colour bar ``"horizontal"`` (under the map) or ``"vertical"``.
    """
    w, h = background.size
    extent = (-0.5, w - 0.5, h - 0.5, -0.5)
    ax.imshow(background.convert("L"), cmap="gray", extent=extent)
    shown = ax.imshow(resize_map(values, (w, h)), cmap=colours.cmap, norm=colours.norm(),
                      alpha=0.65, extent=extent)
    ax.set_title(title)
    _blank(ax)
    ticks = [colours.vmin, colours.vmax]
    if colours.centre is not None:
        ticks.insert(1, colours.centre)
    bar = host.colorbar(shown, ax=ax, orientation=orientation, ticks=ticks,
                        shrink=0.9, pad=0.02, aspect=14)
    bar.set_label(colours.label, fontsize=SMALL_PT)
    bar.ax.tick_params(labelsize=SMALL_PT)
    labels = [f"{t:.2g}" for t in ticks]
    if orientation == "horizontal":
        bar.ax.set_xticklabels(labels)
    else:
        bar.ax.set_yticklabels(labels)


def _map_title(maps: QuadMaps, key: str) -> str:
    values = getattr(maps, key)
    if key == "contrast":
        below = int((values < maps.margin).sum())
        return f"{MAP_TITLES[key]}\n{below}/{values.size} below m"
    if key == "hinge":
        return f"hinge\nmean {float(values.mean()):.3f}"
    return f"{MAP_TITLES[key]}\nmean {float(values.mean()):.2f}"


def _faces_row(host: Figure | SubFigure, maps: QuadMaps, with_info: bool) -> None:
    axes = host.subplots(1, 5 if with_info else 4)
    images = _images(maps)
    labels = list(maps.labels) if maps.labels else [None] * 4
    for ax, img, role, label in zip(axes[:4], images, ROLES, labels):
        ax.imshow(img)
        ax.set_title(f"{role}\n{label}" if label else role)
        _blank(ax)
    if not with_info:
        return
    info = axes[4]
    info.axis("off")
    p = maps.params
    lines = [f"grid {maps.grid[0]} x {maps.grid[1]}", f"tau {p.get('tau', float('nan')):.3g}",
             f"alpha {p.get('alpha', float('nan')):.3g}  beta {p.get('beta', float('nan')):.3g}",
             f"margin m {maps.margin:.3g}", f"L_SQS {maps.loss:.4f}"]
    if maps.local is not None:
        lines.append(f"CNN-map L_SQS {maps.local.loss:.4f}")
    if p.get("from_model") is False:
        lines.append("no SQS module in the\nmodel: fresh one")
    info.text(0.0, 0.5, "\n".join(lines), va="center", ha="left", fontsize=SMALL_PT,
              family="monospace", transform=info.transAxes)


def _images(maps: QuadMaps) -> list[Image.Image]:
    if maps.images:
        return list(maps.images)
    h, w = maps.grid
    return [Image.new("RGB", (w * 16, h * 16), (128, 128, 128))] * 4


def _rows(maps: QuadMaps, branches: Sequence[str] | None) -> list[QuadMaps]:
    wanted = list(branches) if branches is not None else ["fused", "local"]
    for b in wanted:
        if b not in BRANCH_TITLES:
            raise ValueError(f"unknown branch {b!r}: expected 'fused' or 'local'")
    rows = [maps] if "fused" in wanted else []
    if "local" in wanted and maps.local is not None:
        rows.append(maps.local)
    if not rows:
        raise ValueError("nothing to draw: this model has no CNN-branch maps")
    return rows


def _row_title(row: QuadMaps) -> str:
    return f"{ROW_LABELS[row.branch]}\n{row.params.get('channels', '?')} channels"


def plot_quad_maps(
    maps: QuadMaps,
    figsize: tuple[float, float] | None = None,
    scale: str = "absolute",
    branches: Sequence[str] | None = None,
) -> Figure:
    """Draw a quad and all its SQS maps, each with a colour bar.

    Top row: the four faces titled with their labels, and the SQS settings with
    ``L_SQS``. Then one row per feature map (fused; CNN branch before fusion when
    ``maps.local`` exists): ``S_AP``, ``S_AN1``, ``S_AN2``, ``R``, the hinge and the
    contrast, each over the anchor with its own colour bar.

    Args:
        maps: From :func:`~sqsnet.viz.compute_quad_maps`.
        figsize: Size in inches (default 9 wide, 100 dpi: 900 px as shown).
        scale: ``"absolute"`` (each map's full range) or ``"own"`` (each map's own
            range, stated on its colour bar); see :mod:`sqsnet.viz.scales`.
        branches: ``["fused"]``, ``["local"]`` or both (default: both when present).

    Returns:
        A :class:`matplotlib.figure.Figure` (not attached to pyplot; nothing is shown).

    Raises:
        ValueError: For an unknown scale or branch.
    """
    check_scale(scale)
    rows = _rows(maps, branches)
    with styled():
        fig = new_figure(*(figsize or (9.0, 2.0 + 2.45 * len(rows))))
        parts = fig.subfigures(1 + len(rows), 1, height_ratios=[2.0] + [2.45] * len(rows))
        _faces_row(parts[0], maps, with_info=True)
        anchor = _images(maps)[0]
        for sub, row in zip(parts[1:], rows):
            axes = sub.subplots(1, len(MAP_KEYS))
            for ax, key in zip(axes, MAP_KEYS):
                draw_map(sub, ax, anchor, getattr(row, key), scale_of(row, key, scale),
                         _map_title(row, key))
            axes[0].set_ylabel(_row_title(row))
    return fig


def plot_contrast(maps: QuadMaps, scale: str = "absolute",
                  figsize: tuple[float, float] | None = None) -> Figure:
    """The four faces and the contrast ``S_AP - max(S_AN1, S_AN2)`` of each feature map.

    The contrast is drawn over the anchor on a diverging scale centred on the margin ``m``:
    blue locations are below it (they add to ``L_SQS``), red ones above it. The fused map
    and, when the model has a CNN branch, that branch's map before fusion stand side by
    side, so one sees what the fusion does to locality.

    Args:
        maps: From :func:`~sqsnet.viz.compute_quad_maps`.
        scale: ``"absolute"`` (``m +- (1 + |m|)``, the same for every quad) or ``"own"``
            (as far as this map reaches from ``m``, stated on the colour bar).
        figsize: Size in inches (default ``(6.4, 5.0)``: 640 x 500 px as shown).

    Returns:
        A :class:`matplotlib.figure.Figure`.
    """
    check_scale(scale)
    rows = _rows(maps, None)
    with styled():
        fig = new_figure(*(figsize or (6.4, 5.0)))
        top, bottom = fig.subfigures(2, 1, height_ratios=[1.0, 2.3])
        _faces_row(top, maps, with_info=False)
        axes = np.atleast_1d(bottom.subplots(1, len(rows)))
        anchor = _images(maps)[0]
        for ax, row in zip(axes, rows):
            title = f"{BRANCH_TITLES[row.branch]}\n{_map_title(row, 'contrast')}"
            draw_map(bottom, ax, anchor, row.contrast, scale_of(row, "contrast", scale),
                     title, orientation="vertical")
        fig.suptitle(f"contrast S_AP - max(S_AN1, S_AN2); margin m = {maps.margin:g}")
    return fig
