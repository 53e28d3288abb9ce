"""Classifier heads (paper 3.4, DESIGN 2.4).

* :class:`ClassifierHead` — the base classifier: global average pool of ``F`` -> dropout ->
  linear. The only head used at inference.
* The SQS classifier is the same class with its own weights (and no dropout), applied to the
  refined anchor map ``A_hat`` during training only.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ClassifierHead"]


class ClassifierHead(nn.Module):
    """Global average pool -> dropout -> linear.

    Args:
        in_dim: Channels ``C`` of the input map.
        num_classes: Number of classes ``K``.
        drop_rate: Dropout probability before the linear layer.
    """

    def __init__(self, in_dim: int, num_classes: int, drop_rate: float = 0.0) -> None:
        super().__init__()
        self.drop = nn.Dropout(drop_rate)
        self.fc = nn.Linear(in_dim, num_classes)

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        """Pool ``B x C x H x W`` to ``B x C``."""
        return x.mean(dim=(2, 3))

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Classify.

        Args:
            x: ``B x C x H x W`` map.
            pre_logits: Return the pooled ``B x C`` features instead of logits.

        Returns:
            ``B x K`` logits (or ``B x C`` pooled features).
        """
        pooled = self.pool(x)
        if pre_logits:
            return pooled
        return self.fc(self.drop(pooled))
