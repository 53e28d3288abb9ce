"""How a run optimises: AdamW, the per-step learning-rate schedule, mixed precision, the
weight average.

* AdamW with two parameter groups: weights decayed, biases and norms not.
* The learning rate moves every optimizer step: an optional linear warm-up
  (``train.warmup_epochs``), then cosine annealing with warm restarts every
  ``train.t0_epochs`` epochs (times ``train.t_mult`` after each restart).
* Autocast as ``train.amp`` / ``train.amp_cpu`` set it (:func:`sqsnet.utils.runtime.autocast_dtype`);
  float16 needs loss scaling, bfloat16 has float32's range and does not.
* ``train.ema_decay > 0`` keeps an exponential moving average of the weights
  (``timm.utils.ModelEmaV3``), updated after every optimizer step; validation then scores
  the average, which is what the best checkpoint holds.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import torch
from timm.utils import ModelEmaV3
from torch import nn

from sqsnet.config import Config, ConfigError, TrainConfig
from sqsnet.models import SQSNet
from sqsnet.utils.runtime import autocast_dtype

__all__ = ["param_groups", "make_scheduler", "make_ema", "Optimisation"]


def param_groups(model: SQSNet, t: TrainConfig) -> list[dict[str, Any]]:
    """AdamW parameter groups: weights decayed, then biases and norms without weight decay."""
    decayed: list[nn.Parameter] = []
    plain: list[nn.Parameter] = []
    for name, param in model.named_parameters():
        if param.requires_grad:
            no_decay = param.ndim <= 1 or name.endswith(".bias")
            (plain if no_decay else decayed).append(param)
    return [{"params": decayed, "weight_decay": t.weight_decay, "lr": t.lr},
            {"params": plain, "weight_decay": 0.0, "lr": t.lr}]


def make_scheduler(
    optimizer: torch.optim.Optimizer, t: TrainConfig, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """The per-step schedule: linear warm-up (if any), then cosine warm restarts."""
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


def make_ema(model: SQSNet, t: TrainConfig) -> ModelEmaV3 | None:
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


@dataclass
class Optimisation:
    """Everything that changes the weights, and its state a resume restores.

    Attributes:
        optimizer: AdamW over :func:`param_groups`.
        scheduler: :func:`make_scheduler`.
        scaler: Loss scaling (on for float16 autocast only).
        amp_dtype: Autocast precision, ``None`` for float32.
        ema: The weight average, or ``None``.
        grad_clip: Gradient-norm clip (``None``/0: off).
    """

    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    amp_dtype: torch.dtype | None
    ema: Any
    grad_clip: float | None

    @classmethod
    def build(cls, model: SQSNet, cfg: Config, steps_per_epoch: int,
              device: torch.device, ema: Any = None) -> Optimisation:
        """The optimisation of a run as ``train.*`` configures it.

        Args:
            model: The model to train (on its device).
            cfg: The run's config.
            steps_per_epoch: Optimizer steps per epoch (the schedule is per step).
            device: Where the model runs (autocast is per device type).
            ema: The weight average (:func:`make_ema`), or ``None``.
        """
        t = cfg.train
        optimizer = torch.optim.AdamW(param_groups(model, t), lr=t.lr)
        amp_dtype = autocast_dtype(t, device.type)
        scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
        return cls(optimizer, make_scheduler(optimizer, t, steps_per_epoch), scaler, amp_dtype,
                   ema, t.grad_clip)

    @property
    def lr(self) -> float:
        """The learning rate of the next step (first parameter group)."""
        return float(self.optimizer.param_groups[0]["lr"])

    @property
    def precision(self) -> str:
        """``float32``, ``float16`` or ``bfloat16``: what the steps compute in."""
        return str(self.amp_dtype or torch.float32).removeprefix("torch.")

    def autocast(self, device: torch.device) -> AbstractContextManager[Any]:
        """The forward pass's precision context."""
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast(device.type, dtype=self.amp_dtype)

    def step(self, model: SQSNet, loss: torch.Tensor) -> None:
        """Backward, clip, optimizer and schedule step, then the weight-average update."""
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.grad_clip:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(model.parameters(), self.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        if self.ema is not None:
            # one update per optimizer step; the scheduler's count is that step number
            # and survives a resume
            self.ema.update(model, step=self.scheduler.last_epoch)
