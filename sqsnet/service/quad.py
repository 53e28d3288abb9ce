"""The SQS explorer: the per-location maps of one quad (anchor, positive, two negatives).

:func:`quad_maps` takes four uploads (paths, bytes, ``data:`` URLs or PIL images), crops
each to its largest face unless it already is a face crop, runs the model's own SQS module
(:func:`sqsnet.viz.compute_quad_maps`) and returns the figure, the four maps over the anchor
and one paragraph on each map. Like :func:`sqsnet.service.predict.analyse_photo` it never
raises: a missing or unreadable image comes back as a one-line status naming the slot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from sqsnet.faces import FaceDetector, whole_image_face
from sqsnet.service.drawing import FACE_CROP_SIDE, figure_text_px, figure_to_image, fit
from sqsnet.service.gallery import SMALL_IMAGE_SIDE
from sqsnet.service.store import ModelStore
from sqsnet.service.uploads import (
    Upload,
    is_data_url,
    load_upload,
    upload_name,
    user_message,
)
from sqsnet.viz import QuadMaps, compute_quad_maps, overlay_heatmap, plot_quad_maps

__all__ = ["EXPLAIN", "SLOTS", "QuadResult", "explain_maps", "quad_face", "quad_maps",
           "quad_problems"]

SLOTS = ("anchor", "positive", "negative 1", "negative 2")
"""The four images of a quad, in the order the SQS module takes them."""

EXPLAIN = {
    "S_AP": "**S_AP (anchor vs positive)**: exp(-||a_ij - p_ij||^2 / tau) at every location "
            "of the fused feature map; bright where the anchor and the same-class positive "
            "have similar features. Training pushes it up.",
    "S_AN1": "**S_AN1 (anchor vs negative 1)**: the same similarity to an image of another "
             "class; bright where the anchor could be mistaken for negative 1. Training "
             "pushes it down.",
    "S_AN2": "**S_AN2 (anchor vs negative 2)**: likewise for the second negative.",
    "R": "**R = alpha S_AP - beta (S_AN1 + S_AN2)**: the refinement map; positive (red) "
         "where a location is discriminative. The SQS head re-weights the anchor's "
         "features by it (A_hat = A + gamma R A).",
}
"""One paragraph per map, shown under the figure."""


@dataclass
class QuadResult:
    """What the SQS explorer shows for one quad.

    Attributes:
        status: One Markdown line: the quad's slots and labels, or what is wrong.
        figure: All maps in one figure, or ``None``.
        overlays: ``(image, caption)`` of S_AP, S_AN1, S_AN2 and R over the anchor face.
        explanation: The hinge loss and one paragraph per map (Markdown).
        loss: The quad's ``L_SQS``.
        error: ``status`` describes bad input or a failure.
        warnings: What makes the quad not a valid SQS quad (:func:`quad_problems`); the
            maps are drawn anyway and ``status`` starts with a warning.
        figure_text_px: Height in pixels of the figure's smallest text at its natural
            size (show the figure at its natural width and no text is smaller).
    """

    status: str
    figure: Image.Image | None = None
    overlays: list[tuple[Image.Image, str]] = field(default_factory=list)
    explanation: str = ""
    loss: float | None = None
    error: bool = False
    warnings: list[str] = field(default_factory=list)
    figure_text_px: float | None = None


def quad_problems(labels: Sequence[str | None] | None) -> list[str]:
    """Why four labelled images are not a valid SQS quad (empty when they are, or unknown).

    Training only forms quads whose positive has the anchor's class and whose negatives
    have another class (:class:`sqsnet.models.sqs.QuadMiner`). Only known labels are
    checked: an upload's (``None``) is not.

    Args:
        labels: Class names of anchor, positive, negative 1, negative 2 (``None`` where
            unknown).

    Returns:
        One sentence per problem.
    """
    a, p, n1, n2 = (list(labels) + [None] * len(SLOTS))[:len(SLOTS)] if labels else [None] * 4
    if a is None:
        return []
    out = []
    if p is not None and p != a:
        out.append(f"the positive is {p}, not the anchor's class ({a})")
    for slot, n in (("negative 1", n1), ("negative 2", n2)):
        if n is not None and n == a:
            out.append(f"{slot} is {n}, the anchor's own class")
    return out


def quad_face(detector: FaceDetector, image: Upload, slot: str,
              is_crop: bool | None = None) -> tuple[Image.Image, str]:
    """The face of one quad image: itself when it is a crop, else its largest face.

    Args:
        detector: Finds the face in a photo.
        image: The upload.
        slot: Its slot (named in messages).
        is_crop: Whether it is a face crop already (``None``: judged from its size).

    Returns:
        ``(face, note)``; the note says when no face was found and all of it was used.

    Raises:
        sqsnet.faces.ImageLoadError, UploadError: The image cannot be read.
    """
    name = f"the {slot} image" if is_data_url(image) else f"the {slot} image ({upload_name(image)})"
    img = load_upload(image, name=name)
    if is_crop or (is_crop is None and min(img.size) <= SMALL_IMAGE_SIDE):
        return img, ""
    faces = detector.detect(img).faces
    if faces:
        return faces[0].crop, ""
    return whole_image_face(img).crop, f"no face found in the {slot} image, used all of it"


def explain_maps(maps: QuadMaps) -> str:
    """The hinge loss and one paragraph per map, with each map's mean (Markdown)."""
    h, w = np.asarray(maps.s_ap).shape
    means = {k: float(np.mean(np.asarray(getattr(maps, k)))) for k in ("s_ap", "s_an1", "s_an2", "r")}
    hinge = (f"**Hinge loss L_SQS = {float(maps.loss):.4f}** (margin m = {float(maps.margin):g}): "
             f"the mean over the {h}x{w} locations of relu(m + S_AN1 - S_AP) + "
             "relu(m + S_AN2 - S_AP). It is zero only where the anchor is closer to the positive "
             "than to each negative by the margin at every location.")
    return "\n\n".join([
        hinge,
        f"{EXPLAIN['S_AP']} Mean here: {means['s_ap']:.3f}.",
        f"{EXPLAIN['S_AN1']} Mean here: {means['s_an1']:.3f}.",
        f"{EXPLAIN['S_AN2']} Mean here: {means['s_an2']:.3f}.",
        f"{EXPLAIN['R']} Mean here: {means['r']:.3f}.",
    ])


