"""Predict: from an uploaded photo to faces, class probabilities and Grad-CAM overlays.

:func:`analyse_photo` is the whole Predict tab as plain Python: decode the upload, find and
classify every face (or the whole image when asked and none is found), number the faces
from left to right, draw the boxes, and add a Grad-CAM overlay for the faces shown (the
:data:`MAX_FACES_SHOWN` largest), noting maps that are flat. It never raises: bad input comes back as a
:class:`PhotoResult` whose ``status`` is one sentence and ``error`` is true. The page (or
any other caller) only has to show the result's fields.

One model pass per photo: the probabilities and the Grad-CAM maps of all its faces come
from the same forward pass (:func:`sqsnet.viz.gradcam.predict_with_gradcam`), the only
step that holds the store's model lock; detection (under the detector's own lock), decoding
and drawing run outside it, so concurrent requests overlap everywhere but in the model.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from sqsnet.inference import FacePrediction, Predictor
from sqsnet.service.drawing import DISPLAY_SIDE, FACE_CROP_SIDE, fit, fit_within
from sqsnet.service.explain import WHOLE_IMAGE_CAUTION, flat_note, is_flat
from sqsnet.service.store import ModelStore
from sqsnet.service.uploads import Upload, is_empty_upload, load_upload, user_message
from sqsnet.viz import available_branches, gradcam_overlay, model_view
from sqsnet.viz.gradcam import predict_with_gradcam

__all__ = [
    "CAM_BRANCHES",
    "MAX_FACES_SHOWN",
    "FaceView",
    "PhotoResult",
    "add_gradcam",
    "analyse_photo",
    "annotate",
    "label_font_px",
    "number_left_to_right",
]

MAX_FACES_SHOWN = 6
"""Faces shown with their own probabilities and Grad-CAM (the largest ones)."""
CAM_BRANCHES = ("fused", "local", "global", "off")
"""Grad-CAM choices: the fused map, the CNN branch, the Swin branch, or none."""
NOTHING_UPLOADED = "Upload a photo or take one with the webcam."
MIN_TEXT_PX = 11
"""Smallest text height, in pixels as shown on the screen, of the annotated photo's labels."""
LABEL_SHOWN_SIDE = 300
"""The smallest length, in CSS pixels, the page shows the annotated photo's longer side at
(a 390 px phone shows it about 320 px long; a desktop more): its labels are drawn so that
they are at least :data:`MIN_TEXT_PX` tall there."""

_PALETTE = [(230, 57, 70), (29, 145, 192), (255, 183, 3), (42, 157, 143), (155, 93, 229),
            (244, 162, 97), (38, 70, 83), (233, 196, 106)]


@dataclass
class FaceView:
    """One face as the page shows it.

    Attributes:
        index: 1-based number of the face in the photo, from left to right.
        box: ``(x0, y0, x1, y1)`` in the photo.
        crop: The aligned face crop the model saw, RGB.
        probabilities: Class name -> probability.
        label: The most probable class.
        confidence: Its probability.
        detector_score: Detector confidence (0.0 for the whole image).
        whole_image: No face was found and the whole image was classified.
        cam: The Grad-CAM overlay (``FACE_CROP_SIDE`` square), or ``None``.
        cam_flat: The Grad-CAM map is flat (shows nothing; see
            :func:`sqsnet.service.explain.is_flat`).
        shown: The face is among the :data:`MAX_FACES_SHOWN` largest, which the page
            shows with their own crop, probabilities and Grad-CAM.
    """

    index: int
    box: tuple[int, int, int, int]
    crop: Image.Image
    probabilities: dict[str, float]
    label: str
    confidence: float
    detector_score: float
    whole_image: bool
    cam: Image.Image | None = None
    cam_flat: bool = False
    shown: bool = True

    @classmethod
    def from_prediction(cls, index: int, pred: FacePrediction, shown: bool = True) -> FaceView:
        """The view of one :class:`~sqsnet.inference.FacePrediction`."""
        return cls(index=index, box=pred.box, crop=pred.crop, probabilities=pred.probabilities,
                   label=pred.label, confidence=pred.probabilities[pred.label],
                   detector_score=pred.score, whole_image=pred.whole_image, shown=shown)


