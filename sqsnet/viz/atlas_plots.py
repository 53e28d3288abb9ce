"""Figures of the SQS atlas (:mod:`sqsnet.viz.atlas`), drawn over the split's mean face.

* :func:`plot_atlas`: one panel per ordered class pair (rows: anchor class ``X``, columns:
  negative class ``Y``) with one view of the pair (:data:`ATLAS_VIEWS`: the mean contrast,
  its chance level, their difference ``D`` or ``D``'s lean, minus its face mean), one
  colour scale for all panels, the two face regions outlined, and each panel titled with
  its mouth score and p-value.
* :func:`plot_atlas_pair`: one pair in detail: mean contrast, chance contrast and the lean
  for each feature map (fused, CNN before fusion), each with its colour bar, and the
  region scores.

The mean contrast is centred on the margin ``m`` (white; blue below it, where the hinge is
active on average), the difference on 0 (red: closer to the positive than chance). The
maps are one value per grid location, upsampled bilinearly over the mean face.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from sqsnet.viz._images import resize_map
from sqsnet.viz._style import SMALL_PT, new_figure, styled
from sqsnet.viz.atlas import Atlas, PairResult
from sqsnet.viz.regions import view_boxes
from sqsnet.viz.scales import ColourScale

__all__ = ["ATLAS_VIEWS", "plot_atlas", "plot_atlas_pair", "pair_map"]

ATLAS_VIEWS: dict[str, str] = {
    "contrast": "mean contrast S_AP - max(S_AN)",
    "chance": "chance contrast (labels shuffled)",
    "discriminative": "mean minus chance contrast D",
    "lean": "D minus its face mean (where the labels help most)",
}
"""What an atlas panel can show: the mean contrast, its chance level, their difference
``D`` and ``D`` minus its mean over the face, whose region means are the ``excess``
scores (red: the labels raise the contrast there more than on the face on average)."""

_BRANCH_NAMES = {"fused": "fused map F", "local": "CNN branch before fusion"}
_REGION_COLOURS = {"eyes_brows": "#1b9e77", "mouth": "#d95f02"}


def pair_map(result: PairResult, branch: str, view: str) -> np.ndarray:
    """One ``H x W`` map of a measured pair: ``view`` of :data:`ATLAS_VIEWS`."""
    maps = result.maps[branch]
    if view == "contrast":
        return maps.mean_contrast
    if view == "chance":
        return maps.chance_contrast
    if view == "discriminative":
        return maps.mean_contrast - maps.chance_contrast
    if view == "lean":
        gain = maps.mean_contrast - maps.chance_contrast
        return gain - gain.mean()
    raise ValueError(f"unknown atlas view {view!r}: expected one of {', '.join(ATLAS_VIEWS)}")


def _scale(values: list[np.ndarray], view: str, margin: float) -> ColourScale:
    """One linear diverging scale for all panels.

    Centred on 0 for the difference (white = chance) and on the margin ``m`` for the
    contrasts, reaching as far as the values do on either side (so the side the values
    reach furthest uses its whole colour half; a map entirely below ``m``, the usual case,
    is drawn in blues).
    """
    centre = margin if view in ("contrast", "chance") else 0.0
    reach = max((float(np.max(np.abs(v - centre))) for v in values), default=0.0)
    reach = max(reach, 1e-6)
    label = {"discriminative": "minus chance; white = 0",
             "lean": "minus face mean; white = 0"}.get(view, f"contrast; white = m = {margin:g}")
    return ColourScale(centre - reach, centre + reach, "RdBu_r", label, centre=centre)


def _draw_face(ax: Any, atlas: Atlas, values: np.ndarray, colours: ColourScale) -> Any:
    """Mean face, the map over it and the region outlines; returns the map's image."""
    face = atlas.mean_face  # contrast-stretched: the mean of many faces is flat grey
    ax.imshow(face, cmap="gray", vmin=float(face.min()), vmax=float(face.max()),
              extent=(0, 1, 1, 0))
    side = face.shape[0]
    shown = ax.imshow(resize_map(values, (side, side)), cmap=colours.cmap,
                      norm=colours.norm(), alpha=0.55, extent=(0, 1, 1, 0))
    for name, (x0, y0, x1, y1) in view_boxes(atlas.crop_pct).items():
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, lw=1.0,
                               ec=_REGION_COLOURS.get(name, "k"), ls="--"))
    ax.set_xlim(0, 1)
    ax.set_ylim(1, 0)
    ax.set_xticks([])
    ax.set_yticks([])
    return shown