def _overlays(maps: QuadMaps) -> list[tuple[Image.Image, str]]:
    """S_AP, S_AN1, S_AN2 (0..1) and R (symmetric range) over the anchor as the model saw it."""
    face = fit(maps.images[0], FACE_CROP_SIDE)
    up = maps.upsampled(face.size)
    r_range = float(maps.r_limit)
    return [
        (overlay_heatmap(face, up["s_ap"], 0, 1), "S_AP over the anchor"),
        (overlay_heatmap(face, up["s_an1"], 0, 1), "S_AN1 over the anchor"),
        (overlay_heatmap(face, up["s_an2"], 0, 1), "S_AN2 over the anchor"),
        (overlay_heatmap(face, up["r"], -r_range, r_range, cmap="coolwarm"), "R over the anchor"),
    ]


def quad_maps(
    store: ModelStore,
    images: Sequence[Upload],
    labels: Sequence[str | None] | None = None,
    checkpoint: str | None = None,
) -> QuadResult:
    """Compute and draw the SQS maps of one quad; never raises.

    Args:
        store: The models (the SQS maps run under its model lock).
        images: Anchor, positive, negative 1, negative 2 (``None`` for an empty slot).
        labels: Their class names where known (``None`` entries for uploads).
        checkpoint: Checkpoint key (``None``: the one the app started with).

    Returns:
        A :class:`QuadResult`; with a slot missing or unreadable, its ``status`` says which.
    """
    missing = [s for s, im in zip(SLOTS, images) if im is None]
    if missing:
        return QuadResult(status=("Choose all four images first (missing: "
                                  f"{', '.join(missing)}): upload them, or pick a slot and "
                                  "click a gallery image, or press **Random quad**."))
    labels = list(labels or [None] * len(SLOTS))
    try:
        pred = store.get(checkpoint)
        faces = [quad_face(store.detector, im, slot) for slot, im in zip(SLOTS, images)]
    except Exception as exc:  # every failure becomes one sentence in the page
        return QuadResult(status=user_message(exc, "reading the images"), error=True)
    try:
        with store.model_lock:
            maps = compute_quad_maps(pred.model, *(face for face, _ in faces), labels=labels)
        fig = plot_quad_maps(maps)  # drawn at 100 dpi, at most 900 px wide (sqsnet.viz)
        figure, text_px = figure_to_image(fig), figure_text_px(fig)
        overlays = _overlays(maps)
    except Exception as exc:  # every failure becomes one sentence in the page
        return QuadResult(status=user_message(exc, "computing the SQS maps"), error=True)
    named = [f"{s}: {lab}" if lab else s for s, lab in zip(SLOTS, labels)]
    notes = [note for _, note in faces if note]
    status = "Quad: " + "; ".join(named) + "."
    if notes:
        status += " Note: " + "; ".join(notes) + "."
    problems = quad_problems(labels)
    if problems:
        status = ("⚠️ **Not a valid SQS quad**: " + "; ".join(problems) + ". Training never "
                  "forms such a quad (the positive shares the anchor's class, the negatives "
                  "do not); the maps are drawn anyway. " + status)
    return QuadResult(status=status, figure=figure, overlays=overlays,
                      explanation=explain_maps(maps), loss=float(maps.loss), warnings=problems,
                      figure_text_px=text_px)
