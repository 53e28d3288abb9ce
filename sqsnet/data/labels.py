"""Class orders of every supported dataset and their mapping to canonical names.

This module is the *one* place where class orders are defined. Every dataset reader in
:mod:`sqsnet.data.readers` returns integer labels in its dataset's own documented order
and exposes that order as ``.classes`` (a tuple of canonical names). To evaluate a model
trained on one dataset on another, build a :class:`ClassMapping` with
:func:`class_mapping`: classes are matched by canonical name only, classes that exist on
one side only are reported, and nothing is ever silently merged.

Canonical names (and the canonical order, which is also FERPlus' vote-column order)::

    neutral, happiness, surprise, sadness, anger, disgust, fear, contempt

Per-dataset orders (index = label the reader returns):

=================  ====================================================================
FERPlus            neutral, happiness, surprise, sadness, anger, disgust, fear, contempt
                   (Microsoft's ``label.csv`` / ``fer2013new.csv`` vote-column order)
RAF-DB (basic)     surprise, fear, disgust, happiness, sadness, anger, neutral
                   (file labels and mirror class folders 1..7; the reader returns
                   ``file label - 1``)
AffectNet-8        neutral, happiness, sadness, surprise, fear, disgust, anger, contempt
                   (``expression`` 0..7, also mirror class folders 0..7; 8..10 = none,
                   uncertain, no-face are dropped)
AffectNet-7        AffectNet-8 without contempt
FER2013            anger, disgust, fear, happiness, sadness, surprise, neutral
                   (``emotion`` 0..6 of ``fer2013.csv``)
=================  ====================================================================

Synonyms: folder names and user input are matched case-insensitively through
:data:`SYNONYMS` (``happy`` -> ``happiness``, ``angry`` -> ``anger``, ...). ``calm`` (a
RAVDESS class) is deliberately *not* a synonym of ``neutral``: the two are annotated as
different expressions there, and merging them silently would change the task.

Codes: :data:`DATASET_CODES` maps each dataset's integer codes to classes once (used by
the official list files and by mirrors whose class folders are named by code), and
:data:`DATASET_NAMES` / :data:`DATASET_FOLDER_NAMES` name the datasets and their usual
folders.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = [
    "CANONICAL_CLASSES",
    "FERPLUS_CLASSES",
    "RAFDB_CLASSES",
    "AFFECTNET_CLASSES_8",
    "AFFECTNET_CLASSES_7",
    "FER2013_CLASSES",
    "SYNONYMS",
    "DATASET_ALIASES",
    "DATASET_NAMES",
    "DATASET_FOLDER_NAMES",
    "dataset_key",
    "DATASET_CODES",
    "code_class",
    "describe_codes",
    "class_index",
    "canonical_name",
    "canonical_names",
    "normalize_dataset_name",
    "dataset_classes",
    "ClassMapping",
    "class_mapping",
]

logger = logging.getLogger(__name__)

CANONICAL_CLASSES: tuple[str, ...] = (
    "neutral",
    "happiness",
    "surprise",
    "sadness",
    "anger",
    "disgust",
    "fear",
    "contempt",
)
"""The eight canonical expression names, in canonical (= FERPlus) order."""

FERPLUS_CLASSES: tuple[str, ...] = CANONICAL_CLASSES
"""FERPlus: Microsoft's vote-column order (the first 8 of the 10 vote columns)."""

RAFDB_CLASSES: tuple[str, ...] = (
    "surprise",
    "fear",
    "disgust",
    "happiness",
    "sadness",
    "anger",
    "neutral",
)
"""RAF-DB basic: file labels 1..7 (reader label = file label - 1)."""

AFFECTNET_CLASSES_8: tuple[str, ...] = (
    "neutral",
    "happiness",
    "sadness",
    "surprise",
    "fear",
    "disgust",
    "anger",
    "contempt",
)
"""AffectNet ``expression`` 0..7 (8 none, 9 uncertain, 10 no-face are dropped)."""

AFFECTNET_CLASSES_7: tuple[str, ...] = AFFECTNET_CLASSES_8[:7]
"""AffectNet-7: ``expression`` 0..6 (contempt dropped as well)."""

FER2013_CLASSES: tuple[str, ...] = (
    "anger",
    "disgust",
    "fear",
    "happiness",
    "sadness",
    "surprise",
    "neutral",
)
"""FER2013 ``emotion`` 0..6 of ``fer2013.csv``."""

