"""The training loop: one file, readable top to bottom (no training framework).

``train(cfg)`` builds the data, model, AdamW and a per-iteration
CosineAnnealingWarmRestarts schedule, then for every epoch:

1. draws class-aware batches (each class present has >= 2 images, so quads exist),
2. applies Mixup/CutMix (soft targets for the cross-entropies, the dominant hard label for
   quad mining),
3. calls ``model.forward_train`` (base CE + SQS CE + lambda * L_SQS + mu * KD) or, in the
   paper's four-pass mode, ``model.forward_train_quads``,
4. updates the exponential moving average of the weights when ``train.ema_decay`` is set,
5. evaluates on the validation split (the averaged weights when there are some), keeps the
   best checkpoint by validation accuracy (never by test), writes ``metrics.csv`` and
   ``last.safetensors`` (resume state), and stops early after ``patience`` epochs without
   improvement.

Run folder: ``<out_dir>/<run_name>/`` with ``config.yaml``, ``metrics.csv``,
``best.safetensors`` (+ ``.json``), ``last.safetensors`` (+ ``.json``) and ``summary.json``.
The same command runs under ``torchrun --nproc_per_node N`` (DistributedDataParallel;
only rank 0 writes).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import random
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from timm.utils import ModelEmaV3
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from sqsnet.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_weights,
    save_checkpoint,
)
from sqsnet.config import (
    EVAL_ONLY_MODEL_SETTINGS,
    INCIDENTAL_SETTINGS,
    Config,
    ConfigError,
    TrainConfig,
    config_differences,
    config_to_dict,
    format_differences,
    save_config,
)
from sqsnet.data import (
    ClassAwareBatchSampler,
    DatasetError,
    MixupCutmix,
    QuadDataset,
    SeededItems,
    StratifiedSubset,
    build_dataset,
    build_eval_transform,
    build_train_transform,
)
from sqsnet.diagnostics import BranchRecorder
from sqsnet.errors import SQSNetError
from sqsnet.evaluate import compute_metrics, predict_loader
from sqsnet.models import SQSNet
from sqsnet.utils.io import atomic_write_text
from sqsnet.utils.runtime import (
    autocast_dtype,
    hardware_info,
    seed_everything,
)

__all__ = ["train", "TrainingDivergedError", "RunResult", "build_datasets"]

_LOG = logging.getLogger(__name__)

METRIC_FIELDS = [
    "epoch", "lr", "train_loss", "train_ce", "train_sqs_ce", "train_sqs", "train_kd",
    "excluded_anchors", "val_loss", "val_accuracy", "val_macro_f1",
    "val_balanced_accuracy", "images_per_s", "epoch_time_s", "best", "val_accuracy_live",
    "val_local_std", "val_global_std",
]
"""Columns of ``metrics.csv``. With ``train.ema_decay`` the ``val_*`` columns score the
averaged weights (the ones selected) and ``val_accuracy_live`` the live weights; without it
``val_accuracy_live`` is empty. ``val_local_std`` / ``val_global_std``: how much each
branch's output varies over the validation images (:mod:`sqsnet.diagnostics`; empty for an
absent branch, and measured on rank 0's share of the split under DistributedDataParallel). A
branch whose spread falls towards 0 has collapsed to a constant map."""

RETIRED_METRIC_FIELDS = ("train_aux",)
"""Columns of older ``metrics.csv`` files that logged a retired setting
(``model.loss.global_aux_weight``): dropped when a resumed run's file is upgraded."""


class TrainingDivergedError(SQSNetError, RuntimeError):
    """The loss became NaN or infinite."""


@dataclass
class RunResult:
    """Where a run wrote its files and how it ended."""

    run_dir: Path
    best_epoch: int
    best_val_accuracy: float
    summary: dict[str, Any]


class _TrainStep(nn.Module):
    """Makes the training call a ``forward`` so DistributedDataParallel can wrap it."""

    def __init__(self, model: SQSNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: tuple[torch.Tensor, ...], four_pass: bool) -> Any:
        if four_pass:
            a, p, n1, n2, target = batch
            return self.model.forward_train_quads(a, p, n1, n2, target)
        x, target, labels = batch
        return self.model.forward_train(x, target, labels)


