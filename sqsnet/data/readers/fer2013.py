"""FER2013 reader: ``fer2013.csv`` (pixels in the CSV) or a tree of class folders."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from ..labels import FER2013_CLASSES
from .base import (
    DatasetError,
    FERDataset,
    Transform,
    describe_dir,
    norm_split,
    parse_int,
    pixels_to_array,
    read_csv_rows,
)
from .folder import LabelledFolder

__all__ = ["FER2013"]

logger = logging.getLogger(__name__)


class FER2013(FERDataset):
    """FER2013 (Goodfellow et al., 2013), 48x48 grayscale, 7 classes.

    Sources: ``fer2013.csv`` (``emotion,pixels,Usage``; ``Training``/``PublicTest``/
    ``PrivateTest`` = train/valid/test; ``root`` may be the file or its folder, also
    ``root/fer2013/fer2013.csv``), or a tree of class folders ``root/train/<class>/``,
    ``root/test/<class>/`` (valid: ``root/valid`` or ``root/val``), read with
    :class:`LabelledFolder` in FER2013's class order. Labels: 0..6 = anger, disgust,
    fear, happiness, sadness, surprise, neutral.

    Args:
        root: CSV file, its folder, or the class-folder tree.
        split: ``train``, ``valid`` or ``test``.
        transform: Applied to the PIL RGB image.
        cache: Class-folder tree only: decode all images into memory once (the CSV is
            always in memory).
        skip_bad_images: Class-folder tree only: skip undecodable images.
    """

    dataset_name = "FER2013"
    USAGE: dict[str, str] = {"train": "Training", "valid": "PublicTest", "test": "PrivateTest"}
    FOLDERS: dict[str, tuple[str, ...]] = {
        "train": ("train", "training", "Training"),
        "valid": ("valid", "val", "validation", "PublicTest"),
        "test": ("test", "PrivateTest"),
    }

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str = "train",
        transform: Transform | None = None,
        cache: bool = False,
        skip_bad_images: bool = False,
    ) -> None:
        super().__init__(transform, cache, skip_bad_images)
        self.split = norm_split(split, ("train", "valid", "test"), "FER2013")
        self.root = Path(root).expanduser()
        self.classes = FER2013_CLASSES
        csv_file = None
        if self.root.is_file():
            csv_file = self.root
        else:
            for cand in (self.root / "fer2013.csv", self.root / "fer2013" / "fer2013.csv"):
                if cand.is_file():
                    csv_file = cand
                    break
        if csv_file is not None:
            self.layout = "csv"
            self._read_csv(csv_file)
            self._finish()
            return
        for name in self.FOLDERS[self.split]:
            if (self.root / name).is_dir():
                self.layout = "folders"
                folder = LabelledFolder(
                    self.root / name, transform=None, classes=FER2013_CLASSES,
                    cache=cache, skip_bad_images=skip_bad_images,
                )
                self.samples, self.targets = folder.samples, folder.targets
                self._pixels, self.skipped = folder._pixels, folder.skipped
                return
        raise DatasetError(
            f"FER2013 {self.split}: expected {self.root / 'fer2013.csv'} (emotion,pixels,Usage) "
            f"or class folders {self.root}/{self.FOLDERS[self.split][0]}/<class>/; "
            f"{describe_dir(self.root)}."
        )

    def _read_csv(self, csv_file: Path) -> None:
        rows = read_csv_rows(csv_file, "FER2013")
        if not rows:
            raise DatasetError(f"{csv_file}: the file is empty.")
        hline, header = rows[0]
        col = {h.strip().lower(): i for i, h in enumerate(header)}
        if not {"emotion", "pixels", "usage"} <= set(col):
            raise DatasetError(
                f"{csv_file}, line {hline}: expected the header emotion,pixels,Usage, got "
                f"{','.join(header)[:80]!r}."
            )
        usage = self.USAGE[self.split]
        known_usage = set(self.USAGE.values())
        ids: list[str] = []
        labels: list[int] = []
        lines: list[int] = []
        pixels: list[np.ndarray] = []
        for line, fields in rows[1:]:
            if len(fields) != len(header):
                raise DatasetError(
                    f"{csv_file}, line {line}: expected {len(header)} fields (emotion, pixels, "
                    f"Usage), got {len(fields)}."
                )
            u = fields[col["usage"]].strip()
            if u not in known_usage:
                raise DatasetError(
                    f"{csv_file}, line {line}: Usage must be Training, PublicTest or PrivateTest, "
                    f"got {u!r}."
                )
            emotion = parse_int(fields[col["emotion"]], csv_file, line, "emotion")
            if not 0 <= emotion <= 6:
                raise DatasetError(
                    f"{csv_file}, line {line}: unknown emotion {emotion} (FER2013 uses 0..6 = "
                    f"{', '.join(FER2013_CLASSES)})."
                )
            if u != usage:
                continue
            pixels.append(pixels_to_array(fields[col["pixels"]], csv_file, line))
            ids.append(f"{csv_file}#line{line}")
            labels.append(emotion)
            lines.append(line)
        self._list_file = csv_file
        self.samples, self.targets, self._lines = ids, labels, lines
        shapes = {p.shape for p in pixels}
        self._pixels = np.stack(pixels) if len(shapes) == 1 else pixels