DATASET_CODES: dict[str, dict[int, str]] = {
    "rafdb": {i + 1: c for i, c in enumerate(RAFDB_CLASSES)},
    "affectnet": dict(enumerate(AFFECTNET_CLASSES_8)),
    "fer2013": dict(enumerate(FER2013_CLASSES)),
}
"""The integer codes each dataset's own files (and mirrors' class folders) use -> canonical
class: RAF-DB 1..7 (1 surprise ... 7 neutral), AffectNet 0..7 (8..10 = none, uncertain,
no-face are not classes), FER2013 0..6."""

SYNONYMS: dict[str, str] = {
    # neutral
    "neutral": "neutral",
    "neutrality": "neutral",
    "ne": "neutral",
    "neu": "neutral",
    # happiness
    "happiness": "happiness",
    "happy": "happiness",
    "joy": "happiness",
    "ha": "happiness",
    "hap": "happiness",
    # surprise
    "surprise": "surprise",
    "surprised": "surprise",
    "su": "surprise",
    "sur": "surprise",
    # sadness
    "sadness": "sadness",
    "sad": "sadness",
    "sa": "sadness",
    # anger
    "anger": "anger",
    "angry": "anger",
    "an": "anger",
    "ang": "anger",
    # disgust
    "disgust": "disgust",
    "disgusted": "disgust",
    "di": "disgust",
    "dis": "disgust",
    # fear
    "fear": "fear",
    "fearful": "fear",
    "scared": "fear",
    "afraid": "fear",
    "fe": "fear",
    "af": "fear",
    # contempt
    "contempt": "contempt",
    "contemptuous": "contempt",
    "co": "contempt",
}
"""Accepted spellings (lower case) -> canonical name.

Includes plain adjectives (``happy``, ``sad``, ``angry``, ``surprised``, ``fearful``,
``scared``, ``afraid``, ``disgusted``, ``contemptuous``), ``joy`` and the two/three-letter
codes used by JAFFE/KDEF-style file names (``NE HA SU SA AN DI FE/AF CO``). Matching is
case-insensitive and ignores surrounding whitespace. ``calm`` is not accepted (see the
module docstring).
"""

DATASET_ALIASES: dict[str, str] = {
    "ferplus": "ferplus",
    "fer+": "ferplus",
    "rafdb": "rafdb",
    "raf": "rafdb",
    "affectnet": "affectnet",
    "affectnet8": "affectnet8",
    "affectnet7": "affectnet7",
    "fer2013": "fer2013",
    "folder": "folder",
    "imagefolder": "folder",
    "labelledfolder": "folder",
    "labeledfolder": "folder",
}
"""Normalised dataset names (lower case, ``-``, ``_`` and spaces removed) -> key."""

DATASET_NAMES: tuple[str, ...] = ("ferplus", "rafdb", "affectnet", "fer2013", "folder")
"""The datasets the lab reads, one reader each (``affectnet7``/``affectnet8`` are AffectNet
with a class count)."""

DATASET_FOLDER_NAMES: dict[str, tuple[str, ...]] = {
    "ferplus": ("ferplus", "FERPlus", "FERPLUS", "FER+", "fer_plus"),
    "rafdb": ("rafdb", "RAF-DB", "raf-db", "RAF_DB", "raf_db", "RAFDB"),
    "affectnet": ("affectnet", "AffectNet", "AFFECTNET"),
    "fer2013": ("fer2013", "FER2013"),
    "folder": (),
}
"""Usual names of each dataset's folder inside a data folder such as ``$SQSNET_DATA``
(first = the name suggested in messages)."""


def canonical_name(name: str) -> str:
    """Return the canonical expression name of ``name``.

    Args:
        name: A class name in any accepted spelling (case-insensitive), e.g. ``"Happy"``.

    Returns:
        One of :data:`CANONICAL_CLASSES`.

    Raises:
        ValueError: If ``name`` is not a known expression name or synonym.
    """
    if not isinstance(name, str):
        raise ValueError(f"Expression name must be a string, got {type(name).__name__}: {name!r}.")
    key = name.strip().lower()
    try:
        return SYNONYMS[key]
    except KeyError:
        accepted = ", ".join(sorted(SYNONYMS))
        raise ValueError(
            f"Unknown expression name {name!r}. Canonical names: "
            f"{', '.join(CANONICAL_CLASSES)}. Accepted spellings: {accepted}."
        ) from None