@dataclass
class PhotoResult:
    """What the Predict tab shows for one photo.

    Attributes:
        status: One Markdown sentence (what was found, or what is wrong).
        faces: Every face, from left to right (may exceed :data:`MAX_FACES_SHOWN`).
        annotated: The photo (at most :data:`DISPLAY_SIDE`) with numbered boxes.
        no_face: No face was found and the whole image was not classified.
        error: ``status`` describes bad input or a failure.
        timings_ms: Milliseconds per stage: ``load`` (decoding), ``detect`` (face detection,
            with its wait for the detector), ``model`` (the model pass, with the Grad-CAM
            backward when on), ``detect_and_classify`` (detection to probabilities, with the
            wait for the model lock), ``gradcam`` (maps to overlays; only with Grad-CAM).
    """

    status: str
    faces: list[FaceView] = field(default_factory=list)
    annotated: Image.Image | None = None
    no_face: bool = False
    error: bool = False
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def shown_faces(self) -> list[FaceView]:
        """The faces the page shows one by one (the largest), from left to right."""
        return [f for f in self.faces if f.shown]

    def as_json(self) -> dict[str, Any]:
        """Plain JSON (the API output): faces without images, flags and timings."""
        return {
            "faces": [
                {"index": f.index, "box": list(f.box), "label": f.label,
                 "confidence": f.confidence, "probabilities": f.probabilities,
                 "detector_score": f.detector_score, "whole_image": f.whole_image,
                 "gradcam_flat": f.cam_flat if f.cam is not None else None}
                for f in self.faces
            ],
            "no_face": self.no_face,
            "error": self.status if self.error else None,
            "timings_ms": self.timings_ms,
        }


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one fixed-size default font
        return ImageFont.load_default()


def label_font_px(size: tuple[int, int]) -> int:
    """Font size, in image pixels, of the labels drawn on an annotated photo of ``size``.

    Shown with its longer side :data:`LABEL_SHOWN_SIDE` px long (or longer), the labels are
    at least :data:`MIN_TEXT_PX` px tall on the screen.
    """
    return max(MIN_TEXT_PX, math.ceil(MIN_TEXT_PX * max(size) / LABEL_SHOWN_SIDE))


def annotate(image: Image.Image, faces: Sequence[FaceView]) -> Image.Image:
    """The photo (downscaled to :data:`DISPLAY_SIDE`) with numbered boxes and labels.

    Args:
        image: The photo.
        faces: Its faces (boxes in ``image`` coordinates).

    Returns:
        A new image.
    """
    shown = fit_within(image, DISPLAY_SIDE).copy()
    scale = shown.width / image.width
    draw = ImageDraw.Draw(shown)
    width = max(2, round(max(shown.size) / 300))
    font = _font(label_font_px(shown.size))
    for face in faces:
        color = _PALETTE[(face.index - 1) % len(_PALETTE)]
        x0, y0, x1, y1 = (v * scale for v in face.box)
        draw.rectangle((x0, y0, x1, y1), outline=color, width=width)
        text = (f"whole image: {face.label} {face.confidence:.0%}" if face.whole_image
                else f"{face.index} {face.label} {face.confidence:.0%}")
        tb = draw.textbbox((0, 0), text, font=font)
        th, tw = tb[3] - tb[1] + 4, tb[2] - tb[0] + 6
        ty = y0 - th if y0 - th >= 0 else (y1 if y1 + th <= shown.height else y0)
        draw.rectangle((x0, ty, x0 + tw, ty + th), fill=color)
        draw.text((x0 + 3, ty + 1), text, fill=(255, 255, 255), font=font)
    return shown


def _left_to_right(results: Sequence[FacePrediction]) -> list[int]:
    """Indices of ``results`` ordered by the horizontal centre of their box (then its top)."""
    def position(k: int) -> tuple[float, float]:
        x0, y0, x1, _ = results[k].box
        return ((x0 + x1) / 2, y0)

    return sorted(range(len(results)), key=position)


