"""``train(cfg)``: one training run, from the config to the run folder.

The run works on a resolved copy of the caller's config (class names and count from the
data, the data root) and returns it in :class:`RunResult`; the caller's config is never
changed. In order:

1. claim the run folder (:func:`sqsnet.training.records.claim_run_dir`: an existing run
   needs ``resume`` or ``overwrite``), seed everything, read the data;
2. build the model, the loaders (:mod:`sqsnet.training.data`) and the optimisation
   (:mod:`sqsnet.training.optim`); resume from ``last.safetensors`` when asked
   (:mod:`sqsnet.training.state`);
3. every epoch: :func:`sqsnet.training.epoch.train_one_epoch`, validation
   (:mod:`sqsnet.training.validate`; the weight average when there is one), model selection
   and early stopping, a ``metrics.csv`` row and the checkpoints
   (:mod:`sqsnet.training.records`);
4. score the best checkpoint on validation (and TTA, and the test split when there is one)
   and write ``summary.json``.

The same command runs under ``torchrun --nproc_per_node N`` (DistributedDataParallel; only
rank 0 writes).
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from sqsnet.checkpoint import load_checkpoint, load_weights
from sqsnet.config import Config, config_to_dict, save_config
from sqsnet.models import SQSNet
from sqsnet.training.data import TrainData, build_datasets, build_train_data, split_record
from sqsnet.training.distributed import Ranks, barrier, init_ranks, pick_device
from sqsnet.training.epoch import EpochTotals, TrainStep, train_one_epoch
from sqsnet.training.optim import Optimisation, make_ema
from sqsnet.training.records import (
    MetricsLog,
    WallClock,
    claim_run_dir,
    clear_run_dir,
    log_to_tensorboard,
    remove_stale_temp_files,
    write_summary,
)
from sqsnet.training.state import ResumePoint, RunCheckpoints, Selection
from sqsnet.training.validate import evaluate, score_test_split, short_metrics
from sqsnet.utils.runtime import hardware_info, seed_everything

__all__ = ["train", "RunResult", "run_dir_of"]

_LOG = logging.getLogger(__name__)


@dataclass
class RunResult:
    """Where a run wrote its files and how it ended.

    Attributes:
        run_dir: The run folder.
        best_epoch: 1-based epoch of the best validation accuracy.
        best_val_accuracy: That accuracy.
        summary: What ``summary.json`` holds.
        config: The resolved config the run trained with (a copy of the caller's).
    """

    run_dir: Path
    best_epoch: int
    best_val_accuracy: float
    summary: dict[str, Any]
    config: Config


@dataclass
class _Run:
    """The parts of a run the epoch and end steps share."""

    cfg: Config
    ranks: Ranks
    device: torch.device
    run_dir: Path
    model: SQSNet
    step_module: nn.Module
    data: TrainData
    optim: Optimisation
    checkpoints: RunCheckpoints
    selection: Selection
    metrics: MetricsLog
    clock: WallClock
    class_names: list[str]
    progress: bool


def run_dir_of(cfg: Config) -> Path:
    """``<train.out_dir>/<train.run_name>``, the run name defaulting to ``<name>-seed<k>``."""
    return Path(cfg.train.out_dir) / (cfg.train.run_name or f"{cfg.name}-seed{cfg.train.seed}")


def train(
    cfg: Config,
    data_root: str | None = None,
    resume: bool = False,
    device: str | None = None,
    progress: bool = True,
    datasets: tuple[Dataset, Dataset] | None = None,
    overwrite: bool = False,
) -> RunResult:
    """Train SQSNet as configured.

    Args:
        cfg: The config (not changed: the run works on a resolved copy, saved into the run
            folder and every checkpoint, and returned in :attr:`RunResult.config`).
        data_root: Dataset root (overrides ``cfg.data.root``; ``SQSNET_DATA`` otherwise).
        resume: Continue from ``<run_dir>/last.safetensors`` if it exists.
        device: ``cuda``/``cpu``; default: CUDA when available.
        progress: Show tqdm bars.
        datasets: Prebuilt ``(train, val)`` datasets (skips :func:`build_datasets`).
        overwrite: Delete a previous run in the run folder and start again.

    Returns:
        :class:`RunResult`.

    Raises:
        RunExistsError: The run folder holds a run and neither ``resume`` nor ``overwrite``.
        TrainingDivergedError: When a loss becomes NaN or infinite.
        CheckpointError: A resume point that is damaged or belongs to another model.
    """
    cfg = copy.deepcopy(cfg)
    ranks = init_ranks()
    dev = pick_device(device, ranks)
    if cfg.train.threads > 0:
        torch.set_num_threads(cfg.train.threads)
    run_dir = run_dir_of(cfg)
    replace = claim_run_dir(run_dir, resume, overwrite)
    barrier(ranks)  # every rank has looked before rank 0 writes
    seed_everything(cfg.train.seed)
    train_set, val_set = datasets if datasets is not None else build_datasets(cfg, data_root)
    class_names = _resolve_config(cfg, train_set, data_root)
    run, point = _set_up(cfg, ranks, dev, run_dir, (train_set, val_set), class_names, resume,
                         replace, progress)
    for epoch in range(point.start_epoch, cfg.train.epochs):
        totals = _train_epoch(run, epoch, point.partial if epoch == point.start_epoch else None)
        _end_epoch(run, epoch, totals)
        if run.selection.should_stop(cfg.train.patience):
            _LOG.info("early stopping: no better val accuracy for %d epochs",
                      run.selection.stale)
            break
    summary = _finish(run, data_root)
    return RunResult(run_dir, run.selection.best_epoch + 1, run.selection.best_acc, summary, cfg)


def _resolve_config(cfg: Config, train_set: Dataset, data_root: str | None) -> list[str]:
    """Fill the run's copy of the config from its data; return the class names."""
    class_names = list(train_set.classes)  # type: ignore[attr-defined]
    cfg.model.class_names = class_names
    cfg.model.num_classes = len(class_names)
    if data_root is not None:
        cfg.data.root = str(data_root)
    return class_names


def _set_up(
    cfg: Config, ranks: Ranks, dev: torch.device, run_dir: Path,
    datasets: tuple[Dataset, Dataset], class_names: list[str], resume: bool, replace: bool,
    progress: bool,
) -> tuple[_Run, ResumePoint]:
    """Model, loaders, optimisation and records of a run, resumed when asked (or replacing
    the run in the folder)."""
    t = cfg.train
    model = SQSNet(cfg.model).to(dev)
    model.miner.generator.manual_seed(t.seed)
    if t.channels_last:
        model = model.to(memory_format=torch.channels_last)
    ema = make_ema(model, t)
    data = build_train_data(cfg, *datasets, ranks, dev)
    optim = Optimisation.build(model, cfg, data.steps_per_epoch, dev, ema)
    step_module: nn.Module = TrainStep(model)
    if ranks.world > 1:
        step_module = nn.parallel.DistributedDataParallel(
            step_module, device_ids=[dev.index] if dev.type == "cuda" else None,
            find_unused_parameters=cfg.model.use_sqs)
    splits = split_record(*datasets)
    meta = {"class_names": class_names, "dataset": cfg.data.dataset,
            "label_mode": cfg.data.label_mode, "seed": t.seed, "run_dir": str(run_dir),
            "splits": splits}
    checkpoints = RunCheckpoints(run_dir, cfg, meta)
    point = ResumePoint()
    if resume and checkpoints.last_path.is_file():
        point = checkpoints.restore(model, optim, WallClock.recorded(run_dir))
        _LOG.info("resumed %s at epoch %d%s (best %.4f @ %d)", run_dir, point.start_epoch + 1,
                  f", step {point.partial['step']}" if point.partial else "",
                  point.selection.best_acc, point.selection.best_epoch + 1)
    metrics = MetricsLog(run_dir / "metrics.csv")
    if ranks.is_main:
        if replace:
            clear_run_dir(run_dir)
        _open_records(cfg, run_dir, metrics, point, splits, data.steps_per_epoch)
    run = _Run(cfg, ranks, dev, run_dir, model, step_module, data, optim, checkpoints,
               point.selection, metrics, WallClock(point.wall_time_s), class_names, progress)
    return run, point


def _open_records(cfg: Config, run_dir: Path, metrics: MetricsLog, point: ResumePoint,
                  splits: dict[str, Any], steps_per_epoch: int) -> None:
    """Rank 0: ``config.yaml``, ``metrics.csv`` cut to the resume point, stale temp files
    removed, and the run's data said in the log."""
    run_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(run_dir)
    save_config(cfg, run_dir / "config.yaml")
    metrics.start(point.start_epoch)
    _LOG.info("run folder %s, %d train / %d val images, %d steps per epoch", run_dir,
              splits["train"]["images"], splits["valid"]["images"], steps_per_epoch)
    for name, split in splits.items():
        h = split["holdout"]
        if h is not None:
            _LOG.info("%s split: a seeded stratified hold-out of %s (%.0f%% held out as valid, "
                      "seed %d; %d train / %d valid images), recorded in summary.json",
                      name, h["source"], 100 * h["fraction"], h["seed"], h["train"], h["valid"])


def _train_epoch(run: _Run, epoch: int, partial: dict[str, Any] | None) -> EpochTotals:
    """One epoch (or its rest after a resume point inside it); totals over the ranks."""
    first_step = int(partial["step"]) if partial else 0
    totals = EpochTotals.from_partial(partial, run.ranks) if partial else EpochTotals()
    run.data.set_epoch(epoch, first_step)

    def save_resume_point(done: int, so_far: EpochTotals) -> None:
        # running sums are reduced over ranks and kept by rank 0, so the epoch's averages
        # come out the same after a resume
        reduced = so_far.reduced(run.ranks, run.device)
        if run.ranks.is_main:
            run.checkpoints.save_last(run.model, run.optim, run.selection, epoch,
                                      run.clock.total_s, {"epoch": epoch, "epoch_step": done},
                                      reduced.as_partial(done))
            run.clock.save(run.run_dir)

    t = run.cfg.train
    totals = train_one_epoch(
        run.step_module, run.model, run.data, run.optim, run.device, epoch, t.epochs, totals,
        first_step=first_step, checkpoint_every=t.checkpoint_every,
        on_checkpoint=save_resume_point, channels_last=t.channels_last,
        progress=run.progress and run.ranks.is_main)
    return totals.reduced(run.ranks, run.device)


def _end_epoch(run: _Run, epoch: int, totals: EpochTotals) -> None:
    """Validate, select, and (rank 0) write the epoch's row and checkpoints."""
    ema = run.optim.ema
    selected = run.model if ema is None else ema.module
    val = evaluate(selected, run.data.val_loader, run.device, run.class_names, run.ranks,
                   branch_spread=True)
    live = (evaluate(run.model, run.data.val_loader, run.device, run.class_names,
                     run.ranks)["accuracy"] if ema is not None else "")
    improved = run.selection.update(val["accuracy"], epoch)
    row = {
        "epoch": epoch + 1, "lr": run.optim.lr, **totals.means(),
        "excluded_anchors": totals.excluded, "val_loss": val["loss"],
        "val_accuracy": val["accuracy"], "val_macro_f1": val["macro_f1"],
        "val_balanced_accuracy": val["balanced_accuracy"],
        "images_per_s": totals.seen / max(totals.time_s, 1e-9),
        "epoch_time_s": totals.time_s, "best": int(improved), "val_accuracy_live": live,
        "val_local_std": val.get("local_std", ""), "val_global_std": val.get("global_std", ""),
    }
    if not run.ranks.is_main:
        return
    _LOG.info("epoch %d: loss %.4f val acc %.4f macro-F1 %.4f (%.0f img/s)%s", epoch + 1,
              row["train_loss"], val["accuracy"], val["macro_f1"], row["images_per_s"],
              " *" if improved else "")
    run.metrics.append(row)
    log_to_tensorboard(run.run_dir, row)
    meta = {"epoch": epoch + 1, "metrics": {"val": short_metrics(val)}}
    if improved:
        run.checkpoints.save_best(selected, meta)
    run.checkpoints.save_last(run.model, run.optim, run.selection, epoch + 1, run.clock.total_s,
                              meta)
    run.clock.save(run.run_dir)


def _finish(run: _Run, data_root: str | None) -> dict[str, Any]:
    """Score the best checkpoint and (rank 0) write ``summary.json``; return the summary."""
    summary: dict[str, Any] = {
        "run_dir": str(run.run_dir),
        "best_epoch": run.selection.best_epoch + 1,
        "best_val_accuracy": run.selection.best_acc,
        "wall_time_s": run.clock.session_s,
        "hardware": {**hardware_info(run.device), "world_size": run.ranks.world,
                     "train_precision": run.optim.precision},
        "splits": run.checkpoints.meta["splits"],
        "config": config_to_dict(run.cfg),
    }
    barrier(run.ranks)  # rank 0 has written best.safetensors
    best = run.checkpoints.best_path
    if best.is_file():
        # every rank takes part: evaluate gathers predictions across ranks
        load_weights(run.model, load_checkpoint(best).model_state, best)
        args = (run.model, run.data.val_loader, run.device, run.class_names, run.ranks)
        final = evaluate(*args)
        summary["val"] = short_metrics(final)
        summary["val_full"] = final
        if run.cfg.train.tta:
            summary["val_tta"] = short_metrics(evaluate(*args, tta=True))
        if run.ranks.is_main:
            summary["test"] = score_test_split(run.cfg, data_root, run.model, run.device,
                                               run.class_names)
            summary["total_wall_time_s"] = run.clock.save(run.run_dir)
            write_summary(run.run_dir, summary)
    barrier(run.ranks)
    return summary
