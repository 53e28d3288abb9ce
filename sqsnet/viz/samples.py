"""Small helpers that let the notebooks and demos find faces to show.

* :func:`find_data_root`: a dataset folder from ``SQSNET_DATA`` or the lab's usual place
  (``<repo>/../shared/data``), or ``None``: notebooks then fall back to generated faces
  (re-exported from :mod:`sqsnet.data.root`, the one data-root lookup).
* :func:`class_indices` / :func:`subset_per_class`: pick images by class.
* :func:`synthetic_face`: a drawn cartoon face (no data needed; not a real expression
  sample, only something to run the pipeline on).
* :func:`read_model_card`: the Markdown card bundled beside a checkpoint, if any.
"""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from sqsnet.data.root import find_data_root

__all__ = [
    "class_indices",
    "find_data_root",
    "read_model_card",
    "subset_per_class",
    "synthetic_face",
]

_LOG = logging.getLogger(__name__)


def class_indices(dataset: Any) -> dict[str, list[int]]:
    """Indices of every class's images.

    Args:
        dataset: A reader with ``classes`` and ``targets`` (all sqsnet readers).

    Returns:
        ``{class name: [indices in dataset order]}`` for every class (possibly empty).
    """
    targets = np.asarray(dataset.targets, dtype=np.int64)
    return {name: np.flatnonzero(targets == k).tolist() for k, name in enumerate(dataset.classes)}


def subset_per_class(dataset: Any, per_class: int, seed: int = 0,
                     classes: Sequence[str] | None = None) -> Any:
    """A copy of a reader keeping at most ``per_class`` random images of each class.

    The copy keeps ``classes`` (the full class list, so class indices do not change),
    ``targets``, the transform and the label mode; the original is not modified.

    Args:
        dataset: An sqsnet reader (:class:`~sqsnet.data.FERDataset`).
        per_class: Images per class to keep.
        seed: Random seed of the pick.
        classes: Only these classes (default: all).

    Returns:
        The smaller reader.
    """
    rng = np.random.default_rng(seed)
    keep: list[int] = []
    for name, idx in class_indices(dataset).items():
        if classes is not None and name not in classes:
            continue
        if idx:
            keep += sorted(rng.choice(idx, size=min(per_class, len(idx)), replace=False).tolist())
    small = copy.copy(dataset)
    small._subset(sorted(keep))
    return small


_EXPRESSIONS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear",
                "contempt")


def synthetic_face(expression: str = "happiness", size: int = 96, seed: int = 0) -> Image.Image:
    """Draw a grayscale cartoon face (RGB image) with a rough expression.

    It is only a stand-in when no dataset is available: the model was not trained on
    drawings, so its predictions on these mean nothing.

    Args:
        expression: One of the canonical class names (unknown names draw ``neutral``).
        size: Side in pixels.
        seed: Seed of the small random jitter and noise.

    Returns:
        PIL ``RGB`` image ``size x size``.
    """
    rng = np.random.default_rng(seed + 7919 * (_EXPRESSIONS.index(expression)
                                               if expression in _EXPRESSIONS else 0))
    s = size / 96.0
    img = Image.new("L", (size, size), int(rng.integers(30, 70)))
    d = ImageDraw.Draw(img)
    j = lambda v: v * s + float(rng.normal(0, 1.0)) * s
    d.ellipse([j(16), j(8), j(80), j(92)], fill=int(rng.integers(150, 200)))
    eye_open = 7 if expression in ("surprise", "fear") else 4
    if expression == "happiness":
        eye_open = 3
    for cx in (36, 60):
        d.ellipse([j(cx - 5), j(40 - eye_open), j(cx + 5), j(40 + eye_open)], fill=40)
    # (outer end, inner end) offsets of the brows: anger pulls the inner ends down,
    # sadness raises them.
    brow = {"anger": (-3, 6), "sadness": (4, -4), "surprise": (-8, -8), "fear": (-5, -7),
            "disgust": (2, 3)}.get(expression, (0, 0))
    d.line([j(29), j(30 + brow[0]), j(43), j(30 + brow[1])], fill=50, width=max(1, int(3 * s)))
    d.line([j(53), j(30 + brow[1]), j(67), j(30 + brow[0])], fill=50, width=max(1, int(3 * s)))
    d.line([j(48), j(46), j(45), j(60), j(50), j(61)], fill=110, width=max(1, int(2 * s)))
    if expression == "happiness":
        d.chord([j(34), j(58), j(62), j(80)], 0, 180, fill=60)
    elif expression in ("surprise", "fear"):
        d.ellipse([j(42), j(66), j(54), j(82)], fill=40)
    elif expression in ("sadness", "disgust"):
        d.arc([j(36), j(70), j(60), j(86)], 200, 340, fill=50, width=max(1, int(3 * s)))
    elif expression == "contempt":
        d.line([j(38), j(74), j(50), j(74), j(60), j(68)], fill=50, width=max(1, int(3 * s)))
    elif expression == "anger":
        d.line([j(38), j(76), j(58), j(74)], fill=40, width=max(1, int(4 * s)))
    else:
        d.line([j(38), j(74), j(58), j(74)], fill=50, width=max(1, int(3 * s)))
    arr = np.asarray(img.filter(ImageFilter.GaussianBlur(0.8 * s)), dtype=np.float32)
    arr = np.clip(arr + rng.normal(0, 6, arr.shape), 0, 255).astype(np.uint8)
    return Image.fromarray(arr, "L").convert("RGB")


def read_model_card(checkpoint: str | os.PathLike[str] = "default") -> str | None:
    """The Markdown model card beside a checkpoint (``MODEL_CARD.md``), if present.

    Args:
        checkpoint: ``"default"`` (the bundled model), a ``.safetensors`` file or a run
            folder.

    Returns:
        The card's text, or ``None`` when there is none (or the checkpoint is missing).
    """
    from sqsnet.checkpoint import CheckpointError, resolve_checkpoint

    try:
        path = resolve_checkpoint(checkpoint)
    except CheckpointError as exc:
        _LOG.info("no model card: %s", exc)
        return None
    for name in ("MODEL_CARD.md", "README.md"):
        card = path.parent / name
        if card.is_file():
            return card.read_text(encoding="utf-8")
    return None