def number_left_to_right(results: Sequence[FacePrediction],
                         shown: int = MAX_FACES_SHOWN) -> list[FaceView]:
    """Views of the detected faces, numbered from left to right.

    Args:
        results: The predictions, largest face first (as the predictor returns them).
        shown: How many of the largest are marked ``shown``.

    Returns:
        The faces ordered by the horizontal centre of their box (then its top), numbered
        from 1.
    """
    return [FaceView.from_prediction(i + 1, results[k], shown=k < shown)
            for i, k in enumerate(_left_to_right(results))]


def _cam_branch(pred: Predictor, branch: str) -> tuple[str, str]:
    """The branch Grad-CAM uses (a missing one falls back to ``fused``) and a note saying so."""
    if branch in available_branches(pred.model):
        return branch, ""
    return "fused", f"This model has no {branch} branch; Grad-CAM shows 'fused'. "


def _draw_cams(pred: Predictor, faces: Sequence[FaceView], maps: np.ndarray, branch: str) -> str:
    """Fill ``face.cam`` and ``face.cam_flat`` from ``S x S`` maps (one per face, in order).

    Returns:
        The flat-map note for the status line (``""`` when no map is flat).
    """
    for face, cam in zip(faces, maps):
        shown = fit(model_view(pred.model, face.crop), FACE_CROP_SIDE)
        face.cam = gradcam_overlay(shown, np.asarray(cam))
        face.cam_flat = is_flat(cam)
    return flat_note(branch, [f.index for f in faces if f.cam_flat])


def add_gradcam(store: ModelStore, pred: Predictor, faces: Sequence[FaceView], branch: str) -> str:
    """Fill ``face.cam`` (and ``face.cam_flat``) for ``faces`` with the Grad-CAM of a branch.

    A model pass of its own (:func:`analyse_photo` gets the maps from its prediction's pass
    instead). It holds the store's model lock.

    Args:
        store: The store ``pred`` came from (its :attr:`~ModelStore.model_lock` is held).
        pred: The loaded model.
        faces: The faces to explain.
        branch: ``fused``, ``local`` or ``global``; a branch the model lacks falls back to
            ``fused``, and says so.

    Returns:
        A note for the status line: a missing branch, maps that are flat (``""`` when all
        went well).
    """
    branch, note = _cam_branch(pred, branch)
    x = torch.stack([pred.transform(f.crop.convert("RGB")) for f in faces]).to(pred.device)
    with store.model_lock:
        _, maps = predict_with_gradcam(pred.model, x, branch=branch)
    return note + _draw_cams(pred, faces, maps, branch)


@dataclass
class _ModelPass:
    """The one model pass of a photo: probabilities, and Grad-CAM maps when ``branch`` is set.

    :meth:`classify` is handed to :meth:`~sqsnet.inference.Predictor.predict`, which calls it
    once with the crops of all faces (largest first) after detection.
    """

    store: ModelStore
    pred: Predictor
    branch: str | None
    maps: np.ndarray | None = None
    cam_note: str = ""
    started: float = 0.0
    model_ms: float = 0.0

    def classify(self, crops: list[Image.Image]) -> np.ndarray:
        """``N x K`` probabilities of the crops; keeps the ``N x S x S`` maps in ``maps``.

        When Grad-CAM fails, the prediction stands without it (``cam_note`` says why).
        """
        self.started = time.perf_counter()
        if not crops:
            return np.zeros((0, len(self.pred.class_names)), np.float32)
        x = torch.stack([self.pred.transform(c.convert("RGB")) for c in crops])
        x = x.to(self.pred.device)
        with self.store.model_lock:
            start = time.perf_counter()
            logits = None
            if self.branch is not None:
                try:
                    logits, self.maps = predict_with_gradcam(self.pred.model, x, self.branch)
                except Exception as exc:  # the prediction stands without its overlay
                    self.cam_note = user_message(exc, "computing Grad-CAM")
            if logits is None:
                with torch.no_grad():
                    logits = self.pred.model(x)
            self.model_ms = (time.perf_counter() - start) * 1000
        return logits.float().softmax(-1).cpu().numpy()


