"""One training epoch: batches in, optimizer steps, the epoch's running loss sums out.

For each batch of the epoch (from ``first_step`` on when resuming inside it):

1. the loader's item becomes a :class:`~sqsnet.models.TrainBatch` on the device (Mixup/CutMix
   applied, hard labels derived once; :func:`sqsnet.training.batch.make_batch`),
2. the training call (``model.forward_train``, through DistributedDataParallel when there
   are several ranks) returns every loss term; a NaN or infinite total stops the run,
3. one optimizer step (:meth:`sqsnet.training.optim.Optimisation.step`),
4. the loss terms are added to the epoch's sums, weighted by the batch's anchors,
5. every ``train.checkpoint_every`` steps a resume point is offered to ``on_checkpoint``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from sqsnet.errors import SQSNetError
from sqsnet.models import SQSNet, TrainBatch, TrainOutput
from sqsnet.models.losses import LOSS_TERMS, TOTAL_LOSS, loss_column
from sqsnet.training.batch import make_batch
from sqsnet.training.data import TrainData
from sqsnet.training.distributed import Ranks, all_reduce_sums
from sqsnet.training.optim import Optimisation

__all__ = ["TrainingDivergedError", "TrainStep", "EpochTotals", "train_one_epoch"]

LOSS_NAMES: tuple[str, ...] = (TOTAL_LOSS, *LOSS_TERMS)
"""The loss names summed over an epoch, total first."""


class TrainingDivergedError(SQSNetError, RuntimeError):
    """The loss became NaN or infinite."""


class TrainStep(nn.Module):
    """Makes the training call a ``forward`` so DistributedDataParallel can wrap it."""

    def __init__(self, model: SQSNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: TrainBatch) -> TrainOutput:
        """``model.forward_train(batch)``."""
        return self.model.forward_train(batch)


@dataclass
class EpochTotals:
    """An epoch's running sums: each loss term times the anchors it was averaged over.

    Attributes:
        sums: ``{name: sum}`` for every name of :data:`LOSS_NAMES`.
        seen: Anchors (images scored by the cross-entropies) so far.
        excluded: In-batch anchors left without a quad so far.
        time_s: Seconds the epoch has taken so far.
    """

    sums: dict[str, float] = field(default_factory=lambda: dict.fromkeys(LOSS_NAMES, 0.0))
    seen: int = 0
    excluded: int = 0
    time_s: float = 0.0

    def add(self, out: TrainOutput, anchors: int) -> None:
        """Add one step's loss terms."""
        for name in self.sums:
            self.sums[name] += float(out.losses[name].detach()) * anchors
        self.seen += anchors
        if out.quads is not None:
            self.excluded += out.quads.excluded

    def reduced(self, ranks: Ranks, device: torch.device) -> EpochTotals:
        """The totals added up over the ranks (as they are on one process)."""
        values = all_reduce_sums([*self.sums.values(), self.seen, self.excluded], ranks, device)
        n = len(self.sums)
        return EpochTotals(dict(zip(self.sums, values[:n])), int(values[n]), int(values[n + 1]),
                           self.time_s)

    def means(self) -> dict[str, float]:
        """Mean of each loss over the epoch's anchors, by its ``metrics.csv`` column."""
        return {loss_column(name): total / max(self.seen, 1) for name, total in self.sums.items()}

    def as_partial(self, step: int) -> dict[str, Any]:
        """The resume record of a point ``step`` steps into the epoch."""
        return {"step": step, "sums": dict(self.sums), "seen": self.seen,
                "excluded": self.excluded, "time_s": self.time_s}

    @classmethod
    def from_partial(cls, partial: dict[str, Any], ranks: Ranks) -> EpochTotals:
        """The totals of a resume point (kept by rank 0: the others start from 0, so the
        sums over ranks come out the same). A term missing from an older point is 0."""
        if not ranks.is_main:
            return cls(time_s=float(partial["time_s"]))
        sums = {name: float(partial["sums"].get(name, 0.0)) for name in LOSS_NAMES}
        return cls(sums, int(partial["seen"]), int(partial["excluded"]),
                   float(partial["time_s"]))


def train_one_epoch(
    step_module: nn.Module,
    model: SQSNet,
    data: TrainData,
    optim: Optimisation,
    device: torch.device,
    epoch: int,
    epochs: int,
    totals: EpochTotals,
    first_step: int = 0,
    checkpoint_every: int = 0,
    on_checkpoint: Callable[[int, EpochTotals], None] | None = None,
    channels_last: bool = False,
    progress: bool = False,
) -> EpochTotals:
    """Train one epoch (or the rest of one).

    Args:
        step_module: :class:`TrainStep` of ``model`` (possibly DDP-wrapped).
        model: The model (clipping, the weight average).
        data: The run's loaders (:meth:`~sqsnet.training.data.TrainData.set_epoch` already
            called for ``epoch`` and ``first_step``).
        optim: The run's optimisation.
        device: Where the step runs.
        epoch: 0-based epoch (for messages).
        epochs: Total epochs (for the progress bar).
        totals: The sums so far (empty, or those of a resume point).
        first_step: Steps of the epoch already done.
        checkpoint_every: Offer a resume point every this many steps (0: never).
        on_checkpoint: Called with ``(steps done, this rank's totals)``.
        channels_last: Channels-last images.
        progress: Show a tqdm bar.

    Returns:
        This rank's totals of the epoch (:meth:`EpochTotals.reduced` adds the ranks up).

    Raises:
        TrainingDivergedError: When the total loss is NaN or infinite.
    """
    model.train()
    t0 = time.time() - totals.time_s
    bar = tqdm(total=data.steps_per_epoch, initial=first_step, desc=f"epoch {epoch + 1}/{epochs}",
               disable=not progress, leave=False)
    for step, raw in enumerate(data.train_loader, start=first_step):
        if step >= data.steps_per_epoch:
            break
        batch = make_batch(raw, device, data.four_pass, data.mixer, channels_last)
        with optim.autocast(device):
            out = step_module(batch)
        loss = out.losses[TOTAL_LOSS]
        if not torch.isfinite(loss):
            terms = {k: float(v.detach()) for k, v in out.losses.items()}
            raise TrainingDivergedError(
                f"loss became {float(loss.detach())} at epoch {epoch + 1}, step {step + 1} "
                f"(terms {terms}): lower train.lr, set train.grad_clip, or check the data")
        optim.step(model, loss)
        totals.add(out, batch.size)
        bar.set_postfix(loss=f"{totals.sums[TOTAL_LOSS] / totals.seen:.3f}", lr=f"{optim.lr:.2e}")
        bar.update(1)
        done = step + 1
        if (on_checkpoint is not None and checkpoint_every > 0 and done % checkpoint_every == 0
                and done < data.steps_per_epoch):
            totals.time_s = time.time() - t0
            on_checkpoint(done, totals)
    bar.close()
    totals.time_s = time.time() - t0
    return totals

