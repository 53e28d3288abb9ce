"""Does a branch's output vary from face to face? If not, its Grad-CAM map is meaningless.

A branch whose output barely changes over faces tells the classifier nothing about the face
(the bundled model's Swin branch collapsed in training: its spread is 0.0034 against the
CNN's 0.375 over FERPlus Valid; RESULTS.md), and its Grad-CAM map then shows nothing about
the face either. :func:`branch_spread` measures each branch's spread over a set of faces
with :class:`sqsnet.diagnostics.BranchRecorder`; :func:`flat_branches` names the branches
whose spread is under :data:`FLAT_SPREAD_RATIO` of the largest; :func:`spread_note` says so
in one sentence; ``plot_gradcam(..., flat=...)`` marks their columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from sqsnet.diagnostics import BranchRecorder
from sqsnet.viz._images import ImageLike, prepare_batch

__all__ = ["FLAT_SPREAD_RATIO", "branch_spread", "flat_branches", "spread_note"]

FLAT_SPREAD_RATIO: float = 0.05
"""A branch whose spread over faces is under this share of the largest branch's is flat."""

_BRANCH_ATTRS = {"local": "local_branch", "global": "global_branch"}
_ORDER = ("local", "global")


def branch_spread(model: Any, images: Sequence[ImageLike]) -> dict[str, float]:
    """Each branch's output spread over a set of faces.

    Args:
        model: An :class:`~sqsnet.models.SQSNet` (run in eval mode; its mode is restored).
        images: At least two faces, in any :data:`~sqsnet.viz._images.ImageLike` form.

    Returns:
        ``{"local" | "global": spread}`` for the branches present: the standard deviation
        over the images of every output channel at every location, averaged
        (:attr:`sqsnet.diagnostics.BranchStats.std_over_images`).

    Raises:
        ValueError: For fewer than two images.
    """
    if len(images) < 2:
        raise ValueError("branch_spread needs at least two images")
    x = prepare_batch(model, list(images))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), BranchRecorder(model) as recorder:
            model(x)
    finally:
        model.train(was_training)
    stats = recorder.stats()
    return {key: stats[attr].std_over_images for key, attr in _BRANCH_ATTRS.items()
            if attr in stats}


def flat_branches(spread: dict[str, float], ratio: float = FLAT_SPREAD_RATIO) -> list[str]:
    """Branches whose spread is under ``ratio`` times the largest.

    Args:
        spread: From :func:`branch_spread`.
        ratio: Share of the largest spread below which a branch counts as flat.

    Returns:
        Branch names (``local`` before ``global``); none when every spread is 0.
    """
    top = max(spread.values(), default=0.0)
    return [b for b in _ORDER if b in spread and spread[b] < ratio * top]


def spread_note(spread: dict[str, float], ratio: float = FLAT_SPREAD_RATIO) -> str:
    """One sentence on the spreads, naming the flat branches (for notebooks and apps)."""
    values = ", ".join(f"{b} {spread[b]:.4g}" for b in _ORDER if b in spread)
    flat = flat_branches(spread, ratio)
    if not flat:
        return (f"Branch output spread over these faces: {values}; no branch is flat, so "
                "every Grad-CAM map below is about the face.")
    top = max(spread.values())
    parts = [f"the {b} branch's output barely varies over faces ({spread[b]:.4g}, "
             f"{spread[b] / top:.1%} of the largest spread)" for b in flat]
    return (f"Branch output spread over these faces: {values}. Note: {'; '.join(parts)}: "
            "its Grad-CAM map is not about the face and should not be read.")
