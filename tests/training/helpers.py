"""A tiny training run for the training tests."""

from __future__ import annotations

from pathlib import Path

import torch

from sqsnet.config import load_config
from sqsnet.training import train

__all__ = ["train_tiny", "weights_equal", "metric_rows"]


def train_tiny(cfg_path: Path, data: Path, out: Path, epochs: int, resume: bool = False,
               extra: tuple[str, ...] = (), overwrite: bool = False) -> Path:
    """Train the tiny config for ``epochs`` epochs of 3 steps into ``out/run``; the run folder."""
    cfg = load_config(cfg_path, ["train.max_steps_per_epoch=3", f"train.epochs={epochs}",
                                 "train.tta=false", f"train.out_dir={out}",
                                 "train.run_name=run", "train.t0_epochs=4", *extra])
    return train(cfg, data_root=str(data), resume=resume, progress=False,
                 overwrite=overwrite).run_dir


def weights_equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    """Whether two state dicts hold bit-identical tensors under the same names."""
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def metric_rows(run: Path) -> list[str]:
    """The lines of a run's ``metrics.csv``, header first."""
    return (run / "metrics.csv").read_text().splitlines()
