"""Dataset readers for facial expression recognition.

Every reader returns ``(image, label)`` where ``image`` is ``transform(pil_rgb_image)``
(grayscale sources are converted to RGB first) and ``label`` is an ``int`` in the
dataset's own documented class order (see :mod:`sqsnet.data.labels`); FERPlus in
``label_mode="probability"`` returns a float tensor ``[8]`` instead. Every reader exposes

* ``classes``: tuple of canonical class names in the dataset's order,
* ``targets``: ``list[int]`` hard labels, available without decoding any image (the
  class-aware sampler needs them),
* ``samples``: image paths (or ``"<csv>#line<N>"`` identifiers for pixel-in-CSV sources),
* ``transform``: applied to the PIL RGB image, ``None`` for the bare image,
* ``skipped``: ``(sample, reason)`` pairs of undecodable images skipped under
  ``skip_bad_images=True``,
* ``class_counts()``: images per class.

Bad input raises one :class:`DatasetError` (a ``ValueError``) naming the file and, for
list files, the line: missing root (with the expected layout and what was found), images
listed but missing (checked at construction), malformed rows, unknown labels and, by
default, undecodable images. ``skip_bad_images=True`` decodes every image once at
construction (that costs a full pass over the files), drops the undecodable ones and
records them in ``skipped``. ``cache=True`` decodes every image once into memory (uint8
arrays) so that ``__getitem__`` no longer touches the disk; meant for small datasets such as
FERPlus (25k 48x48 grayscale images, ~58 MB).

Supported layouts:

* FERPlus: Microsoft's generated ``FER2013Train|FER2013Valid|FER2013Test/label.csv`` plus
  PNGs, or the raw pair ``fer2013.csv`` + ``fer2013new.csv``. The ``face box`` column of
  ``label.csv`` is always the full 48x48 image and is ignored.
* RAF-DB basic: ``basic/EmoLabel/list_patition_label.txt`` +
  ``basic/Image/aligned/<stem>_aligned.jpg``; ``valid`` is a seeded stratified 10 % hold-out
  of the official train list (RAF-DB has no validation split).
* AffectNet: ``Manually_Annotated_file_lists/training.csv|validation.csv`` +
  ``Manually_Annotated_Images/``; images are cropped to the face box. The official
  validation set is the evaluation set (the test set is not public). AffectNet is heavily
  imbalanced (happiness ~134k vs contempt ~4k): train it with class-balanced sampling
  (``ClassAwareBatchSampler(..., balanced=True)``).
* FER2013: ``fer2013.csv`` (``emotion,pixels,Usage``) or a ``train/``, ``test/`` tree of class
  folders.
* Any ``<root>/<class>/*.{jpg,jpeg,png,bmp,webp}`` tree (:class:`LabelledFolder`).
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from sqsnet.errors import SQSNetError

from .labels import (
    AFFECTNET_CLASSES_7,
    AFFECTNET_CLASSES_8,
    CANONICAL_CLASSES,
    FER2013_CLASSES,
    FERPLUS_CLASSES,
    RAFDB_CLASSES,
    SYNONYMS,
    canonical_name,
    canonical_names,
    normalize_dataset_name,
)

__all__ = [
    "DatasetError",
    "FERDataset",
    "FERPlus",
    "RAFDB",
    "AffectNet",
    "FER2013",
    "LabelledFolder",
    "IMAGE_EXTENSIONS",
    "ferplus_majority",
    "build_dataset",
    "resolve_data_root",
]

logger = logging.getLogger(__name__)

#: Image file suffixes the lab reads (Pillow decodes all of them); used by folder readers
#: and by ``sqsnet predict`` when given a folder.
IMAGE_EXTENSIONS: tuple[str, ...] = (
    ".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif",
)
"""File extensions (case-insensitive) that :class:`LabelledFolder` reads."""

Transform = Callable[[Image.Image], Any]

_SPLIT_ALIASES: dict[str, str] = {
    "train": "train",
    "training": "train",
    "valid": "valid",
    "val": "valid",
    "validation": "valid",
    "publictest": "valid",
    "test": "test",
    "privatetest": "test",
}

_FERPLUS_VOTE_COLUMNS: tuple[str, ...] = FERPLUS_CLASSES + ("unknown", "NF")


class DatasetError(SQSNetError, ValueError):
    """Bad dataset input: missing root/images, malformed rows, unknown labels, bad images."""


# ----------------------------------------------------------------------------- helpers


def _norm_split(split: str, allowed: Sequence[str], dataset: str) -> str:
    key = _SPLIT_ALIASES.get(str(split).strip().lower())
    if key is None or key not in allowed:
        raise DatasetError(
            f"{dataset}: unknown split {split!r}; expected one of {', '.join(allowed)}."
        )
    return key


def _describe_dir(path: Path, limit: int = 12) -> str:
    """Say what is at ``path`` (for 'missing root' errors)."""
    if not path.exists():
        parent = path.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        return f"{path} does not exist (nearest existing parent: {parent})"
    if not path.is_dir():
        return f"{path} is a file, not a folder"
    try:
        names = sorted(os.listdir(path))
    except OSError as exc:  # pragma: no cover - permissions
        return f"{path} cannot be listed ({exc})"
    if not names:
        return f"{path} is empty"
    shown = ", ".join(names[:limit])
    more = f" (+{len(names) - limit} more)" if len(names) > limit else ""
    return f"{path} contains: {shown}{more}"


def _missing_indices(paths: Sequence[str]) -> list[int]:
    """Indices of ``paths`` that do not exist (one ``listdir`` per folder, not a stat each)."""
    listing: dict[str, set[str] | None] = {}
    missing: list[int] = []
    for i, p in enumerate(paths):
        d, name = os.path.split(p)
        if d not in listing:
            try:
                listing[d] = set(os.listdir(d or "."))
            except OSError:
                listing[d] = None
        entries = listing[d]
        if entries is None or name not in entries:
            missing.append(i)
    return missing


def _raise_missing(
    dataset: str, missing: list[int], paths: Sequence[str], lines: Sequence[int], list_file: Path
) -> None:
    shown = [f"{paths[i]} (line {lines[i]})" for i in missing[:3]]
    rest = len(missing) - len(shown)
    more = f" and {rest} more" if rest > 0 else ""
    raise DatasetError(
        f"{dataset}: {len(missing)} image(s) listed in {list_file} are missing: "
        f"{', '.join(shown)}{more}."
    )


def _decode(path: str, box: tuple[int, int, int, int] | None = None) -> Image.Image:
    """Open and fully decode one image; mode ``L`` or ``RGB``, optionally cropped."""
    with Image.open(path) as im:
        im.load()
        if im.mode not in ("L", "RGB"):
            im = im.convert("RGB")
        else:
            im = im.copy()
    if box is not None:
        x, y, w, h = box
        x0, y0 = max(0, x), max(0, y)
        x1, y1 = min(im.width, x + w), min(im.height, y + h)
        if x1 > x0 and y1 > y0:
            im = im.crop((x0, y0, x1, y1))
        else:
            logger.debug("Face box %s lies outside %s (%dx%d); using the whole image.", box, path,
                         im.width, im.height)
    return im


def _read_csv_rows(path: Path, dataset: str) -> list[tuple[int, list[str]]]:
    """Read a CSV file into ``(line_number, fields)`` pairs (1-based), skipping blank lines."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            rows: list[tuple[int, list[str]]] = []
            for fields in reader:
                if not fields or all(not x.strip() for x in fields):
                    continue
                rows.append((reader.line_num, fields))
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{dataset}: {path} is not a UTF-8 text CSV file ({exc}).") from None
    except csv.Error as exc:
        raise DatasetError(f"{dataset}: {path} is not a valid CSV file ({exc}).") from None
    return rows