def _rng_state(model: SQSNet) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
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


def _set_rng_state(model: SQSNet, tensors: dict[str, torch.Tensor], extra: dict) -> None:
    torch.set_rng_state(tensors["torch"])
    model.miner.generator.set_state(tensors["miner"])
    if "cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["cuda"])
    n = extra["numpy"]
    np.random.set_state((n[0], np.asarray(n[1], dtype=np.uint32), n[2], n[3], n[4]))
    p = extra["python"]
    random.setstate((p[0], tuple(p[1]), p[2]))


def build_datasets(
    cfg: Config, data_root: str | None = None
) -> tuple[Dataset, Dataset]:
    """Training and validation datasets with the configured transforms.

    Returns:
        ``(train, val)``; ``train.classes`` defines the model's class order.
    """
    d = cfg.data
    size = cfg.model.img_size
    train_tf = build_train_transform(size, random_erasing=d.random_erasing,
                                     **dict(d.train_transform))
    eval_tf = build_eval_transform(size, crop_pct=cfg.model.crop_pct)
    kwargs: dict[str, Any] = {}
    if d.dataset == "ferplus":
        kwargs.update(cache=d.cache)
    if d.dataset == "affectnet":
        kwargs.update(num_classes=d.num_classes_affectnet)
    train_kwargs = dict(kwargs)
    if d.dataset == "ferplus":
        train_kwargs["label_mode"] = d.label_mode
    root = data_root if data_root is not None else d.root
    train_set = build_dataset(d.dataset, root, d.train_split, transform=train_tf,
                              skip_bad_images=d.skip_bad_images, **train_kwargs)
    val_set = build_dataset(d.dataset, root, d.val_split, transform=eval_tf,
                            skip_bad_images=d.skip_bad_images, **kwargs)
    if d.train_fraction < 1.0:
        train_set = StratifiedSubset(train_set, d.train_fraction, seed=cfg.train.seed)
    return train_set, val_set


def _make_ema(model: SQSNet, t: TrainConfig) -> Any:
    """``timm.utils.ModelEmaV3`` of ``model`` as ``train.ema_decay`` asks (None when 0).

    Raises:
        ConfigError: For a decay outside ``[0, 1)``.
    """
    if not 0.0 <= t.ema_decay < 1.0:
        raise ConfigError(f"train.ema_decay={t.ema_decay}: expected 0 (off) or a decay in "
                         "(0, 1), e.g. 0.999")
    if t.ema_decay == 0.0:
        return None
    return ModelEmaV3(model, decay=t.ema_decay, use_warmup=t.ema_warmup, warmup_power=0.75)


def _dist_info() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    return world, rank, local


def _param_groups(model: SQSNet, t: TrainConfig) -> list[dict[str, Any]]:
    """AdamW parameter groups: weights decayed, then biases and norms without weight decay."""
    decayed: list[nn.Parameter] = []
    plain: list[nn.Parameter] = []
    for name, param in model.named_parameters():
        if param.requires_grad:
            no_decay = param.ndim <= 1 or name.endswith(".bias")
            (plain if no_decay else decayed).append(param)
    return [{"params": decayed, "weight_decay": t.weight_decay, "lr": t.lr},
            {"params": plain, "weight_decay": 0.0, "lr": t.lr}]


def _make_scheduler(
    optimizer: torch.optim.Optimizer, cfg: Config, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LRScheduler:
    t = cfg.train
    t0 = max(1, int(round(t.t0_epochs * steps_per_epoch)))
    cosine = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        optimizer, T_0=t0, T_mult=max(1, t.t_mult), eta_min=t.eta_min
    )
    warm = int(round(t.warmup_epochs * steps_per_epoch))
    if warm <= 0:
        return cosine
    linear = torch.optim.lr_scheduler.LinearLR(
        optimizer, start_factor=0.01, end_factor=1.0, total_iters=warm
    )
    return torch.optim.lr_scheduler.SequentialLR(optimizer, [linear, cosine], milestones=[warm])


