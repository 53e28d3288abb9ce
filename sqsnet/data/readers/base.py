"""What every dataset reader shares: the reader contract, the error type and the helpers.

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
* ``layout``: the name of the on-disk layout that was read,
* ``holdout``: ``None``, or the record of the seeded stratified hold-out this split was
  cut from (where the data has no validation split of its own),
* ``class_counts()``: images per class.

Bad input raises one :class:`DatasetError` (a ``ValueError``) naming the file and, for
list files, the line: missing root (with the expected layout and what was found), images
listed but missing (checked at construction), malformed rows, unknown labels and, by
default, undecodable images. ``skip_bad_images=True`` decodes every image once at
construction (that costs a full pass over the files), drops the undecodable ones and
records them in ``skipped``. ``cache=True`` decodes every image once into memory (uint8
arrays) so that ``__getitem__`` no longer touches the disk; meant for small datasets such as
FERPlus (25k 48x48 grayscale images, ~58 MB).
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
from sklearn.model_selection import train_test_split
from torch.utils.data import Dataset

from sqsnet.errors import SQSNetError

__all__ = [
    "IMAGE_EXTENSIONS",
    "Transform",
    "DatasetError",
    "FERDataset",
    "norm_split",
    "describe_dir",
    "decode_image",
    "DEFAULT_VAL_FRACTION",
    "read_csv_rows",
    "parse_int",
    "pixels_to_array",
    "stratified_holdout",
]

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS: tuple[str, ...] = (
    ".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif",
)
"""Image file suffixes (case-insensitive) the lab reads (Pillow decodes all of them): the
folder readers and ``sqsnet predict`` given a folder use this one list."""

Transform = Callable[[Image.Image], Any]
"""What a reader's ``transform`` is: PIL RGB image -> anything (usually a tensor ``[3, H, W]``)."""

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

DEFAULT_VAL_FRACTION: float = 0.1
"""Share of train held out as validation where a dataset has no validation split."""

_HOLDOUTS_SAID: set[tuple[str, str, float, int]] = set()  # hold-outs already logged


class DatasetError(SQSNetError, ValueError):
    """Bad dataset input: missing root/images, malformed rows, unknown labels, bad images."""


def norm_split(split: str, allowed: Sequence[str], dataset: str) -> str:
    """Normalise a split name (``val``, ``PublicTest`` -> ``valid``, ...).

    Args:
        split: The name given.
        allowed: Normalised names this dataset has.
        dataset: Dataset name for the message.

    Returns:
        ``train``, ``valid`` or ``test``.

    Raises:
        DatasetError: For an unknown split or one this dataset does not have.
    """
    key = _SPLIT_ALIASES.get(str(split).strip().lower())
    if key is None or key not in allowed:
        raise DatasetError(
            f"{dataset}: unknown split {split!r}; expected one of {', '.join(allowed)}."
        )
    return key


def describe_dir(path: Path, limit: int = 12) -> str:
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


def decode_image(path: str, box: tuple[int, int, int, int] | None = None) -> Image.Image:
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


def read_csv_rows(path: Path, dataset: str) -> list[tuple[int, list[str]]]:
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


def parse_int(value: str, path: Path, line: int, what: str) -> int:
    """``value`` as an integer (``"3"`` and ``"3.0"`` both give 3), else one error naming
    ``path``, ``line`` and the field ``what``."""
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


def pixels_to_array(pixels: str, path: Path, line: int) -> np.ndarray:
    """FER2013's ``pixels`` field (space-separated 0..255) as a square uint8 array ``[S, S]``."""
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


def stratified_holdout(
    labels: Sequence[int], fraction: float, seed: int, dataset: str
) -> tuple[list[int], list[int]]:
    """Split indices into a seeded, stratified ``(train, valid)`` pair.

    Classes keep their proportions on both sides where each class has at least two
    images; otherwise (tiny data) the split is random and a warning says so.

    Args:
        labels: Class index of every sample.
        fraction: Share held out as ``valid``, in ``(0, 1)``.
        seed: Seed of the draw (the same seed gives the same split).
        dataset: Dataset name for messages.

    Returns:
        Sorted train indices and sorted valid indices (disjoint, together all samples).

    Raises:
        DatasetError: When there are too few samples to hold any out.
    """
    idx = np.arange(len(labels))
    if len(idx) < 2:
        raise DatasetError(f"{dataset}: {len(idx)} image(s) are too few to hold out a "
                           "validation split; add images or provide a validation split.")
    try:
        tr, va = train_test_split(idx, test_size=fraction, stratify=list(labels),
                                  random_state=seed)
    except ValueError as exc:
        logger.warning("%s: stratified hold-out impossible (%s); using a random split.",
                       dataset, exc)
        tr, va = train_test_split(idx, test_size=fraction, random_state=seed)
    return sorted(int(i) for i in tr), sorted(int(i) for i in va)


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
        layout: Name of the on-disk layout that was read (e.g. ``generated``, ``mirror``).
        holdout: ``None``, or where this split was held out of train (no validation split
            on disk): ``{"source", "fraction", "seed", "train", "valid"}`` (sizes), for the
            run to record.
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
        self.layout: str = ""
        self.holdout: dict[str, Any] | None = None
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

    def _hold_out(self, split: str, fraction: float, seed: int, source: Path | str) -> None:
        """Keep the ``train`` or ``valid`` side of a seeded stratified hold-out of the
        current samples, and record it in :attr:`holdout` (also logged)."""
        train_idx, val_idx = stratified_holdout(self.targets, fraction, seed, self.dataset_name)
        self.holdout = {"source": str(source), "fraction": fraction, "seed": seed,
                        "train": len(train_idx), "valid": len(val_idx)}
        said = (self.dataset_name, str(source), fraction, seed)
        if said not in _HOLDOUTS_SAID:  # once per hold-out, not once per split read
            _HOLDOUTS_SAID.add(said)
            logger.info("%s: no validation split in %s; holding out a seeded stratified %.0f%% "
                        "of train as valid (seed %d): %d train / %d valid images.",
                        self.dataset_name, source, 100 * fraction, seed, len(train_idx),
                        len(val_idx))
        self._subset(val_idx if split == "valid" else train_idx)

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
        return decode_image(self.samples[i], box)

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

