"""The one batch type of the training call, for in-batch and four-pass training.

:meth:`sqsnet.models.SQSNet.forward_train` takes a :class:`TrainBatch`:

* **in-batch** (this lab's default, DESIGN 2.5): ``B`` images; the model mines quads among
  them by their hard ``labels``;
* **four-pass** (the paper's mode): ``4B`` images, the anchors, positives, first and second
  negatives stacked in that order; the quads are fixed by that order.

In both modes ``targets`` are what the cross-entropies score the ``B`` anchors against
(hard class indices, FERPlus vote distributions or Mixup/CutMix mixtures: label smoothing
is applied by the loss, :mod:`sqsnet.models.losses`), and ``labels`` are the hard labels,
derived once: by :func:`hard_labels` when a batch is made from its targets, or by the
Mixup/CutMix dominant-label rule (:class:`sqsnet.data.MixupCutmix`) when it was mixed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

__all__ = ["TrainBatch", "hard_labels"]


def hard_labels(targets: torch.Tensor) -> torch.Tensor:
    """The class each target names.

    Args:
        targets: ``B`` class indices or ``B x K`` distributions (votes, soft targets).

    Returns:
        ``B`` int64 class indices (a distribution's most probable class).
    """
    return targets.long() if targets.ndim == 1 else targets.argmax(dim=-1)


@dataclass
class TrainBatch:
    """A training batch for :meth:`~sqsnet.models.SQSNet.forward_train`.

    Attributes:
        images: ``B x 3 x S x S`` (in-batch) or ``4B x 3 x S x S``: anchors, positives,
            first negatives, second negatives, stacked (``four_pass``).
        targets: ``B`` int64 class indices or ``B x K`` float distributions of the anchors.
        labels: ``B`` int64 hard labels of the anchors (quad mining).
        four_pass: Whether ``images`` holds the four stacked groups.
    """

    images: torch.Tensor
    targets: torch.Tensor
    labels: torch.Tensor
    four_pass: bool = False

    def __post_init__(self) -> None:
        b = self.labels.shape[0]
        expected = 4 * b if self.four_pass else b
        if self.images.shape[0] != expected or self.targets.shape[0] != b:
            mode = "four-pass" if self.four_pass else "in-batch"
            raise ValueError(
                f"{mode} TrainBatch: {b} labels need {expected} images and {b} targets, got "
                f"{self.images.shape[0]} images and {self.targets.shape[0]} targets")

    @classmethod
    def from_targets(cls, images: torch.Tensor, targets: torch.Tensor) -> TrainBatch:
        """An in-batch batch whose hard labels are its targets' (:func:`hard_labels`).

        Args:
            images: ``B x 3 x S x S``.
            targets: ``B`` class indices or ``B x K`` distributions.
        """
        return cls(images, targets, hard_labels(targets))

    @classmethod
    def from_quads(
        cls,
        anchor: torch.Tensor,
        positive: torch.Tensor,
        negative1: torch.Tensor,
        negative2: torch.Tensor,
        targets: torch.Tensor,
    ) -> TrainBatch:
        """A four-pass batch: explicit ``(A, P, N1, N2)`` images.

        Args:
            anchor / positive / negative1 / negative2: ``B x 3 x S x S`` each.
            targets: ``B`` class indices or ``B x K`` distributions of the anchors.
        """
        images = torch.cat([anchor, positive, negative1, negative2])
        return cls(images, targets, hard_labels(targets), four_pass=True)

    @property
    def size(self) -> int:
        """``B``: the number of anchors (images scored by the cross-entropies)."""
        return int(self.labels.shape[0])

    def to(self, device: torch.device | str, non_blocking: bool = False) -> TrainBatch:
        """The batch on ``device``."""
        return replace(self, images=self.images.to(device, non_blocking=non_blocking),
                       targets=self.targets.to(device, non_blocking=non_blocking),
                       labels=self.labels.to(device, non_blocking=non_blocking))
