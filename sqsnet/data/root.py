"""The one place that decides where a dataset's folder is.

Two questions, one lookup:

* :func:`resolve_data_root` (the CLI, ``build_dataset``): an explicit root, else the
  ``SQSNET_DATA`` environment variable (its sub-folder named after the dataset, see
  :data:`~sqsnet.data.labels.DATASET_FOLDER_NAMES`, or the folder itself); an error naming
  both when neither is set. It never guesses further, so a run reads what it was told to.
* :func:`find_data_root` (notebooks, demos): the same candidates, then the lab's usual place
  ``<repo>/../shared/data`` (and ``../shared/data``, ``../../shared/data`` from the working
  directory); only folders that look like the dataset (:func:`~sqsnet.data.layouts.looks_like`)
  count; ``None`` when nothing is found.

:func:`default_data_dir` is the folder that holds dataset folders (``$SQSNET_DATA`` or
``<repo>/../shared/data``), for tests and benchmarks that read real data when present.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from .labels import DATASET_FOLDER_NAMES, dataset_key
from .layouts import looks_like
from .readers.base import DatasetError

__all__ = [
    "DATA_ENV",
    "default_data_dir",
    "usual_data_dirs",
    "resolve_data_root",
    "find_data_root",
]

logger = logging.getLogger(__name__)

DATA_ENV: str = "SQSNET_DATA"
"""Environment variable naming the data folder (or one dataset's folder)."""

_REPO = Path(__file__).resolve().parents[2]


def usual_data_dirs() -> list[Path]:
    """The lab's usual data folders: ``<repo>/../shared/data``, then ``../shared/data`` and
    ``../../shared/data`` from the working directory (they may not exist)."""
    cwd = Path.cwd()
    return [_REPO.parent / "shared" / "data", cwd.parent / "shared" / "data",
            cwd.parent.parent / "shared" / "data"]


def default_data_dir() -> Path:
    """``$SQSNET_DATA`` when set, else ``<repo>/../shared/data`` (may not exist)."""
    env = os.environ.get(DATA_ENV, "").strip()
    return Path(env).expanduser() if env else usual_data_dirs()[0]


def _key(dataset: str) -> str:
    """The reader key of ``dataset``, or its lower-case name for names no reader has."""
    try:
        return dataset_key(dataset)
    except ValueError:
        return dataset.lower()


def _folder_names(dataset: str) -> tuple[str, ...]:
    key = _key(dataset)
    return DATASET_FOLDER_NAMES.get(key, () if key in DATASET_FOLDER_NAMES else (dataset,))


def _env_candidates(dataset: str) -> list[Path]:
    """``$SQSNET_DATA/<dataset folder>`` for each usual name, then ``$SQSNET_DATA``."""
    env = os.environ.get(DATA_ENV, "").strip()
    if not env:
        return []
    base = Path(env).expanduser()
    return [base / n for n in _folder_names(dataset)] + [base]


def resolve_data_root(root: str | os.PathLike[str] | None, dataset: str) -> Path:
    """Find a dataset's root folder the way a run does (explicit, else ``SQSNET_DATA``).

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
    candidates = _env_candidates(dataset)
    if not candidates:
        names = _folder_names(dataset)
        sub = f"<folder>/{names[0]}" if names else "<folder>"
        raise DatasetError(
            f"No data root for {dataset!r}: pass a root (e.g. --data-root / data.root) or set the "
            f"environment variable {DATA_ENV} to {sub} or to the folder that holds it."
        )
    for cand in candidates[:-1]:
        if cand.is_dir():
            return cand
    return candidates[-1]


def find_data_root(dataset: str = "ferplus", root: str | os.PathLike[str] | None = None
                   ) -> Path | None:
    """Locate a dataset folder for a notebook or demo, or return ``None``.

    Tried in order: ``root`` (when given), ``$SQSNET_DATA/<dataset folder>``,
    ``$SQSNET_DATA`` itself, then ``<dataset folder>`` in each of :func:`usual_data_dirs`.
    A candidate counts only when it looks like the dataset.

    Args:
        dataset: ``ferplus``, ``rafdb``, ``affectnet``, ``fer2013``, or any folder name.
        root: An explicit folder (returned when it looks like the dataset).

    Returns:
        The folder (resolved), or ``None`` when none is found (the places tried are logged).
    """
    key = _key(dataset)
    candidates: list[Path] = []
    if root is not None and str(root):
        candidates.append(Path(root).expanduser())
    candidates += _env_candidates(dataset)
    for base in usual_data_dirs():
        candidates += [base / n for n in _folder_names(dataset)]
    for cand in candidates:
        if cand.is_dir() and looks_like(cand, key):
            return cand.resolve()
    logger.info("no %s data found (tried %s)", dataset, ", ".join(map(str, candidates[:6])))
    return None
