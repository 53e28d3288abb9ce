"""The losses: label smoothing applied once, alike to hard, vote and mixed targets
(hand-computed), the distillation term, and the loss names declared once."""

from __future__ import annotations

import math

import pytest
import torch

from sqsnet.data import MixupCutmix
from sqsnet.models import SQSNet, TrainBatch
from sqsnet.models.losses import (
    LOSS_COLUMNS,
    LOSS_TERMS,
    TOTAL_LOSS,
    classification_loss,
    distillation_loss,
    loss_column,
    smooth_targets,
)
from tests.helpers import tiny_model_config

# logits [0, ln 3]: softmax [0.25, 0.75]
LOGITS = torch.tensor([[0.0, math.log(3.0)]])
LOG_P = (math.log(0.25), math.log(0.75))


def _ce(target: tuple[float, float]) -> float:
    return -(target[0] * LOG_P[0] + target[1] * LOG_P[1])


def test_hard_label_is_smoothed():
    # label 1, s = 0.2, K = 2: target (0.1, 0.9)
    loss = classification_loss(LOGITS, torch.tensor([1]), label_smoothing=0.2)
    assert float(loss) == pytest.approx(_ce((0.1, 0.9)), rel=1e-6)
    assert float(loss) == pytest.approx(0.3975433, rel=1e-6)


def test_vote_distribution_is_smoothed_too():
    """FERPlus probability targets without mixing: (0.4, 0.6) -> 0.8 * p + 0.1 = (0.42, 0.58)
    (before, they were used as given and got no smoothing)."""
    loss = classification_loss(LOGITS, torch.tensor([[0.4, 0.6]]), label_smoothing=0.2)
    assert float(loss) == pytest.approx(_ce((0.42, 0.58)), rel=1e-6)
    assert float(loss) == pytest.approx(0.7491000, rel=1e-5)
    assert float(classification_loss(LOGITS, torch.tensor([[0.4, 0.6]]))) == \
        pytest.approx(_ce((0.4, 0.6)), rel=1e-6)


def test_mixed_target_is_smoothed_once():
    """Labels (0, 1) mixed with lam = 0.3: sample 0's target is 0.3 * (1, 0) + 0.7 * (0, 1)
    = (0.3, 0.7), smoothed by the loss alone to (0.34, 0.66)."""
    mixer = MixupCutmix(num_classes=2)
    mixer.mixup._params_per_batch = lambda: (0.3, False)
    labels = torch.tensor([0, 1])
    _, mixed, dominant = mixer(torch.zeros(2, 3, 4, 4), labels, labels)
    assert torch.allclose(mixed[0], torch.tensor([0.3, 0.7])) and dominant.tolist() == [1, 0]
    loss = classification_loss(LOGITS, mixed[:1], label_smoothing=0.2)
    assert float(loss) == pytest.approx(_ce((0.34, 0.66)), rel=1e-6)


def test_smooth_targets_shapes_and_errors():
    assert torch.allclose(smooth_targets(torch.tensor([2]), 4, 0.4),
                          torch.tensor([[0.1, 0.1, 0.7, 0.1]]))
    with pytest.raises(ValueError, match=r"\[B\] class indices or \[B, 3\] distributions"):
        smooth_targets(torch.zeros(2, 4), 3, 0.1)


def test_the_model_smooths_soft_targets_with_its_configured_smoothing():
    cfg = tiny_model_config(use_sqs=False)
    cfg.loss.label_smoothing = 0.2
    model = SQSNet(cfg).eval()
    votes = torch.softmax(torch.randn(4, 4), dim=-1)
    with torch.no_grad():
        out = model.forward_train(TrainBatch.from_targets(torch.randn(4, 3, 32, 32), votes))
    smoothed = 0.8 * votes + 0.05
    expected = -(smoothed * torch.log_softmax(out.logits, -1)).sum(-1).mean()
    torch.testing.assert_close(out.losses["ce"], expected)


def test_empty_batches_and_distillation():
    empty = torch.zeros(0, 3)
    assert float(classification_loss(empty, torch.zeros(0, dtype=torch.long))) == 0.0
    assert float(distillation_loss(empty, empty)) == 0.0
    same = torch.tensor([[1.0, 2.0, 3.0]])
    assert float(distillation_loss(same, same)) == pytest.approx(0.0, abs=1e-6)
    # T^2 KL(q || p) by hand: q = (0.5, 0.5), p = (0.25, 0.75) at T = 1
    expected = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)
    assert float(distillation_loss(LOGITS, torch.zeros(1, 2), temperature=1.0)) == \
        pytest.approx(expected, rel=1e-5)


def test_loss_names_are_declared_once():
    assert LOSS_TERMS == ("ce", "sqs_ce", "sqs", "kd") and TOTAL_LOSS == "total"
    assert LOSS_COLUMNS == ("train_loss", "train_ce", "train_sqs_ce", "train_sqs", "train_kd")
    assert loss_column(TOTAL_LOSS) == "train_loss" and loss_column("kd") == "train_kd"
    model = SQSNet(tiny_model_config())
    out = model.forward_train(TrainBatch.from_targets(torch.randn(4, 3, 32, 32),
                                                      torch.tensor([0, 0, 1, 1])))
    assert set(out.losses) == {TOTAL_LOSS, *LOSS_TERMS}
    weights = model.loss_weights()
    expected = sum(weights[t] * out.losses[t] for t in LOSS_TERMS)
    torch.testing.assert_close(out.losses[TOTAL_LOSS], expected)