def _check_branch(atlas: Atlas, branch: str) -> None:
    if branch not in atlas.branches:
        raise ValueError(f"the atlas has no {branch!r} maps; it has {', '.join(atlas.branches)}")


def plot_atlas(atlas: Atlas, branch: str = "fused", view: str = "contrast",
               figsize: tuple[float, float] | None = None) -> Figure:
    """All ordered pairs of one feature map in one grid.

    Args:
        atlas: From :func:`~sqsnet.viz.atlas.compute_atlas`.
        branch: ``"fused"`` or ``"local"``.
        view: ``"contrast"``, ``"chance"`` or ``"discriminative"`` (:data:`ATLAS_VIEWS`).
        figsize: Inches (default: 9 wide, about 1 in per class; 100 dpi).

    Returns:
        A :class:`matplotlib.figure.Figure`; panels of pairs that are not measurable say so.
    """
    _check_branch(atlas, branch)
    k = len(atlas.classes)
    measured = [p for p in atlas.pairs if p.measurable]
    colours = _scale([pair_map(p, branch, view) for p in measured], view, atlas.margin)
    with styled():
        fig = new_figure(*(figsize or (9.0, 1.0 * k + 1.3)))
        axes = np.asarray(fig.subplots(k, k, squeeze=False))
        shown = None
        for i, x in enumerate(atlas.classes):
            for j, y in enumerate(atlas.classes):
                ax = axes[i, j]
                ax.set_xticks([])
                ax.set_yticks([])
                if j == 0:
                    ax.set_ylabel(x)
                if i == 0:
                    ax.set_title(y, fontsize=SMALL_PT + 0.5, pad=12)
                if i == j:
                    ax.axis("off")
                    continue
                result = atlas.pair(x, y)
                if not result.measurable:
                    ax.text(0.5, 0.5, "not\nmeasurable", ha="center", va="center",
                            fontsize=SMALL_PT, transform=ax.transAxes)
                    continue
                shown = _draw_face(ax, atlas, pair_map(result, branch, view), colours)
                ax.text(0.5, 1.0, _panel_note(result.maps[branch].scores["mouth"], view),
                        fontsize=SMALL_PT, ha="center", va="bottom", transform=ax.transAxes)
        if shown is not None:
            fig.colorbar(shown, ax=axes, shrink=0.6, label=colours.label, pad=0.01)
        note = ("mouth excess over the face mean and its p" if view in ("discriminative", "lean")
                else "mouth lift (share / uniform) and its p")
        fig.suptitle(f"SQS atlas, {_BRANCH_NAMES[branch]}: {ATLAS_VIEWS[view]}\n"
                     f"rows: anchor class, columns: negative class; over each panel: {note}",
                     fontsize=10)
    return fig


def _short(value: float, digits: int, sign: bool = False) -> str:
    """A number without its leading zero (``.005``, ``+.11``), to fit a small panel."""
    text = f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"
    return text.replace("0.", ".", 1) if abs(value) < 1 else text


def _panel_note(score: dict[str, float], view: str) -> str:
    if view in ("discriminative", "lean"):
        return f"{_short(score['excess'], 2, True)} p{_short(score['excess_p'], 3)}"
    return f"x{score['lift']:.2f} p{_short(score['p_value'], 3)}"


