"""Classification and distillation losses, and the names of the loss terms (paper 3.4,
DESIGN 2.4).

``L = CE(base) + CE(sqs) + lambda * L_SQS + mu * T^2 * KL(p_sqs.detach() || p_base)``;
``L_SQS`` lives with the SQS module in :mod:`sqsnet.models.sqs`.

Loss terms: the training call returns one scalar per name of :data:`LOSS_TERMS` plus
:data:`TOTAL_LOSS`, their weighted sum; ``metrics.csv``, the trainer's running sums,
profiling and the plots all take the names from here (:func:`loss_column` gives a term's
``metrics.csv`` column).

Label smoothing is applied here and only here, by :func:`classification_loss`, to every
kind of target alike: ``smooth(p) = (1 - s) * p + s / K`` where ``p`` is the one-hot vector
of a hard label, a FERPlus vote distribution, or a Mixup/CutMix mixture of either (mixing
and smoothing commute, so a mixed target smoothed here equals timm's smoothed mixture).
The Mixup/CutMix glue (:class:`sqsnet.data.MixupCutmix`) hands over unsmoothed mixtures.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["LOSS_TERMS", "TOTAL_LOSS", "loss_column", "LOSS_COLUMNS", "smooth_targets",
           "classification_loss", "distillation_loss"]

LOSS_TERMS: tuple[str, ...] = ("ce", "sqs_ce", "sqs", "kd")
"""The loss terms of the training call: base cross-entropy, SQS-head cross-entropy,
``L_SQS`` and the distillation term (zero when SQS is off or no quad was found)."""

TOTAL_LOSS = "total"
"""The weighted sum of :data:`LOSS_TERMS`: the loss that is minimised."""


def loss_column(term: str) -> str:
    """``metrics.csv`` column of a loss term: ``train_loss`` for the total, else ``train_<term>``."""
    return "train_loss" if term == TOTAL_LOSS else f"train_{term}"


LOSS_COLUMNS: tuple[str, ...] = tuple(loss_column(t) for t in (TOTAL_LOSS, *LOSS_TERMS))
"""The training-loss columns of ``metrics.csv``, total first."""


def smooth_targets(targets: torch.Tensor, num_classes: int, smoothing: float) -> torch.Tensor:
    """Label-smoothed target distributions.

    Args:
        targets: ``B`` class indices or ``B x K`` distributions (rows sum to 1).
        num_classes: ``K``.
        smoothing: ``s`` in ``[0, 1)``.

    Returns:
        ``B x K`` float32 ``(1 - s) * p + s / K``.

    Raises:
        ValueError: For targets of another shape.
    """
    if targets.ndim == 1:
        dist = F.one_hot(targets.long(), num_classes).float()
    elif targets.ndim == 2 and targets.shape[1] == num_classes:
        dist = targets.float()
    else:
        raise ValueError(f"targets must be [B] class indices or [B, {num_classes}] "
                         f"distributions, got shape {tuple(targets.shape)}")
    return dist * (1.0 - smoothing) + smoothing / num_classes


def classification_loss(
    logits: torch.Tensor, target: torch.Tensor, label_smoothing: float = 0.0
) -> torch.Tensor:
    """Cross-entropy with label smoothing, for hard or soft targets.

    Args:
        logits: ``B x K``.
        target: ``B`` int64 class indices or ``B x K`` distributions (FERPlus votes,
            Mixup/CutMix mixtures); both are smoothed the same way (module docstring).
        label_smoothing: ``s`` in ``[0, 1)``.

    Returns:
        Scalar mean loss (0 for an empty batch).
    """
    if logits.shape[0] == 0:
        return logits.sum() * 0.0
    if target.ndim == 1:  # torch's fused form of the same smoothed cross-entropy
        return F.cross_entropy(logits.float(), target, label_smoothing=label_smoothing)
    smoothed = smooth_targets(target, logits.shape[-1], label_smoothing)
    return torch.sum(-smoothed * F.log_softmax(logits.float(), dim=-1), dim=-1).mean()


def distillation_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = 2.0
) -> torch.Tensor:
    """``T^2 * KL(softmax(teacher/T).detach() || softmax(student/T))``, batch mean.

    Args:
        student_logits: ``B x K`` (the base head: receives the gradient).
        teacher_logits: ``B x K`` (the SQS head: detached).
        temperature: ``T``.

    Returns:
        Scalar loss (0 for an empty batch).
    """
    if student_logits.shape[0] == 0:
        return student_logits.sum() * 0.0
    t = float(temperature)
    log_p_student = F.log_softmax(student_logits.float() / t, dim=-1)
    p_teacher = F.softmax(teacher_logits.detach().float() / t, dim=-1)
    return F.kl_div(log_p_student, p_teacher, reduction="batchmean") * (t * t)
