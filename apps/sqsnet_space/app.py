"""SQSNet lab: the Gradio app (also a Hugging Face Space).

Three tabs, one shared model:

* **Predict**: upload a photo or use the webcam; every face is found (YuNet), aligned,
  cropped and classified, with its class probabilities and a Grad-CAM overlay. A photo
  without a face says so and offers to classify the whole image.
* **SQS explorer**: pick an anchor, a positive and two negatives (upload, or click a
  gallery image) and see the per-location maps S_AP, S_AN1, S_AN2 and R of Spatial
  Quad-Similarity over the faces, with the hinge loss. The gallery holds a bounded sample
  per class of any labelled data folder passed with ``--gallery`` (FERPlus layout or a
  ``<class>/*.jpg`` tree) plus the visitor's own uploads.
* **Model**: the model card of the loaded checkpoint and a switch between the SQSNet
  checkpoints found under ``--checkpoints DIR``.

Run ``python apps/sqsnet_space/app.py`` (or ``make app``); it serves on 127.0.0.1:7860 and
needs no network. Tests import :func:`build_demo`. Every input image is decoded by
:func:`sqsnet.faces.load_image` (never by Gradio), so bad files (not an image, truncated,
decompression bombs, odd colour modes) get one clear message in the page and the app keeps
serving.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import logging
import os
import random
import sys
import tempfile
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline: no telemetry calls
os.environ.setdefault("MPLBACKEND", "Agg")

try:  # the Space installs the package; in the repo it may only be on disk beside us
    import sqsnet
except ImportError:  # pragma: no cover - depends on how the app is started
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    import sqsnet  # noqa: F401

import gradio as gr
import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from sqsnet.checkpoint import DEFAULT_CHECKPOINT, CheckpointError, resolve_checkpoint
from sqsnet.errors import SQSNetError
from sqsnet.faces import MAX_IMAGE_PIXELS, ImageLoadError, load_image, whole_image_face
from sqsnet.inference import Predictor

__all__ = [
    "MAX_FACES_SHOWN",
    "FaceView",
    "GalleryError",
    "GalleryItem",
    "LabApp",
    "PhotoResult",
    "QuadResult",
    "build_demo",
    "find_checkpoints",
    "launch",
    "launch_kwargs",
    "load_gallery",
    "main",
    "upload_image",
]

_LOG = logging.getLogger("sqsnet.app")

MAX_FACES_SHOWN = 6
"""Faces shown with their own probabilities and Grad-CAM (the largest first)."""
GALLERY_PER_CLASS = 6
"""Default number of gallery images sampled per class from ``--gallery``."""
MAX_SESSION_UPLOADS = 24
"""A visitor's own gallery images kept per session (oldest dropped first)."""
MAX_CHECKPOINTS = 200
"""At most this many ``*.safetensors`` files are listed from ``--checkpoints``."""
MAX_LOADED_MODELS = 2
"""Loaded checkpoints kept in memory at once (least recently used is dropped)."""
FACE_CROP_SIDE = 224
"""Side of the face crops and overlays shown in the page."""
SMALL_IMAGE_SIDE = 160
"""Explorer images whose shorter side is at most this are taken as face crops already."""
GALLERY_MIN_SIDE = 144
"""Smaller gallery images (48 px FERPlus faces) are upscaled to this for display."""
DISPLAY_SIDE = 1024
"""Longest side of the annotated photo shown in the page."""
MAX_UPLOAD = "50mb"
"""Gradio refuses larger uploads before they reach the handlers."""
DEFAULT_CONCURRENCY = 2
"""Requests run at once per event (the machine this was sized on has 2 cores)."""
QUEUE_SIZE = 64
SLOTS = ("anchor", "positive", "negative 1", "negative 2")