def _scores_text(result: PairResult, branch: str) -> str:
    maps = result.maps[branch]
    lines = [f"separation {maps.separation:+.3f}", f"  (p {maps.separation_p:.3f})", "",
             "D+ share / uniform (p)"]
    short = {"eyes_brows": "eyes+brows", "mouth": "mouth", "eyes_brows_and_mouth": "both"}
    for region, s in maps.scores.items():
        lines.append(f"{short[region]} {s['share']:.2f} / {s['uniform']:.2f} "
                     f"({s['p_value']:.3f})")
    lines += ["", "excess over face (p)"]
    for region, s in maps.scores.items():
        lines.append(f"{short[region]} {s['excess']:+.3f} ({s['excess_p']:.3f})")
    return "\n".join(lines)


def plot_atlas_pair(atlas: Atlas, anchor: str, negative: str,
                    figsize: tuple[float, float] | None = None) -> Figure:
    """One pair in detail: mean contrast, chance contrast and the lean, for each feature map.

    Mean and chance contrast share one scale (white at ``m``). The lean, their difference
    ``D`` minus its face mean (the face mean of ``D`` is the separation), has its own scale
    centred on 0: red where the labels raise the contrast more than on the face on average.
    Beside each row: the separation and the region scores with p-values.

    Args:
        atlas: From :func:`~sqsnet.viz.atlas.compute_atlas`.
        anchor: Anchor class ``X``.
        negative: Negative class ``Y``.
        figsize: Inches (default 8.4 wide, 2.9 per feature map; 100 dpi).

    Returns:
        A :class:`matplotlib.figure.Figure`.

    Raises:
        ValueError: When the pair is not measurable.
    """
    result = atlas.pair(anchor, negative)
    if not result.measurable:
        raise ValueError(f"pair ({anchor}, {negative}) is not measurable: {result.reason}")
    rows = [b for b in ("fused", "local") if b in result.maps]
    with styled():
        fig = new_figure(*(figsize or (8.4, 2.55 * len(rows) + 0.6)))
        axes = np.atleast_2d(fig.subplots(len(rows), 4, width_ratios=[1, 1, 1, 1.15]))
        for row, branch in zip(axes, rows):
            both = [pair_map(result, branch, v) for v in ("contrast", "chance")]
            scales = {"contrast": _scale(both, "contrast", atlas.margin),
                      "lean": _scale([pair_map(result, branch, "lean")], "lean", atlas.margin)}
            scales["chance"] = scales["contrast"]
            for ax, view in zip(row[:3], ("contrast", "chance", "lean")):
                colours = scales[view]
                shown = _draw_face(ax, atlas, pair_map(result, branch, view), colours)
                ax.set_title(_PAIR_TITLES[view])
                ticks = [colours.vmin, colours.centre, colours.vmax]
                bar = fig.colorbar(shown, ax=ax, orientation="horizontal", pad=0.02,
                                   ticks=ticks, aspect=14)
                bar.ax.set_xticklabels([f"{t:.2g}" for t in ticks])
                bar.ax.tick_params(labelsize=SMALL_PT)
            row[0].set_ylabel(_BRANCH_NAMES[branch].replace(" before", "\nbefore"))
            row[3].axis("off")
            row[3].text(0.0, 0.5, _scores_text(result, branch), fontsize=SMALL_PT,
                        va="center", ha="left", family="monospace",
                        transform=row[3].transAxes)
        fig.suptitle(f"anchor {anchor}, negatives {negative}: {result.quads} quads from "
                     f"{result.anchor_images} and {result.negative_images} images\n"
                     f"white = margin m = {atlas.margin:g} (contrasts), 0 (lean); "
                     "boxes: eyes and brows, mouth", fontsize=10)
    return fig


_PAIR_TITLES = {"contrast": "mean contrast", "chance": "chance contrast",
                "lean": "(mean - chance) - face mean"}
