"""FERPlus reader: FER2013 faces with ten crowd votes each, kept by Microsoft's majority rule.

Layouts: Microsoft's generated ``FER2013Train|FER2013Valid|FER2013Test/label.csv`` plus
PNGs, or the raw pair ``fer2013.csv`` + ``fer2013new.csv``. The ``face box`` column of
``label.csv`` is always the full 48x48 image and is ignored.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..labels import FERPLUS_CLASSES
from .base import (
    DatasetError,
    FERDataset,
    Transform,
    describe_dir,
    norm_split,
    pixels_to_array,
    read_csv_rows,
)

__all__ = ["FERPlus", "ferplus_majority"]

logger = logging.getLogger(__name__)

_FERPLUS_VOTE_COLUMNS: tuple[str, ...] = FERPLUS_CLASSES + ("unknown", "NF")


def _is_header(fields: list[str]) -> bool:
    """Whether a ``label.csv`` row is a header: 12 fields whose last ten are the vote
    column names (``...,neutral,happiness,...,unknown,NF``, any case). Only such a row is
    skipped; a malformed first data row is reported like any other."""
    names = [x.strip().lower() for x in fields[2:]]
    return len(fields) == 12 and names == [c.lower() for c in _FERPLUS_VOTE_COLUMNS]


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
        self.split = norm_split(split, ("train", "valid", "test"), "FERPlus")
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
                f"{raw_new} + fer2013.csv; {describe_dir(self.root)}."
            )
        self._finish()

    # generated layout ---------------------------------------------------------------
    def _read_generated(self, split_dir: Path) -> None:
        label_file = split_dir / "label.csv"
        rows = read_csv_rows(label_file, "FERPlus")
        names: list[str] = []
        lines: list[int] = []
        votes: list[list[int]] = []
        if rows and _is_header(rows[0][1]):
            rows = rows[1:]  # a real header line; any other first row is data
        for line, fields in rows:
            if len(fields) != 12:
                raise DatasetError(
                    f"{label_file}, line {line}: expected 12 comma-separated fields (image "
                    f"name, face box, then 10 vote counts: {', '.join(_FERPLUS_VOTE_COLUMNS)}), "
                    f"got {len(fields)}: {','.join(fields)[:120]!r}."
                )
            try:
                counts = [int(x) for x in fields[2:]]
            except ValueError:
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
                f"(looked in {self.root} and {self.root / 'fer2013'}); {describe_dir(self.root)}."
            )
        new_rows = read_csv_rows(new_csv, "FERPlus")
        old_rows = read_csv_rows(old_csv, "FERPlus")
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
            pixels.append(pixels_to_array(of[1], old_csv, oline))
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