_EXPLAIN = {
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

CSS = """
.sqs-status {min-height: 1.5em}
"""


# ----------------------------------------------------------------------------- helpers


class GalleryError(SQSNetError, ValueError):
    """``--gallery`` does not name a readable labelled data folder."""


def _raw_preprocess(payload: Any) -> str | bytes | None:
    """An upload as the file's path (or the raw bytes of a base64 payload), undecoded."""
    if payload is None:
        return None
    url = getattr(payload, "url", None) or ""
    if url.startswith("data:"):
        try:
            return base64.b64decode(url.split(",", 1)[1], validate=False)
        except (ValueError, IndexError):
            return b""
    path = getattr(payload, "path", None)
    return None if path is None else str(path)


def upload_image(**kwargs: Any) -> gr.Image:
    """A ``gr.Image`` that hands the handler the uploaded file untouched.

    ``gr.Image(type="filepath")`` still opens every upload with Pillow before the handler
    runs, so a non-image or a decompression bomb fails inside Gradio with a generic error.
    This component passes the path (or the raw bytes of a base64 payload) through, and
    :func:`sqsnet.faces.load_image` does all decoding and error reporting. The page shows an
    ordinary Image component. Only this instance's ``preprocess`` is replaced. A subclass
    would make Gradio write an ``app.pyi`` stub beside this file at import.

    Args:
        **kwargs: ``gr.Image`` arguments (``type`` and ``image_mode`` are fixed).

    Returns:
        The component.
    """
    image = gr.Image(type="filepath", image_mode=None, **kwargs)
    image.preprocess = _raw_preprocess  # type: ignore[method-assign]
    return image


def _upload_name(source: Any) -> str:
    if isinstance(source, (bytes, bytearray)):
        return "the uploaded image"
    return Path(str(source)).name or "the uploaded image"


def _user_error(exc: BaseException, what: str) -> str:
    """One sentence for the page; the traceback goes to the server log only."""
    if isinstance(exc, ImageLoadError):
        message = str(exc)
        # name the upload by its file name, not the server's cache path
        if exc.source and exc.source in message:
            message = message.replace(exc.source, Path(exc.source).name or exc.source, 1)
        return message
    if isinstance(exc, CheckpointError):
        return f"The checkpoint could not be loaded: {exc}"
    _LOG.error("%s failed:\n%s", what, traceback.format_exc())
    return (f"Something went wrong while {what} ({type(exc).__name__}: {exc}). "
            "The app is still running; try another image.")


def _warn(message: str) -> None:
    """A toast in the page (a log line when called outside a request)."""
    try:
        gr.Warning(message)
    except Exception:
        _LOG.warning(message)


def _fit(image: Image.Image, side: int) -> Image.Image:
    """Resize so the longer side is ``side`` (never a no-op copy problem)."""
    w, h = image.size
    scale = side / max(w, h)
    if abs(scale - 1.0) < 1e-6:
        return image.copy()
    resample = Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BICUBIC
    return image.resize((max(1, round(w * scale)), max(1, round(h * scale))), resample)


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


_PALETTE = [(230, 57, 70), (29, 145, 192), (255, 183, 3), (42, 157, 143), (155, 93, 229),
            (244, 162, 97), (38, 70, 83), (233, 196, 106)]


def _annotate(image: Image.Image, faces: Sequence[FaceView]) -> Image.Image:
    """The photo (downscaled for display) with numbered boxes and labels."""
    shown = _fit(image, DISPLAY_SIDE) if max(image.size) > DISPLAY_SIDE else image.copy()
    scale = shown.width / image.width
    draw = ImageDraw.Draw(shown)
    width = max(2, round(max(shown.size) / 300))
    font = _font(max(12, round(max(shown.size) / 40)))
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


def _figure_to_image(fig: Any) -> Image.Image:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    finally:
        plt.close(fig)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def _read_checkpoint_header(path: Path) -> dict[str, Any]:
    """The SQSNet JSON header of a checkpoint, read without loading any tensor."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        metadata = fh.metadata() or {}
    if "sqsnet" not in metadata:
        raise CheckpointError(f"{path.name} has no SQSNet metadata (not an SQSNet checkpoint)")
    try:
        return json.loads(metadata["sqsnet"])
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path.name} has corrupt SQSNet metadata ({exc})") from None


def find_checkpoints(folder: str | os.PathLike[str] | None) -> dict[str, Path]:
    """SQSNet checkpoints under ``folder`` (recursively), keyed by their relative path.

    Files that are not safetensors, or safetensors without SQSNet metadata (e.g. plain timm
    weights), are left out; hidden files (unfinished atomic writes) too.

    Args:
        folder: Where to look; ``None`` gives an empty result.

    Returns:
        ``{relative/posix/path.safetensors: absolute path}``, sorted, at most
        :data:`MAX_CHECKPOINTS`.
    """
    if folder is None:
        return {}
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise CheckpointError(f"--checkpoints {root}: not a folder")
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*.safetensors")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        try:
            _read_checkpoint_header(path)
        except Exception:
            _LOG.debug("skipping %s: not an SQSNet checkpoint", path)
            continue
        found[rel.as_posix()] = path.resolve()
        if len(found) >= MAX_CHECKPOINTS:
            _LOG.warning("--checkpoints %s: listing the first %d checkpoints only", root,
                         MAX_CHECKPOINTS)
            break
    return found


# ----------------------------------------------------------------------------- gallery


@dataclass
class GalleryItem:
    """One image the explorer can use.

    Attributes:
        path: A PNG/JPEG file on disk (a private temporary copy for dataset samples).
        label: Canonical class name, or ``None`` for an unlabelled upload.
        caption: Shown under the thumbnail.
        face_crop: The image already is a face crop (no detection needed).
    """

    path: str
    label: str | None
    caption: str
    face_crop: bool = False


def _ferplus_split(path: Path) -> tuple[Path, str] | None:
    """``(root, split)`` when ``path`` is a FERPlus root or one of its split folders."""
    from sqsnet.data import FERPlus

    folders = {v.lower(): k for k, v in FERPlus.SPLIT_FOLDERS.items()}
    if (path / "label.csv").is_file() and path.name.lower() in folders:
        return path.parent, folders[path.name.lower()]
    for split in ("valid", "test", "train"):
        if (path / FERPlus.SPLIT_FOLDERS[split] / "label.csv").is_file():
            return path, split
    if (path / "fer2013new.csv").is_file():
        return path, "valid"
    return None


def load_gallery(
    path: str | os.PathLike[str],
    per_class: int = GALLERY_PER_CLASS,
    seed: int = 0,
    out_dir: str | os.PathLike[str] | None = None,
) -> list[GalleryItem]:
    """Sample up to ``per_class`` images per class from a labelled data folder.

    Accepted layouts: FERPlus (a root with ``FER2013Valid/label.csv`` etc., one split
    folder itself, or the raw ``fer2013new.csv`` + ``fer2013.csv`` pair; the valid split
    is preferred) and any ``<root>/<class>/*.jpg`` tree
    (:class:`sqsnet.data.LabelledFolder`).

    Args:
        path: The folder.
        per_class: Images per class (seeded random sample).
        seed: Sampling seed.
        out_dir: Where the sampled images are copied as PNG (so the app serves copies, not
            the data folder); a new temporary folder when ``None``.

    Returns:
        Items grouped by class in the dataset's class order.

    Raises:
        GalleryError: The folder is missing or holds no readable labelled images.
    """
    from sqsnet.data import DatasetError, FERPlus, LabelledFolder

    root = Path(path).expanduser()
    if not root.is_dir():
        raise GalleryError(f"--gallery {root}: no such folder (expected a FERPlus folder such "
                           "as .../ferplus/FER2013Valid, or a folder of <class>/ sub-folders)")
    try:
        fer = _ferplus_split(root)
        if fer is not None:
            ds = FERPlus(fer[0], split=fer[1])
            source = f"FERPlus {fer[1]}"
        else:
            ds = LabelledFolder(root)
            source = root.name
    except DatasetError as exc:
        raise GalleryError(f"--gallery {root}: {exc}") from None
    out = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix="sqsnet-gallery-"))
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    targets = np.asarray(ds.targets)
    items: list[GalleryItem] = []
    skipped = 0
    for label_idx, name in enumerate(ds.classes):
        indices = np.flatnonzero(targets == label_idx).tolist()
        rng.shuffle(indices)
        taken = 0
        for i in indices:
            if taken >= per_class:
                break
            try:
                image = ds.load_image(i)
            except Exception as exc:
                skipped += 1
                _LOG.warning("gallery: skipping %s (%s)", ds.samples[i], exc)
                continue
            is_crop = min(image.size) <= SMALL_IMAGE_SIDE
            if max(image.size) > DISPLAY_SIDE:
                image = _fit(image, DISPLAY_SIDE)
            elif max(image.size) < GALLERY_MIN_SIDE:
                image = _fit(image, GALLERY_MIN_SIDE)
            file = out / f"{len(items):04d}_{name}.png"
            image.save(file)
            taken += 1
            items.append(GalleryItem(
                path=str(file), label=name, caption=f"{name} ({source} #{i})",
                face_crop=is_crop,
            ))
    if not items:
        raise GalleryError(f"--gallery {root}: no readable images found")
    _LOG.info("gallery: %d images from %s (%d skipped)", len(items), root, skipped)
    return items


# ----------------------------------------------------------------------------- results


@dataclass
class FaceView:
    """One face as the page shows it."""

    index: int
    box: tuple[int, int, int, int]
    crop: Image.Image
    probabilities: dict[str, float]
    label: str
    confidence: float
    detector_score: float
    whole_image: bool
    cam: Image.Image | None = None


@dataclass
class PhotoResult:
    """What the Predict tab shows for one photo."""

    status: str
    faces: list[FaceView] = field(default_factory=list)
    annotated: Image.Image | None = None
    no_face: bool = False
    error: bool = False
    timings_ms: dict[str, float] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """JSON for the API output."""
        return {
            "faces": [
                {"box": list(f.box), "label": f.label, "confidence": f.confidence,
                 "probabilities": f.probabilities, "detector_score": f.detector_score,
                 "whole_image": f.whole_image}
                for f in self.faces
            ],
            "no_face": self.no_face,
            "error": self.status if self.error else None,
            "timings_ms": self.timings_ms,
        }


@dataclass
class QuadResult:
    """What the SQS explorer shows for one quad."""

    status: str
    figure: Image.Image | None = None
    overlays: list[tuple[Image.Image, str]] = field(default_factory=list)
    explanation: str = ""
    loss: float | None = None
    error: bool = False


# ----------------------------------------------------------------------------- the app


class LabApp:
    """Everything behind the page: models, gallery, checkpoints, and the handlers.

    One instance is shared by all visitors; a visitor's choices (checkpoint, uploads) are
    passed in by the page. Models are loaded once and kept (at most
    :data:`MAX_LOADED_MODELS`); the face detector is shared by all of them.

    Args:
        checkpoint: ``"default"``, a ``.safetensors`` file or a run folder.
        gallery: A labelled data folder for the explorer's gallery, or ``None``.
        checkpoints_dir: A folder whose SQSNet checkpoints the Model tab can switch to.
        gallery_per_class: Gallery images sampled per class.
    """

    def __init__(
        self,
        checkpoint: str | os.PathLike[str] = "default",
        gallery: str | os.PathLike[str] | None = None,
        checkpoints_dir: str | os.PathLike[str] | None = None,
        gallery_per_class: int = GALLERY_PER_CLASS,
    ) -> None:
        self._models: OrderedDict[str, Predictor] = OrderedDict()
        self._models_lock = threading.Lock()
        self._detector: Any = None
        self.checkpoints_dir = Path(checkpoints_dir).expanduser() if checkpoints_dir else None
        start_path = resolve_checkpoint(checkpoint)
        self.default_key = "default" if start_path == DEFAULT_CHECKPOINT.resolve() or \
            str(checkpoint) == "default" else start_path.name
        self.checkpoints: dict[str, Path] = {self.default_key: start_path.resolve()}
        self.rescan_checkpoints()
        self._gallery_dir: tempfile.TemporaryDirectory[str] | None = None
        self.gallery: list[GalleryItem] = []
        if gallery is not None:  # before the model: a wrong path fails fast
            self._gallery_dir = tempfile.TemporaryDirectory(prefix="sqsnet-gallery-")
            self.gallery = load_gallery(gallery, gallery_per_class, out_dir=self._gallery_dir.name)
        self.gallery_source = str(gallery) if gallery is not None else None
        self.predictor(self.default_key)  # load now: a broken checkpoint fails at start-up

    # -- models ---------------------------------------------------------------------

    def rescan_checkpoints(self) -> dict[str, Path]:
        """Re-read ``checkpoints_dir`` (new runs appear without a restart)."""
        found = find_checkpoints(self.checkpoints_dir)
        start = {self.default_key: self.checkpoints[self.default_key]}
        self.checkpoints = {**start, **{k: v for k, v in found.items() if v != start[self.default_key]}}
        return self.checkpoints

    def checkpoint_choices(self) -> list[tuple[str, str]]:
        """``(label, key)`` pairs for the checkpoint dropdown."""
        out = []
        for key in self.checkpoints:
            label = "default (bundled FERPlus model)" if key == "default" else key
            out.append((label, key))
        return out

    @property
    def detector(self) -> Any:
        if self._detector is None:
            from sqsnet.faces import FaceDetector

            self._detector = FaceDetector()
        return self._detector

    def predictor(self, key: str | None = None) -> Predictor:
        """The loaded model for a checkpoint key (loaded on first use, then cached)."""
        key = key or self.default_key
        if key not in self.checkpoints:
            raise CheckpointError(
                f"unknown checkpoint {key!r}; known: {', '.join(self.checkpoints)} "
                "(press 'Rescan' after adding files)"
            )
        with self._models_lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
            start = time.perf_counter()
            pred = Predictor(self.checkpoints[key], detector=self.detector)
            _LOG.info("loaded checkpoint %s in %.1f s", key, time.perf_counter() - start)
            self._models[key] = pred
            while len(self._models) > MAX_LOADED_MODELS:
                old, _ = self._models.popitem(last=False)
                _LOG.info("unloaded checkpoint %s", old)
            return pred

    def warmup(self) -> float:
        """Run the model and Grad-CAM once on a blank face (the first call is slow).

        Returns:
            Seconds taken.
        """
        start = time.perf_counter()
        pred = self.predictor()
        blank = Image.new("RGB", (pred.model.cfg.img_size,) * 2, (128, 128, 128))
        pred.classify_crops([blank])
        face = FaceView(1, (0, 0, 1, 1), blank, {}, "", 0.0, 0.0, True)
        self._gradcam(pred, [face], "fused")
        self.detector.detect(blank)
        return time.perf_counter() - start

    # -- Predict --------------------------------------------------------------------

    def _gradcam(self, pred: Predictor, faces: list[FaceView], branch: str) -> str:
        """Fill ``face.cam``; returns a note for the status line ('' when all went well)."""
        try:
            from sqsnet.viz import model_view
            from sqsnet.viz.gradcam import available_branches, gradcam, gradcam_overlay
        except ImportError as exc:
            return f"Grad-CAM is unavailable ({exc})."
        branches = available_branches(pred.model)
        note = ""
        if branch not in branches:
            note = f"This model has no {branch} branch; Grad-CAM shows 'fused'. "
            branch = "fused"
        x = torch.stack([pred.transform(f.crop.convert("RGB")) for f in faces]).to(pred.device)
        lock = getattr(pred, "_lock", None) or threading.Lock()
        with lock:  # Grad-CAM hooks the shared model: no other forward may run meanwhile
            maps = gradcam(pred.model, x, branch=branch)
        for face, cam in zip(faces, maps):
            shown = _fit(model_view(pred.model, face.crop), FACE_CROP_SIDE)
            face.cam = gradcam_overlay(shown, np.asarray(cam))
        return note

    def analyse_photo(
        self,
        image: Any,
        classify_whole_image: bool = False,
        cam_branch: str = "fused",
        checkpoint: str | None = None,
        with_gradcam: bool = True,
    ) -> PhotoResult:
        """Find, classify and explain every face of a photo; never raises.

        Args:
            image: A path, the file's bytes or a PIL image (``None``: nothing to do).
            classify_whole_image: Classify the whole image when no face is found.
            cam_branch: Grad-CAM layer: ``fused``, ``local``, ``global``, or ``off``.
            checkpoint: Checkpoint key (``None``: the one the app started with).
            with_gradcam: Compute the Grad-CAM overlays.

        Returns:
            A :class:`PhotoResult`; on bad input its ``status`` says what is wrong.
        """
        if image is None or (isinstance(image, (bytes, bytearray)) and not image):
            return PhotoResult(status="Upload a photo or take one with the webcam.")
        try:
            t0 = time.perf_counter()
            pred = self.predictor(checkpoint)
            photo = load_image(image, name=_upload_name(image))
            t1 = time.perf_counter()
            results = pred.predict(photo, fallback_whole_image=classify_whole_image)
            t2 = time.perf_counter()
        except Exception as exc:
            return PhotoResult(status=_user_error(exc, "reading the photo"), error=True)
        timings = {"load": (t1 - t0) * 1000, "detect_and_classify": (t2 - t1) * 1000}
        w, h = photo.size
        if not results:
            return PhotoResult(
                status=(f"**No face found** in this {w}x{h} photo (faces smaller than about "
                        f"{pred.detector.min_face} px are not detected). Tick *Classify the "
                        "whole image when no face is found*, or press **Classify the whole "
                        "image**, to classify it anyway."),
                annotated=_fit(photo, DISPLAY_SIDE) if max(photo.size) > DISPLAY_SIDE else photo,
                no_face=True, timings_ms=timings,
            )
        faces = [
            FaceView(index=i + 1, box=r.box, crop=r.crop, probabilities=r.probabilities,
                     label=r.label, confidence=r.probabilities[r.label],
                     detector_score=r.score, whole_image=r.whole_image)
            for i, r in enumerate(results)
        ]
        notes = []
        if with_gradcam and cam_branch != "off":
            t3 = time.perf_counter()
            shown_faces = faces[:MAX_FACES_SHOWN]
            try:
                notes.append(self._gradcam(pred, shown_faces, cam_branch))
            except Exception as exc:
                notes.append(_user_error(exc, "computing Grad-CAM"))
            timings["gradcam"] = (time.perf_counter() - t3) * 1000
        if faces[0].whole_image:
            head = (f"**No face found**; classified the **whole image** ({w}x{h}, centre "
                    f"square): **{faces[0].label}** ({faces[0].confidence:.0%}).")
        else:
            n = len(faces)
            head = f"Found **{n} face{'s' if n > 1 else ''}** in this {w}x{h} photo."
            if n > MAX_FACES_SHOWN:
                head += f" Showing the {MAX_FACES_SHOWN} largest; all are in the JSON below."
        speed = (f"detection + model {timings['detect_and_classify']:.0f} ms"
                 + (f", Grad-CAM {timings['gradcam']:.0f} ms" if "gradcam" in timings else ""))
        status = " ".join([head, f"<small>({speed})</small>", *[n for n in notes if n]])
        return PhotoResult(status=status, faces=faces, annotated=_annotate(photo, faces),
                           timings_ms=timings)

    def predict_outputs(self, result: PhotoResult) -> list[Any]:
        """Map a :class:`PhotoResult` onto the Predict tab's output components.

        Order: status (Markdown), annotated photo, "Classify the whole image" button, JSON
        of all faces, then per face slot: its row, crop, Grad-CAM overlay and gr.Label.
        Over the API the button and the rows are left out: ``[status, annotated, json,
        crop1, cam1, label1, crop2, ...]``.
        """
        if result.error:
            _warn(result.status)
        out: list[Any] = [
            f"⚠️ {result.status}" if result.error else result.status,
            result.annotated,
            gr.update(visible=result.no_face),
            result.as_json(),
        ]
        for i in range(MAX_FACES_SHOWN):
            if i < len(result.faces):
                face = result.faces[i]
                title = ("Whole image" if face.whole_image else
                         f"Face {face.index} (detector score {face.detector_score:.2f})")
                out += [
                    gr.update(visible=True),
                    gr.update(value=_fit(face.crop, FACE_CROP_SIDE), visible=True, label=title),
                    gr.update(value=face.cam, visible=face.cam is not None,
                              label=f"Grad-CAM, face {face.index}"),
                    gr.update(value=face.probabilities, visible=True,
                              label=f"Face {face.index}: {face.label}"),
                ]
            else:
                out += [gr.update(visible=False)] + [gr.update(value=None, visible=False)] * 3
        return out

    def predict(self, image: Any, classify_whole_image: bool = False,
                cam_branch: str = "fused", checkpoint: str | None = None) -> list[Any]:
        """Predict tab handler (``api_name="predict"``)."""
        return self.predict_outputs(
            self.analyse_photo(image, classify_whole_image, cam_branch, checkpoint))

    def predict_whole_image(self, image: Any, cam_branch: str = "fused",
                            checkpoint: str | None = None) -> list[Any]:
        """'Classify the whole image' button (``api_name="predict_whole_image"``)."""
        return self.predict(image, True, cam_branch, checkpoint)

    # -- SQS explorer ---------------------------------------------------------------

    def gallery_value(self, uploads: Sequence[GalleryItem] | None) -> list[tuple[str, str]]:
        """The gallery component's value: dataset samples, then the visitor's uploads."""
        return [(it.path, it.caption) for it in [*self.gallery, *(uploads or [])]]

    def gallery_item(self, index: int, uploads: Sequence[GalleryItem] | None) -> GalleryItem:
        items = [*self.gallery, *(uploads or [])]
        return items[index]

    def add_uploads(self, files: Sequence[Any] | None,
                    uploads: list[GalleryItem] | None) -> tuple[list[GalleryItem], str]:
        """Add the visitor's images to their gallery; returns (uploads, status)."""
        uploads = list(uploads or [])
        added, bad = 0, []
        for f in files or []:
            path = getattr(f, "name", f)
            try:
                img = load_image(path, name=_upload_name(path))
            except ImageLoadError as exc:
                bad.append(_user_error(exc, "reading an upload"))
                continue
            uploads.append(GalleryItem(path=str(path), label=None,
                                       caption=f"your upload: {_upload_name(path)}",
                                       face_crop=min(img.size) <= SMALL_IMAGE_SIDE))
            added += 1
        dropped = max(0, len(uploads) - MAX_SESSION_UPLOADS)
        uploads = uploads[dropped:]
        parts = [f"Added {added} image{'s' if added != 1 else ''} to your gallery."]
        if dropped:
            parts.append(f"Kept your {MAX_SESSION_UPLOADS} newest uploads.")
        if bad:
            parts.append("Skipped: " + " ".join(bad))
        return uploads, " ".join(parts)

    def random_quad(self, rng: random.Random | None = None) -> tuple[list[GalleryItem] | None, str]:
        """Anchor and positive of one class, two negatives of another, from the gallery."""
        rng = rng or random.Random()
        by_class: dict[str, list[GalleryItem]] = {}
        for it in self.gallery:
            if it.label is not None:
                by_class.setdefault(it.label, []).append(it)
        rich = [c for c, v in by_class.items() if len(v) >= 2]
        if len(rich) < 2:
            return None, ("A random quad needs a labelled gallery with two images in at least "
                          "two classes: start the app with --gallery PATH, or upload the four "
                          "images yourself.")
        pos_cls, neg_cls = rng.sample(rich, 2)
        a, p = rng.sample(by_class[pos_cls], 2)
        n1, n2 = rng.sample(by_class[neg_cls], 2)
        return [a, p, n1, n2], (f"Random quad: anchor and positive are **{pos_cls}**, both "
                                f"negatives are **{neg_cls}**.")

    def _sqs_face(self, image: Any, slot: str, is_crop: bool | None) -> tuple[Image.Image, str]:
        img = load_image(image, name=f"the {slot} image ({_upload_name(image)})")
        if is_crop or (is_crop is None and min(img.size) <= SMALL_IMAGE_SIDE):
            return img, ""
        faces = self.detector.detect(img).faces
        if faces:
            return faces[0].crop, ""
        return whole_image_face(img).crop, f"no face found in the {slot} image, used all of it"

    def quad_maps(
        self,
        anchor: Any,
        positive: Any,
        negative1: Any,
        negative2: Any,
        labels: Sequence[str | None] | None = None,
        checkpoint: str | None = None,
    ) -> QuadResult:
        """Compute and draw the SQS maps for one quad; never raises."""
        images = [anchor, positive, negative1, negative2]
        missing = [s for s, im in zip(SLOTS, images) if im is None]
        if missing:
            return QuadResult(status=("Choose all four images first (missing: "
                                      f"{', '.join(missing)}): upload them, or pick a slot and "
                                      "click a gallery image, or press **Random quad**."))
        labels = list(labels or [None] * 4)
        try:
            pred = self.predictor(checkpoint)
            crops, notes = [], []
            for slot, im in zip(SLOTS, images):
                crop, note = self._sqs_face(im, slot, None)
                crops.append(crop)
                if note:
                    notes.append(note)
        except Exception as exc:
            return QuadResult(status=_user_error(exc, "reading the images"), error=True)
        try:
            from sqsnet.viz.similarity import (
                compute_quad_maps,
                overlay_heatmap,
                plot_quad_maps,
            )
        except ImportError as exc:
            return QuadResult(status=f"The SQS explorer is unavailable ({exc}).", error=True)
        try:
            lock = getattr(pred, "_lock", None) or threading.Lock()
            with lock:
                maps = compute_quad_maps(pred.model, *crops, labels=labels)
            figure = _figure_to_image(plot_quad_maps(maps))
            face = _fit(maps.images[0], FACE_CROP_SIDE)  # the anchor as the model sees it
            up = maps.upsampled(face.size)
            r_range = float(maps.r_limit)
            overlays = [
                (overlay_heatmap(face, up["s_ap"], 0, 1), "S_AP over the anchor"),
                (overlay_heatmap(face, up["s_an1"], 0, 1), "S_AN1 over the anchor"),
                (overlay_heatmap(face, up["s_an2"], 0, 1), "S_AN2 over the anchor"),
                (overlay_heatmap(face, up["r"], -r_range, r_range, cmap="coolwarm"),
                 "R over the anchor"),
            ]
        except Exception as exc:
            return QuadResult(status=_user_error(exc, "computing the SQS maps"), error=True)
        loss = float(maps.loss)
        margin = float(maps.margin)
        h, w = np.asarray(maps.s_ap).shape
        named = [f"{s}: {lab}" if lab else s for s, lab in zip(SLOTS, labels)]
        means = {k: float(np.mean(np.asarray(getattr(maps, k)))) for k in ("s_ap", "s_an1", "s_an2", "r")}
        explanation = "\n\n".join([
            f"**Hinge loss L_SQS = {loss:.4f}** (margin m = {margin:g}): the mean over the "
            f"{h}x{w} locations of relu(m + S_AN1 - S_AP) + relu(m + S_AN2 - S_AP). It is zero "
            "only where the anchor is closer to the positive than to each negative by the "
            "margin at every location.",
            f"{_EXPLAIN['S_AP']} Mean here: {means['s_ap']:.3f}.",
            f"{_EXPLAIN['S_AN1']} Mean here: {means['s_an1']:.3f}.",
            f"{_EXPLAIN['S_AN2']} Mean here: {means['s_an2']:.3f}.",
            f"{_EXPLAIN['R']} Mean here: {means['r']:.3f}.",
        ])
        status = "Quad: " + "; ".join(named) + "."
        if notes:
            status += " Note: " + "; ".join(notes) + "."
        return QuadResult(status=status, figure=figure, overlays=overlays,
                          explanation=explanation, loss=loss)

    # -- Model ----------------------------------------------------------------------

    def model_card(self, key: str | None = None) -> tuple[str, dict[str, Any]]:
        """``(markdown, raw metadata)`` describing a checkpoint; never raises."""
        key = key or self.default_key
        path = self.checkpoints.get(key)
        if path is None:
            return f"⚠️ Unknown checkpoint {key!r}.", {}
        try:
            header = _read_checkpoint_header(path)
        except Exception as exc:
            return f"⚠️ {_user_error(exc, 'reading the checkpoint')}", {}
        meta = header.get("meta", {})
        card_file = path.parent / "MODEL_CARD.md"
        if path == DEFAULT_CHECKPOINT.resolve() and card_file.is_file():
            text = card_file.read_text(encoding="utf-8")
            if text.startswith("---"):
                end = text.find("\n---", 3)
                text = text[end + 4:] if end > 0 else text
            body = text.strip()
        else:
            body = _card_from_header(path, header)
        loaded = "loaded" if key in self._models else "loads on first use"
        foot = f"\n\n<small>Checkpoint file: `{path.name}` ({path.stat().st_size / 1e6:.1f} MB, {loaded}).</small>"
        note = meta.get("note")
        if note and note not in body:
            body = f"> ⚠️ **Note:** {note}\n\n{body}"
        return body + foot, header

    def checkpoint_info_line(self, key: str | None = None) -> str:
        try:
            meta = _read_checkpoint_header(self.checkpoints[key or self.default_key]).get("meta", {})
        except Exception:
            return ""
        acc = _val_accuracy(meta)
        parts = [f"Model: **{key or self.default_key}**"]
        if meta.get("dataset"):
            parts.append(f"trained on {meta['dataset']}")
        if acc is not None:
            parts.append(f"validation accuracy {acc:.1%}")
        line = ", ".join(parts) + "."
        if meta.get("note"):
            line += f" ⚠️ {meta['note']}."
        return line


def _val_accuracy(meta: dict[str, Any]) -> float | None:
    metrics = meta.get("metrics") or {}
    for split in ("val", "valid", "validation"):
        value = (metrics.get(split) or {}).get("accuracy") if isinstance(metrics.get(split), dict) else None
        if isinstance(value, (int, float)):
            return float(value)
    return None


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value)
    return str(value)


def _card_from_header(path: Path, header: dict[str, Any]) -> str:
    """A model card written from a checkpoint's own metadata."""
    cfg = header.get("config", {})
    meta = header.get("meta", {})
    model = cfg.get("model", {})
    data = cfg.get("data", {})
    train = cfg.get("train", {})
    lines = [f"## {cfg.get('name') or path.stem}", ""]
    lines.append("| field | value |\n|---|---|")
    rows = [
        ("file", f"`{path.name}`"),
        ("dataset", meta.get("dataset") or data.get("dataset")),
        ("label mode", meta.get("label_mode") or data.get("label_mode")),
        ("classes", _fmt(meta.get("class_names") or model.get("class_names"))),
        ("epoch", meta.get("epoch")),
        ("seed", meta.get("seed", train.get("seed"))),
        ("local branch", (model.get("local_branch") or {}).get("name") if model.get("use_local", True) else "off"),
        ("global branch", (model.get("global_branch") or {}).get("name") if model.get("use_global", True) else "off"),
        ("fusion", f"{model.get('fusion')} (d3 = {model.get('fused_dim')})" if model.get("fusion") else None),
        ("input size", f"{model.get('img_size')} px" if model.get("img_size") else None),
        ("SQS", "on" if model.get("use_sqs", True) else "off"),
        ("run folder", f"`{meta['run_dir']}`" if meta.get("run_dir") else None),
    ]
    lines += [f"| {k} | {v} |" for k, v in rows if v not in (None, "")]
    metrics = meta.get("metrics") or {}
    if metrics:
        lines += ["", "**Metrics**", "", "| split | metric | value |", "|---|---|---|"]
        for split, values in metrics.items():
            if isinstance(values, dict):
                lines += [f"| {split} | {m} | {_fmt(v)} |" for m, v in values.items()]
            else:
                lines.append(f"| {split} | | {_fmt(values)} |")
    command = meta.get("command")
    if not command and cfg.get("name"):
        command = (f"sqsnet train --config {cfg['name']} --data-root PATH"
                   "   # reconstructed from the config name; see the raw config below")
    if command:
        lines += ["", "**Command**", "", f"```\n{command}\n```"]
    sqs = model.get("sqs") or {}
    if sqs:
        lines += ["", "**SQS settings:** " + ", ".join(
            f"{k} {_fmt(sqs[k])}" for k in ("tau", "alpha", "beta", "gamma", "margin", "normalize", "negatives", "quads")
            if k in sqs)]
    if train:
        keys = ("epochs", "lr", "weight_decay", "warmup_epochs", "amp", "tta")
        lines += ["", "**Training:** " + ", ".join(f"{k} {_fmt(train[k])}" for k in keys if k in train)
                  + (f", batch {data['batch_size']}" if "batch_size" in data else "")]
    versions = meta.get("versions") or {}
    if versions:
        lines += ["", "**Versions:** " + ", ".join(f"{k} {v}" for k, v in versions.items())]
    return "\n".join(lines)


# ------------------------------------------------------------------------------ the page


def build_demo(
    checkpoint: str | os.PathLike[str] = "default",
    gallery: str | os.PathLike[str] | None = None,
    checkpoints_dir: str | os.PathLike[str] | None = None,
    *,
    gallery_per_class: int = GALLERY_PER_CLASS,
    concurrency: int = DEFAULT_CONCURRENCY,
    lab: LabApp | None = None,
) -> gr.Blocks:
    """Build the page (models are loaded here, once).

    Args:
        checkpoint: ``"default"`` (the bundled FERPlus model), a ``.safetensors`` file or a
            run folder.
        gallery: A labelled data folder for the explorer's gallery (FERPlus layout or
            ``<class>/*.jpg``), or ``None``.
        checkpoints_dir: A folder of checkpoints to switch between in the Model tab.
        gallery_per_class: Gallery images per class.
        concurrency: Requests processed at once per event (``demo.queue``).
        lab: Reuse an existing :class:`LabApp` (tests).

    Returns:
        The queued :class:`gradio.Blocks`; ``demo.lab`` is its :class:`LabApp`.

    Raises:
        CheckpointError: The checkpoint cannot be loaded.
        GalleryError: ``gallery`` is not a readable labelled folder.
    """
    lab = lab or LabApp(checkpoint, gallery, checkpoints_dir, gallery_per_class)
    class_list = ", ".join(lab.predictor().class_names)

    with gr.Blocks(title="SQSNet lab") as demo:
        gr.Markdown(
            "# SQSNet lab: facial expression recognition\n"
            "A hybrid CNN + Swin network trained with *Spatial Quad-Similarity* (SQS). "
            f"Classes: {class_list}. Photos up to {MAX_IMAGE_PIXELS / 1e6:.0f} megapixels.  \n"
            + lab.checkpoint_info_line()
        )
        with gr.Tab("Predict"):
            with gr.Row():
                with gr.Column(scale=1):
                    photo = upload_image(label="Photo (upload, webcam or paste)",
                                        sources=["upload", "webcam", "clipboard"], height=360,
                                        elem_id="photo")
                    whole = gr.Checkbox(False, label="Classify the whole image when no face is found")
                    branch = gr.Radio(["fused", "local", "global", "off"], value="fused",
                                      label="Grad-CAM layer",
                                      info="fused: the map both heads see; local: the CNN branch; "
                                           "global: the Swin branch; off: faster")
                    predict_btn = gr.Button("Predict", variant="primary")
                with gr.Column(scale=1):
                    status = gr.Markdown("Upload a photo or take one with the webcam.",
                                         elem_classes=["sqs-status"], elem_id="predict-status")
                    whole_btn = gr.Button("Classify the whole image", visible=False)
                    annotated = gr.Image(label="Faces found", type="pil", interactive=False,
                                         height=360, elem_id="annotated")
            face_outputs: list[Any] = []
            for i in range(MAX_FACES_SHOWN):
                with gr.Row(visible=False, elem_id=f"face-{i + 1}") as row:
                    crop = gr.Image(label=f"Face {i + 1}", type="pil", interactive=False,
                                    visible=False, height=200, scale=1,
                                    elem_id=f"face-{i + 1}-crop")
                    cam = gr.Image(label=f"Grad-CAM, face {i + 1}", type="pil",
                                   interactive=False, visible=False, height=200, scale=1,
                                   elem_id=f"face-{i + 1}-cam")
                    probs = gr.Label(label=f"Face {i + 1}", num_top_classes=4, visible=False,
                                     scale=2, elem_id=f"face-{i + 1}-label")
                face_outputs += [row, crop, cam, probs]
            with gr.Accordion("All predictions as JSON", open=False):
                result_json = gr.JSON(label="Predictions")

        with gr.Tab("SQS explorer"):
            gr.Markdown(
                "Spatial Quad-Similarity compares an **anchor** face with a **positive** (same "
                "expression, another image) and two **negatives** (another expression) at every "
                "location of the fused feature map. Pick the four images (upload, or choose a "
                "slot and click a gallery image) and press **Show SQS maps**."
            )
            uploads = gr.State([])
            labels = gr.State([None, None, None, None])
            with gr.Row():
                slots = [upload_image(label=s.capitalize(),
                                     sources=["upload", "webcam", "clipboard"], height=180,
                                     elem_id=f"slot-{s.replace(' ', '')}") for s in SLOTS]
            with gr.Row():
                target = gr.Radio(list(SLOTS), value=SLOTS[0], label="Gallery click fills",
                                  scale=2)
                random_btn = gr.Button("Random quad", scale=1)
                maps_btn = gr.Button("Show SQS maps", variant="primary", scale=1)
            sqs_status = gr.Markdown("", elem_classes=["sqs-status"])
            gallery_hint = (f"{len(lab.gallery)} images from {lab.gallery_source}"
                            if lab.gallery else "no data folder given (start with --gallery PATH)")
            gal = gr.Gallery(value=lab.gallery_value([]), label=f"Gallery ({gallery_hint}) and your uploads",
                             columns=8, height=260, allow_preview=False, object_fit="contain")
            add_files = gr.File(label="Add your own images to the gallery", file_count="multiple",
                                file_types=["image"], height=130)
            with gr.Row():
                maps_fig = gr.Image(label="SQS maps", type="pil", interactive=False, scale=3)
                overlays = gr.Gallery(label="Maps over the anchor face", columns=2, scale=2,
                                      allow_preview=True, object_fit="contain")
            explanation = gr.Markdown("")

        with gr.Tab("Model"):
            with gr.Row():
                ckpt = gr.Dropdown(choices=lab.checkpoint_choices(), value=lab.default_key,
                                   label="Checkpoint",
                                   info=("Checkpoints found in " + str(lab.checkpoints_dir)
                                         if lab.checkpoints_dir else
                                         "Start with --checkpoints DIR to switch between runs"),
                                   scale=4)
                rescan_btn = gr.Button("Rescan", scale=1)
            card_text, card_raw = lab.model_card(lab.default_key)
            card = gr.Markdown(card_text)
            with gr.Accordion("Raw checkpoint metadata", open=False):
                raw = gr.JSON(value=card_raw)

        # ---- events (every one named, so the API is stable)
        pred_outputs = [status, annotated, whole_btn, result_json, *face_outputs]
        gr.on(
            triggers=[photo.change, predict_btn.click, whole.input, branch.input],
            fn=lab.predict, inputs=[photo, whole, branch, ckpt], outputs=pred_outputs,
            api_name="predict", trigger_mode="always_last",
        )
        whole_btn.click(lab.predict_whole_image, inputs=[photo, branch, ckpt],
                        outputs=pred_outputs, api_name="predict_whole_image")

        def show_maps(a: Any, p: Any, n1: Any, n2: Any, labs: list, key: str) -> list[Any]:
            res = lab.quad_maps(a, p, n1, n2, labs, key)
            if res.error:
                _warn(res.status)
            return [f"⚠️ {res.status}" if res.error else res.status, res.figure,
                    res.overlays, res.explanation]

        maps_btn.click(show_maps, inputs=[*slots, labels, ckpt],
                       outputs=[sqs_status, maps_fig, overlays, explanation], api_name="sqs_maps")

        def pick(evt: gr.SelectData, slot: str, labs: list, ups: list) -> list[Any]:
            try:
                item = lab.gallery_item(int(evt.index), ups)
            except (IndexError, TypeError, ValueError):
                return [gr.update()] * 4 + [slot, labs, "That gallery image is gone; pick another."]
            i = SLOTS.index(slot) if slot in SLOTS else 0
            labs = list(labs or [None] * 4)
            labs[i] = item.label
            updates = [gr.update()] * 4
            updates[i] = item.path
            nxt = SLOTS[(i + 1) % len(SLOTS)]
            return updates + [nxt, labs, f"{SLOTS[i].capitalize()}: {item.caption}."]

        gal.select(pick, inputs=[target, labels, uploads],
                   outputs=[*slots, target, labels, sqs_status], api_name="sqs_pick")

        def random_fill(labs: list) -> list[Any]:
            quad, message = lab.random_quad()
            if quad is None:
                _warn(message)
                return [gr.update()] * 4 + [labs, message]
            return [it.path for it in quad] + [[it.label for it in quad], message]

        random_btn.click(random_fill, inputs=[labels], outputs=[*slots, labels, sqs_status],
                         api_name="sqs_random_quad").then(
            show_maps, inputs=[*slots, labels, ckpt],
            outputs=[sqs_status, maps_fig, overlays, explanation], api_name="sqs_random_maps")

        for i, slot in enumerate(slots):
            def uploaded(image: Any, labs: list, ups: list, _i: int = i) -> list[Any]:
                labs = list(labs or [None] * 4)
                labs[_i] = None  # the visitor's own image: label unknown
                if image is None or isinstance(image, (bytes, bytearray)):
                    return [labs, ups, lab.gallery_value(ups)]
                ups, _ = lab.add_uploads([image], ups)
                return [labs, ups, lab.gallery_value(ups)]

            slot.upload(uploaded, inputs=[slot, labels, uploads], outputs=[labels, uploads, gal],
                        api_name=f"sqs_upload_{SLOTS[i].replace(' ', '')}")

        def add_to_gallery(files: Any, ups: list) -> list[Any]:
            ups, message = lab.add_uploads(files, ups)
            if "Skipped" in message:
                _warn(message)
            return [ups, lab.gallery_value(ups), message, None]

        add_files.upload(add_to_gallery, inputs=[add_files, uploads],
                         outputs=[uploads, gal, sqs_status, add_files], api_name="sqs_add_images")

        def show_card(key: str) -> list[Any]:
            text, header = lab.model_card(key)
            try:
                lab.predictor(key)  # load now, so a broken file is reported here
            except Exception as exc:
                text = f"⚠️ {_user_error(exc, 'loading the checkpoint')}\n\n{text}"
                _warn(_user_error(exc, "loading the checkpoint"))
            return [text, header]

        ckpt.change(show_card, inputs=[ckpt], outputs=[card, raw], api_name="model_card")

        def rescan(key: str) -> Any:
            lab.rescan_checkpoints()
            value = key if key in lab.checkpoints else lab.default_key
            return gr.update(choices=lab.checkpoint_choices(), value=value)

        rescan_btn.click(rescan, inputs=[ckpt], outputs=[ckpt], api_name="rescan_checkpoints")

    demo.queue(default_concurrency_limit=max(1, int(concurrency)), max_size=QUEUE_SIZE)
    demo.lab = lab  # type: ignore[attr-defined]
    return demo


def launch_kwargs(host: str = "127.0.0.1", port: int | None = 7860, share: bool = False) -> dict[str, Any]:
    """Arguments for ``demo.launch`` (theme-independent CSS, upload limit, no telemetry)."""
    return dict(server_name=host, server_port=port, share=share, css=CSS,
                max_file_size=MAX_UPLOAD, show_error=False, footer_links=["api", "settings"])


def _patient_url_ok(url: str, wait_s: float = 60.0) -> bool:
    """Gradio's start-up probe of the local URL, with patience for a busy machine.

    Gradio gives up after one 3-second HEAD request, then refuses to serve without a
    share link. On a loaded CPU the first page render can take longer than that.
    """
    import httpx

    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            r = httpx.head(url, timeout=10, verify=False)
            if r.status_code in (200, 401, 301, 302, 303, 307, 308):
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return False


def launch(demo: gr.Blocks, host: str = "127.0.0.1", port: int | None = 7860,
           share: bool = False, **extra: Any) -> Any:
    """``demo.launch`` with :func:`launch_kwargs` and a patient start-up probe.

    Args:
        demo: From :func:`build_demo`.
        host: Interface to listen on.
        port: Port (``None``: Gradio picks one from 7860 up).
        share: Also open a public gradio.live link.
        **extra: More ``launch`` arguments (e.g. ``prevent_thread_lock=True``).

    Returns:
        What ``demo.launch`` returns.
    """
    import gradio.networking as networking

    original = networking.url_ok
    networking.url_ok = _patient_url_ok
    try:
        return demo.launch(**launch_kwargs(host, port, share), **extra)
    finally:
        networking.url_ok = original


def main(argv: Sequence[str] | None = None) -> None:
    """``python apps/sqsnet_space/app.py [--checkpoint ...] [--gallery ...]``."""
    parser = argparse.ArgumentParser(
        prog="sqsnet-app", description="SQSNet lab: Gradio app (predict, SQS explorer, model card).")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                        help="interface to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--checkpoint", default="default",
                        help="'default' (bundled FERPlus model), a .safetensors file or a run folder")
    parser.add_argument("--gallery", default=os.environ.get("SQSNET_GALLERY") or None,
                        help="labelled data folder for the SQS explorer gallery (e.g. "
                             ".../ferplus/FER2013Valid or a <class>/*.jpg tree)")
    parser.add_argument("--gallery-per-class", type=int, default=GALLERY_PER_CLASS)
    parser.add_argument("--checkpoints", default=None,
                        help="folder scanned for SQSNet *.safetensors to switch between")
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY,
                        help="requests processed at once per event")
    parser.add_argument("--share", action="store_true",
                        help="also open a public gradio.live link (off by default; needs network)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        demo = build_demo(args.checkpoint, args.gallery, args.checkpoints,
                          gallery_per_class=args.gallery_per_class, concurrency=args.concurrency)
    except (CheckpointError, GalleryError) as exc:
        parser.exit(2, f"sqsnet-app: error: {exc}\n")
    _LOG.info("warm-up took %.1f s", demo.lab.warmup())  # type: ignore[attr-defined]
    launch(demo, args.host, args.port, args.share)


if __name__ == "__main__":
    main()
