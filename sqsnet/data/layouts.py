"""Which dataset layout a folder holds, judged from the names present (no image is decoded).

One table, :data:`LAYOUTS`, lists every on-disk layout the readers know; :func:`detect_layouts`
says which of them a folder matches and :func:`choose_layout` picks the one ``--dataset auto``
reads, in this order (the first match wins):

==========  =========  ====================================================================
dataset     layout     what is looked for
==========  =========  ====================================================================
ferplus     generated  ``FER2013Train|FER2013Valid|FER2013Test/label.csv``
ferplus     raw        ``fer2013new.csv``
rafdb       official   ``[basic/]EmoLabel/list_patition_label.txt``
rafdb       mirror     ``[DATASET/]train|test/<1..7>/`` (numeric class folders, no ``0``)
affectnet   official   ``Manually_Annotated_file_lists/training.csv|validation.csv``
affectnet   mirror     ``train|val|valid|test/<0..7>/`` (numeric class folders with ``0``)
fer2013     csv        ``fer2013.csv`` (or ``fer2013/fer2013.csv``)
folder      tree       ``<class>/`` or ``train|val|test/<class>/`` (class names)
==========  =========  ====================================================================

Class folders *named* by class (``happy``, ``anger``, ...) are read by the ``folder`` reader
under ``auto``: the same images and labels whatever the source; pass ``--dataset affectnet``
or ``fer2013`` explicitly to read such a tree in that dataset's class order.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .labels import FER2013_CLASSES, SYNONYMS

__all__ = [
    "Layout",
    "LAYOUTS",
    "SPLIT_FOLDERS",
    "split_folders",
    "class_folders",
    "numeric_codes",
    "mirror_base",
    "detect_layouts",
    "choose_layout",
    "looks_like",
    "top_entries",
]


@dataclass(frozen=True)
class Layout:
    """One on-disk layout a reader knows.

    Attributes:
        dataset: The reader (``ferplus``, ``rafdb``, ``affectnet``, ``fer2013``, ``folder``).
        name: The layout's name within that reader (``official``, ``mirror``, ...).
        description: What the layout looks like, for messages.
    """

    dataset: str
    name: str
    description: str

    def __str__(self) -> str:
        return f"{self.dataset} ({self.name}): {self.description}"


LAYOUTS: tuple[Layout, ...] = (
    Layout("ferplus", "generated", "FER2013Train|FER2013Valid|FER2013Test/label.csv + PNGs"),
    Layout("ferplus", "raw", "fer2013new.csv + fer2013.csv"),
    Layout("rafdb", "official",
           "basic/EmoLabel/list_patition_label.txt + basic/Image/aligned/<stem>_aligned.jpg"),
    Layout("rafdb", "mirror", "[DATASET/]train|test/<1..7>/*.jpg [+ train_labels.csv, "
           "test_labels.csv with image,label]"),
    Layout("affectnet", "official", "Manually_Annotated_file_lists/training.csv|validation.csv"
           " + Manually_Annotated_Images/"),
    Layout("affectnet", "mirror", "train|val|valid|test/<code 0..7>/*.jpg (class-name folders"
           " too, with --dataset affectnet)"),
    Layout("fer2013", "csv", "fer2013.csv (emotion,pixels,Usage)"),
    Layout("fer2013", "folders", "train|valid|test/<class name>/*.jpg"),
    Layout("folder", "tree", "<class name>/*.jpg, or train|val|test/<class name>/*.jpg"),
)
"""Every layout the readers know, in the order ``auto`` tries them."""

SPLIT_FOLDERS: dict[str, tuple[str, ...]] = {
    "train": ("train", "training"),
    "valid": ("valid", "val", "validation"),
    "test": ("test", "testing"),
}
"""Split -> folder names (matched case-insensitively) in split-folder layouts."""


def _subdirs(folder: Path) -> list[str]:
    """Names of the visible sub-folders of ``folder`` (sorted; empty when unreadable)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return sorted(n for n in names if not n.startswith(".") and (folder / n).is_dir())


def split_folders(root: Path) -> dict[str, Path]:
    """The split folders in ``root``: ``{"train": root/"train", "valid": root/"val", ...}``.

    Args:
        root: A dataset folder.

    Returns:
        For each split present, its folder (the first name of :data:`SPLIT_FOLDERS` found).
    """
    by_lower = {n.lower(): n for n in _subdirs(root)}
    found: dict[str, Path] = {}
    for split, names in SPLIT_FOLDERS.items():
        for name in names:
            if name in by_lower:
                found[split] = root / by_lower[name]
                break
    return found


def class_folders(folder: Path) -> list[str]:
    """The visible sub-folder names of ``folder`` (its class folders, in a class tree)."""
    return _subdirs(folder)


def numeric_codes(names: list[str]) -> set[int] | None:
    """The integer codes when every name is a number (``["1", "7"]`` -> ``{1, 7}``), else
    ``None`` (also for no names)."""
    if not names or not all(n.isdigit() for n in names):
        return None
    return {int(n) for n in names}


