"""Validation during training and the test report at its end."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from sqsnet.config import Config, load_config
from sqsnet.models import SQSNet
from sqsnet.training.distributed import Ranks
from sqsnet.training.validate import evaluate, score_test_split, short_metrics
from tests.helpers import tiny_model_config


class _Fixed(torch.nn.Module):
    """A 'model' whose probabilities are given per image (the image's first pixel indexes them)."""

    def __init__(self, probs: torch.Tensor) -> None:
        super().__init__()
        self.probs = probs
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.probs[x[:, 0, 0, 0].long()].log()


def test_evaluate_scores_accuracy_and_the_mean_negative_log_likelihood():
    probs = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    images = torch.arange(4.0).view(4, 1, 1, 1).expand(4, 3, 2, 2).contiguous()
    loader = DataLoader(TensorDataset(images, torch.tensor([0, 1, 1, 1])), batch_size=3)
    metrics = evaluate(_Fixed(probs), loader, torch.device("cpu"), ["a", "b"], Ranks())
    assert metrics["accuracy"] == pytest.approx(0.75) and metrics["n"] == 4
    expected = -np.mean(np.log([0.9, 0.8, 0.4, 0.7]))
    assert metrics["loss"] == pytest.approx(expected, rel=1e-5)
    assert set(short_metrics(metrics)) == {"accuracy", "macro_f1", "weighted_f1",
                                           "balanced_accuracy", "loss", "n"}


def test_branch_spread_is_measured_for_the_branches_present():
    model = SQSNet(tiny_model_config(use_global=False)).eval()
    loader = DataLoader(TensorDataset(torch.randn(6, 3, 32, 32), torch.tensor([0, 1, 2, 3, 0, 1])),
                        batch_size=3)
    metrics = evaluate(model, loader, torch.device("cpu"), model.class_names, Ranks(),
                       branch_spread=True)
    assert metrics["local_std"] > 0 and "global_std" not in metrics


@pytest.mark.parametrize("test_split,reason", [
    (None, "no test split configured (data.test_split)"),
    ("valid", "test split is the validation split"),
])
def test_no_test_report_without_a_test_split_of_its_own(test_split, reason):
    cfg = Config(model=tiny_model_config())
    cfg.data.test_split = test_split
    report = score_test_split(cfg, None, SQSNet(cfg.model), torch.device("cpu"), [])
    assert report == {"available": False, "reason": reason}


def test_a_null_test_split_is_a_valid_setting():
    """``data.test_split: null`` means no test pass (notebook 05's smoke run sets it)."""
    assert load_config("cpu", ["data.test_split=null"]).data.test_split is None
