"""AffectNet reader (the manually annotated part): the official layout, cropped to the
annotated face box, and the common public mirrors.

Layouts (detected from the files present; official when its file lists exist):

* official: ``Manually_Annotated_file_lists/training.csv|validation.csv`` +
  ``Manually_Annotated_Images/`` (details in :class:`AffectNet`).
* mirror: one folder per split, ``train`` and ``val``/``valid``/``validation`` or ``test``,
  each holding one folder per class, named by class (``anger``, ``happy``, ... through the
  synonyms) or by the official code 0..7 (:data:`~sqsnet.data.labels.DATASET_CODES`).
  Mirror images are already face crops; no box is applied.

Validation rule: the official validation set is the evaluation set (AffectNet's test set is
not public). In a mirror, ``valid`` is the ``val``/``valid`` folder; a mirror without one
but with a ``test`` folder holds the official validation images there (the only public
held-out images), which are then read as ``valid``; a mirror with ``train`` only gets a
seeded, stratified hold-out of ``val_fraction`` of train. ``split="test"`` exists only for a
mirror that has both a validation folder and a separate ``test`` folder.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ..labels import (
    AFFECTNET_CLASSES_7,
    AFFECTNET_CLASSES_8,
    canonical_name,
    class_index,
    code_class,
    describe_codes,
)
from ..layouts import split_folders
from .base import (
    DEFAULT_VAL_FRACTION,
    DatasetError,
    FERDataset,
    Transform,
    describe_dir,
    norm_split,
    parse_int,
    read_csv_rows,
)
from .folder import class_tree, split_folder, tree_samples

__all__ = ["AffectNet"]

logger = logging.getLogger(__name__)

_CODES = describe_codes("affectnet")


def _folder_class(name: str) -> str:
    """A mirror's class folder name (a code 0..7 or a class name) -> canonical class."""
    return code_class("affectnet", name) if name.strip().isdigit() else canonical_name(name)