def _evaluate(
    model: SQSNet, loader: DataLoader, device: torch.device, class_names: list[str],
    world: int, tta: bool = False, branch_spread: bool = False,
) -> dict[str, Any]:
    """Metrics on a loader; with ``branch_spread`` (one view only) also ``local_std`` and
    ``global_std``, each branch's output spread over this rank's images
    (:class:`sqsnet.diagnostics.BranchRecorder`; absent branches are left out)."""
    recorder = BranchRecorder(model) if branch_spread and not tta else nullcontext()
    with recorder:
        probs, targets = predict_loader(model, loader, device, tta=tta)
    spread = {}
    if isinstance(recorder, BranchRecorder):
        spread = {f"{name.split('_')[0]}_std": s.std_over_images
                  for name, s in recorder.stats().items()}
    if world > 1:
        gathered: list[Any] = [None] * world
        dist.all_gather_object(gathered, (probs, targets))
        probs = np.concatenate([g[0] for g in gathered if len(g[1])])
        targets = np.concatenate([g[1] for g in gathered if len(g[1])])
    metrics = compute_metrics(targets, probs.argmax(1), class_names)
    eps = 1e-12
    metrics["loss"] = float(-np.log(probs[np.arange(len(targets)), targets] + eps).mean())
    metrics.update(spread)
    return metrics


def _check_resume_settings(path: Path, old: Config, new: Config) -> None:
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


