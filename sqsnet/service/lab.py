"""The lab's service object: one per process, shared by every visitor of the app.

:class:`LabService` holds what is expensive or shared: the :class:`ModelStore` (models,
detector, the one model lock) and the labelled gallery. A visitor's own state (their
uploads, their checkpoint choice) is passed in by the caller on every call, so one instance
serves all sessions. Every method answers in plain Python (dataclasses, PIL images, lists,
Markdown strings); none raises for bad input.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from sqsnet.inference import Predictor
from sqsnet.service.card import CardText, info_line
from sqsnet.service.card import model_card as render_card
from sqsnet.service.examples import (
    EXAMPLES_DIR,
    EXAMPLES_SOURCE,
    Example,
    ExamplesError,
    ExampleSet,
    example_gallery,
    load_examples,
    predict_examples,
    ready_quad,
)
from sqsnet.service.gallery import (
    GALLERY_PER_CLASS,
    GalleryItem,
    add_uploads,
    gallery_entries,
    gallery_item,
    load_gallery,
    random_quad,
)
from sqsnet.service.predict import FaceView, PhotoResult, add_gradcam, analyse_photo
from sqsnet.service.quad import QuadResult, quad_maps
from sqsnet.service.store import ModelStore, read_checkpoint_header
from sqsnet.service.uploads import Upload, decode_data_url, is_data_url, user_message
from sqsnet.service.why import FaceGallery, WhyResult, explain_choice

__all__ = ["LabService"]

_LOG = logging.getLogger(__name__)


class LabService:
    """Models, gallery and checkpoints behind the app, and what the app asks of them.

    Args:
        checkpoint: ``"default"`` (the bundled FERPlus model), a ``.safetensors`` file or
            a run folder; loaded now, so a broken file fails at start-up.
        gallery: A labelled data folder for the SQS explorer's gallery, or ``None`` for
            the bundled example faces.
        checkpoints_dir: A folder whose SQSNet checkpoints can be switched to.
        gallery_per_class: Gallery images sampled per class.
        examples: The examples folder (default: the package's ``sqsnet/examples``);
            ``None`` for none. A broken folder is logged and left out.

    Raises:
        CheckpointError: The checkpoint cannot be loaded, or ``checkpoints_dir`` is not a
            folder.
        GalleryError: ``gallery`` is not a readable labelled folder.
    """

    def __init__(
        self,
        checkpoint: str | os.PathLike[str] = "default",
        gallery: str | os.PathLike[str] | None = None,
        checkpoints_dir: str | os.PathLike[str] | None = None,
        gallery_per_class: int = GALLERY_PER_CLASS,
        examples: str | os.PathLike[str] | None = EXAMPLES_DIR,
    ) -> None:
        self.store = ModelStore(checkpoint, checkpoints_dir)
        self._gallery_dir: tempfile.TemporaryDirectory[str] | None = None
        self.examples = _read_examples(examples)
        self.gallery: list[GalleryItem] = []
        self.gallery_source: str | None = None
        if gallery is not None:  # before the model: a wrong path fails fast
            self._gallery_dir = tempfile.TemporaryDirectory(prefix="sqsnet-gallery-")
            self.gallery = load_gallery(gallery, gallery_per_class, out_dir=self._gallery_dir.name)
            self.gallery_source = str(gallery)
        elif self.examples.faces:
            self.gallery = example_gallery(self.examples)
            self.gallery_source = EXAMPLES_SOURCE
        self._opening: QuadResult | None = None
        self._opening_lock = threading.Lock()
        self._why_galleries: dict[str, FaceGallery] = {}
        self._why_lock = threading.Lock()
        self._example_hashes = {_sha256(e.path.read_bytes()): e
                                for e in (*self.examples.faces, *self.examples.photos)}
        self.store.get()

    # -- models and checkpoints -------------------------------------------------------

    @property
    def default_key(self) -> str:
        """Key of the checkpoint the app started with."""
        return self.store.default_key

    @property
    def checkpoints_dir(self) -> Path | None:
        """The folder scanned for checkpoints (``--checkpoints``), if any."""
        return self.store.checkpoints_dir

    def predictor(self, key: str | None = None) -> Predictor:
        """The loaded model of a checkpoint key (``None``: the start checkpoint)."""
        return self.store.get(key)

    def checkpoint_choices(self) -> list[tuple[str, str]]:
        """``(label, key)`` pairs for the checkpoint menu."""
        return self.store.choices()

    def rescan_checkpoints(self) -> dict[str, Path]:
        """Re-read the checkpoints folder; returns ``{key: path}``."""
        return self.store.rescan()

    def warmup(self) -> float:
        """Run detection, the model and Grad-CAM once on a blank face (first calls are slow).

        Returns:
            Seconds taken.
        """
        start = time.perf_counter()
        pred = self.predictor()
        blank = Image.new("RGB", (pred.model.cfg.img_size,) * 2, (128, 128, 128))
        with self.store.model_lock:
            pred.classify_crops([blank])
        face = FaceView(1, (0, 0, 1, 1), blank, {}, "", 0.0, 0.0, True)
        add_gradcam(self.store, pred, [face], "fused")
        self.store.detector.detect(blank)
        return time.perf_counter() - start

    # -- Predict ----------------------------------------------------------------------

    def analyse_photo(self, image: Upload, classify_whole_image: bool = False,
                      cam_branch: str = "fused", checkpoint: str | None = None,
                      with_gradcam: bool = True) -> PhotoResult:
        """Every face of a photo, classified and explained; see
        :func:`sqsnet.service.predict.analyse_photo`."""
        return analyse_photo(self.store, image, classify_whole_image, cam_branch,
                                     checkpoint, with_gradcam)

    def why_not(self, image: Upload, face_number: int = 1, classify_whole_image: bool = False,
                checkpoint: str | None = None) -> WhyResult:
        """"Why X, not Y?" for one face of a photo; never raises.

        The photo's faces are found and classified as on Predict (numbered left to right);
        face ``face_number`` is the anchor of a quad from the gallery
        (:func:`sqsnet.service.why.explain_choice`; the gallery's embeddings are computed
        once per checkpoint).

        Args:
            image: The photo (as :meth:`analyse_photo` takes it).
            face_number: Which face, 1-based from the left.
            classify_whole_image: Use the whole image when no face is found.
            checkpoint: Checkpoint key (``None``: the one the app started with).

        Returns:
            A :class:`~sqsnet.service.why.WhyResult`; its ``status`` says what is wrong or
            missing in one line.
        """
        photo = self.analyse_photo(image, classify_whole_image, "off", checkpoint,
                                   with_gradcam=False)
        if photo.error:
            return WhyResult(status=photo.status, error=True)
        if not photo.faces:
            return WhyResult(status="No face to explain: no face was found in this photo.")
        try:
            number = int(face_number)
        except (TypeError, ValueError):
            number = 0
        if not 1 <= number <= len(photo.faces):
            n = len(photo.faces)
            return WhyResult(status=(f"This photo has {n} face{'s' if n != 1 else ''}: choose "
                                     f"a face number from 1 to {n}, got {face_number!r}."),
                             error=True)
        face = photo.faces[number - 1]
        name = "the whole image" if face.whole_image else f"face {face.index}"
        same = self._same_picture(image, number, len(photo.faces))
        try:
            pred = self.store.get(checkpoint)
            gallery = self._why_gallery(checkpoint or self.default_key)
            with self.store.model_lock:
                return explain_choice(pred.model, face.crop, gallery, face.probabilities,
                                      anchor_caption=name, same_picture=same)
        except Exception as exc:  # every failure becomes one sentence in the page
            return WhyResult(status=user_message(exc, "building the quad"), error=True)

    def _same_picture(self, image: Upload, number: int, n_faces: int) -> set[str]:
        """Gallery paths of the example face that face ``number`` of ``image`` is, when
        ``image`` is one of the shipped examples (same bytes) and all its faces were found;
        else none."""
        try:
            if is_data_url(image):
                data = decode_data_url(str(image))
            elif isinstance(image, (bytes, bytearray)):
                data = bytes(image)
            elif isinstance(image, (str, os.PathLike)):
                data = Path(image).read_bytes()
            else:
                return set()
        except Exception:  # not readable as a file: not an example either
            return set()
        example = self._example_hashes.get(_sha256(data))
        if example is None or len(example.sources) != n_faces:
            return set()
        source = example.sources[number - 1]
        return {str(f.path) for f in self.examples.faces if f.sources[0] == source}

    def _why_gallery(self, key: str) -> FaceGallery:
        """The gallery embedded by checkpoint ``key``'s model (built once, then kept)."""
        with self._why_lock:
            if key not in self._why_galleries:
                pred = self.store.get(key)
                with self.store.model_lock:
                    self._why_galleries[key] = FaceGallery.build(pred.model, self.gallery,
                                                                 self.store.detector)
            return self._why_galleries[key]

    # -- SQS explorer -----------------------------------------------------------------

    def quad_maps(self, anchor: Upload, positive: Upload, negative1: Upload, negative2: Upload,
                  labels: Sequence[str | None] | None = None,
                  checkpoint: str | None = None) -> QuadResult:
        """The SQS maps of one quad; see :func:`sqsnet.service.quad.quad_maps`."""
        return quad_maps(self.store, [anchor, positive, negative1, negative2], labels, checkpoint)

    def random_quad(self, rng: random.Random | None = None) -> tuple[list[GalleryItem] | None, str]:
        """A random quad from the gallery; see :func:`sqsnet.service.gallery.random_quad`."""
        return random_quad(self.gallery, rng)

    def opening_quad(self) -> tuple[list[GalleryItem] | None, QuadResult]:
        """The quad the explorer opens on and its maps (computed once, then shared).

        Returns:
            ``(items, result)``: the anchor, positive and negatives from the gallery
            (:func:`~sqsnet.service.examples.ready_quad`) and their maps; ``(None, result)``
            with a status saying why when the gallery has no quad.
        """
        with self._opening_lock:
            items, status = ready_quad(self.gallery)
            if items is None:
                return None, QuadResult(status=status)
            if self._opening is None:
                result = self.quad_maps(*(it.path for it in items),
                                        labels=[it.label for it in items])
                if result.error:  # not kept: the next page load tries again
                    return items, result
                self._opening = result
            return items, self._opening

    def predict_examples(self) -> list[Example]:
        """The examples the Predict tab offers (photos, then one face per class)."""
        return predict_examples(self.examples)

    def gallery_entries(self, uploads: Sequence[GalleryItem] | None) -> list[tuple[str, str]]:
        """``(path, caption)`` of the gallery, then the visitor's uploads."""
        return gallery_entries(self.gallery, uploads)

    def gallery_item(self, index: int, uploads: Sequence[GalleryItem] | None) -> GalleryItem:
        """The clicked item of :meth:`gallery_entries` (``IndexError`` when gone)."""
        return gallery_item(self.gallery, uploads, index)

    def add_uploads(self, files: Sequence[Any] | None,
                    uploads: Sequence[GalleryItem] | None) -> tuple[list[GalleryItem], str]:
        """Add a visitor's images to their gallery; returns ``(uploads, status)``."""
        return add_uploads(files, uploads)

    # -- Model ------------------------------------------------------------------------

    def model_card(self, key: str | None = None) -> tuple[CardText, dict[str, Any]]:
        """``(card, raw header)`` describing a checkpoint; never raises.

        The card's ``summary`` fits a screen; its ``details`` (possibly empty) are for a
        folded section.
        """
        key = key or self.default_key
        path = self.store.checkpoints.get(key)
        if path is None:
            return CardText(f"⚠️ Unknown checkpoint {key!r}."), {}
        try:
            header = read_checkpoint_header(path)
        except Exception as exc:  # one sentence in the page
            return CardText(f"⚠️ {user_message(exc, 'reading the checkpoint')}"), {}
        return render_card(path, header, self.store.is_loaded(key)), header

    def checkpoint_info_line(self, key: str | None = None) -> str:
        """One line on a checkpoint: key, dataset, accuracy at the crop it runs with, file
        size; ``""`` if unreadable."""
        key = key or self.default_key
        try:
            path = self.store.path(key)
            header = read_checkpoint_header(path)
        except Exception:  # the line is decoration: leave it out
            return ""
        return info_line(key, header, path.stat().st_size)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_examples(folder: str | os.PathLike[str] | None) -> ExampleSet:
    """The examples of ``folder``; none (and a logged warning) when it is broken."""
    if folder is None:
        return ExampleSet((), (), Path())
    try:
        return load_examples(folder)
    except ExamplesError as exc:  # decoration: the app works without it
        _LOG.warning("no examples: %s", exc)
        return ExampleSet((), (), Path(folder))