class AffectNet(FERDataset):
    """AffectNet (manually annotated part), cropped to the annotated face box.

    Official layout: ``root/Manually_Annotated_file_lists/training.csv|validation.csv`` (header
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
        root: Dataset root (see above), or a mirror's folder of split folders.
        split: ``train`` or ``valid`` (``test``: see the module docstring).
        num_classes: 8 or 7.
        transform: Applied to the PIL RGB face crop.
        cache: Decode every crop into memory once (large: only for subsets).
        skip_bad_images: Skip (and record) undecodable images instead of raising.
        val_fraction: Mirrors without a validation folder: share of train held out.
        seed: Seed of that hold-out.
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
        val_fraction: float = DEFAULT_VAL_FRACTION,
        seed: int = 0,
    ) -> None:
        super().__init__(transform, cache, skip_bad_images)
        split_key = norm_split(split, ("train", "valid", "test"), "AffectNet")
        self.root = Path(root).expanduser()
        if int(num_classes) not in (7, 8):
            raise DatasetError(f"AffectNet: num_classes must be 7 or 8, got {num_classes}.")
        self.num_classes = int(num_classes)
        self.classes = AFFECTNET_CLASSES_8 if self.num_classes == 8 else AFFECTNET_CLASSES_7
        self.split = split_key
        list_file = self._find_list(split_key)
        mirror = not self._has_lists() and bool(split_folders(self.root))
        if split_key == "test" and not (mirror and self._mirror_has_test()):
            raise DatasetError(
                "AffectNet: the test set is not public; the official validation set "
                "(split='valid') is the evaluation set reported by papers."
            )
        if mirror:
            self.layout = "mirror"
            self._read_mirror(split_key, float(val_fraction), int(seed))
        elif list_file is not None:
            self.layout = "official"
            self._read_official(list_file)
        else:
            fname = self.FILES[split_key]
            raise DatasetError(
                f"AffectNet {self.split}: expected {self.root / self.LISTS / fname} and images "
                f"under {self.root / self.IMAGES}/<subDirectory_filePath>, or the mirror layout "
                f"train|val|test/<class name or code 0..7>/*.jpg; {describe_dir(self.root)}."
            )
        self._finish()

    # official layout ----------------------------------------------------------------
    def _list_dirs(self) -> tuple[Path, ...]:
        return (self.root / self.LISTS, self.root.parent / self.LISTS, self.root)

    def _has_lists(self) -> bool:
        return any((d / n).is_file() for d in self._list_dirs() for n in self.FILES.values())

    def _find_list(self, split: str) -> Path | None:
        if split not in self.FILES:
            return None
        return next((d / self.FILES[split] for d in self._list_dirs()
                     if (d / self.FILES[split]).is_file()), None)

    def _read_official(self, list_file: Path) -> None:
        """Read ``training.csv``/``validation.csv`` and the images it lists."""
        self._list_file = list_file
        rows = read_csv_rows(list_file, "AffectNet")
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
        rel: list[str] = []
        lines: list[int] = []
        boxes: list[tuple[int, int, int, int]] = []
        for line, fields in rows[1:]:
            row = self._parse_row(fields, col, header, list_file, line)
            if row is None:
                continue
            rel.append(row[0])
            self.targets.append(row[1])
            boxes.append(row[2])
            lines.append(line)
        image_root = self._find_image_root(rel)
        self.image_root = image_root
        self.samples = [str(image_root / p) for p in rel]
        self._lines = lines
        self._boxes = boxes

    def _parse_row(self, fields: list[str], col: dict[str, int], header: list[str],
                   list_file: Path, line: int) -> tuple[str, int, tuple[int, int, int, int]] | None:
        """One list row -> ``(relative path, label, face box)``; ``None`` for dropped codes."""
        if len(fields) != len(header):
            raise DatasetError(
                f"{list_file}, line {line}: expected {len(header)} comma-separated fields "
                f"({','.join(h.strip() for h in header)}), got {len(fields)}."
            )
        expr = parse_int(fields[col["expression"]], list_file, line, "expression")
        if not 0 <= expr <= 10:
            raise DatasetError(
                f"{list_file}, line {line}: unknown expression {expr} (AffectNet uses 0..7 = "
                f"{', '.join(AFFECTNET_CLASSES_8)}; 8..10 = none, uncertain, no-face)."
            )
        if expr >= self.num_classes:
            return None
        x, y, w, h = (parse_int(fields[col[c]], list_file, line, c)
                      for c in ("face_x", "face_y", "face_width", "face_height"))
        if w <= 0 or h <= 0:
            raise DatasetError(
                f"{list_file}, line {line}: face_width and face_height must be positive, got "
                f"{w} x {h}."
            )
        path = fields[col["subDirectory_filePath"]].strip()
        if not path:
            raise DatasetError(f"{list_file}, line {line}: empty subDirectory_filePath.")
        return path, class_index(self.classes, code_class("affectnet", expr)), (x, y, w, h)

    # mirror layout ------------------------------------------------------------------
    def _mirror_has_test(self) -> bool:
        """Whether a mirror has a test folder besides a validation folder."""
        splits = split_folders(self.root)
        return "test" in splits and "valid" in splits

    def _read_mirror(self, split: str, val_fraction: float, seed: int) -> None:
        """Read ``root/<split folder>/<class name or code>/`` (see the class docstring)."""
        if not 0.0 < val_fraction < 1.0:
            raise DatasetError(f"AffectNet: val_fraction must be in (0, 1), got {val_fraction}.")
        folder, hold_out = split_folder(self.root, split, "AffectNet",
                                        valid_aliases=() if split == "test" else ("test",))
        found = class_tree(folder, "AffectNet", _folder_class,
                           f"class names or the codes {_CODES}")
        dropped = [c for c in found if c not in self.classes]
        for c in dropped:
            logger.info("AffectNet-%d: leaving out the %s folder %s.", self.num_classes, c, found[c])
            del found[c]
        self.samples, self.targets = tree_samples(found, self.classes, "AffectNet")
        if hold_out:
            self._hold_out(split, val_fraction, seed, folder)

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
            f"<subDirectory_filePath> (listed in {self._list_file}); {describe_dir(self.root)}."
        )
