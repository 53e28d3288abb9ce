"""The checkpoints the app can serve, the models loaded from them, and the one model lock.

A :class:`ModelStore` is built once per process and shared by every visitor. It knows the
checkpoint the app started with (key ``"default"`` for the bundled model, else the file's
name) and the SQSNet checkpoints found under ``--checkpoints DIR``; it loads a model on first
use and keeps at most :data:`MAX_LOADED_MODELS` (least recently used dropped). All models
share one face detector.

**Thread safety.** Gradio runs requests in worker threads. A forward pass, Grad-CAM (which
hooks the model's layers and runs backward) and the SQS maps (which switch the model to eval
mode) must never overlap on a model, so every use of any loaded model runs under
:attr:`ModelStore.model_lock`, one lock for the whole store. Face detection is serialised by
the detector's own lock; image decoding, drawing and encoding run outside both.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import cv2
import torch
from safetensors import safe_open

from sqsnet.checkpoint import DEFAULT_CHECKPOINT, CheckpointError, resolve_checkpoint
from sqsnet.faces import FaceDetector
from sqsnet.inference import Predictor

__all__ = [
    "MAX_CHECKPOINTS",
    "MAX_LOADED_MODELS",
    "ModelStore",
    "find_checkpoints",
    "read_checkpoint_header",
    "set_compute_threads",
]

_LOG = logging.getLogger(__name__)

MAX_CHECKPOINTS = 200
"""At most this many ``*.safetensors`` files are listed from ``--checkpoints``."""
MAX_LOADED_MODELS = 2
"""Loaded checkpoints kept in memory at once (least recently used is dropped)."""


def set_compute_threads(threads: int | None) -> int:
    """Set the threads that each model pass (torch) and face detection (OpenCV) may use.

    Both are per process. With several requests served at once, each library's own pool
    (as many threads as cores) oversubscribes the cores; see ``--threads`` in the app.

    Args:
        threads: Threads per library (``None``: leave torch's setting, and give OpenCV the
            same number).

    Returns:
        The number set.
    """
    n = max(1, int(threads)) if threads is not None else torch.get_num_threads()
    torch.set_num_threads(n)
    cv2.setNumThreads(n)
    return n


def read_checkpoint_header(path: Path) -> dict[str, Any]:
    """The SQSNet JSON header of a checkpoint, read without loading any tensor.

    Args:
        path: A ``.safetensors`` file.

    Returns:
        The header (``{"config": ..., "meta": ...}``).

    Raises:
        CheckpointError: No SQSNet metadata, or corrupt metadata.
        safetensors.SafetensorError: Not a safetensors file.
    """
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

    Raises:
        CheckpointError: ``folder`` is not a folder.
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
            read_checkpoint_header(path)
        except Exception:  # any unreadable file is simply not listed
            _LOG.debug("skipping %s: not an SQSNet checkpoint", path)
            continue
        found[rel.as_posix()] = path.resolve()
        if len(found) >= MAX_CHECKPOINTS:
            _LOG.warning("--checkpoints %s: listing the first %d checkpoints only", root,
                         MAX_CHECKPOINTS)
            break
    return found


class ModelStore:
    """Checkpoints by key, the models loaded from them, the shared detector and model lock.

    Args:
        checkpoint: The checkpoint the app starts with: ``"default"``, a ``.safetensors``
            file or a run folder.
        checkpoints_dir: A folder whose SQSNet checkpoints can be switched to (or ``None``).
        device: Torch device of the models.

    Raises:
        CheckpointError: ``checkpoint`` does not resolve to a file, or ``checkpoints_dir``
            is not a folder. Nothing is loaded yet (see :meth:`get`).
    """

    def __init__(
        self,
        checkpoint: str | os.PathLike[str] = "default",
        checkpoints_dir: str | os.PathLike[str] | None = None,
        device: str = "cpu",
    ) -> None:
        self.model_lock = threading.Lock()
        """Held by every forward pass, Grad-CAM and SQS map of any loaded model."""
        self._load_lock = threading.Lock()
        self._models: OrderedDict[str, Predictor] = OrderedDict()
        self._detector: FaceDetector | None = None
        self.device = device
        self.checkpoints_dir = Path(checkpoints_dir).expanduser() if checkpoints_dir else None
        start = resolve_checkpoint(checkpoint).resolve()
        is_default = str(checkpoint) == "default" or start == DEFAULT_CHECKPOINT.resolve()
        self.default_key = "default" if is_default else start.name
        self.checkpoints: dict[str, Path] = {self.default_key: start}
        self.rescan()

    def rescan(self) -> dict[str, Path]:
        """Re-read ``checkpoints_dir`` (new runs appear without a restart).

        Returns:
            ``{key: path}``, the start checkpoint first.
        """
        start = self.checkpoints[self.default_key]
        found = find_checkpoints(self.checkpoints_dir)
        self.checkpoints = {self.default_key: start,
                            **{k: v for k, v in found.items() if v != start}}
        return self.checkpoints

    def choices(self) -> list[tuple[str, str]]:
        """``(label, key)`` pairs for a checkpoint menu."""
        return [("default (bundled FERPlus model)" if key == "default" else key, key)
                for key in self.checkpoints]

    def path(self, key: str | None = None) -> Path:
        """The file of a checkpoint key (``None``: the start checkpoint).

        Raises:
            CheckpointError: Unknown key.
        """
        key = key or self.default_key
        if key not in self.checkpoints:
            raise CheckpointError(
                f"unknown checkpoint {key!r}; known: {', '.join(self.checkpoints)} "
                "(press 'Rescan' after adding files)"
            )
        return self.checkpoints[key]

    def is_loaded(self, key: str | None = None) -> bool:
        """Whether the model of ``key`` is in memory."""
        return (key or self.default_key) in self._models

    @property
    def detector(self) -> FaceDetector:
        """The face detector shared by all models (created on first use)."""
        with self._load_lock:
            if self._detector is None:
                self._detector = FaceDetector()
            return self._detector

    def get(self, key: str | None = None) -> Predictor:
        """The loaded model of a checkpoint key (loaded on first use, then cached).

        Use its model only while holding :attr:`model_lock`.

        Args:
            key: Checkpoint key (``None``: the start checkpoint).

        Raises:
            CheckpointError: Unknown key, or the file does not load.
        """
        key = key or self.default_key
        path = self.path(key)
        detector = self.detector
        with self._load_lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
            start = time.perf_counter()
            pred = Predictor(path, device=self.device, detector=detector)
            _LOG.info("loaded checkpoint %s in %.1f s", key, time.perf_counter() - start)
            self._models[key] = pred
            while len(self._models) > MAX_LOADED_MODELS:
                old, _ = self._models.popitem(last=False)
                _LOG.info("unloaded checkpoint %s", old)
            return pred
