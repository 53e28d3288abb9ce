"""The run folder and its records: ``metrics.csv``, ``summary.json``, the wall time,
TensorBoard.

Run folder ``<train.out_dir>/<train.run_name>/`` (default run name ``<config name>-seed<k>``)::

    config.yaml        the resolved config
    metrics.csv        one row per epoch (:data:`METRIC_FIELDS`)
    best.safetensors   the weights selected on validation (+ best.json)
    last.safetensors   the live weights and the resume state (+ last.json)
    wall_time.json     seconds the run has trained, over all its sessions
    summary.json       the final scores, the run's hardware and splits (written last)
    tb/                TensorBoard scalars, when the tensorboard package is installed

A folder that already holds a run is never overwritten by accident: training into it needs
``resume`` (continue from ``last.safetensors``) or ``overwrite`` (delete the run's files and
start again). A resumed run's ``metrics.csv`` is cut back to the epochs its checkpoint
holds, and temporary files that killed writes left behind are removed.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import shutil
import time
from pathlib import Path
from typing import Any

from sqsnet.checkpoint import CheckpointError
from sqsnet.config import ConfigError
from sqsnet.errors import SQSNetError
from sqsnet.models.losses import LOSS_COLUMNS
from sqsnet.utils.io import TEMP_SUFFIX, atomic_write_text

__all__ = ["METRIC_FIELDS", "RETIRED_METRIC_FIELDS", "RUN_FILES", "RunExistsError",
           "claim_run_dir", "clear_run_dir", "remove_stale_temp_files", "MetricsLog", "WallClock",
           "write_summary", "log_to_tensorboard"]

_LOG = logging.getLogger(__name__)

METRIC_FIELDS: list[str] = [
    "epoch", "lr", *LOSS_COLUMNS,
    "excluded_anchors", "val_loss", "val_accuracy", "val_macro_f1",
    "val_balanced_accuracy", "images_per_s", "epoch_time_s", "best", "val_accuracy_live",
    "val_local_std", "val_global_std",
]
"""Columns of ``metrics.csv``. The training losses are
:data:`sqsnet.models.losses.LOSS_COLUMNS` (means over the epoch's images). With
``train.ema_decay`` the ``val_*`` columns score the averaged weights (the ones selected) and
``val_accuracy_live`` the live weights; without it ``val_accuracy_live`` is empty.
``val_local_std`` / ``val_global_std``: how much each branch's output varies over the
validation images (:mod:`sqsnet.diagnostics`; empty for an absent branch, and measured on
rank 0's share of the split under DistributedDataParallel). A branch whose spread falls
towards 0 has collapsed to a constant map."""

RETIRED_METRIC_FIELDS = ("train_aux",)
"""Columns of older ``metrics.csv`` files that logged a retired setting
(``model.loss.global_aux_weight``): dropped when a resumed run's file is rewritten."""

RUN_FILES: tuple[str, ...] = (
    "config.yaml", "metrics.csv", "best.safetensors", "best.json", "last.safetensors",
    "last.json", "wall_time.json", "summary.json",
)
"""The files a run writes into its folder (with ``tb/``); ``overwrite`` deletes these only."""


class RunExistsError(SQSNetError, FileExistsError):
    """Training into a folder that holds a run, without resume or overwrite."""


def claim_run_dir(run_dir: Path, resume: bool, overwrite: bool) -> bool:
    """Check that training may write into ``run_dir`` (before any data is read).

    Args:
        run_dir: The run folder (it may not exist yet).
        resume: Continue the run the folder holds.
        overwrite: Replace the run the folder holds.

    Returns:
        Whether the folder holds a run that ``overwrite`` replaces (:func:`clear_run_dir`).

    Raises:
        RunExistsError: When the folder holds a run and neither flag is given.
        ConfigError: When both flags are given.
    """
    if resume and overwrite:
        raise ConfigError("--resume and --overwrite: choose one (continue the run in the "
                          "folder, or replace it)")
    present = [name for name in RUN_FILES if (run_dir / name).exists()]
    if not present or resume:
        return False
    if not overwrite:
        raise RunExistsError(
            f"run folder {run_dir} already holds a run ({', '.join(present)}): pass --resume "
            "to continue it or --overwrite to replace it (train(..., resume=True) or "
            "overwrite=True), or choose another --run-name")
    return True


def clear_run_dir(run_dir: Path) -> None:
    """Delete a previous run's files (:data:`RUN_FILES`, ``tb/``, temporary files); other
    files in the folder are left alone."""
    for name in RUN_FILES:
        (run_dir / name).unlink(missing_ok=True)
    shutil.rmtree(run_dir / "tb", ignore_errors=True)
    remove_stale_temp_files(run_dir)
    _LOG.info("overwrite: removed the previous run's files from %s", run_dir)


def remove_stale_temp_files(run_dir: Path) -> list[Path]:
    """Delete the temporary files killed writes left beside the run's files
    (``.<name>.<random>.tmp``, :func:`sqsnet.utils.io.atomic_file`); return them."""
    stale = [p for name in RUN_FILES for p in run_dir.glob(f".{name}.*{TEMP_SUFFIX}")]
    for path in stale:
        path.unlink(missing_ok=True)
    if stale:
        _LOG.info("removed %d temporary file(s) of interrupted writes from %s", len(stale),
                  run_dir)
    return stale


class MetricsLog:
    """``metrics.csv``: one row per finished epoch, columns :data:`METRIC_FIELDS`.

    Args:
        path: The file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def start(self, epochs_done: int) -> None:
        """Make the file hold exactly the rows of the first ``epochs_done`` epochs.

        A fresh run (``epochs_done = 0``) starts from the header alone; a resumed run keeps
        the rows its checkpoint covers (the last row of each epoch, in epoch order) and drops
        rows written after it, so a run killed between its metrics row and its checkpoint
        has no duplicate row. An older file gets the current columns (new ones left empty,
        :data:`RETIRED_METRIC_FIELDS` dropped). Written atomically.

        Raises:
            CheckpointError: When the file has columns this version does not know.
        """
        rows: dict[int, dict[str, str]] = {}
        if epochs_done > 0 and self.path.is_file():
            for row in self._read_rows():
                epoch = int(row["epoch"])
                if epoch <= epochs_done:
                    rows[epoch] = row
        buf = io.StringIO()
        writer = csv.DictWriter(buf, METRIC_FIELDS, restval="", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows[e] for e in sorted(rows))
        atomic_write_text(self.path, buf.getvalue())

    def _read_rows(self) -> list[dict[str, str]]:
        with open(self.path, newline="") as fh:
            reader = csv.DictReader(fh)
            unknown = [f for f in reader.fieldnames or []
                       if f not in METRIC_FIELDS and f not in RETIRED_METRIC_FIELDS]
            if unknown:
                raise CheckpointError(f"{self.path}: unexpected columns {unknown}: expected "
                                      f"a subset of {METRIC_FIELDS}")
            return [row for row in reader if row.get("epoch")]

    def append(self, row: dict[str, Any]) -> None:
        """Add one epoch's row."""
        with open(self.path, "a", newline="") as fh:
            csv.DictWriter(fh, METRIC_FIELDS).writerow(row)


class WallClock:
    """The run's own training wall time: earlier sessions (from its checkpoint) plus this one.

    Args:
        before_s: Seconds spent by the sessions before this one (0 for a fresh run).
    """

    def __init__(self, before_s: float = 0.0) -> None:
        self.before_s = before_s
        self.started = time.time()

    @property
    def session_s(self) -> float:
        """Seconds since this session started."""
        return time.time() - self.started

    @property
    def total_s(self) -> float:
        """Seconds of the whole run so far."""
        return self.before_s + self.session_s

    def save(self, run_dir: Path) -> float:
        """Write ``wall_time.json`` (``{"total_s": ...}``); return the total."""
        total = self.total_s
        atomic_write_text(run_dir / "wall_time.json", json.dumps({"total_s": total}))
        return total

    @staticmethod
    def recorded(run_dir: Path) -> float:
        """The total in ``wall_time.json`` (0 when absent or unreadable)."""
        try:
            return float(json.loads((run_dir / "wall_time.json").read_text())["total_s"])
        except (OSError, ValueError, KeyError, TypeError):
            return 0.0


def write_summary(run_dir: Path, summary: dict[str, Any]) -> None:
    """``summary.json``, atomically."""
    atomic_write_text(run_dir / "summary.json", json.dumps(summary, indent=2))


def log_to_tensorboard(run_dir: Path, row: dict[str, Any]) -> None:
    """Add an epoch's numeric columns to ``<run_dir>/tb`` (nothing without tensorboard)."""
    try:  # optional dependency: the tensorboard package
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return
    try:
        writer = SummaryWriter(str(run_dir / "tb"))
    except Exception:  # tensorboard package absent or broken: csv is the record
        return
    for key, value in row.items():
        if key != "epoch" and isinstance(value, (int, float)) and math.isfinite(value):
            writer.add_scalar(key, value, row["epoch"])
    writer.close()
