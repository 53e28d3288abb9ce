"""RAF-DB reader (basic, single-label, aligned 100x100 faces): the official layout and the
common public mirror.

Layouts (detected from the files present, official first):

* official: ``basic/EmoLabel/list_patition_label.txt`` (lines ``train_00001.jpg 5``) and
  ``basic/Image/aligned/<stem>_aligned.jpg``; ``root`` may be the dataset root or ``basic/``.
* mirror: ``[DATASET/]train/<1..7>/*.jpg`` and ``[DATASET/]test/<1..7>/*.jpg`` (class
  folders named by RAF-DB's code), often with ``train_labels.csv`` / ``test_labels.csv``
  (columns ``image,label``, labels 1..7) beside ``DATASET/`` or inside it. With a labels
  file, the file is the list (its rows name the images, ``<split>/<label>/<image>``, and
  errors give its line numbers); without one, the class folders are. Samples are in file
  name order, which is the official list's order, so a mirror and the official layout of
  the same images give the same samples and the same hold-out.

Codes 1..7 = surprise, fear, disgust, happiness, sadness, anger, neutral
(:data:`~sqsnet.data.labels.DATASET_CODES`); labels returned are ``code - 1``
(:data:`~sqsnet.data.labels.RAFDB_CLASSES`).

Validation rule: RAF-DB has no validation split, in either layout. ``valid`` is a seeded,
stratified hold-out of ``val_fraction`` of train (``train`` is the rest); it is never the
test split.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ..labels import RAFDB_CLASSES, class_index, code_class, describe_codes
from ..layouts import mirror_base, split_folders
from .base import (
    DEFAULT_VAL_FRACTION,
    DatasetError,
    FERDataset,
    Transform,
    describe_dir,
    norm_split,
    read_csv_rows,
)
from .folder import class_tree, tree_samples

__all__ = ["RAFDB"]

logger = logging.getLogger(__name__)

_CODES = describe_codes("rafdb")


def _label(code: str) -> int:
    """RAF-DB code (``"1"``..``"7"``) -> label index in ``RAFDB_CLASSES``."""
    return class_index(RAFDB_CLASSES, code_class("rafdb", code))


def _name_key(path: str) -> str:
    """Sort key of a mirror image: its file name without the ``_aligned`` suffix."""
    stem, ext = os.path.splitext(os.path.basename(path))
    return stem.removesuffix("_aligned") + ext


class RAFDB(FERDataset):
    """RAF-DB basic (single-label) with the aligned 100x100 faces.

    Layouts, codes and the validation rule are in the module docstring.

    Args:
        root: Dataset root, ``basic/`` (official), or the mirror's folder (the one holding
            ``DATASET/`` or ``train/``/``test/``).
        split: ``train`` / ``valid``: a stratified, seeded split of the train list or
            folder (``valid`` holds ``val_fraction`` of it); ``test``: the test list or
            folder.
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
        val_fraction: float = DEFAULT_VAL_FRACTION,
        seed: int = 0,
        transform: Transform | None = None,
        cache: bool = False,
        skip_bad_images: bool = False,
    ) -> None:
        super().__init__(transform, cache, skip_bad_images)
        self.split = norm_split(split, ("train", "valid", "test"), "RAF-DB")
        self.root = Path(root).expanduser()
        self.classes = RAFDB_CLASSES
        self.val_fraction = float(val_fraction)
        self.seed = int(seed)
        if not 0.0 <= self.val_fraction < 1.0:
            raise DatasetError(f"RAF-DB: val_fraction must be in [0, 1), got {val_fraction}.")
        if self.split == "valid" and self.val_fraction == 0.0:
            raise DatasetError("RAF-DB: split='valid' needs val_fraction > 0 (RAF-DB has no "
                               "official validation split; it is held out of train).")
        basic = next((c for c in (self.root, self.root / "basic") if (c / self.LABEL_FILE).is_file()),
                     None)
        base = mirror_base(self.root)
        if basic is not None:
            self.layout = "official"
            source = self._read_official(basic)
        elif split_folders(base):
            self.layout = "mirror"
            source = self._read_mirror(base)
        else:
            raise DatasetError(
                f"RAF-DB: expected {self.root / 'basic' / self.LABEL_FILE} (or root pointing at "
                f"basic/ with {self.LABEL_FILE}) and basic/{self.IMAGE_DIR}/<stem>_aligned.jpg, "
                f"or the mirror layout [DATASET/]train|test/<1..7>/*.jpg; "
                f"{describe_dir(self.root)}."
            )
        if self.split != "test" and self.val_fraction > 0 and self.targets:
            self._hold_out(self.split, self.val_fraction, self.seed, source)
        self._finish()

    def _read_official(self, basic: Path) -> Path:
        """Read the official list file; returns it (the hold-out's source)."""
        label_file = basic / self.LABEL_FILE
        image_dir = basic / self.IMAGE_DIR
        if not image_dir.is_dir():
            raise DatasetError(
                f"RAF-DB: found {label_file} but not the aligned images folder {image_dir}; "
                f"{describe_dir(basic / 'Image')}."
            )
        self._list_file = label_file
        want = "test" if self.split == "test" else "train"
        names: list[str] = []
        lines: list[int] = []
        with open(label_file, encoding="utf-8") as f:
            for line_no, text in enumerate(f, start=1):
                fields = text.split()
                if not fields:
                    continue
                name, label = self._parse_row(fields, label_file, line_no, text)
                if name.split("_", 1)[0].lower() != want:
                    continue
                names.append(name)
                self.targets.append(label)
                lines.append(line_no)
        # image paths: <stem>_aligned.jpg, falling back to the plain name if that exists
        try:
            present = set(os.listdir(image_dir))
        except OSError:  # pragma: no cover
            present = set()
        for name in names:
            aligned = f"{os.path.splitext(name)[0]}_aligned.jpg"
            chosen = aligned if aligned in present or name not in present else name
            self.samples.append(str(image_dir / chosen))
        self._lines = lines
        return label_file

    @staticmethod
    def _parse_row(fields: list[str], label_file: Path, line_no: int, text: str) -> tuple[str, int]:
        """One ``<name> <code>`` row of the official list -> ``(name, label)``."""
        if len(fields) != 2:
            raise DatasetError(
                f"{label_file}, line {line_no}: expected '<image name> <label 1..7>' "
                f"(e.g. 'train_00001.jpg 5'), got {text.strip()!r}."
            )
        name, code = fields
        if name.split("_", 1)[0].lower() not in ("train", "test"):
            raise DatasetError(
                f"{label_file}, line {line_no}: image name must start with 'train_' or "
                f"'test_', got {name!r}."
            )
        if not code.lstrip("-").isdigit():
            raise DatasetError(
                f"{label_file}, line {line_no}: label must be an integer 1..7, got {code!r}."
            )
        try:
            return name, _label(code)
        except ValueError:
            raise DatasetError(f"{label_file}, line {line_no}: unknown label {int(code)} (RAF-DB "
                               f"labels are 1..7 = {', '.join(RAFDB_CLASSES)}).") from None

    def _read_mirror(self, base: Path) -> Path:
        """Read ``base/train|test/<1..7>/`` (or its labels file); returns the folder read."""
        splits = split_folders(base)
        want = "test" if self.split == "test" else "train"
        if want not in splits:
            found = ", ".join(f"{v.name}/" for v in splits.values())
            raise DatasetError(f"RAF-DB {self.split}: the mirror in {base} has no {want}/ folder "
                               f"(found {found}); RAF-DB's validation split is held out of train.")
        folder = splits[want]
        csv_name = f"{folder.name}_labels.csv"
        labels_file = next((p for p in (self.root / csv_name, base / csv_name) if p.is_file()), None)
        if labels_file is not None:
            self._read_labels_file(labels_file, folder)
        else:
            found = class_tree(folder, "RAF-DB", lambda n: code_class("rafdb", n),
                               f"the codes {_CODES}")
            samples, codes = tree_samples(found, RAFDB_CLASSES, "RAF-DB")
            order = sorted(range(len(samples)), key=lambda i: _name_key(samples[i]))
            self.samples = [samples[i] for i in order]
            self.targets = [codes[i] for i in order]
        return folder

    def _read_labels_file(self, labels_file: Path, folder: Path) -> None:
        """Read a mirror's ``<split>_labels.csv`` (``image,label``); images are
        ``folder/<label>/<image>``."""
        rows = read_csv_rows(labels_file, "RAF-DB")
        if rows and [x.strip().lower() for x in rows[0][1]] == ["image", "label"]:
            rows = rows[1:]
        entries: list[tuple[str, int, int]] = []
        for line, fields in rows:
            if len(fields) != 2:
                raise DatasetError(f"{labels_file}, line {line}: expected 'image,label' (e.g. "
                                   f"'train_00001_aligned.jpg,5'), got {','.join(fields)[:80]!r}.")
            name, code = fields[0].strip(), fields[1].strip()
            try:
                label = _label(code)
            except ValueError:
                raise DatasetError(f"{labels_file}, line {line}: unknown label {code!r} (RAF-DB "
                                   f"labels are {_CODES}).") from None
            entries.append((str(folder / code / name), label, line))
        entries.sort(key=lambda e: _name_key(e[0]))
        self.samples = [e[0] for e in entries]
        self.targets = [e[1] for e in entries]
        self._lines = [e[2] for e in entries]
        self._list_file = labels_file
