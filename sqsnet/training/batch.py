"""From a loader's output to the one training batch type, :class:`~sqsnet.models.TrainBatch`.

The class-aware loader yields ``(images B x 3 x S x S, targets B | B x K)``; the four-pass
loader yields ``((A, P, N1, N2), (yA, yP, yN1, yN2))`` (:class:`~sqsnet.data.QuadDataset`).
:func:`make_batch` moves either to the device and builds a :class:`TrainBatch`, whose hard
labels are derived there once (:func:`sqsnet.models.hard_labels`); with Mixup/CutMix the
mixed batch takes the mixer's dominant labels instead.
"""

from __future__ import annotations

from typing import Any

import torch

from sqsnet.data import MixupCutmix
from sqsnet.models import TrainBatch

__all__ = ["TrainBatch", "make_batch"]


def make_batch(
    raw: Any, device: torch.device, four_pass: bool, mixer: MixupCutmix | None = None,
    channels_last: bool = False,
) -> TrainBatch:
    """The training batch of one loader item, on ``device``.

    Args:
        raw: ``(images, targets)``, or ``(four image tensors, four label tensors)`` in
            four-pass mode.
        device: Where the step runs.
        four_pass: Whether ``raw`` comes from the four-pass quad loader.
        mixer: Mixup/CutMix to apply (in-batch mode only).
        channels_last: Put the images in channels-last memory format.

    Returns:
        :class:`TrainBatch` (four-pass: the anchors' labels are the targets).
    """
    if four_pass:
        images, labels = raw
        views = [im.to(device, non_blocking=True) for im in images]
        batch = TrainBatch.from_quads(*views, labels[0].to(device))
    else:
        images, targets = raw
        batch = TrainBatch.from_targets(images, targets).to(device, non_blocking=True)
        if mixer is not None:
            batch = TrainBatch(*mixer(batch.images, batch.targets, batch.labels))
    if channels_last:
        batch.images = batch.images.contiguous(memory_format=torch.channels_last)
    return batch