def canonical_names(names: Iterable[str]) -> tuple[str, ...]:
    """Canonicalise a sequence of class names, refusing duplicates.

    Args:
        names: Class names in any accepted spelling.

    Returns:
        The canonical names, in the same order.

    Raises:
        ValueError: If a name is unknown, or two names map to the same canonical class
            (``("happy", "happiness")``): classes are never merged silently.
    """
    out: list[str] = []
    origin: dict[str, str] = {}
    for n in names:
        c = canonical_name(n)
        if c in origin:
            raise ValueError(
                f"Class names {origin[c]!r} and {n!r} both mean {c!r}; refusing to merge them."
            )
        origin[c] = n
        out.append(c)
    return tuple(out)


def normalize_dataset_name(name: str) -> str:
    """Normalise a dataset name (``"RAF-DB"`` -> ``"rafdb"``, ``"AffectNet_7"`` -> ``"affectnet7"``).

    Args:
        name: Dataset name in any common spelling.

    Returns:
        A key of the reader registry: ``ferplus``, ``rafdb``, ``affectnet``,
        ``affectnet7``, ``affectnet8``, ``fer2013`` or ``folder``.

    Raises:
        ValueError: For unknown names, listing the accepted ones.
    """
    key = re.sub(r"[\s_\-]", "", str(name).lower())
    if key in DATASET_ALIASES:
        return DATASET_ALIASES[key]
    raise ValueError(
        f"Unknown dataset {name!r}. Known datasets: ferplus, rafdb (raf-db), affectnet "
        f"(affectnet7, affectnet8), fer2013, folder (any <root>/<class>/ image tree); "
        f"or auto (the reader chosen from the folder's layout)."
    )


def code_class(dataset: str, code: int | str) -> str:
    """The canonical class of a dataset's integer code (``code_class("rafdb", 1)`` ->
    ``"surprise"``).

    Args:
        dataset: ``rafdb``, ``affectnet`` or ``fer2013`` (any accepted spelling).
        code: The code, as an ``int`` or a string of digits (a class folder's name).

    Raises:
        ValueError: For an unknown code, listing the known ones.
    """
    table = DATASET_CODES[dataset_key(dataset)]
    text = str(code).strip()
    if text.isdigit() and int(text) in table:
        return table[int(text)]
    raise ValueError(f"unknown {dataset} label code {code!r}; the codes are "
                     f"{describe_codes(dataset)}.")


def describe_codes(dataset: str) -> str:
    """A dataset's codes for messages: ``"1 surprise, 2 fear, ..., 7 neutral"``."""
    return ", ".join(f"{k} {v}" for k, v in DATASET_CODES[dataset_key(dataset)].items())


def class_index(classes: Sequence[str], name: str) -> int:
    """Position of class ``name`` (any accepted spelling) in the order ``classes``.

    Raises:
        ValueError: When the class is not in ``classes``.
    """
    c = canonical_name(name)
    if c not in classes:
        raise ValueError(f"class {c!r} is not among {', '.join(classes)}.")
    return list(classes).index(c)


def dataset_key(name: str) -> str:
    """The reader a dataset name selects: :func:`normalize_dataset_name` with
    ``affectnet7``/``affectnet8`` folded into ``affectnet`` (one of :data:`DATASET_NAMES`).

    Raises:
        ValueError: For unknown names, listing the accepted ones.
    """
    key = normalize_dataset_name(name)
    return "affectnet" if key.startswith("affectnet") else key


def dataset_classes(name: str, **kw: Any) -> tuple[str, ...]:
    """Return a dataset's class order as canonical names.

    Args:
        name: Dataset name (``ferplus``, ``rafdb``, ``affectnet``, ``affectnet7``,
            ``affectnet8``, ``fer2013``).
        **kw: ``num_classes`` (7 or 8) for ``affectnet``.

    Returns:
        Tuple of canonical names; index ``i`` is the label the reader returns.

    Raises:
        ValueError: For unknown datasets, for ``folder`` (its classes come from the tree)
            or an unsupported ``num_classes``.
    """
    key = normalize_dataset_name(name)
    if key == "ferplus":
        return FERPLUS_CLASSES
    if key == "rafdb":
        return RAFDB_CLASSES
    if key == "fer2013":
        return FER2013_CLASSES
    if key in ("affectnet", "affectnet7", "affectnet8"):
        default = 7 if key == "affectnet7" else 8
        n = int(kw.get("num_classes", default) or default)
        if n == 8:
            return AFFECTNET_CLASSES_8
        if n == 7:
            return AFFECTNET_CLASSES_7
        raise ValueError(f"AffectNet has 7 or 8 classes, got num_classes={n}.")
    raise ValueError(
        "A labelled folder's classes come from its sub-folder names; read them from the "
        "dataset's .classes instead."
    )


