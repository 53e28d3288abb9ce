"""The SQS explorer's gallery: labelled sample faces, a visitor's own uploads, random quads.

:func:`load_gallery` copies a seeded sample of a labelled data folder (FERPlus layout or a
``<class>/*.jpg`` tree) to a private folder as PNGs, so the app serves copies and never the
data folder itself. A visitor's uploads join *their* gallery only (:func:`add_uploads`,
at most :data:`MAX_SESSION_UPLOADS`); the page keeps that list in its session state. A
gallery click is an index into ``[*gallery, *uploads]`` (:func:`gallery_entries`,
:func:`gallery_item`). :func:`random_quad` draws an anchor and a positive of one class and
two negatives of another.
"""

from __future__ import annotations

import logging
import os
import random
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sqsnet.data import DatasetError, FERDataset, FERPlus, LabelledFolder
from sqsnet.errors import SQSNetError
from sqsnet.faces import ImageLoadError
from sqsnet.service.drawing import DISPLAY_SIDE, fit
from sqsnet.service.uploads import UploadError, load_upload, upload_name, user_message

__all__ = [
    "GALLERY_MIN_SIDE",
    "GALLERY_PER_CLASS",
    "MAX_SESSION_UPLOADS",
    "SMALL_IMAGE_SIDE",
    "GalleryError",
    "GalleryItem",
    "add_uploads",
    "gallery_entries",
    "gallery_item",
    "load_gallery",
    "random_quad",
]

_LOG = logging.getLogger(__name__)

GALLERY_PER_CLASS = 6
"""Default number of gallery images sampled per class."""
MAX_SESSION_UPLOADS = 24
"""A visitor's own gallery images kept per session (oldest dropped first)."""
SMALL_IMAGE_SIDE = 160
"""Images whose shorter side is at most this are taken as face crops already."""
GALLERY_MIN_SIDE = 144
"""Smaller gallery images (48 px FERPlus faces) are upscaled to this for display."""


class GalleryError(SQSNetError, ValueError):
    """``--gallery`` does not name a readable labelled data folder."""


