"""Labelled-folder reader: any ``<root>/<class>/*.jpg`` tree, class names matched by synonym.

Also the class-tree helpers the mirror layouts of other readers share
(:func:`class_tree`, :func:`tree_samples`, :func:`split_folder`).

Splits of a labelled folder (``split`` given):

* ``root/train|val|valid|validation|test/<class>/`` trees: the split's folder is read. A
  tree without a validation folder gets a seeded, stratified hold-out of its train folder
  (``val_fraction``, ``seed``; logged and recorded in ``holdout``), never the test folder.
* A flat ``root/<class>/`` tree has no splits: ``train`` and ``valid`` are the two sides of a
  seeded, stratified hold-out of the whole tree (so training never validates on its own
  images), ``test`` is refused, and ``split=None`` (or ``"all"``) reads every image, e.g.
  to evaluate on an out-of-domain folder.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from ..labels import CANONICAL_CLASSES, SYNONYMS, canonical_name, canonical_names
from ..layouts import class_folders, split_folders
from .base import (
    DEFAULT_VAL_FRACTION,
    IMAGE_EXTENSIONS,
    DatasetError,
    FERDataset,
    Transform,
    describe_dir,
    norm_split,
)

__all__ = ["LabelledFolder", "class_tree", "tree_samples", "split_folder", "ALL_SPLITS"]

logger = logging.getLogger(__name__)

ALL_SPLITS: tuple[str, ...] = ("all",)
"""Split names that mean 'every image of the tree' for a labelled folder (as ``None``)."""


def class_tree(folder: Path, reader: str, to_class: Callable[[str], str],
               accepted: str) -> dict[str, Path]:
    """Map the class sub-folders of ``folder`` to canonical class names.

    Args:
        folder: A folder holding one sub-folder per class.
        reader: Reader name for messages.
        to_class: Folder name -> canonical class; raises ``ValueError`` for unknown names.
        accepted: What folder names are accepted, for the message.

    Returns:
        ``{canonical class: class folder}``.

    Raises:
        DatasetError: No class sub-folders, unknown names, or two folders meaning the same
            class (classes are never merged silently).
    """
    names = class_folders(folder)
    if not names:
        raise DatasetError(
            f"{reader}: {folder} has no class sub-folders (expected e.g. {folder}/happy/, "
            f"{folder}/neutral/); {describe_dir(folder)}."
        )
    found: dict[str, Path] = {}
    unknown: list[str] = []
    for name in names:
        try:
            c = to_class(name)
        except ValueError:
            unknown.append(name)
            continue
        if c in found:
            raise DatasetError(
                f"{reader}: folders {found[c]} and {folder / name} both mean {c!r}; merge or "
                "rename them (classes are never merged silently)."
            )
        found[c] = folder / name
    if unknown:
        raise DatasetError(
            f"{reader}: unknown class folder(s) {', '.join(repr(u) for u in unknown)} in "
            f"{folder}. Accepted names: {accepted}."
        )
    return found


def tree_samples(found: dict[str, Path], order: Sequence[str], reader: str
                 ) -> tuple[list[str], list[int]]:
    """The image files of each class folder, labelled by position in ``order``.

    Args:
        found: ``{canonical class: class folder}`` (from :func:`class_tree`); classes of
            ``order`` without a folder get no images.
        order: Class order; a folder whose class is not in it is refused.
        reader: Reader name for messages.

    Returns:
        ``(samples, targets)``: paths sorted by class (in ``order``) then by file name.

    Raises:
        DatasetError: A class folder outside ``order``, or a class folder without images
            (named, so an empty class never silently becomes a class with no images).
    """
    extra = [str(found[c]) for c in found if c not in order]
    if extra:
        raise DatasetError(f"{reader}: folder(s) {', '.join(extra)} are not among the "
                           f"requested classes {', '.join(order)}.")
    samples: list[str] = []
    targets: list[int] = []
    for label, c in enumerate(order):
        if c not in found:
            continue
        d = found[c]
        images = sorted(n for n in os.listdir(d) if not n.startswith(".")
                        and os.path.splitext(n)[1].lower() in IMAGE_EXTENSIONS)
        if not images:
            raise DatasetError(f"{reader}: class folder {d} holds no images "
                               f"({', '.join(IMAGE_EXTENSIONS)}); add images or remove it.")
        samples += [str(d / n) for n in images]
        targets += [label] * len(images)
    return samples, targets


def split_folder(root: Path, split: str, reader: str, valid_aliases: Sequence[str] = ()
                 ) -> tuple[Path, bool]:
    """The folder a split of a split-folder tree is read from.

    Args:
        root: Folder holding ``train``/``val``/``test`` sub-folders.
        split: ``train``, ``valid`` or ``test`` (normalised).
        reader: Reader name for messages.
        valid_aliases: Other splits whose folder serves as ``valid`` when there is none
            (AffectNet mirrors: ``test``).

    Returns:
        ``(folder, hold_out)``: ``hold_out`` is True when there is no validation folder, so
        ``train`` and ``valid`` are the two sides of a hold-out of the train folder.

    Raises:
        DatasetError: The split (or, for a hold-out, the train folder) is missing.
    """
    splits = split_folders(root)
    valid = splits.get("valid") or next((splits[a] for a in valid_aliases if a in splits), None)
    if split == "valid" and valid is not None:
        return valid, False
    if split == "train" and "train" in splits:
        return splits["train"], valid is None
    if split == "valid" and "train" in splits:
        return splits["train"], True
    if split == "test" and "test" in splits and "test" not in valid_aliases:
        return splits["test"], False
    present = ", ".join(f"{k}={v.name}/" for k, v in splits.items()) or "none"
    raise DatasetError(f"{reader} {split}: no {split} folder in {root} (split folders found: "
                       f"{present}); the validation split is held out of train, never the "
                       "test split.")


class LabelledFolder(FERDataset):
    """Any ``root/<class>/*.{jpg,jpeg,png,bmp,webp}`` tree, or a tree of split folders.

    Folder names are matched to canonical classes through :data:`~sqsnet.data.labels.SYNONYMS`
    (case-insensitive: ``happy``, ``Happiness`` and ``HA`` all mean happiness). Hidden
    entries and files with other extensions are ignored; a class folder without images is
    refused. Splits are explained in the module docstring.

    Args:
        root: The folder holding one sub-folder per class (or split folders).
        transform: Applied to the PIL RGB image.
        classes: Class order (any accepted spellings). ``None``: the classes found, in
            canonical order. Classes without a folder are allowed (zero images).
        cache: Decode every image into memory once.
        skip_bad_images: Skip (and record) undecodable images instead of raising.
        split: ``None`` or ``"all"``: every image under ``root`` (a class tree);
            ``train``/``valid``/``test``: see the module docstring.
        val_fraction: Share held out as ``valid`` where there is no validation folder.
        seed: Seed of that hold-out.
    """

    dataset_name = "LabelledFolder"

    def __init__(
        self,
        root: str | os.PathLike[str],
        transform: Transform | None = None,
        classes: Sequence[str] | None = None,
        cache: bool = False,
        skip_bad_images: bool = False,
        split: str | None = None,
        val_fraction: float = DEFAULT_VAL_FRACTION,
        seed: int = 0,
    ) -> None:
        super().__init__(transform, cache, skip_bad_images)
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise DatasetError(
                f"LabelledFolder: expected a folder with one sub-folder per class "
                f"(<root>/<class>/*.jpg); {describe_dir(self.root)}."
            )
        if not 0.0 < float(val_fraction) < 1.0:
            raise DatasetError(f"LabelledFolder: val_fraction must be in (0, 1), got {val_fraction}.")
        folder, hold_out = self._split_source(split)
        found = class_tree(folder, "LabelledFolder", canonical_name,
                           "(case-insensitive) " + ", ".join(sorted(SYNONYMS)))
        if classes is None:
            self.classes = tuple(c for c in CANONICAL_CLASSES if c in found)
        else:
            try:
                self.classes = canonical_names(classes)
            except ValueError as exc:
                raise DatasetError(f"LabelledFolder: bad classes argument: {exc}") from None
        self.samples, self.targets = tree_samples(found, self.classes, "LabelledFolder")
        if hold_out:
            self._hold_out(self.split or "train", float(val_fraction), int(seed), folder)
        self._finish()

    def _split_source(self, split: str | None) -> tuple[Path, bool]:
        """Which folder to read for ``split`` and whether a hold-out cuts it (sets
        ``split`` and ``layout``)."""
        assert self.root is not None
        has_splits = bool(split_folders(self.root))
        self.layout = "split folders" if has_splits else "class tree"
        if split is None or str(split).strip().lower() in ALL_SPLITS:
            if has_splits:
                found = ", ".join(f"{v.name}/" for v in split_folders(self.root).values())
                raise DatasetError(f"LabelledFolder: {self.root} holds split folders ({found}); "
                                   "pass split='train', 'valid' or 'test'.")
            return self.root, False
        self.split = norm_split(split, ("train", "valid", "test"), "LabelledFolder")
        if has_splits:
            return split_folder(self.root, self.split, "LabelledFolder")
        if self.split == "test":
            raise DatasetError(
                f"LabelledFolder test: {self.root} is one class tree without split folders, "
                "so it has no test split (train and valid are held out of it; split=None or "
                "'all' reads every image)."
            )
        return self.root, True
