"""Classification and distillation losses (paper 3.4, DESIGN 2.4).

``L = CE(base) + CE(sqs) + lambda * L_SQS + mu * T^2 * KL(p_sqs.detach() || p_base)``;
``L_SQS`` lives with the SQS module in :mod:`sqsnet.models.sqs`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["classification_loss", "distillation_loss"]


def classification_loss(
    logits: torch.Tensor, target: torch.Tensor, label_smoothing: float = 0.0
) -> torch.Tensor:
    """Cross-entropy with hard or soft targets.

    Args:
        logits: ``B x K``.
        target: ``B`` int64 class indices (label smoothing applied) or ``B x K`` soft
            targets (Mixup/CutMix or FERPlus vote distributions, used as given: timm's
            Mixup already folds label smoothing into them).
        label_smoothing: Smoothing for hard targets.

    Returns:
        Scalar mean loss (0 for an empty batch).
    """
    if logits.shape[0] == 0:
        return logits.sum() * 0.0
    if target.ndim == 2:
        return torch.sum(-target * F.log_softmax(logits.float(), dim=-1), dim=-1).mean()
    return F.cross_entropy(logits.float(), target, label_smoothing=label_smoothing)


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
