"""The example images shipped with the package: faces to click on, and a ready quad.

``sqsnet/examples/`` holds 24 face crops (three per class) and three photos composed from
them, all from the muxspace collection (Apache-2.0; ``LICENSE`` and ``README.md`` beside
the images, and ``manifest.json`` naming each file's class and source file). FERPlus images
are never shipped. :func:`load_examples` reads the manifest; the app shows
:func:`predict_examples` on the Predict tab, uses :func:`example_gallery` as the SQS
explorer's gallery when no ``--gallery`` is given, and opens the explorer on
:func:`ready_quad`.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqsnet.errors import SQSNetError
from sqsnet.service.gallery import GalleryItem, random_quad

__all__ = [
    "EXAMPLES_DIR",
    "EXAMPLES_SOURCE",
    "Example",
    "ExampleSet",
    "ExamplesError",
    "example_gallery",
    "load_examples",
    "predict_examples",
    "ready_quad",
]

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"
"""The package's example folder (``sqsnet/examples``)."""
EXAMPLES_SOURCE = "the bundled examples (muxspace, Apache-2.0)"
"""How the page names the examples' origin."""
MANIFEST = "manifest.json"
READY_QUAD_SEED = 0
"""Seed of the quad the explorer opens on (the same quad for every visitor)."""


class ExamplesError(SQSNetError, ValueError):
    """The examples folder or its manifest is missing or malformed."""


@dataclass(frozen=True)
class Example:
    """One example image.

    Attributes:
        path: The file.
        labels: The class of each face, left to right (one for a face crop).
        sources: The muxspace file each face comes from, left to right.
    """

    path: Path
    labels: tuple[str, ...]
    sources: tuple[str, ...]

    @property
    def caption(self) -> str:
        """``"anger (example)"``, or ``"3 faces: happiness, surprise, sadness"``."""
        if len(self.labels) == 1:
            return f"{self.labels[0]} (example)"
        return f"{len(self.labels)} faces: {', '.join(self.labels)}"


@dataclass(frozen=True)
class ExampleSet:
    """The shipped examples: single faces and composed photos."""

    faces: tuple[Example, ...]
    photos: tuple[Example, ...]
    folder: Path


def _entry(folder: Path, entry: Any, where: str) -> Example:
    """One manifest entry: ``file`` and ``label``/``source`` (a face) or ``labels``/
    ``sources`` (a photo, left to right)."""
    try:
        rel = str(entry["file"])
        labels = list(entry["labels"]) if "labels" in entry else [entry["label"]]
        sources = list(entry["sources"]) if "sources" in entry else [entry["source"]]
    except (KeyError, TypeError):
        raise ExamplesError(f"{where}: each entry needs 'file' and 'label'/'labels' and "
                            f"'source'/'sources', got {entry!r}") from None
    path = folder / rel
    if not path.is_file():
        raise ExamplesError(f"{where}: {rel} is listed but missing")
    return Example(path, tuple(str(x) for x in labels), tuple(str(x) for x in sources))


def load_examples(folder: str | os.PathLike[str] = EXAMPLES_DIR) -> ExampleSet:
    """Read an examples folder through its ``manifest.json``.

    Args:
        folder: The folder (default: the package's).

    Returns:
        The faces (in manifest order, grouped by class) and the photos.

    Raises:
        ExamplesError: No manifest, invalid JSON, or a listed file is missing.
    """
    root = Path(folder)
    manifest = root / MANIFEST
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExamplesError(f"{manifest}: not found (the examples folder is incomplete)") from None
    except json.JSONDecodeError as exc:
        raise ExamplesError(f"{manifest}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("faces"), list):
        raise ExamplesError(f"{manifest}: expected an object with a 'faces' list")
    faces = tuple(_entry(root, e, str(manifest)) for e in data["faces"])
    photos = tuple(_entry(root, e, str(manifest)) for e in data.get("photos", []))
    return ExampleSet(faces, photos, root)


def predict_examples(examples: ExampleSet) -> list[Example]:
    """What the Predict tab offers to click: the photos, then one face per class."""
    first: dict[str, Example] = {}
    for face in examples.faces:
        first.setdefault(face.labels[0], face)
    return [*examples.photos, *first.values()]


def example_gallery(examples: ExampleSet) -> list[GalleryItem]:
    """The example faces as the SQS explorer's gallery (labelled, taken as face crops)."""
    return [GalleryItem(path=str(f.path), label=f.labels[0], caption=f.caption, face_crop=True)
            for f in examples.faces]


def ready_quad(gallery: Sequence[GalleryItem]) -> tuple[list[GalleryItem] | None, str]:
    """The quad the explorer opens on: the same seeded random quad for every visitor.

    Returns:
        ``([anchor, positive, negative1, negative2], status)`` as
        :func:`~sqsnet.service.gallery.random_quad`; ``(None, why)`` for a gallery too
        small for a quad.
    """
    return random_quad(gallery, random.Random(READY_QUAD_SEED))