@dataclass
class GalleryItem:
    """One image the explorer can use.

    Attributes:
        path: A PNG/JPEG file on disk (a private copy for dataset samples).
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
    folders = {v.lower(): k for k, v in FERPlus.SPLIT_FOLDERS.items()}
    if (path / "label.csv").is_file() and path.name.lower() in folders:
        return path.parent, folders[path.name.lower()]
    for split in ("valid", "test", "train"):
        if (path / FERPlus.SPLIT_FOLDERS[split] / "label.csv").is_file():
            return path, split
    if (path / "fer2013new.csv").is_file():
        return path, "valid"
    return None


def _open_dataset(root: Path) -> tuple[FERDataset, str]:
    """The labelled dataset in ``root`` and how to name it in captions."""
    if not root.is_dir():
        raise GalleryError(f"--gallery {root}: no such folder (expected a FERPlus folder such "
                           "as .../ferplus/FER2013Valid, or a folder of <class>/ sub-folders)")
    try:
        fer = _ferplus_split(root)
        if fer is not None:
            return FERPlus(fer[0], split=fer[1]), f"FERPlus {fer[1]}"
        return LabelledFolder(root), root.name
    except DatasetError as exc:
        raise GalleryError(f"--gallery {root}: {exc}") from None


def load_gallery(
    path: str | os.PathLike[str],
    per_class: int = GALLERY_PER_CLASS,
    seed: int = 0,
    out_dir: str | os.PathLike[str] | None = None,
) -> list[GalleryItem]:
    """Sample up to ``per_class`` images per class from a labelled data folder.

    Accepted layouts: FERPlus (a root with ``FER2013Valid/label.csv`` etc., one split
    folder itself, or the raw ``fer2013new.csv`` + ``fer2013.csv`` pair; the valid split
    is preferred) and any ``<root>/<class>/*.jpg`` tree (:class:`sqsnet.data.LabelledFolder`).

    Args:
        path: The folder.
        per_class: Images per class (seeded random sample).
        seed: Sampling seed.
        out_dir: Where the sampled images are copied as PNG; a new temporary folder when
            ``None``.

    Returns:
        Items grouped by class in the dataset's class order.

    Raises:
        GalleryError: The folder is missing or holds no readable labelled images.
    """
    root = Path(path).expanduser()
    ds, source = _open_dataset(root)
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
            except Exception as exc:  # one unreadable file must not lose the gallery
                skipped += 1
                _LOG.warning("gallery: skipping %s (%s)", ds.samples[i], exc)
                continue
            is_crop = min(image.size) <= SMALL_IMAGE_SIDE
            if max(image.size) > DISPLAY_SIDE:
                image = fit(image, DISPLAY_SIDE)
            elif max(image.size) < GALLERY_MIN_SIDE:
                image = fit(image, GALLERY_MIN_SIDE)
            file = out / f"{len(items):04d}_{name}.png"
            image.save(file)
            taken += 1
            items.append(GalleryItem(path=str(file), label=name,
                                     caption=f"{name} ({source} #{i})", face_crop=is_crop))
    if not items:
        raise GalleryError(f"--gallery {root}: no readable images found")
    _LOG.info("gallery: %d images from %s (%d skipped)", len(items), root, skipped)
    return items


def gallery_entries(gallery: Sequence[GalleryItem],
                    uploads: Sequence[GalleryItem] | None) -> list[tuple[str, str]]:
    """``(path, caption)`` of the dataset samples, then the visitor's uploads."""
    return [(it.path, it.caption) for it in [*gallery, *(uploads or [])]]


def gallery_item(gallery: Sequence[GalleryItem], uploads: Sequence[GalleryItem] | None,
                 index: int) -> GalleryItem:
    """The item at a position of :func:`gallery_entries` (``IndexError`` when gone)."""
    return [*gallery, *(uploads or [])][index]


def add_uploads(files: Sequence[Any] | None,
                uploads: Sequence[GalleryItem] | None) -> tuple[list[GalleryItem], str]:
    """Add a visitor's images to their gallery.

    Args:
        files: Paths (or objects with a ``name`` path attribute) of the uploaded files.
        uploads: The visitor's gallery so far.

    Returns:
        ``(uploads, status)``: the new list (the newest :data:`MAX_SESSION_UPLOADS`) and one
        line saying what was added and what was skipped, and why.
    """
    kept = list(uploads or [])
    added, bad = 0, []
    for f in files or []:
        path = getattr(f, "name", f)
        try:
            img = load_upload(path)
        except (ImageLoadError, UploadError) as exc:
            bad.append(user_message(exc, "reading an upload"))
            continue
        kept.append(GalleryItem(path=str(path), label=None,
                                caption=f"your upload: {upload_name(path)}",
                                face_crop=min(img.size) <= SMALL_IMAGE_SIDE))
        added += 1
    dropped = max(0, len(kept) - MAX_SESSION_UPLOADS)
    kept = kept[dropped:]
    parts = [f"Added {added} image{'s' if added != 1 else ''} to your gallery."]
    if dropped:
        parts.append(f"Kept your {MAX_SESSION_UPLOADS} newest uploads.")
    if bad:
        parts.append("Skipped: " + " ".join(bad))
    return kept, " ".join(parts)


def random_quad(gallery: Sequence[GalleryItem], rng: random.Random | None = None,
                ) -> tuple[list[GalleryItem] | None, str]:
    """Anchor and positive of one class, two negatives of another, from the gallery.

    Args:
        gallery: Labelled items (unlabelled ones are ignored).
        rng: Random source (a fresh one when ``None``).

    Returns:
        ``([anchor, positive, negative1, negative2], status)``, or ``(None, why not)``
        when fewer than two classes have two images each.
    """
    rng = rng or random.Random()
    by_class: dict[str, list[GalleryItem]] = {}
    for it in gallery:
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
