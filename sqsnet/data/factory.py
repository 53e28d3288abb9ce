"""Create a dataset reader by name: the name -> reader table and :func:`build_dataset`.

``name="auto"`` chooses the reader from the layout found at the root
(:func:`~sqsnet.data.layouts.choose_layout`) and says which in one log line.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .labels import normalize_dataset_name
from .layouts import LAYOUTS, choose_layout, top_entries
from .readers.affectnet import AffectNet
from .readers.base import DatasetError, FERDataset, Transform
from .readers.fer2013 import FER2013
from .readers.ferplus import FERPlus
from .readers.folder import LabelledFolder
from .readers.rafdb import RAFDB
from .root import resolve_data_root

__all__ = ["READERS", "AUTO", "build_dataset", "auto_dataset"]

logger = logging.getLogger(__name__)

AUTO: str = "auto"
"""The dataset name that picks the reader from the layout."""

_ANNOUNCED: set[tuple[str, str]] = set()  # (root, reader) pairs already logged by auto

READERS: dict[str, Callable[..., FERDataset]] = {
    "ferplus": FERPlus,
    "rafdb": RAFDB,
    "affectnet": AffectNet,
    "fer2013": FER2013,
    "folder": LabelledFolder,
}
"""Dataset key (see :data:`~sqsnet.data.labels.DATASET_NAMES`) -> reader class."""


def _reader_options(key: str, name: str, kwargs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Drop options that do not apply to ``key`` and fold ``affectnet7/8`` into AffectNet."""
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
    return key, opts


def _accepted(cls: Callable[..., FERDataset]) -> set[str]:
    return set(inspect.signature(cls).parameters) - {"root", "split", "transform"}


def _check_options(cls: Callable[..., FERDataset], opts: dict[str, Any]) -> None:
    accepted = _accepted(cls)
    unknown = sorted(set(opts) - accepted)
    if unknown:
        raise TypeError(
            f"{getattr(cls, '__name__', cls)} does not take option(s) {', '.join(unknown)}; "
            f"it takes {', '.join(sorted(accepted))}."
        )


def auto_dataset(root: str | os.PathLike[str]) -> str:
    """The reader ``--dataset auto`` uses for ``root`` (logged once per root).

    Args:
        root: The dataset folder.

    Returns:
        A key of :data:`READERS`.

    Raises:
        DatasetError: When no known layout matches, listing the layouts known and what is
            at the top of the folder.
    """
    path = Path(root).expanduser()
    layout = choose_layout(path)
    if layout is None:
        known = "; ".join(str(lay) for lay in LAYOUTS)
        top = ", ".join(top_entries(path)) or ("nothing" if path.is_dir() else "no such folder")
        raise DatasetError(f"dataset auto: no known layout in {path} (found at the top: {top}); "
                           f"known layouts: {known}.")
    if (str(path), layout.dataset) not in _ANNOUNCED:
        _ANNOUNCED.add((str(path), layout.dataset))
        logger.info("dataset auto: %s holds the %s layout of %s; reading it with the %s reader.",
                    path, layout.name, layout.dataset, READERS[layout.dataset].__name__)
    return layout.dataset


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
            :func:`~sqsnet.data.labels.normalize_dataset_name`), or ``auto``: the reader
            :func:`auto_dataset` chooses from the layout (options that reader does not
            take are then left out instead of refused).
        root: Dataset root; ``None`` uses :func:`~sqsnet.data.root.resolve_data_root`.
        split: ``train``, ``valid`` or ``test``. For ``folder``: the split's folder
            (``train``, ``val``, ``test``, ...) when the tree has split folders, else the
            two sides of a seeded stratified hold-out of a flat class tree; ``None`` or
            ``"all"`` reads a whole class tree (see :mod:`sqsnet.data.readers.folder`).
        transform: Applied to the PIL RGB image.
        **kwargs: Reader options (``label_mode``, ``cache``, ``skip_bad_images``,
            ``val_fraction``, ``seed``, ``num_classes``, ``classes``). ``None`` values are
            ignored, as is ``label_mode="majority"`` for datasets with single labels.

    Returns:
        The reader.

    Raises:
        ValueError: For an unknown dataset name.
        TypeError: For options the reader does not take.
        DatasetError: For bad data (see :mod:`sqsnet.data.readers.base`).
    """
    auto = str(name).strip().lower() == AUTO
    if auto:
        path = resolve_data_root(root, "folder")
        key = auto_dataset(path)
    else:
        try:
            key = normalize_dataset_name(name)
        except ValueError as exc:  # a user's typo: report it as bad data input, one line
            raise DatasetError(str(exc)) from None
    key, opts = _reader_options(key, name, kwargs)
    if not auto:
        path = resolve_data_root(root, key)
    cls = READERS[key]
    if auto:
        opts = {k: v for k, v in opts.items() if k in _accepted(cls)}
    _check_options(cls, opts)
    if key != "folder":
        split = split or "train"
    return cls(path, split=split, transform=transform, **opts)