def train(
    cfg: Config,
    data_root: str | None = None,
    resume: bool = False,
    device: str | None = None,
    progress: bool = True,
    datasets: tuple[Dataset, Dataset] | None = None,
) -> RunResult:
    """Train SQSNet as configured.

    Args:
        cfg: The resolved config (saved into the run folder and every checkpoint).
        data_root: Dataset root (overrides ``cfg.data.root``; ``SQSNET_DATA`` otherwise).
        resume: Continue from ``<run_dir>/last.safetensors`` if it exists.
        device: ``cuda``/``cpu``; default: CUDA when available.
        progress: Show tqdm bars.
        datasets: Prebuilt ``(train, val)`` datasets (skips :func:`build_datasets`).

    Returns:
        :class:`RunResult`.

    Raises:
        TrainingDivergedError: When a loss becomes NaN or infinite.
    """
    world, rank, local_rank = _dist_info()
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
    if device is None:
        device = f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if cfg.train.threads > 0:
        torch.set_num_threads(cfg.train.threads)
    is_main = rank == 0
    t = cfg.train
    seed_everything(t.seed)

    train_set, val_set = datasets if datasets is not None else build_datasets(cfg, data_root)
    class_names = list(train_set.classes)
    cfg.model.class_names = class_names
    cfg.model.num_classes = len(class_names)
    if data_root is not None:
        cfg.data.root = str(data_root)

    run_name = t.run_name or f"{cfg.name}-seed{t.seed}"
    run_dir = Path(t.out_dir) / run_name
    last_path = run_dir / "last.safetensors"
    best_path = run_dir / "best.safetensors"
    metrics_path = run_dir / "metrics.csv"

    model = SQSNet(cfg.model).to(dev)
    model.miner.generator.manual_seed(t.seed)
    if t.channels_last:
        model = model.to(memory_format=torch.channels_last)
    four_pass = cfg.model.use_sqs and cfg.model.sqs.quads == "dataset"
    ema = _make_ema(model, t)

    # ---- data loaders -------------------------------------------------------------
    targets = list(train_set.targets)
    d = cfg.data
    if four_pass:
        loader_set: Dataset = QuadDataset(train_set, negatives=cfg.model.sqs.negatives,
                                          seed=t.seed)
        sampler_args: dict[str, Any] = {"min_per_class": 1}
    else:
        # the same class-aware batches with or without SQS, so ablations differ only in
        # the model; "random" drops the >= 2 images per class guarantee
        sampler_args = {"min_per_class": 1 if d.sampler == "random" else 2,
                        "classes_per_batch": d.classes_per_batch}
        loader_set = train_set
    try:
        batch_sampler = ClassAwareBatchSampler(
            targets, d.batch_size, balanced=d.sampler == "balanced", seed=t.seed,
            num_replicas=world, rank=rank, **sampler_args,
        )
    except ValueError as err:  # too few images for one batch: the user's data or settings
        raise ConfigError(f"{d.dataset} {d.train_split} split ({len(train_set)} images): "
                          f"{err} (data.batch_size={d.batch_size})") from None
    # augmentation drawn per (seed, epoch, index): independent of workers and of where a
    # run resumed; the loaders get private generators so that starting an iterator never
    # advances the global RNG the training step uses (mixing, drop-path)
    seeded_set = SeededItems(loader_set, seed=t.seed)
    pin = dev.type == "cuda"
    # train workers restart every epoch so the epoch set on the datasets reaches them
    train_loader = DataLoader(seeded_set, batch_sampler=batch_sampler, num_workers=d.num_workers,
                              pin_memory=pin, generator=torch.Generator().manual_seed(t.seed))
    val_indices = list(range(rank, len(val_set), world))
    val_subset = torch.utils.data.Subset(val_set, val_indices) if world > 1 else val_set
    val_loader = DataLoader(val_subset, batch_size=max(d.batch_size, 128), shuffle=False,
                            num_workers=d.num_workers, pin_memory=pin,
                            persistent_workers=d.num_workers > 0,
                            generator=torch.Generator().manual_seed(t.seed))
    steps_per_epoch = batch_sampler.batches_per_epoch
    if t.max_steps_per_epoch > 0:
        steps_per_epoch = min(steps_per_epoch, t.max_steps_per_epoch)
    mixer = None
    if (d.mixup_alpha > 0 or d.cutmix_alpha > 0) and d.mix_prob > 0 and not four_pass:
        mixer = MixupCutmix(
            mixup_alpha=d.mixup_alpha, cutmix_alpha=d.cutmix_alpha, prob=d.mix_prob,
            label_smoothing=cfg.model.loss.label_smoothing, num_classes=len(class_names),
        )

    # ---- optimisation --------------------------------------------------------------
    optimizer = torch.optim.AdamW(_param_groups(model, t), lr=t.lr)
    scheduler = _make_scheduler(optimizer, cfg, steps_per_epoch)
    amp_dtype = autocast_dtype(t, dev.type)
    use_amp = amp_dtype is not None
    # float16 needs loss scaling; bfloat16 has float32's range and does not
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)

    step_module: nn.Module = _TrainStep(model)
    if world > 1:
        step_module = nn.parallel.DistributedDataParallel(
            step_module, device_ids=[dev.index] if dev.type == "cuda" else None,
            find_unused_parameters=cfg.model.use_sqs,
        )

    start_epoch, best_acc, best_epoch, stale = 0, -1.0, -1, 0
    partial: dict[str, Any] | None = None  # a mid-epoch resume point
    if resume and last_path.is_file():
        ckpt = load_checkpoint(last_path, with_train_state=True)
        _check_resume_settings(last_path, ckpt.config, cfg)
        load_weights(model, ckpt.model_state, last_path)
        st = ckpt.train_state or {}
        if ema is not None:
            if "ema" not in st:
                raise CheckpointError(f"{last_path} has no weight average to resume with "
                                 f"train.ema_decay={t.ema_decay}: it was written without EMA")
            ema.module.load_state_dict(st["ema"])
        try:
            optimizer.load_state_dict(st["optimizer"])
        except ValueError as err:
            raise CheckpointError(
                f"cannot resume {last_path}: its optimizer state does not fit this run's "
                f"parameter groups ({err}); resume with the run's own config "
                f"({run_dir / 'config.yaml'})") from None
        scheduler.load_state_dict(st["scheduler"])
        _set_rng_state(model, st["rng"], st["rng_extra"])
        start_epoch = int(st["epoch"]) + 1
        best_acc, best_epoch, stale = float(st["best_acc"]), int(st["best_epoch"]), int(st["stale"])
        partial = st.get("partial_epoch")
        _LOG.info("resumed %s at epoch %d%s (best %.4f @ %d)", run_dir, start_epoch + 1,
                  f", step {partial['step']}" if partial else "", best_acc, best_epoch + 1)
    elif is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        if metrics_path.exists():
            metrics_path.unlink()
    if is_main:
        save_config(cfg, run_dir / "config.yaml")
        if not metrics_path.exists():
            with open(metrics_path, "w", newline="") as fh:
                csv.DictWriter(fh, METRIC_FIELDS).writeheader()
        else:
            _upgrade_metrics_header(metrics_path)
        _LOG.info("run folder %s, %d train / %d val images, %d steps per epoch", run_dir,
                  len(train_set), len(val_set), steps_per_epoch)

    meta_base = {
        "class_names": class_names,
        "dataset": d.dataset,
        "label_mode": d.label_mode,
        "seed": t.seed,
        "run_dir": str(run_dir),
    }
    wall_start = time.time()
    tick = wall_start
    stop = False

    def reduced(sums: dict[str, float], seen: int, excluded: int
                ) -> tuple[dict[str, float], int, int]:
        """The epoch's running sums added up over ranks (as they are on one process)."""
        if world == 1:
            return sums, seen, excluded
        packed = torch.tensor([*sums.values(), seen, excluded], dtype=torch.float64, device=dev)
        dist.all_reduce(packed)
        values = packed.tolist()
        n = len(sums)
        return dict(zip(sums, values[:n])), int(values[n]), int(values[n + 1])

    def train_state(epoch_done: int, partial_epoch: dict[str, Any] | None) -> dict[str, Any]:
        rng_tensors, rng_extra = _rng_state(model)
        return {
            "optimizer": optimizer.state_dict(),
            "scheduler": _jsonable(scheduler.state_dict()),
            "rng": rng_tensors,
            "rng_extra": rng_extra,
            "epoch": epoch_done,
            "best_acc": best_acc,
            "best_epoch": best_epoch,
            "stale": stale,
            "partial_epoch": partial_epoch,
            **({"ema": ema.module.state_dict()} if ema is not None else {}),
        }

    for epoch in range(start_epoch, t.epochs):
        if stop:
            break
        batch_sampler.set_epoch(epoch)
        seeded_set.set_epoch(epoch)  # forwards to the quad dataset
        model.train()
        sums = {"total": 0.0, "ce": 0.0, "sqs_ce": 0.0, "sqs": 0.0, "kd": 0.0}
        excluded = 0
        seen = 0
        first_step = 0
        t0 = time.time()
        if partial is not None:  # continue a checkpointed epoch where it stopped
            first_step = int(partial["step"])
            batch_sampler.set_position(first_step)
            # a resume point written before a loss term existed lacks its sum: 0 so far
            sums = {k: float(partial["sums"].get(k, 0.0)) if rank == 0 else 0.0 for k in sums}
            seen = int(partial["seen"]) if rank == 0 else 0
            excluded = int(partial["excluded"]) if rank == 0 else 0
            t0 -= float(partial["time_s"])
            partial = None
        bar = tqdm(total=steps_per_epoch, initial=first_step,
                   desc=f"epoch {epoch + 1}/{t.epochs}", disable=not (progress and is_main),
                   leave=False)
        for step, batch in enumerate(train_loader, start=first_step):
            if step >= steps_per_epoch:
                break
            if four_pass:
                images, labels = batch
                imgs = [im.to(dev, non_blocking=True) for im in images]
                target = labels[0].to(dev)
                inputs: tuple[torch.Tensor, ...] = (*imgs, target)
                n_img = imgs[0].shape[0]
            else:
                x, y = batch
                x = x.to(dev, non_blocking=True)
                y = y.to(dev, non_blocking=True)
                hard = y if y.ndim == 1 else y.argmax(-1)
                if mixer is not None:
                    x, target, hard = mixer(x, y)
                else:
                    target = y
                if t.channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
                inputs = (x, target, hard)
                n_img = x.shape[0]
            with torch.autocast(dev.type, dtype=amp_dtype) if use_amp else nullcontext():
                out = step_module(inputs, four_pass)
            loss = out.losses["total"]
            if not torch.isfinite(loss):
                terms = {k: float(v.detach()) for k, v in out.losses.items()}
                raise TrainingDivergedError(
                    f"loss became {float(loss.detach())} at epoch {epoch + 1}, step {step + 1} "
                    f"(terms {terms}): lower train.lr, set train.grad_clip, or check the data"
                )
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if t.grad_clip:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            if ema is not None:
                # one update per optimizer step; the scheduler's count is that step number
                # and survives a resume
                ema.update(model, step=scheduler.last_epoch)
            for key in sums:
                sums[key] += float(out.losses[key].detach()) * n_img
            seen += n_img
            if out.quads is not None:
                excluded += out.quads.excluded
            bar.set_postfix(loss=f"{sums['total'] / seen:.3f}",
                            lr=f"{optimizer.param_groups[0]['lr']:.2e}")
            bar.update(1)
            done = step + 1
            if t.checkpoint_every > 0 and done % t.checkpoint_every == 0 and done < steps_per_epoch:
                # a resume point inside the epoch: running sums are reduced over ranks
                # and kept by rank 0, so the epoch's averages come out the same
                part_sums, part_seen, part_excl = reduced(sums, seen, excluded)
                if is_main:
                    meta = {**meta_base, "epoch": epoch, "epoch_step": done}
                    save_checkpoint(last_path, model, cfg, meta, train_state=train_state(
                        epoch - 1, {"step": done, "sums": part_sums, "seen": part_seen,
                                    "excluded": part_excl, "time_s": time.time() - t0}))
                    _add_wall_time(run_dir, time.time() - tick)
                    tick = time.time()
        bar.close()
        epoch_time = time.time() - t0
        sums, seen, excluded = reduced(sums, seen, excluded)
        selected = model if ema is None else ema.module
        val = _evaluate(selected, val_loader, dev, class_names, world, branch_spread=True)
        live_accuracy = (_evaluate(model, val_loader, dev, class_names, world)["accuracy"]
                         if ema is not None else "")
        improved = val["accuracy"] > best_acc
        if improved:
            best_acc, best_epoch, stale = val["accuracy"], epoch, 0
        else:
            stale += 1
        row = {
            "epoch": epoch + 1,
            "lr": optimizer.param_groups[0]["lr"],
            "train_loss": sums["total"] / max(seen, 1),
            "train_ce": sums["ce"] / max(seen, 1),
            "train_sqs_ce": sums["sqs_ce"] / max(seen, 1),
            "train_sqs": sums["sqs"] / max(seen, 1),
            "train_kd": sums["kd"] / max(seen, 1),
            "excluded_anchors": excluded,
            "val_loss": val["loss"],
            "val_accuracy": val["accuracy"],
            "val_macro_f1": val["macro_f1"],
            "val_balanced_accuracy": val["balanced_accuracy"],
            "images_per_s": seen / max(epoch_time, 1e-9),
            "epoch_time_s": epoch_time,
            "best": int(improved),
            "val_accuracy_live": live_accuracy,
            "val_local_std": val.get("local_std", ""),
            "val_global_std": val.get("global_std", ""),
        }
        if is_main:
            _LOG.info(
                "epoch %d: loss %.4f val acc %.4f macro-F1 %.4f (%.0f img/s)%s", epoch + 1,
                row["train_loss"], val["accuracy"], val["macro_f1"], row["images_per_s"],
                " *" if improved else "",
            )
            with open(metrics_path, "a", newline="") as fh:
                csv.DictWriter(fh, METRIC_FIELDS).writerow(row)
            _tensorboard(run_dir, row)
            _add_wall_time(run_dir, time.time() - tick)
            tick = time.time()
            meta = {**meta_base, "epoch": epoch + 1, "metrics": {"val": _short(val)}}
            if improved:
                save_checkpoint(best_path, selected, cfg, meta)
            save_checkpoint(last_path, model, cfg, meta, train_state=train_state(epoch, None))
        if t.patience > 0 and stale >= t.patience:
            _LOG.info("early stopping: no better val accuracy for %d epochs", stale)
            stop = True

    summary: dict[str, Any] = {
        "run_dir": str(run_dir),
        "best_epoch": best_epoch + 1,
        "best_val_accuracy": best_acc,
        "wall_time_s": time.time() - wall_start,
        "hardware": {**hardware_info(dev), "world_size": world,
                     "train_precision": str(amp_dtype or torch.float32).removeprefix("torch.")},
        "config": config_to_dict(cfg),
    }
    if world > 1:
        dist.barrier()  # rank 0 has written best.safetensors
    if best_path.is_file():
        # every rank takes part: _evaluate gathers predictions across ranks
        load_weights(model, load_checkpoint(best_path).model_state, best_path)
        final = _evaluate(model, val_loader, dev, class_names, world)
        summary["val"] = _short(final)
        summary["val_full"] = final
        if t.tta:
            summary["val_tta"] = _short(
                _evaluate(model, val_loader, dev, class_names, world, tta=True)
            )
        if is_main:
            summary["test"] = _test_report(cfg, data_root, model, dev, class_names)
            summary["total_wall_time_s"] = _add_wall_time(run_dir, time.time() - tick)
            atomic_write_text(run_dir / "summary.json", json.dumps(summary, indent=2))
    if world > 1:
        dist.barrier()
    return RunResult(run_dir, best_epoch + 1, best_acc, summary)