def _named_classes(names: list[str]) -> bool:
    return bool(names) and all(n.strip().lower() in SYNONYMS for n in names)


def mirror_base(root: Path) -> Path:
    """Where a mirror's split folders are: ``root/DATASET`` (the common RAF-DB mirror) when
    that holds split folders, else ``root``."""
    for name in _subdirs(root):
        if name.lower() == "dataset" and split_folders(root / name):
            return root / name
    return root


def _split_codes(root: Path) -> set[int] | None:
    """Union of the numeric class codes of every split folder (``None`` when any split
    folder has non-numeric class folders, or there are none)."""
    splits = split_folders(root)
    if not splits:
        return None
    codes: set[int] = set()
    for folder in splits.values():
        found = numeric_codes(class_folders(folder))
        if found is None:
            return None
        codes |= found
    return codes


def _is_named_tree(root: Path, classes: tuple[str, ...] | None = None,
                   need_splits: bool = False) -> bool:
    """Whether ``root`` is a tree of class folders named by class (directly or under split
    folders), optionally only of ``classes``."""
    splits = split_folders(root)
    if need_splits and not splits:
        return False
    folders = list(splits.values()) if splits else [root]
    names = [n for f in folders for n in class_folders(f)]
    if not all(_named_classes(class_folders(f)) for f in folders):
        return False
    return classes is None or {SYNONYMS[n.strip().lower()] for n in names} <= set(classes)


def _matches(root: Path, layout: Layout) -> bool:
    key = (layout.dataset, layout.name)
    if key == ("ferplus", "generated"):
        return any((root / d / "label.csv").is_file()
                   for d in ("FER2013Train", "FER2013Valid", "FER2013Test"))
    if key == ("ferplus", "raw"):
        return (root / "fer2013new.csv").is_file()
    if key == ("rafdb", "official"):
        return any((root / b / "EmoLabel" / "list_patition_label.txt").is_file()
                   for b in ("basic", "."))
    if key == ("rafdb", "mirror"):
        codes = _split_codes(mirror_base(root))
        return codes is not None and 0 not in codes and codes <= set(range(1, 8))
    if key == ("affectnet", "official"):
        lists = root / "Manually_Annotated_file_lists"
        return (lists / "training.csv").is_file() or (lists / "validation.csv").is_file()
    if key == ("affectnet", "mirror"):
        codes = _split_codes(root)
        return codes is not None and 0 in codes and codes <= set(range(8))
    if key == ("fer2013", "csv"):
        return (root / "fer2013.csv").is_file() or (root / "fer2013" / "fer2013.csv").is_file()
    if key == ("fer2013", "folders"):
        return _is_named_tree(root, FER2013_CLASSES, need_splits=True)
    if key == ("folder", "tree"):
        return _is_named_tree(root)
    raise AssertionError(f"no rule for layout {key}")  # pragma: no cover - table and rules agree


def detect_layouts(root: str | os.PathLike[str]) -> list[Layout]:
    """Every layout of :data:`LAYOUTS` that ``root`` matches, in table order.

    Args:
        root: A folder (a file or a missing path matches nothing, except a ``fer2013.csv``
            file itself, which matches FER2013's csv layout).

    Returns:
        The matching layouts (often one; a named class tree matches ``fer2013 (folders)``
        and ``folder (tree)``).
    """
    path = Path(root).expanduser()
    if path.is_file():
        return [lay for lay in LAYOUTS if (lay.dataset, lay.name) == ("fer2013", "csv")
                and path.suffix.lower() == ".csv"]
    if not path.is_dir():
        return []
    return [lay for lay in LAYOUTS if _matches(path, lay)]


def choose_layout(root: str | os.PathLike[str]) -> Layout | None:
    """The layout ``--dataset auto`` reads: the first match, where a named class tree goes
    to the generic ``folder`` reader (see the module docstring); ``None`` when none matches."""
    for layout in detect_layouts(root):
        if (layout.dataset, layout.name) == ("fer2013", "folders"):
            continue
        return layout
    return None


def looks_like(root: str | os.PathLike[str], dataset: str) -> bool:
    """Whether ``root`` matches any layout of ``dataset`` (a key of
    :data:`~sqsnet.data.labels.DATASET_NAMES`); any folder for an unknown dataset."""
    known = {lay.dataset for lay in LAYOUTS}
    if dataset not in known:
        return Path(root).is_dir()
    return any(lay.dataset == dataset for lay in detect_layouts(root))


def top_entries(root: str | os.PathLike[str], limit: int = 12) -> list[str]:
    """The first ``limit`` names at the top of ``root`` (folders end with ``/``), for the
    'nothing matches' message."""
    path = Path(root)
    try:
        names = sorted(os.listdir(path))
    except OSError:
        return []
    shown = [n + "/" if (path / n).is_dir() else n for n in names[:limit]]
    if len(names) > limit:
        shown.append(f"... (+{len(names) - limit} more)")
    return shown