def _parse_int(value: str, path: Path, line: int, what: str) -> int:
    text = value.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        f = float(text)
    except ValueError:
        f = float("nan")
    if f.is_integer():
        return int(f)
    raise DatasetError(f"{path}, line {line}: {what} must be an integer, got {value!r}.")


def _pixels_to_array(pixels: str, path: Path, line: int) -> np.ndarray:
    try:
        values = np.array(pixels.split(), dtype=np.int32)
    except ValueError:
        raise DatasetError(
            f"{path}, line {line}: 'pixels' must be space-separated integers 0..255."
        ) from None
    side = int(round(len(values) ** 0.5))
    if len(values) == 0 or side * side != len(values) or values.min() < 0 or values.max() > 255:
        raise DatasetError(
            f"{path}, line {line}: 'pixels' must hold a square image of values 0..255 "
            f"(48x48 = 2304 values), got {len(values)} values."
        )
    return values.astype(np.uint8).reshape(side, side)


def ferplus_majority(votes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply Microsoft's FERPlus majority rule to vote counts.

    Counts ``<= 1`` are set to 0 (outlier removal); an image keeps the argmax if it holds
    more than half of the remaining votes (over all 10 columns), otherwise it is
    "unknown". Images whose winner is ``unknown`` or ``NF`` (not a face), undecided images
    and images without votes are dropped.

    Args:
        votes: Integer vote counts ``[N, 10]`` in the order neutral, happiness, surprise,
            sadness, anger, disgust, fear, contempt, unknown, NF.

    Returns:
        ``(keep, labels, probs)``: bool ``[N]`` mask of kept images, int64 ``[N]``
        majority label (meaningful where ``keep``), float32 ``[N, 8]`` distribution of
        the cleaned emotion votes (unknown/NF removed; zeros where no emotion votes).
    """
    v = np.asarray(votes, dtype=np.int64).copy()
    if v.ndim != 2 or v.shape[1] != 10:
        raise ValueError(f"Expected votes of shape [N, 10], got {v.shape}.")
    v[v <= 1] = 0
    total = v.sum(axis=1)
    top = v.max(axis=1)
    labels = v.argmax(axis=1)
    keep = (2 * top > total) & (labels < 8)
    emo = v[:, :8].astype(np.float32)
    s = emo.sum(axis=1, keepdims=True)
    probs = np.divide(emo, s, out=np.zeros_like(emo), where=s > 0)
    return keep, labels, probs


# ------------------------------------------------------------------------------- base


class FERDataset(Dataset):
    """Common machinery of all readers (not used directly).

    Subclasses fill ``samples``, ``targets``, ``classes`` (and optionally per-sample extras
    listed in ``_parallel``) and call :meth:`_finish`.

    Attributes:
        classes: Canonical class names in the dataset's order.
        targets: Hard labels, ``targets[i]`` in ``range(len(classes))``.
        samples: Image paths or identifiers.
        transform: Callable applied to the PIL RGB image.
        skipped: ``(sample, reason)`` of undecodable images skipped at construction.
        split: Split name (``train``, ``valid``, ``test`` or ``None``).
        root: The root folder or file the dataset was read from.
    """

    dataset_name: str = "dataset"

    def __init__(
        self,
        transform: Transform | None = None,
        cache: bool = False,
        skip_bad_images: bool = False,
    ) -> None:
        self.transform = transform
        self.cache = bool(cache)
        self.skip_bad_images = bool(skip_bad_images)
        self.classes: tuple[str, ...] = ()
        self.samples: list[str] = []
        self.targets: list[int] = []
        self.skipped: list[tuple[str, str]] = []
        self.split: str | None = None
        self.root: Path | None = None
        self._lines: list[int] | None = None  # line of each sample in self._list_file
        self._list_file: Path | None = None
        self._pixels: np.ndarray | list[np.ndarray] | None = None  # decoded images (uint8)
        self._boxes: list[tuple[int, int, int, int]] | None = None
        self._parallel: list[str] = ["samples", "targets", "_lines", "_pixels", "_boxes"]

    # -- construction helpers
    def _origin(self, i: int) -> str:
        if self._list_file is not None and self._lines is not None:
            return f" (listed in {self._list_file}, line {self._lines[i]})"
        return ""

    def _subset(self, keep: Sequence[int]) -> None:
        """Keep only samples ``keep`` in every per-sample attribute."""
        keep_arr = np.asarray(keep, dtype=np.int64)
        for name in self._parallel:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, np.ndarray):
                setattr(self, name, value[keep_arr])
            elif isinstance(value, torch.Tensor):
                setattr(self, name, value[torch.as_tensor(keep_arr)])
            else:
                setattr(self, name, [value[int(i)] for i in keep_arr])

    def _check_files(self) -> None:
        """Raise one :class:`DatasetError` if listed images are missing."""
        if self._pixels is not None:
            return
        missing = _missing_indices(self.samples)
        if missing:
            if self._list_file is not None and self._lines is not None:
                _raise_missing(self.dataset_name, missing, self.samples, self._lines, self._list_file)
            shown = ", ".join(self.samples[i] for i in missing[:3])
            rest = len(missing) - 3
            raise DatasetError(
                f"{self.dataset_name}: {len(missing)} image(s) are missing: {shown}"
                + (f" and {rest} more." if rest > 0 else ".")
            )

    def _finish(self) -> None:
        """Check files, then decode everything once if ``cache`` or ``skip_bad_images``."""
        if len(self.samples) != len(self.targets):  # pragma: no cover - programming error
            raise RuntimeError("samples and targets differ in length")
        self._check_files()
        if self._pixels is None and (self.cache or self.skip_bad_images):
            decoded: list[np.ndarray] = []
            keep: list[int] = []
            for i in range(len(self.samples)):
                try:
                    im = self._decode_raw(i)
                except Exception as exc:  # noqa: BLE001 - every decoder failure is reported
                    if not self.skip_bad_images:
                        raise self._decode_error(i, exc) from exc
                    self.skipped.append((self.samples[i], f"{type(exc).__name__}: {exc}"))
                    continue
                keep.append(i)
                if self.cache:
                    decoded.append(np.asarray(im))
            if self.skipped:
                shown = ", ".join(s for s, _ in self.skipped[:3])
                logger.warning(
                    "%s %s: skipped %d undecodable image(s) (skip_bad_images=True): %s%s",
                    self.dataset_name, self.split, len(self.skipped), shown,
                    " ..." if len(self.skipped) > 3 else "",
                )
                self._subset(keep)
            if self.cache:
                shapes = {a.shape for a in decoded}
                self._pixels = np.stack(decoded) if len(shapes) == 1 else decoded
                nbytes = sum(a.nbytes for a in decoded)
                logger.info("%s %s: cached %d images (%.1f MB).", self.dataset_name, self.split,
                            len(decoded), nbytes / 2**20)
        if len(self.samples) == 0:
            raise DatasetError(f"{self.dataset_name} {self.split}: no images left to read from "
                               f"{self.root}.")

    def _decode_error(self, i: int, exc: BaseException) -> DatasetError:
        return DatasetError(
            f"{self.dataset_name}: cannot decode image {self.samples[i]}{self._origin(i)}: "
            f"{type(exc).__name__}: {exc}. Pass skip_bad_images=True to skip and count "
            f"undecodable images."
        )

    def _decode_raw(self, i: int) -> Image.Image:
        box = self._boxes[i] if self._boxes is not None else None
        return _decode(self.samples[i], box)

    # -- public API
    def load_image(self, index: int) -> Image.Image:
        """Return sample ``index`` as a PIL RGB image, without the transform.

        Args:
            index: Sample index.

        Returns:
            PIL image in mode ``RGB``.

        Raises:
            DatasetError: If the image cannot be decoded.
        """
        if self._pixels is not None:
            return Image.fromarray(self._pixels[index]).convert("RGB")
        try:
            im = self._decode_raw(index)
        except Exception as exc:  # noqa: BLE001
            raise self._decode_error(index, exc) from exc
        return im.convert("RGB") if im.mode != "RGB" else im

    def label(self, index: int) -> Any:
        """The label ``__getitem__`` returns for ``index`` (an ``int`` by default)."""
        return self.targets[index]

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        """Return ``(transform(image), label)``.

        Args:
            index: Sample index.

        Returns:
            The transformed image (e.g. a float tensor ``[3, H, W]``, or a PIL RGB image
            without transform) and the label (``int``; FERPlus probability mode: float
            tensor ``[8]``).
        """
        img = self.load_image(index)
        if self.transform is not None:
            img = self.transform(img)
        return img, self.label(index)

    def __len__(self) -> int:
        return len(self.samples)

    def class_counts(self) -> dict[str, int]:
        """Number of images per class, in ``classes`` order."""
        counts = np.bincount(np.asarray(self.targets, dtype=np.int64), minlength=len(self.classes))
        return {c: int(n) for c, n in zip(self.classes, counts)}

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(split={self.split!r}, images={len(self)}, "
            f"classes={len(self.classes)}, root='{self.root}')"
        )


# ----------------------------------------------------------------------------- FERPlus


class FERPlus(FERDataset):
    """FERPlus (Barsoum et al., 2016): FER2013 faces with 10 crowd votes each.

    Layouts (checked in this order):

    1. Microsoft's generated layout: ``root/FER2013Train|FER2013Valid|FER2013Test/label.csv``
       (no header; rows ``fer0000000.png,"(0, 0, 48, 48)",4,0,0,1,3,2,0,0,0,0``) with the
       PNGs beside it.
    2. The raw pair ``root/fer2013new.csv`` (``Usage,Image name,neutral,...,NF``) and
       ``root/fer2013.csv`` (``emotion,pixels,Usage``; also looked for in
       ``root/fer2013/``), aligned row by row; rows with an empty ``Image name`` are the
       ones Microsoft did not generate and are skipped. ``Training``/``PublicTest``/
       ``PrivateTest`` are train/valid/test.

    Images are kept by Microsoft's majority rule (:func:`ferplus_majority`): on the data
    README's copy this gives 25,045 train and 3,191 valid images.

    Args:
        root: Folder holding the layout.
        split: ``train``, ``valid`` or ``test``.
        label_mode: ``majority``: ``int`` label; ``probability``: float tensor ``[8]`` of
            the cleaned vote distribution (single votes removed, unknown/NF dropped) over
            the 8 classes, for the same images as majority mode (unlike Microsoft's own
            probability mode, which keeps a slightly different set); ``targets`` is the
            majority label in both modes.
        transform: Applied to the PIL RGB image.
        cache: Decode every image into memory once (~58 MB for train); ``__getitem__``
            then never touches the disk. The raw CSV pair is always in memory.
        skip_bad_images: Skip (and record in ``skipped``) undecodable PNGs instead of
            raising.
    """

    dataset_name = "FERPlus"
    SPLIT_FOLDERS: dict[str, str] = {
        "train": "FER2013Train",
        "valid": "FER2013Valid",
        "test": "FER2013Test",
    }
    USAGE: dict[str, str] = {"train": "Training", "valid": "PublicTest", "test": "PrivateTest"}

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str = "train",
        label_mode: str = "majority",
        transform: Transform | None = None,
        cache: bool = False,
        skip_bad_images: bool = False,
    ) -> None:
        super().__init__(transform, cache, skip_bad_images)
        if label_mode not in ("majority", "probability"):
            raise DatasetError(
                f"FERPlus: label_mode must be 'majority' or 'probability', got {label_mode!r}."
            )
        self.label_mode = label_mode
        self.split = _norm_split(split, ("train", "valid", "test"), "FERPlus")
        self.root = Path(root).expanduser()
        self.classes = FERPLUS_CLASSES
        self._probs: np.ndarray | None = None
        self._parallel.append("_probs")

        split_dir = self.root / self.SPLIT_FOLDERS[self.split]
        raw_new = self.root / "fer2013new.csv"
        if (split_dir / "label.csv").is_file():
            self.layout = "generated"
            self._read_generated(split_dir)
        elif raw_new.is_file():
            self.layout = "raw"
            self._read_raw(raw_new)
        else:
            present = [f for f in self.SPLIT_FOLDERS.values() if (self.root / f / "label.csv").is_file()]
            hint = (
                f" (this copy has {', '.join(present)} only)" if present else ""
            )
            raise DatasetError(
                f"FERPlus {self.split}: expected Microsoft's generated layout "
                f"{split_dir}/label.csv (+ PNGs){hint}, or the raw pair "
                f"{raw_new} + fer2013.csv; {_describe_dir(self.root)}."
            )
        self._finish()

    # generated layout ---------------------------------------------------------------
    def _read_generated(self, split_dir: Path) -> None:
        label_file = split_dir / "label.csv"
        rows = _read_csv_rows(label_file, "FERPlus")
        names: list[str] = []
        lines: list[int] = []
        votes: list[list[int]] = []
        for k, (line, fields) in enumerate(rows):
            if len(fields) != 12:
                if k == 0 and not fields[0].strip().lower().endswith(".png"):
                    continue  # tolerate a header row
                raise DatasetError(
                    f"{label_file}, line {line}: expected 12 comma-separated fields (image "
                    f"name, face box, then 10 vote counts: {', '.join(_FERPLUS_VOTE_COLUMNS)}), "
                    f"got {len(fields)}: {','.join(fields)[:120]!r}."
                )
            try:
                counts = [int(x) for x in fields[2:]]
            except ValueError:
                if k == 0 and not fields[0].strip().lower().endswith(".png"):
                    continue  # header row
                raise DatasetError(
                    f"{label_file}, line {line}: the 10 vote counts must be integers, got "
                    f"{fields[2:]}."
                ) from None
            if min(counts) < 0:
                raise DatasetError(f"{label_file}, line {line}: negative vote count in {counts}.")
            name = fields[0].strip()
            if not name:
                raise DatasetError(f"{label_file}, line {line}: empty image name.")
            names.append(name)
            lines.append(line)
            votes.append(counts)
        self._list_file = label_file
        paths = [str(split_dir / n) for n in names]
        self._apply_votes(paths, lines, votes)

    # raw csv pair --------------------------------------------------------------------
    def _read_raw(self, new_csv: Path) -> None:
        old_csv = None
        for cand in (self.root / "fer2013.csv", self.root / "fer2013" / "fer2013.csv"):
            if cand.is_file():
                old_csv = cand
                break
        if old_csv is None:
            raise DatasetError(
                f"FERPlus: found {new_csv} but not the FER2013 pixels file fer2013.csv "
                f"(looked in {self.root} and {self.root / 'fer2013'}); {_describe_dir(self.root)}."
            )
        new_rows = _read_csv_rows(new_csv, "FERPlus")
        old_rows = _read_csv_rows(old_csv, "FERPlus")
        expected_new = ["usage", "image name", *[c.lower() for c in _FERPLUS_VOTE_COLUMNS]]
        if not new_rows or [x.strip().lower() for x in new_rows[0][1]] != expected_new:
            got = new_rows[0][1] if new_rows else []
            raise DatasetError(
                f"{new_csv}, line 1: expected the header "
                f"{','.join(['Usage', 'Image name', *_FERPLUS_VOTE_COLUMNS])}, "
                f"got {','.join(got)[:160]!r}."
            )
        if not old_rows or [x.strip().lower() for x in old_rows[0][1]] != ["emotion", "pixels", "usage"]:
            got = old_rows[0][1] if old_rows else []
            raise DatasetError(
                f"{old_csv}, line 1: expected the header emotion,pixels,Usage, got {','.join(got)[:80]!r}."
            )
        new_rows, old_rows = new_rows[1:], old_rows[1:]
        if len(new_rows) != len(old_rows):
            raise DatasetError(
                f"FERPlus: {new_csv} has {len(new_rows)} data rows but {old_csv} has "
                f"{len(old_rows)}; the two files must be aligned row by row."
            )
        usage = self.USAGE[self.split]
        names: list[str] = []
        lines: list[int] = []
        votes: list[list[int]] = []
        pixels: list[np.ndarray] = []
        for (nline, nf), (oline, of) in zip(new_rows, old_rows):
            if len(nf) != 12:
                raise DatasetError(
                    f"{new_csv}, line {nline}: expected 12 fields (Usage, Image name, 10 vote "
                    f"counts), got {len(nf)}."
                )
            if len(of) != 3:
                raise DatasetError(
                    f"{old_csv}, line {oline}: expected 3 fields (emotion, pixels, Usage), got {len(of)}."
                )
            if nf[0].strip() != of[2].strip():
                raise DatasetError(
                    f"FERPlus: Usage differs between {new_csv}, line {nline} ({nf[0]!r}) and "
                    f"{old_csv}, line {oline} ({of[2]!r}); the files are not aligned."
                )
            if nf[0].strip() != usage:
                continue
            name = nf[1].strip()
            if not name:
                continue  # not generated by Microsoft (no face / removed)
            try:
                counts = [int(x) for x in nf[2:]]
            except ValueError:
                raise DatasetError(
                    f"{new_csv}, line {nline}: the 10 vote counts must be integers, got {nf[2:]}."
                ) from None
            names.append(name)
            lines.append(nline)
            votes.append(counts)
            pixels.append(_pixels_to_array(of[1], old_csv, oline))
        self._list_file = new_csv
        self._pixels = np.stack(pixels) if pixels else np.zeros((0, 48, 48), np.uint8)
        self._apply_votes([f"{old_csv}#{n}" for n in names], lines, votes)

    def _apply_votes(self, paths: list[str], lines: list[int], votes: list[list[int]]) -> None:
        arr = np.asarray(votes, dtype=np.int64).reshape(-1, 10)
        keep, labels, probs = ferplus_majority(arr)
        idx = np.flatnonzero(keep)
        self.samples = paths
        self._lines = lines
        self.targets = [0] * len(paths)
        self._probs = probs
        self._subset(idx)
        self.targets = [int(x) for x in labels[idx]]
        self.n_dropped = int(len(paths) - len(idx))
        logger.info("FERPlus %s: kept %d of %d images (majority rule).", self.split, len(idx), len(paths))

    def label(self, index: int) -> Any:
        if self.label_mode == "probability":
            assert self._probs is not None
            return torch.tensor(self._probs[index], dtype=torch.float32)
        return self.targets[index]


# ------------------------------------------------------------------------------ RAF-DB


class RAFDB(FERDataset):
    """RAF-DB basic (single-label) with the aligned 100x100 faces.

    Layout: ``basic/EmoLabel/list_patition_label.txt`` (lines ``train_00001.jpg 5``, labels
    1..7 = surprise, fear, disgust, happiness, sadness, anger, neutral) and
    ``basic/Image/aligned/<stem>_aligned.jpg``. ``root`` may be the dataset root or its
    ``basic/`` folder. Labels returned are ``file label - 1`` (see ``RAFDB_CLASSES``).

    Args:
        root: Dataset root or ``basic/``.
        split: ``train`` / ``valid``: a stratified, seeded split of the official train list
            (``valid`` holds ``val_fraction`` of it); ``test``: the official test list.
        val_fraction: Fraction of train held out as ``valid``; 0 keeps all of train.
        seed: Seed of the hold-out split.
        transform: Applied to the PIL RGB image.
        cache: Decode every image into memory once.
        skip_bad_images: Skip (and record) undecodable images instead of raising.
    """

    dataset_name = "RAF-DB"
    LABEL_FILE = Path("EmoLabel") / "list_patition_label.txt"
    IMAGE_DIR = Path("Image") / "aligned"

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str = "train",
        val_fraction: float = 0.1,
        seed: int = 0,
        transform: Transform | None = None,
        cache: bool = False,
        skip_bad_images: bool = False,
    ) -> None:
        super().__init__(transform, cache, skip_bad_images)
        self.split = _norm_split(split, ("train", "valid", "test"), "RAF-DB")
        self.root = Path(root).expanduser()
        self.classes = RAFDB_CLASSES
        self.val_fraction = float(val_fraction)
        self.seed = int(seed)
        if not 0.0 <= self.val_fraction < 1.0:
            raise DatasetError(f"RAF-DB: val_fraction must be in [0, 1), got {val_fraction}.")
        if self.split == "valid" and self.val_fraction == 0.0:
            raise DatasetError("RAF-DB: split='valid' needs val_fraction > 0 (RAF-DB has no "
                               "official validation split; it is held out of train).")
        basic = None
        for cand in (self.root, self.root / "basic"):
            if (cand / self.LABEL_FILE).is_file():
                basic = cand
                break
        if basic is None:
            raise DatasetError(
                f"RAF-DB: expected {self.root / 'basic' / self.LABEL_FILE} (or root pointing at "
                f"basic/ with {self.LABEL_FILE}) and basic/{self.IMAGE_DIR}/<stem>_aligned.jpg; "
                f"{_describe_dir(self.root)}."
            )
        label_file = basic / self.LABEL_FILE
        image_dir = basic / self.IMAGE_DIR
        if not image_dir.is_dir():
            raise DatasetError(
                f"RAF-DB: found {label_file} but not the aligned images folder {image_dir}; "
                f"{_describe_dir(basic / 'Image')}."
            )
        self._list_file = label_file
        want = "test" if self.split == "test" else "train"
        names: list[str] = []
        labels: list[int] = []
        lines: list[int] = []
        with open(label_file, encoding="utf-8") as f:
            for line_no, text in enumerate(f, start=1):
                fields = text.split()
                if not fields:
                    continue
                if len(fields) != 2:
                    raise DatasetError(
                        f"{label_file}, line {line_no}: expected '<image name> <label 1..7>' "
                        f"(e.g. 'train_00001.jpg 5'), got {text.strip()!r}."
                    )
                name, lab = fields
                prefix = name.split("_", 1)[0].lower()
                if prefix not in ("train", "test"):
                    raise DatasetError(
                        f"{label_file}, line {line_no}: image name must start with 'train_' or "
                        f"'test_', got {name!r}."
                    )
                try:
                    value = int(lab)
                except ValueError:
                    raise DatasetError(
                        f"{label_file}, line {line_no}: label must be an integer 1..7, got {lab!r}."
                    ) from None
                if not 1 <= value <= 7:
                    raise DatasetError(
                        f"{label_file}, line {line_no}: unknown label {value} (RAF-DB labels are "
                        f"1..7 = {', '.join(RAFDB_CLASSES)})."
                    )
                if prefix != want:
                    continue
                names.append(name)
                labels.append(value - 1)
                lines.append(line_no)
        # image paths: <stem>_aligned.jpg, falling back to the plain name if that exists
        try:
            present = set(os.listdir(image_dir))
        except OSError:  # pragma: no cover
            present = set()
        paths = []
        for name in names:
            stem = os.path.splitext(name)[0]
            aligned = f"{stem}_aligned.jpg"
            chosen = aligned if aligned in present or name not in present else name
            paths.append(str(image_dir / chosen))
        self.samples, self.targets, self._lines = paths, labels, lines
        if self.split != "test" and self.val_fraction > 0 and len(labels) > 0:
            train_idx, val_idx = self._holdout(labels)
            self._subset(val_idx if self.split == "valid" else train_idx)
        self._finish()

    def _holdout(self, labels: list[int]) -> tuple[list[int], list[int]]:
        from sklearn.model_selection import train_test_split

        idx = np.arange(len(labels))
        try:
            tr, va = train_test_split(
                idx, test_size=self.val_fraction, stratify=labels, random_state=self.seed
            )
        except ValueError as exc:
            logger.warning("RAF-DB: stratified hold-out impossible (%s); using a random split.", exc)
            tr, va = train_test_split(idx, test_size=self.val_fraction, random_state=self.seed)
        return sorted(int(i) for i in tr), sorted(int(i) for i in va)


# ---------------------------------------------------------------------------- AffectNet


class AffectNet(FERDataset):
    """AffectNet (manually annotated part), cropped to the annotated face box.

    Layout: ``root/Manually_Annotated_file_lists/training.csv|validation.csv`` (header
    ``subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,
    expression,valence,arousal``) and images under
    ``root/Manually_Annotated_Images/<subDirectory_filePath>`` (also accepted:
    ``root/Manually_Annotated/Manually_Annotated_Images/``, or ``root`` being the images'
    parent folder itself, with the file lists in ``root`` or beside it).

    ``expression`` 0..7 = neutral, happiness, sadness, surprise, fear, disgust, anger,
    contempt; 8..10 (none, uncertain, no-face) are dropped, and 7 as well for
    ``num_classes=7``. The official validation set (``split="valid"``) is the evaluation
    set; the test set is not public. Training data are heavily imbalanced: use balanced
    sampling (``ClassAwareBatchSampler(dataset.targets, ..., balanced=True)``);
    :meth:`class_counts` shows the imbalance.

    Args:
        root: Dataset root (see above).
        split: ``train`` or ``valid``.
        num_classes: 8 or 7.
        transform: Applied to the PIL RGB face crop.
        cache: Decode every crop into memory once (large: only for subsets).
        skip_bad_images: Skip (and record) undecodable images instead of raising.
    """

    dataset_name = "AffectNet"
    LISTS = "Manually_Annotated_file_lists"
    IMAGES = "Manually_Annotated_Images"
    FILES = {"train": "training.csv", "valid": "validation.csv"}
    COLUMNS = (
        "subDirectory_filePath",
        "face_x",
        "face_y",
        "face_width",
        "face_height",
        "facial_landmarks",
        "expression",
        "valence",
        "arousal",
    )

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str = "train",
        num_classes: int = 8,
        transform: Transform | None = None,
        cache: bool = False,
        skip_bad_images: bool = False,
    ) -> None:
        super().__init__(transform, cache, skip_bad_images)
        if str(split).strip().lower() in ("test", "privatetest"):
            raise DatasetError(
                "AffectNet: the test set is not public; the official validation set "
                "(split='valid') is the evaluation set reported by papers."
            )
        self.split = _norm_split(split, ("train", "valid"), "AffectNet")
        self.root = Path(root).expanduser()
        if int(num_classes) not in (7, 8):
            raise DatasetError(f"AffectNet: num_classes must be 7 or 8, got {num_classes}.")
        self.num_classes = int(num_classes)
        self.classes = AFFECTNET_CLASSES_8 if self.num_classes == 8 else AFFECTNET_CLASSES_7

        fname = self.FILES[self.split]
        list_file = None
        for cand in (self.root / self.LISTS, self.root.parent / self.LISTS, self.root):
            if (cand / fname).is_file():
                list_file = cand / fname
                break
        if list_file is None:
            raise DatasetError(
                f"AffectNet {self.split}: expected {self.root / self.LISTS / fname} and images "
                f"under {self.root / self.IMAGES}/<subDirectory_filePath>; "
                f"{_describe_dir(self.root)}."
            )
        self._list_file = list_file
        rows = _read_csv_rows(list_file, "AffectNet")
        if not rows:
            raise DatasetError(f"{list_file}: the file is empty.")
        header_line, header = rows[0]
        col = {name.strip(): i for i, name in enumerate(header)}
        need = ("subDirectory_filePath", "face_x", "face_y", "face_width", "face_height", "expression")
        lacking = [c for c in need if c not in col]
        if lacking:
            raise DatasetError(
                f"{list_file}, line {header_line}: expected the header {','.join(self.COLUMNS)}; "
                f"missing column(s) {', '.join(lacking)}."
            )
        width = len(header)
        rel: list[str] = []
        labels: list[int] = []
        lines: list[int] = []
        boxes: list[tuple[int, int, int, int]] = []
        max_label = self.num_classes - 1
        for line, fields in rows[1:]:
            if len(fields) != width:
                raise DatasetError(
                    f"{list_file}, line {line}: expected {width} comma-separated fields "
                    f"({','.join(h.strip() for h in header)}), got {len(fields)}."
                )
            expr = _parse_int(fields[col["expression"]], list_file, line, "expression")
            if not 0 <= expr <= 10:
                raise DatasetError(
                    f"{list_file}, line {line}: unknown expression {expr} (AffectNet uses 0..7 = "
                    f"{', '.join(AFFECTNET_CLASSES_8)}; 8..10 = none, uncertain, no-face)."
                )
            if expr > max_label:
                continue
            box = tuple(
                _parse_int(fields[col[c]], list_file, line, c)
                for c in ("face_x", "face_y", "face_width", "face_height")
            )
            if box[2] <= 0 or box[3] <= 0:
                raise DatasetError(
                    f"{list_file}, line {line}: face_width and face_height must be positive, got "
                    f"{box[2]} x {box[3]}."
                )
            path = fields[col["subDirectory_filePath"]].strip()
            if not path:
                raise DatasetError(f"{list_file}, line {line}: empty subDirectory_filePath.")
            rel.append(path)
            labels.append(expr)
            lines.append(line)
            boxes.append(box)  # type: ignore[arg-type]
        image_root = self._find_image_root(rel)
        self.image_root = image_root
        self.samples = [str(image_root / p) for p in rel]
        self.targets = labels
        self._lines = lines
        self._boxes = boxes
        self._finish()

    def _find_image_root(self, rel: list[str]) -> Path:
        cands = [
            self.root / self.IMAGES,
            self.root / "Manually_Annotated" / self.IMAGES,
            self.root.parent / self.IMAGES,
            self.root,
        ]
        probe = rel[:20]
        for cand in cands:
            if cand.is_dir() and probe and any((cand / p).is_file() for p in probe):
                return cand
        for cand in cands:
            if cand.is_dir() and cand.name == self.IMAGES:
                return cand  # exists but files are missing: reported by _check_files
        raise DatasetError(
            f"AffectNet: image folder not found; expected {self.root / self.IMAGES}/"
            f"<subDirectory_filePath> (listed in {self._list_file}); {_describe_dir(self.root)}."
        )


# ------------------------------------------------------------------------------ FER2013


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
        self.split = _norm_split(split, ("train", "valid", "test"), "FER2013")
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
            f"{_describe_dir(self.root)}."
        )

    def _read_csv(self, csv_file: Path) -> None:
        rows = _read_csv_rows(csv_file, "FER2013")
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
            emotion = _parse_int(fields[col["emotion"]], csv_file, line, "emotion")
            if not 0 <= emotion <= 6:
                raise DatasetError(
                    f"{csv_file}, line {line}: unknown emotion {emotion} (FER2013 uses 0..6 = "
                    f"{', '.join(FER2013_CLASSES)})."
                )
            if u != usage:
                continue
            pixels.append(_pixels_to_array(fields[col["pixels"]], csv_file, line))
            ids.append(f"{csv_file}#line{line}")
            labels.append(emotion)
            lines.append(line)
        self._list_file = csv_file
        self.samples, self.targets, self._lines = ids, labels, lines
        shapes = {p.shape for p in pixels}
        self._pixels = np.stack(pixels) if len(shapes) == 1 else pixels


# -------------------------------------------------------------------------- LabelledFolder


class LabelledFolder(FERDataset):
    """Any ``root/<class>/*.{jpg,jpeg,png,bmp,webp}`` tree.

    Folder names are matched to canonical classes through :data:`~sqsnet.data.labels.SYNONYMS`
    (case-insensitive: ``happy``, ``Happiness`` and ``HA`` all mean happiness). Hidden
    entries and files with other extensions are ignored.

    Args:
        root: The folder holding one sub-folder per class.
        transform: Applied to the PIL RGB image.
        classes: Class order (any accepted spellings). ``None``: the classes found, in
            canonical order. Classes without a folder are allowed (zero images).
        cache: Decode every image into memory once.
        skip_bad_images: Skip (and record) undecodable images instead of raising.
    """

    dataset_name = "LabelledFolder"

    def __init__(
        self,
        root: str | os.PathLike[str],
        transform: Transform | None = None,
        classes: Sequence[str] | None = None,
        cache: bool = False,
        skip_bad_images: bool = False,
    ) -> None:
        super().__init__(transform, cache, skip_bad_images)
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise DatasetError(
                f"LabelledFolder: expected a folder with one sub-folder per class "
                f"(<root>/<class>/*.jpg); {_describe_dir(self.root)}."
            )
        subdirs = sorted(
            d for d in os.listdir(self.root)
            if not d.startswith(".") and (self.root / d).is_dir()
        )
        if not subdirs:
            raise DatasetError(
                f"LabelledFolder: {self.root} has no class sub-folders (expected e.g. "
                f"{self.root}/happy/, {self.root}/neutral/); {_describe_dir(self.root)}."
            )
        found: dict[str, str] = {}
        unknown: list[str] = []
        for d in subdirs:
            try:
                c = canonical_name(d)
            except ValueError:
                unknown.append(d)
                continue
            if c in found:
                raise DatasetError(
                    f"LabelledFolder: folders {self.root / found[c]} and {self.root / d} both mean "
                    f"{c!r}; merge or rename them (classes are never merged silently)."
                )
            found[c] = d
        if unknown:
            raise DatasetError(
                f"LabelledFolder: unknown class folder(s) {', '.join(repr(u) for u in unknown)} in "
                f"{self.root}. Accepted names (case-insensitive): {', '.join(sorted(SYNONYMS))}."
            )
        if classes is None:
            order = tuple(c for c in CANONICAL_CLASSES if c in found)
        else:
            try:
                order = canonical_names(classes)
            except ValueError as exc:
                raise DatasetError(f"LabelledFolder: bad classes argument: {exc}") from None
            extra = [found[c] for c in found if c not in order]
            if extra:
                raise DatasetError(
                    f"LabelledFolder: folder(s) {', '.join(extra)} in {self.root} are not among "
                    f"the requested classes {', '.join(order)}."
                )
        self.classes = order
        samples: list[str] = []
        targets: list[int] = []
        ignored = 0
        for label, c in enumerate(order):
            if c not in found:
                continue
            d = self.root / found[c]
            for name in sorted(os.listdir(d)):
                if name.startswith("."):
                    continue
                if os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS:
                    samples.append(str(d / name))
                    targets.append(label)
                else:
                    ignored += 1
        if ignored:
            logger.debug("LabelledFolder %s: ignored %d non-image file(s).", self.root, ignored)
        if not samples:
            raise DatasetError(
                f"LabelledFolder: no images ({', '.join(IMAGE_EXTENSIONS)}) in the class folders "
                f"of {self.root}."
            )
        self.samples, self.targets = samples, targets
        self._finish()


# -------------------------------------------------------------------------------- factory

_DATA_FOLDER_NAMES: dict[str, tuple[str, ...]] = {
    "ferplus": ("ferplus", "FERPlus", "FER+", "fer_plus"),
    "rafdb": ("rafdb", "RAF-DB", "raf-db", "RAF_DB", "raf_db", "RAFDB"),
    "affectnet": ("affectnet", "AffectNet"),
    "fer2013": ("fer2013", "FER2013"),
    "folder": (),
}


def resolve_data_root(root: str | os.PathLike[str] | None, dataset: str) -> Path:
    """Find a dataset's root folder.

    Args:
        root: Explicit root; returned as is (``~`` expanded) when given.
        dataset: Dataset name (``ferplus``, ``rafdb``, ``affectnet``, ``fer2013``, ``folder``).

    Returns:
        ``root``, else from the ``SQSNET_DATA`` environment variable: its sub-folder named
        after the dataset (``$SQSNET_DATA/ferplus``, ``$SQSNET_DATA/RAF-DB``, ...) when that
        exists, otherwise ``$SQSNET_DATA`` itself (it may point at the dataset folder).

    Raises:
        DatasetError: If neither ``root`` nor ``SQSNET_DATA`` is set.
    """
    if root is not None and str(root) != "":
        return Path(root).expanduser()
    key = normalize_dataset_name(dataset)
    key = "affectnet" if key.startswith("affectnet") else key
    env = os.environ.get("SQSNET_DATA", "").strip()
    if not env:
        names = _DATA_FOLDER_NAMES.get(key, ())
        sub = f"<folder>/{names[0]}" if names else "<folder>"
        raise DatasetError(
            f"No data root for {dataset!r}: pass a root (e.g. --data-root / data.root) or set the "
            f"environment variable SQSNET_DATA to {sub} or to the folder that holds it."
        )
    base = Path(env).expanduser()
    for name in _DATA_FOLDER_NAMES.get(key, ()):
        if (base / name).is_dir():
            return base / name
    return base


def build_dataset(
    name: str,
    root: str | os.PathLike[str] | None,
    split: str | None = "train",
    transform: Transform | None = None,
    **kwargs: Any,
) -> FERDataset:
    """Create a dataset reader by name.

    Args:
        name: ``ferplus``, ``rafdb``, ``affectnet`` (or ``affectnet7``/``affectnet8``),
            ``fer2013`` or ``folder`` (any spelling accepted by
            :func:`~sqsnet.data.labels.normalize_dataset_name`).
        root: Dataset root; ``None`` uses :func:`resolve_data_root`.
        split: ``train``, ``valid`` or ``test``. For ``folder``, ``root/<split>`` is read
            when it exists, else ``root`` itself (``split=None``: always ``root``).
        transform: Applied to the PIL RGB image.
        **kwargs: Reader options (``label_mode``, ``cache``, ``skip_bad_images``,
            ``val_fraction``, ``seed``, ``num_classes``, ``classes``). ``None`` values are
            ignored, as is ``label_mode="majority"`` for datasets with single labels.

    Returns:
        The reader.

    Raises:
        ValueError: For an unknown dataset name.
        TypeError: For options the reader does not take.
        DatasetError: For bad data (see the module docstring).
    """
    try:
        key = normalize_dataset_name(name)
    except ValueError as exc:  # a user's typo: report it as bad data input, one line
        raise DatasetError(str(exc)) from None
    opts = {k: v for k, v in kwargs.items() if v is not None}
    if key != "ferplus" and opts.get("label_mode", "majority") == "majority":
        opts.pop("label_mode", None)
    if key in ("affectnet7", "affectnet8"):
        n = 7 if key == "affectnet7" else 8
        if opts.setdefault("num_classes", n) != n:
            raise ValueError(f"Dataset {name!r} conflicts with num_classes={opts['num_classes']}.")
        key = "affectnet"
    if key != "affectnet" and "num_classes" in opts:
        opts.pop("num_classes")  # other datasets have a fixed class count
    path = resolve_data_root(root, key)
    readers: dict[str, Callable[..., FERDataset]] = {
        "ferplus": FERPlus,
        "rafdb": RAFDB,
        "affectnet": AffectNet,
        "fer2013": FER2013,
    }
    if key == "folder":
        if split is not None and (path / split).is_dir():
            path = path / split
        return LabelledFolder(path, transform=transform, **opts)
    cls = readers[key]
    import inspect

    accepted = set(inspect.signature(cls.__init__).parameters) - {"self", "root", "split", "transform"}
    unknown = sorted(set(opts) - accepted)
    if unknown:
        raise TypeError(
            f"{cls.__name__} does not take option(s) {', '.join(unknown)}; it takes "
            f"{', '.join(sorted(accepted))}."
        )
    return cls(path, split=split or "train", transform=transform, **opts)
