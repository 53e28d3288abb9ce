"""The resume state of a run: what ``last.safetensors`` holds besides the weights, and how a
resumed run gets it back bit for bit.

``last.safetensors`` is written at the end of every epoch and, with
``train.checkpoint_every = N``, every ``N`` steps inside an epoch. Its train state holds the
optimizer, the learning-rate schedule, every RNG (torch, CUDA, NumPy, Python and the quad
miner's), the weight average, the model selection so far (best accuracy, its epoch, epochs
without improvement), the run's wall time so far and, for a point inside an epoch, the step
reached and the epoch's running sums. Resuming from it replays the rest of the run exactly
(the batches and augmentations are functions of ``(seed, epoch, index)``).

A resumed run must build the same model (a changed ``model.*`` setting other than how it is
scored is refused); other changed settings are logged.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sqsnet.checkpoint import CheckpointError, load_checkpoint, load_weights, save_checkpoint
from sqsnet.config import (
    EVAL_ONLY_MODEL_SETTINGS,
    INCIDENTAL_SETTINGS,
    Config,
    config_differences,
    format_differences,
)
from sqsnet.models import SQSNet
from sqsnet.training.optim import Optimisation

__all__ = ["Selection", "ResumePoint", "RunCheckpoints", "check_resume_settings",
           "rng_state", "set_rng_state"]

_LOG = logging.getLogger(__name__)


@dataclass
class Selection:
    """Model selection on validation accuracy, with early stopping.

    Attributes:
        best_acc: Best validation accuracy so far (-1 before the first epoch).
        best_epoch: Its 0-based epoch (-1 before the first epoch).
        stale: Epochs since it last improved.
    """

    best_acc: float = -1.0
    best_epoch: int = -1
    stale: int = 0

    def update(self, accuracy: float, epoch: int) -> bool:
        """Record an epoch's validation accuracy; whether it is a new best."""
        if accuracy > self.best_acc:
            self.best_acc, self.best_epoch, self.stale = accuracy, epoch, 0
            return True
        self.stale += 1
        return False

    def should_stop(self, patience: int) -> bool:
        """Early stopping: ``patience`` epochs without improvement (0: never)."""
        return patience > 0 and self.stale >= patience


@dataclass
class ResumePoint:
    """Where a run starts: its first epoch, a point inside it, the wall time spent so far.

    Attributes:
        start_epoch: First epoch to train (0-based; epochs before it are done).
        partial: ``{"step", "sums", "seen", "excluded", "time_s"}`` of a point inside
            ``start_epoch``, or ``None``.
        wall_time_s: Seconds the run has trained before this session.
        selection: The model selection so far.
    """

    start_epoch: int = 0
    partial: dict[str, Any] | None = None
    wall_time_s: float = 0.0
    selection: Selection = field(default_factory=Selection)


def rng_state(model: SQSNet) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Every RNG's state: tensors (torch, CUDA, quad miner) and JSON (NumPy, Python)."""
    tensors = {"torch": torch.get_rng_state(), "miner": model.miner.generator.get_state()}
    if torch.cuda.is_available():
        tensors["cuda"] = torch.cuda.get_rng_state()
    np_state = np.random.get_state()
    py_state = random.getstate()
    extra = {
        "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]),
                  float(np_state[4])],
        "python": [py_state[0], list(py_state[1]), py_state[2]],
    }
    return tensors, extra


def set_rng_state(model: SQSNet, tensors: dict[str, torch.Tensor], extra: dict) -> None:
    """Restore :func:`rng_state`."""
    torch.set_rng_state(tensors["torch"])
    model.miner.generator.set_state(tensors["miner"])
    if "cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["cuda"])
    n = extra["numpy"]
    np.random.set_state((n[0], np.asarray(n[1], dtype=np.uint32), n[2], n[3], n[4]))
    p = extra["python"]
    random.setstate((p[0], tuple(p[1]), p[2]))