def _test_report(
    cfg: Config, data_root: str | None, model: SQSNet, dev: torch.device,
    class_names: list[str],
) -> dict[str, Any]:
    """Score the selected (best-on-validation) model on the test split when it exists."""
    d = cfg.data
    if not d.test_split or d.test_split == d.val_split:
        return {"available": False, "reason": "test split is the validation split"}
    try:
        kwargs = {"num_classes": d.num_classes_affectnet} if d.dataset == "affectnet" else {}
        test_set = build_dataset(d.dataset, data_root if data_root is not None else d.root,
                                 d.test_split, transform=build_eval_transform(cfg.model.img_size,
                                                                crop_pct=cfg.model.crop_pct),
                                 **kwargs)
    except (DatasetError, ValueError, FileNotFoundError) as exc:
        _LOG.info("no test report: %s", str(exc).splitlines()[0])
        return {"available": False, "reason": str(exc).splitlines()[0]}
    loader = DataLoader(test_set, batch_size=max(d.batch_size, 128), shuffle=False)
    report = _short(_evaluate(model, loader, dev, class_names, world=1))
    report["available"] = True
    return report


def _upgrade_metrics_header(path: Path) -> None:
    """Give a resumed run's ``metrics.csv`` the current columns (written by an older
    version: its rows keep their values, new columns are left empty, the columns of
    :data:`RETIRED_METRIC_FIELDS` are dropped), atomically."""
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames == METRIC_FIELDS:
            return
        unknown = [f for f in reader.fieldnames or []
                   if f not in METRIC_FIELDS and f not in RETIRED_METRIC_FIELDS]
        if unknown:
            raise CheckpointError(f"{path}: unexpected columns {unknown}: expected a subset "
                                  f"of {METRIC_FIELDS}")
        rows = list(reader)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, METRIC_FIELDS, restval="", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buf.getvalue())


def _short(metrics: dict[str, Any]) -> dict[str, float]:
    keys = ("accuracy", "macro_f1", "weighted_f1", "balanced_accuracy", "loss", "n")
    return {k: metrics[k] for k in keys if k in metrics}


def _jsonable(obj: Any) -> Any:
    """Scheduler state dicts contain only numbers and lists; make tuples plain lists."""
    return json.loads(json.dumps(obj, default=lambda o: o.tolist() if hasattr(o, "tolist")
                                  else str(o)))


def _add_wall_time(run_dir: Path, seconds: float) -> float:
    """Accumulate wall time across resumed sessions in ``wall_time.json``; return total."""
    path = run_dir / "wall_time.json"
    total = seconds
    if path.is_file():
        try:
            total += float(json.loads(path.read_text()).get("total_s", 0.0))
        except (ValueError, json.JSONDecodeError):
            pass
    atomic_write_text(path, json.dumps({"total_s": total}))
    return total


def _tensorboard(run_dir: Path, row: dict[str, Any]) -> None:
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
