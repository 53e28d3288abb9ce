"""The JSON files ``score_model.sh`` writes for one model, read in one place.

``summarise.py`` (beside this file) tabulates them over many models and seeds;
``scripts/bundle_default.py --scores`` writes them into the model card. Both read them here:

* :func:`read_folder` reads every file of one folder (``None`` for a file that is not
  there); a file that is not a JSON object is one :class:`ScoreFileError` line naming it;
* :func:`folder_metrics` turns the files into numbers: the :data:`METRICS` (issue 31's
  targets) and the extras the card shows (photo and direct-crop accuracy, muxspace
  accuracy, the CNN knockout), ``None`` where a file or an entry is missing;
* :func:`read_metrics` does both for one folder (errors name the folder's file);
  :func:`model_row` is its :data:`METRICS` part (``summarise.py``'s table row).

``experiments/`` is no package: the scripts import this file by its path.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["FILES", "METRICS", "ScoreFileError", "folder_metrics", "model_row",
           "read_folder", "read_metrics", "read_score"]

FILES = ("valid", "valid_tta", "muxspace", "grey", "framing", "latency", "diagnose")
"""The files of a ``score_model.sh`` folder, without ``.json``."""

# metric -> (label, target test, target text)
METRICS: dict[str, tuple[str, Any, str]] = {
    "valid": ("Valid acc.", lambda v: v >= 0.89, ">= 0.890"),
    "valid_tta": ("Valid TTA", None, ""),
    "photo_gap": ("photos - direct (pts)", lambda v: v >= -1.0, ">= -1"),
    "mux_balanced": ("muxspace balanced", lambda v: v >= 0.55, ">= 0.55"),
    "mux_macro_f1": ("muxspace macro-F1", lambda v: v >= 0.52, ">= 0.52"),
    "p50_ms": ("predict p50 (ms)", lambda v: v <= 100.0, "<= 100"),
    "swin_knockout": ("Swin knockout (pts)", None, ""),
}
"""Issue 31's checks: the label, whether a value meets the target, the target in words."""


class ScoreFileError(ValueError):
    """A score file that is there but cannot be read as ``score_model.sh`` writes it."""


def read_score(folder: Path, name: str) -> dict[str, Any] | None:
    """``folder/NAME.json`` as a dict; ``None`` when it is not there.

    Raises:
        ScoreFileError: The file is not JSON, or not a JSON object (one line naming it).
    """
    path = Path(folder) / f"{name}.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ScoreFileError(f"{path}: not a readable JSON file ({err})") from None
    if not isinstance(data, dict):
        raise ScoreFileError(f"{path}: expected a JSON object, found {type(data).__name__}")
    return data


def read_folder(folder: Path) -> dict[str, dict[str, Any] | None]:
    """Every file of :data:`FILES` in ``folder`` (``None`` for those not there)."""
    return {name: read_score(folder, name) for name in FILES}


def _number(files: dict[str, Any], name: str, *keys: str,
            optional: bool = False) -> float | None:
    """``files[name][keys[0]][keys[1]]...`` as a float; ``None`` when the file is missing
    (or, with ``optional``, the entry).

    Raises:
        ScoreFileError: The file is there but lacks the entry, or it is not a number.
    """
    value: Any = files.get(name)
    if value is None:
        return None
    where = f"{name}.json: {'.'.join(keys)}"
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            if optional:
                return None
            raise ScoreFileError(f"{where} is missing")
        value = value[key]
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ScoreFileError(f"{where} is not a number ({value!r})")
    return float(value)


def _fer2013_framing(framing: dict[str, Any] | None) -> dict[str, Any] | None:
    """The framing benchmark's row for the FER2013 framing (``sqsnet predict``'s own)."""
    if framing is None:
        return None
    rows = framing.get("framings")
    if not isinstance(rows, list):
        raise ScoreFileError("framing.json: framings is missing")
    found = [r for r in rows if isinstance(r, dict) and r.get("framing") == "fer2013"]
    return found[0] if found else None


def folder_metrics(files: dict[str, dict[str, Any] | None]) -> dict[str, float | None]:
    """The numbers of one scored model (``None`` where its file or entry is missing).

    Args:
        files: :func:`read_folder`'s answer.

    Returns:
        The :data:`METRICS` keys, plus ``photo_accuracy`` and ``direct_accuracy`` (the
        framing benchmark's FER2013 framing: faces pasted into photos through ``sqsnet
        predict``'s path, and the direct crops of the same faces), ``mux_accuracy``,
        ``p95_ms`` and ``cnn_knockout`` (accuracy change in points with the CNN branch
        mean-ablated; ``swin_knockout`` likewise for the Swin).

    Raises:
        ScoreFileError: A file that is there lacks an entry the table needs (named).
    """
    fer2013 = _fer2013_framing(files.get("framing"))
    photo = {"framing": fer2013}
    knock: dict[str, float | None] = {}
    full = _number(files, "diagnose", "scores", "full", "accuracy")
    for key, ablated in (("swin_knockout", "no_global"), ("cnn_knockout", "no_local")):
        part = _number(files, "diagnose", "scores", ablated, "accuracy", optional=True)
        knock[key] = None if part is None or full is None else 100.0 * (part - full)
    return {
        "valid": _number(files, "valid", "accuracy"),
        "valid_tta": _number(files, "valid_tta", "accuracy"),
        "photo_gap": _number(photo, "framing", "gap_to_direct_points"),
        "mux_balanced": _number(files, "muxspace", "balanced_accuracy"),
        "mux_macro_f1": _number(files, "muxspace", "macro_f1"),
        "p50_ms": _number(files, "latency", "predict", "p50_ms"),
        "swin_knockout": knock["swin_knockout"],
        "photo_accuracy": _number(photo, "framing", "accuracy", optional=True),
        "direct_accuracy": (_number(files, "framing", "direct_accuracy", optional=True)
                            if fer2013 is not None else None),
        "mux_accuracy": _number(files, "muxspace", "accuracy", optional=True),
        "p95_ms": _number(files, "latency", "predict", "p95_ms", optional=True),
        "cnn_knockout": knock["cnn_knockout"],
    }


def read_metrics(folder: Path, files: dict[str, dict[str, Any] | None] | None = None
                 ) -> dict[str, float | None]:
    """:func:`folder_metrics` of ``folder``'s files (``files``: already read by
    :func:`read_folder`); errors name the folder's file."""
    files = read_folder(folder) if files is None else files
    try:
        return folder_metrics(files)
    except ScoreFileError as err:
        raise ScoreFileError(f"{Path(folder) / str(err)}") from None


def model_row(folder: Path) -> dict[str, float | None]:
    """The :data:`METRICS` of one scored model (``None`` where its file is missing)."""
    numbers = read_metrics(folder)
    return {key: numbers[key] for key in METRICS}