@dataclass(frozen=True)
class ClassMapping:
    """Name-based correspondence between two class orders.

    Attributes:
        source_classes: Canonical names of the source order (e.g. the model's heads).
        target_classes: Canonical names of the target order (e.g. a test set's labels).
        source_to_target: For each source index, the target index of the same class or -1.
        target_to_source: For each target index, the source index of the same class or -1.
        shared: Classes present on both sides, in target order.
        source_only: Source classes absent from the target (dropped, never merged).
        target_only: Target classes absent from the source (cannot be predicted).
    """

    source_classes: tuple[str, ...]
    target_classes: tuple[str, ...]
    source_to_target: tuple[int, ...]
    target_to_source: tuple[int, ...]
    shared: tuple[str, ...]
    source_only: tuple[str, ...]
    target_only: tuple[str, ...]

    @property
    def is_identity(self) -> bool:
        """True when both orders are the same list of classes."""
        return self.source_classes == self.target_classes

    def map_labels(self, labels: torch.Tensor | np.ndarray | Sequence[int]) -> torch.Tensor:
        """Map source-order labels to target order.

        Args:
            labels: Integer labels in source order, any shape ``[...]``.

        Returns:
            Long tensor of the same shape with target indices, ``-1`` where the source
            class does not exist in the target.
        """
        lab = torch.as_tensor(labels, dtype=torch.long)
        table = torch.tensor(self.source_to_target, dtype=torch.long, device=lab.device)
        return table[lab]

    def target_supported(self, labels: torch.Tensor | np.ndarray | Sequence[int]) -> torch.Tensor:
        """Mask of target-order labels whose class the source side can predict.

        Args:
            labels: Integer labels in target order, any shape ``[...]``.

        Returns:
            Bool tensor of the same shape.
        """
        lab = torch.as_tensor(labels, dtype=torch.long)
        table = torch.tensor(self.target_to_source, dtype=torch.long, device=lab.device)
        return table[lab] >= 0

    def map_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """Re-index source-order scores into target order.

        Args:
            logits: Scores ``[..., len(source_classes)]`` (logits or log-probabilities).

        Returns:
            Scores ``[..., len(target_classes)]``; target-only classes get ``-inf`` so
            they are never predicted; source-only classes are dropped (not merged).
        """
        if logits.shape[-1] != len(self.source_classes):
            raise ValueError(
                f"Expected {len(self.source_classes)} source scores in the last dimension, "
                f"got shape {tuple(logits.shape)}."
            )
        out = logits.new_full((*logits.shape[:-1], len(self.target_classes)), float("-inf"))
        for t, s in enumerate(self.target_to_source):
            if s >= 0:
                out[..., t] = logits[..., s]
        return out

    def describe(self) -> str:
        """One human-readable line summarising the mapping."""
        parts = [f"{len(self.shared)} shared classes"]
        if self.source_only:
            parts.append("dropped from source: " + ", ".join(self.source_only))
        if self.target_only:
            parts.append("absent from source (unpredictable): " + ", ".join(self.target_only))
        return "; ".join(parts)


def class_mapping(source_classes: Sequence[str], target_classes: Sequence[str]) -> ClassMapping:
    """Match two class orders by canonical name.

    Args:
        source_classes: Class names (any accepted spelling) of the source order, e.g. the
            classes a model was trained on.
        target_classes: Class names of the target order, e.g. an evaluation set's classes.

    Returns:
        A :class:`ClassMapping`.

    Raises:
        ValueError: On unknown names or duplicate classes within one side.

    Example:
        >>> m = class_mapping(FERPLUS_CLASSES, RAFDB_CLASSES)
        >>> m.source_only
        ('contempt',)
    """
    src = canonical_names(source_classes)
    tgt = canonical_names(target_classes)
    t_index = {c: i for i, c in enumerate(tgt)}
    s_index = {c: i for i, c in enumerate(src)}
    s2t = tuple(t_index.get(c, -1) for c in src)
    t2s = tuple(s_index.get(c, -1) for c in tgt)
    shared = tuple(c for c in tgt if c in s_index)
    source_only = tuple(c for c in src if c not in t_index)
    target_only = tuple(c for c in tgt if c not in s_index)
    mapping = ClassMapping(src, tgt, s2t, t2s, shared, source_only, target_only)
    if source_only or target_only:
        logger.info("Class mapping: %s", mapping.describe())
    return mapping