def check_resume_settings(path: Path, old: Config, new: Config) -> None:
    """A resumed run must build the same model; other changed settings are logged.

    Raises:
        CheckpointError: When a ``model.*`` setting differs from the checkpoint's.
    """
    model_diff = config_differences(old, new, only=("model.",),
                                    ignore=(*INCIDENTAL_SETTINGS, *EVAL_ONLY_MODEL_SETTINGS))
    if model_diff:
        raise CheckpointError(
            f"cannot resume {path}: it was trained with another model "
            f"({format_differences(model_diff)}); resume with its own config "
            f"({path.parent / 'config.yaml'}) or choose another --run-name")
    other = [line for line in config_differences(old, new, ignore=INCIDENTAL_SETTINGS)
             if line not in model_diff]
    if other:
        _LOG.warning("resuming %s with changed settings: %s", path, "; ".join(other))


def _jsonable(obj: Any) -> Any:
    """Scheduler state dicts contain only numbers and lists; make tuples plain lists."""
    return json.loads(json.dumps(obj, default=lambda o: o.tolist() if hasattr(o, "tolist")
                                  else str(o)))


class RunCheckpoints:
    """``best.safetensors`` and ``last.safetensors`` of a run folder.

    Args:
        run_dir: The run folder.
        cfg: The run's resolved config (saved into every checkpoint).
        meta: Metadata every checkpoint carries (class names, dataset, seed, splits...).
    """

    def __init__(self, run_dir: Path, cfg: Config, meta: dict[str, Any]) -> None:
        self.last_path = run_dir / "last.safetensors"
        self.best_path = run_dir / "best.safetensors"
        self.cfg = cfg
        self.meta = meta

    def save_best(self, selected: SQSNet, meta: dict[str, Any]) -> None:
        """The selected weights (the average with ``train.ema_decay``)."""
        save_checkpoint(self.best_path, selected, self.cfg, {**self.meta, **meta})

    def save_last(
        self, model: SQSNet, optim: Optimisation, selection: Selection, epochs_done: int,
        wall_time_s: float, meta: dict[str, Any], partial: dict[str, Any] | None = None,
    ) -> None:
        """The live weights with the resume state after ``epochs_done`` epochs (and
        ``partial``: a point inside the next one)."""
        tensors, extra = rng_state(model)
        state = {
            "optimizer": optim.optimizer.state_dict(),
            "scheduler": _jsonable(optim.scheduler.state_dict()),
            "rng": tensors,
            "rng_extra": extra,
            "epoch": epochs_done - 1,
            "best_acc": selection.best_acc,
            "best_epoch": selection.best_epoch,
            "stale": selection.stale,
            "partial_epoch": partial,
            "wall_time_s": wall_time_s,
            **({"ema": optim.ema.module.state_dict()} if optim.ema is not None else {}),
        }
        save_checkpoint(self.last_path, model, self.cfg, {**self.meta, **meta},
                        train_state=state)

    def restore(self, model: SQSNet, optim: Optimisation, fallback_wall_time_s: float = 0.0
                ) -> ResumePoint:
        """Load ``last.safetensors`` into the model and its optimisation.

        Args:
            model: The run's model (its config must match the checkpoint's).
            optim: The run's optimisation (state restored in place).
            fallback_wall_time_s: Wall time of a checkpoint written before it carried its own.

        Returns:
            Where the run resumes.

        Raises:
            CheckpointError: A damaged file, another model, no weight average to resume one
                with, or an optimizer state that does not fit (each naming the file).
        """
        path = self.last_path
        ckpt = load_checkpoint(path, with_train_state=True)
        check_resume_settings(path, ckpt.config, self.cfg)
        load_weights(model, ckpt.model_state, path)
        st = ckpt.train_state or {}
        if optim.ema is not None:
            if "ema" not in st:
                raise CheckpointError(
                    f"{path} has no weight average to resume with train.ema_decay="
                    f"{self.cfg.train.ema_decay}: it was written without EMA")
            optim.ema.module.load_state_dict(st["ema"])
        try:
            optim.optimizer.load_state_dict(st["optimizer"])
        except ValueError as err:
            raise CheckpointError(
                f"cannot resume {path}: its optimizer state does not fit this run's "
                f"parameter groups ({err}); resume with the run's own config "
                f"({path.parent / 'config.yaml'})") from None
        optim.scheduler.load_state_dict(st["scheduler"])
        set_rng_state(model, st["rng"], st["rng_extra"])
        selection = Selection(float(st["best_acc"]), int(st["best_epoch"]), int(st["stale"]))
        return ResumePoint(int(st["epoch"]) + 1, st.get("partial_epoch"),
                           float(st.get("wall_time_s", fallback_wall_time_s)), selection)
