"""Fixed face regions on aligned 48 px faces, and how much of a map falls in them.

The paper's argument is spatial: expressions live in the brows, the eyes and the mouth. To
measure "where" on a coarse feature grid without a landmark detector, the atlas uses two
fixed boxes on the aligned face, chosen on the mean face of FERPlus Valid (3,191 faces,
eyes at rows 15-20, mouth line at rows 36-37). Coordinates are pixels of the 48 x 48 face,
``(x0, y0, x1, y1)`` with ``x1``/``y1`` exclusive, origin top-left:

=============  ======================  ==========  ================
region         box (x0, y0, x1, y1)    pixels      share of face
=============  ======================  ==========  ================
``eyes_brows`` ``(6, 9, 42, 23)``      36 x 14     21.9 %
``mouth``      ``(13, 30, 35, 43)``    22 x 13     12.4 %
=============  ======================  ==========  ================

The boxes do not overlap; ``eyes_brows_and_mouth`` is their union (34.3 % of the face).
Faces of another size (RAF-DB's 100 px crops) use the same boxes scaled by ``side / 48``;
they fit any dataset whose faces are aligned and framed like FERPlus's, and only those.

**From pixels to grid cells.** The model sees the central ``crop_pct`` of each side of the
face (0.95 for the default), resized to its input, and its feature grid (6 x 6 for the
default) tiles that view evenly. Grid cell ``(i, j)`` therefore stands for the face pixels
``x in [o + j s, o + (j + 1) s)``, ``y in [o + i s, o + (i + 1) s)`` with
``o = 48 (1 - crop_pct) / 2`` and ``s = 48 crop_pct / W``; its weight in a region is the
fraction of that footprint inside the box (:func:`cell_weights`). A cell's receptive field
is larger than its footprint, so this localises the feature grid, not the pixels.

**Share of a map's mass.** For a non-negative ``H x W`` mass map ``m`` the share of region
``r`` is ``sum(w_r * m) / sum(m)`` (:func:`mass_share`); a uniform map gives
``mean(w_r)`` (:func:`uniform_share`), the share of the model's view the box covers.
"""

from __future__ import annotations

import numpy as np

__all__ = ["FACE_SIDE", "FACE_REGIONS", "REGIONS", "REGION_TITLES", "cell_weights",
           "mass_share", "uniform_share", "view_boxes"]

FACE_SIDE: int = 48
"""Side in pixels of the aligned faces the boxes are given on."""

FACE_REGIONS: dict[str, tuple[int, int, int, int]] = {
    "eyes_brows": (6, 9, 42, 23),
    "mouth": (13, 30, 35, 43),
}
"""The fixed boxes, ``(x0, y0, x1, y1)`` in pixels of the 48 px face (module docstring)."""

REGIONS: tuple[str, ...] = ("eyes_brows", "mouth", "eyes_brows_and_mouth")
"""Regions scored by the atlas: each box, and their union."""

REGION_TITLES: dict[str, str] = {"eyes_brows": "eyes and brows", "mouth": "mouth",
                                 "eyes_brows_and_mouth": "eyes, brows and mouth"}
"""Display names of :data:`REGIONS`."""


def _overlap(lo: np.ndarray, hi: np.ndarray, a: float, b: float) -> np.ndarray:
    """Length of each interval ``[lo, hi)`` inside ``[a, b)``."""
    return np.clip(np.minimum(hi, b) - np.maximum(lo, a), 0.0, None)


def cell_weights(grid: tuple[int, int], crop_pct: float = 1.0) -> dict[str, np.ndarray]:
    """Fraction of every grid cell's footprint inside each region.

    Args:
        grid: ``(H, W)`` of the feature grid.
        crop_pct: Side fraction of the face the model sees (``model.cfg.crop_pct``).

    Returns:
        :data:`REGIONS` -> ``H x W`` float64 weights in ``[0, 1]``.

    Raises:
        ValueError: For an empty grid or a ``crop_pct`` outside ``(0, 1]``.
    """
    h, w = int(grid[0]), int(grid[1])
    if h < 1 or w < 1:
        raise ValueError(f"grid must be at least 1 x 1, got {grid}")
    if not 0.0 < crop_pct <= 1.0:
        raise ValueError(f"crop_pct must be in (0, 1], got {crop_pct}")
    offset = FACE_SIDE * (1.0 - crop_pct) / 2.0
    out: dict[str, np.ndarray] = {}
    for name, (x0, y0, x1, y1) in FACE_REGIONS.items():
        sy, sx = FACE_SIDE * crop_pct / h, FACE_SIDE * crop_pct / w
        rows = offset + sy * np.arange(h)
        cols = offset + sx * np.arange(w)
        fy = _overlap(rows, rows + sy, y0, y1) / sy
        fx = _overlap(cols, cols + sx, x0, x1) / sx
        out[name] = np.outer(fy, fx)
    out["eyes_brows_and_mouth"] = out["eyes_brows"] + out["mouth"]  # disjoint boxes
    return out


def view_boxes(crop_pct: float = 1.0) -> dict[str, tuple[float, float, float, float]]:
    """The boxes in fractions of the model's view (``0 .. 1`` across what it sees).

    Args:
        crop_pct: Side fraction of the face the model sees.

    Returns:
        ``{"eyes_brows", "mouth"}`` -> ``(x0, y0, x1, y1)`` (may reach outside 0..1 when
        the crop cuts a box).
    """
    offset = FACE_SIDE * (1.0 - crop_pct) / 2.0
    side = FACE_SIDE * crop_pct
    return {name: tuple((v - offset) / side for v in box)  # type: ignore[misc]
            for name, box in FACE_REGIONS.items()}


def uniform_share(weights: np.ndarray) -> float:
    """The share of a region for a uniform map: the mean of its cell weights."""
    return float(np.mean(weights))


def mass_share(mass: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Share of a mass map inside a region, for one map or a stack of maps.

    Args:
        mass: ``... x H x W`` non-negative maps.
        weights: ``H x W`` region weights (:func:`cell_weights`).

    Returns:
        ``...`` shares in ``[0, 1]``; a map without mass (all zeros) gets the uniform share
        (no mass is not a localised mass).
    """
    mass = np.asarray(mass, dtype=np.float64)
    if np.any(mass < 0):
        raise ValueError("mass_share needs a non-negative mass map")
    total = mass.sum(axis=(-2, -1))
    inside = (mass * weights).sum(axis=(-2, -1))
    return np.where(total > 0, inside / np.where(total > 0, total, 1.0), uniform_share(weights))