def _no_face_status(size: tuple[int, int], min_face: int) -> str:
    w, h = size
    return (f"**No face found** in this {w}x{h} photo (faces smaller than about {min_face} px "
            "are not detected). Tick *Classify the whole image when no face is found*, or "
            "press **Classify the whole image**, to classify it anyway.")


def _found_status(faces: Sequence[FaceView], size: tuple[int, int],
                  timings: dict[str, float], notes: Sequence[str]) -> str:
    w, h = size
    if faces[0].whole_image:
        head = (f"**No face found**; classified the **whole image** ({w}x{h}, centre "
                f"square): **{faces[0].label}** ({faces[0].confidence:.0%}). "
                + WHOLE_IMAGE_CAUTION)
    else:
        n = len(faces)
        head = f"Found **{n} face{'s' if n > 1 else ''}** in this {w}x{h} photo."
        if n > 1:
            head += " Faces are numbered from left to right."
        if n > MAX_FACES_SHOWN:
            head += f" Showing the {MAX_FACES_SHOWN} largest; all are in the JSON below."
    speed = f"detection {timings['detect']:.0f} ms, model {timings['model']:.0f} ms"
    if "gradcam" in timings:
        speed += f" with Grad-CAM, overlays {timings['gradcam']:.0f} ms"
    return " ".join([head, f"<small>({speed})</small>", *[n.strip() for n in notes if n.strip()]])


def analyse_photo(
    store: ModelStore,
    image: Upload,
    classify_whole_image: bool = False,
    cam_branch: str = "fused",
    checkpoint: str | None = None,
    with_gradcam: bool = True,
) -> PhotoResult:
    """Find, classify and explain every face of a photo; never raises.

    Args:
        store: The models.
        image: A path, a base64 ``data:`` URL, the file's bytes or a PIL image (``None``:
            nothing uploaded, a hint comes back).
        classify_whole_image: Classify the whole image when no face is found.
        cam_branch: Grad-CAM layer: ``fused``, ``local``, ``global``, or ``off``.
        checkpoint: Checkpoint key (``None``: the one the app started with).
        with_gradcam: Compute the Grad-CAM overlays.

    Returns:
        A :class:`PhotoResult`; on bad input its ``status`` says what is wrong.
    """
    if is_empty_upload(image):
        return PhotoResult(status=NOTHING_UPLOADED)
    notes = []
    try:
        t0 = time.perf_counter()
        pred = store.get(checkpoint)
        photo = load_upload(image)
        t1 = time.perf_counter()
        branch = None
        if with_gradcam and cam_branch != "off":
            branch, note = _cam_branch(pred, cam_branch)
            notes.append(note)
        run = _ModelPass(store, pred, branch)
        results = pred.predict(photo, fallback_whole_image=classify_whole_image,
                               classify=run.classify)
        t2 = time.perf_counter()
    except Exception as exc:  # every failure becomes one sentence in the page
        return PhotoResult(status=user_message(exc, "reading the photo"), error=True)
    timings = {"load": (t1 - t0) * 1000, "detect_and_classify": (t2 - t1) * 1000}
    if not results:
        return PhotoResult(status=_no_face_status(photo.size, pred.detector.min_face),
                           annotated=fit_within(photo), no_face=True, timings_ms=timings)
    timings.update(detect=(run.started - t1) * 1000, model=run.model_ms)
    faces = number_left_to_right(results)
    notes.append(run.cam_note)
    if run.maps is not None and branch is not None:
        t3 = time.perf_counter()
        try:
            ranked = _left_to_right(results)  # faces[i] is results[ranked[i]]
            shown = [(f, run.maps[k]) for f, k in zip(faces, ranked) if f.shown]
            notes.append(_draw_cams(pred, [f for f, _ in shown], np.stack([m for _, m in shown]),
                                    branch))
        except Exception as exc:  # the prediction stands without its overlay
            notes.append(user_message(exc, "computing Grad-CAM"))
        timings["gradcam"] = (time.perf_counter() - t3) * 1000
    return PhotoResult(status=_found_status(faces, photo.size, timings, notes), faces=faces,
                       annotated=annotate(photo, faces), timings_ms=timings)
