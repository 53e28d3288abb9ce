"""From a photo to per-face expression probabilities (used by ``sqsnet predict`` and the app).

:class:`Predictor` loads a checkpoint once, finds faces with :mod:`sqsnet.faces`, crops and
aligns them, applies the model's eval transform and returns class probabilities per face.
When no face is found it can fall back to the whole image (a centred square crop), and it
says that it did.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from sqsnet.checkpoint import load_model
from sqsnet.data.transforms import model_eval_transform
from sqsnet.faces import FaceDetector, load_image, whole_image_face

__all__ = ["FacePrediction", "Predictor"]

_LOG = logging.getLogger(__name__)


@dataclass
class FacePrediction:
    """One face and what the model thinks of it.

    Attributes:
        box: ``(x0, y0, x1, y1)`` in the original image.
        crop: The aligned face crop the model saw (before resizing), RGB.
        probabilities: Class name -> probability, in the model's class order.
        label: The most probable class.
        score: Detector confidence (0.0 for the whole-image fallback: nothing was detected).
        whole_image: True when no face was detected and the whole image was used.
    """

    box: tuple[int, int, int, int]
    crop: Image.Image
    probabilities: dict[str, float]
    label: str
    score: float
    whole_image: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (without the crop)."""
        return {
            "box": list(self.box),
            "label": self.label,
            "probabilities": self.probabilities,
            "score": self.score,
            "whole_image": self.whole_image,
        }


class Predictor:
    """Model + face detector + transform, loaded once.

    Args:
        checkpoint: ``"default"``, a ``.safetensors`` file or a run folder.
        device: Torch device.
        detector: A :class:`sqsnet.faces.FaceDetector` (created lazily when ``None``).
    """

    def __init__(
        self, checkpoint: str | Path = "default", device: str = "cpu", detector: Any = None
    ) -> None:
        self.model = load_model(checkpoint, device=device)
        self.device = device
        self.class_names = self.model.class_names
        self.transform = model_eval_transform(self.model.cfg)
        self._detector = detector
        self._lock = threading.Lock()

    @property
    def detector(self) -> Any:
        """The face detector (created on first use)."""
        if self._detector is None:
            self._detector = FaceDetector()
        return self._detector

    @torch.no_grad()
    def classify_crops(self, crops: list[Image.Image]) -> np.ndarray:
        """Probabilities ``N x K`` for face crops (any size, RGB)."""
        if not crops:
            return np.zeros((0, len(self.class_names)), np.float32)
        x = torch.stack([self.transform(c.convert("RGB")) for c in crops]).to(self.device)
        with self._lock:
            probs = self.model(x).float().softmax(-1)
        return probs.cpu().numpy()

    def predict(
        self, image: Any, fallback_whole_image: bool = True,
        classify: Callable[[list[Image.Image]], np.ndarray] | None = None,
    ) -> list[FacePrediction]:
        """Detect faces and classify each.

        Args:
            image: Path, bytes, PIL image or array (see :func:`sqsnet.faces.load_image`).
            fallback_whole_image: Classify the whole image when no face is found.
            classify: Face crops -> ``N x K`` probabilities (default :meth:`classify_crops`;
                the app passes one that also computes Grad-CAM in the same forward pass).

        Returns:
            One :class:`FacePrediction` per face, largest first (empty when no face was
            found and the fallback is off).
        """
        img = load_image(image)
        detection = self.detector.detect(img)
        faces = list(detection.faces)
        whole = False
        if not faces and fallback_whole_image:
            faces = [whole_image_face(img)]
            whole = True
        probs = (classify or self.classify_crops)([f.crop for f in faces])
        results = []
        for face, p in zip(faces, probs):
            table = {name: float(v) for name, v in zip(self.class_names, p)}
            results.append(FacePrediction(
                box=tuple(int(v) for v in face.box), crop=face.crop, probabilities=table,
                label=self.class_names[int(p.argmax())], score=float(face.score),
                whole_image=whole,
            ))
        return results
