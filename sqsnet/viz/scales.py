"""Colour scales of the SQS maps: one place that says which colours mean what.

Every map is drawn on one of two scales:

* ``"absolute"``: the range the map can take, the same for every quad, so two quads'
  figures compare directly: ``S_AP``, ``S_AN1``, ``S_AN2`` on ``0 .. 1``; ``R`` on
  ``+-max(|alpha|, 2|beta|)``; the hinge on ``0 .. 2(m + 1)``; the contrast on its whole
  range ``-1 .. 1`` with white at ``m`` (so the colours below and above the margin are
  stretched differently; the colour bar's ticks say where ``m`` is).
* ``"own"``: the map's own values, so structure inside one map shows even when it spans a
  small part of the full range (the usual case for a trained model's ``S_AP``); diverging
  maps stay centred (``R`` on 0, the contrast on ``m``) and reach as far as the values do
  on either side. The colour bar states the range it covers.

The contrast ``S_AP - max(S_AN1, S_AN2)`` is what the hinge acts on: a location adds to
``L_SQS`` exactly when its contrast is below the margin ``m``. Its scale is diverging and
centred on ``m`` on both scales: blue locations are below the margin (the hinge is active
there), red ones above it (that location is done), white ones at it. ``R`` is diverging and
centred on 0.

:func:`map_scale` returns a :class:`ColourScale`; the app and the notebooks can pass its
``vmin``, ``vmax`` and ``cmap`` to :func:`sqsnet.viz.overlay_heatmap`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.colors import Normalize, TwoSlopeNorm

__all__ = ["SCALES", "MAP_TITLES", "ColourScale", "map_scale", "check_scale"]

SCALES: tuple[str, ...] = ("absolute", "own")
"""The two colour scales (see the module docstring)."""

MAP_TITLES: dict[str, str] = {
    "s_ap": "S_AP",
    "s_an1": "S_AN1",
    "s_an2": "S_AN2",
    "r": "R",
    "hinge": "hinge",
    "contrast": "S_AP - max(S_AN)",
}
"""Display name of each map."""

_CMAPS = {"s_ap": "viridis", "s_an1": "viridis", "s_an2": "viridis", "r": "RdBu_r",
          "hinge": "magma", "contrast": "RdBu_r"}
_TINY = 1e-6


@dataclass(frozen=True)
class ColourScale:
    """How one map is coloured.

    Attributes:
        vmin: Value at the bottom of the colour map.
        vmax: Value at the top.
        cmap: Matplotlib colour map name.
        label: Colour-bar label: what the colours mean and which range they cover.
        centre: The value drawn white on a diverging scale (``None`` for sequential ones);
            below it the colours run ``vmin .. centre``, above it ``centre .. vmax``.
    """

    vmin: float
    vmax: float
    cmap: str
    label: str
    centre: float | None = None

    def norm(self) -> Normalize:
        """A matplotlib normaliser: ``vmin .. vmax``, with ``centre`` in the middle."""
        if self.centre is not None and self.vmin < self.centre < self.vmax:
            return TwoSlopeNorm(vcenter=self.centre, vmin=self.vmin, vmax=self.vmax)
        return Normalize(vmin=self.vmin, vmax=self.vmax)


def check_scale(scale: str) -> str:
    """Return ``scale`` if it is one of :data:`SCALES`, else raise one clear ``ValueError``."""
    if scale not in SCALES:
        raise ValueError(f"unknown colour scale {scale!r}: expected 'absolute' or 'own'")
    return scale


def _centred(values: np.ndarray, centre: float, half: float | None) -> tuple[float, float]:
    """``centre +- half``; ``half=None``: as far as the values reach from the centre."""
    if half is None:
        half = float(np.max(np.abs(values - centre))) if values.size else 0.0
    half = max(half, _TINY)
    return centre - half, centre + half


def map_scale(
    key: str,
    values: np.ndarray,
    scale: str = "absolute",
    margin: float = 0.5,
    alpha: float = 1.0,
    beta: float = 0.5,
) -> ColourScale:
    """The colour scale of one map.

    Args:
        key: ``"s_ap"``, ``"s_an1"``, ``"s_an2"``, ``"r"``, ``"hinge"`` or ``"contrast"``.
        values: The map (any shape); only ``"own"`` reads it.
        scale: ``"absolute"`` or ``"own"`` (module docstring).
        margin: The SQS margin ``m`` (contrast centre, hinge range).
        alpha: SQS ``alpha`` (range of ``R``).
        beta: SQS ``beta`` (range of ``R``).

    Returns:
        A :class:`ColourScale`.

    Raises:
        ValueError: For an unknown key or scale.
    """
    check_scale(scale)
    if key not in _CMAPS:
        raise ValueError(f"unknown map {key!r}: expected one of {', '.join(_CMAPS)}")
    v = np.asarray(values, dtype=np.float64)
    own = scale == "own"
    cmap = _CMAPS[key]
    if key == "contrast":
        lo, hi = _centred(v, margin, None) if own else (-1.0, 1.0)
        return ColourScale(lo, hi, cmap, f"{'own' if own else 'full'} range, white = m",
                           centre=margin)
    if key == "r":
        lo, hi = _centred(v, 0.0, None if own else max(abs(alpha), 2.0 * abs(beta)))
        return ColourScale(lo, hi, cmap, "own range" if own else "full range", centre=0.0)
    if key == "hinge":
        top = float(v.max()) if (own and v.size) else 2.0 * (margin + 1.0)
        return ColourScale(0.0, max(top, _TINY), cmap, "own range" if own else "full range")
    if own and v.size:
        lo, hi = float(v.min()), float(v.max())
        if hi - lo < _TINY:
            lo, hi = lo - _TINY, hi + _TINY
        return ColourScale(lo, hi, cmap, "own range")
    return ColourScale(0.0, 1.0, cmap, "full range 0-1")
