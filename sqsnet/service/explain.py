"""How the Predict tab explains itself: ranked probabilities, the Grad-CAM colour scale,
flat maps and whole-image answers.

Plain data and sentences only; the page draws them (the bars and the colour bar are HTML,
drawn by the browser at the size shown).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib
import numpy as np

__all__ = [
    "CAM_CMAP",
    "CAM_LEGEND",
    "FLAT_SPREAD",
    "WHOLE_IMAGE_CAUTION",
    "cam_spread",
    "colormap_stops",
    "flat_note",
    "is_flat",
    "ranked",
]

CAM_CMAP = "jet"
"""The colour map of the Grad-CAM overlays (:func:`sqsnet.viz.gradcam_overlay`)."""
CAM_LEGEND = (
    "Red and yellow mark the parts of the face that pushed the model most towards its "
    "answer, blue the parts that pushed it least; each map is scaled to its own range, so "
    "compare places within one face, not colours between faces."
)
"""The one sentence on reading a Grad-CAM overlay."""
FLAT_SPREAD = 0.05
"""A Grad-CAM map whose values (0..1) spread less than this is called flat."""
WHOLE_IMAGE_CAUTION = (
    "**Caution:** no face was found, so this is the model's answer for the whole picture. "
    "It was trained on face crops and answers for any image, even a blank one: do not read "
    "this as the expression of anyone in it."
)
"""Shown with every whole-image answer."""


def ranked(probabilities: Mapping[str, float]) -> list[tuple[str, float]]:
    """All class probabilities, most probable first (ties in the model's class order)."""
    order = {name: i for i, name in enumerate(probabilities)}
    return sorted(probabilities.items(), key=lambda kv: (-kv[1], order[kv[0]]))


def cam_spread(cam: np.ndarray) -> float:
    """``max - min`` of a Grad-CAM map (``h x w`` in ``[0, 1]``)."""
    values = np.asarray(cam, dtype=np.float32)
    return float(values.max() - values.min()) if values.size else 0.0


def is_flat(cam: np.ndarray, threshold: float = FLAT_SPREAD) -> bool:
    """Whether a Grad-CAM map shows nothing: its values spread less than ``threshold``.

    pytorch-grad-cam scales each map to ``[0, 1]``; a map that stays (near) constant means
    the layer gave the predicted class no positive gradient anywhere on this face, e.g. a
    branch the trained model does not use.
    """
    return cam_spread(cam) < threshold


def flat_note(branch: str, faces: Sequence[int]) -> str:
    """The status note for faces whose ``branch`` map is flat (``""`` for none).

    Args:
        branch: The Grad-CAM branch shown.
        faces: The 1-based numbers of the faces with a flat map.
    """
    if not faces:
        return ""
    which = ("face " if len(faces) == 1 else "faces ") + ", ".join(str(i) for i in faces)
    return (f"The **{branch}** Grad-CAM map is flat for {which} (its values spread less than "
            f"{FLAT_SPREAD:.0%} of the scale): that layer did not push this prediction "
            "anywhere on the face, so the overlay shows nothing. Try **fused** or **local**.")


def colormap_stops(cmap: str = CAM_CMAP, n: int = 9) -> list[str]:
    """``n`` evenly spaced colours of a matplotlib colour map, low to high, as ``#rrggbb``."""
    colours = matplotlib.colormaps[cmap](np.linspace(0.0, 1.0, n))[:, :3]
    return ["#" + "".join(f"{round(c * 255):02x}" for c in rgb) for rgb in colours]
