"""A loader item to the one training batch type: hard labels derived once, mixing, quads."""

from __future__ import annotations

import pytest
import torch

from sqsnet.data import MixupCutmix
from sqsnet.models import TrainBatch, hard_labels
from sqsnet.training.batch import make_batch


def test_in_batch_item_keeps_its_targets_and_derives_the_hard_labels():
    x = torch.randn(4, 3, 8, 8)
    hard = make_batch((x, torch.tensor([2, 0, 1, 1])), torch.device("cpu"), four_pass=False)
    assert torch.equal(hard.images, x) and not hard.four_pass
    assert hard.labels.tolist() == [2, 0, 1, 1] and hard.targets.tolist() == [2, 0, 1, 1]
    votes = torch.tensor([[0.7, 0.3], [0.2, 0.8], [0.5, 0.5], [0.1, 0.9]])
    soft = make_batch((x, votes), torch.device("cpu"), four_pass=False)
    assert torch.equal(soft.targets, votes)  # the vote distributions reach the loss as given
    assert soft.labels.tolist() == [0, 1, 0, 1] and soft.labels.dtype == torch.int64
    assert torch.equal(soft.labels, hard_labels(votes))


def test_mixed_batch_takes_the_mixers_dominant_labels():
    mixer = MixupCutmix(num_classes=3)
    mixer.mixup._params_per_batch = lambda: (0.3, False)  # lam < 0.5: the partner dominates
    batch = make_batch((torch.randn(4, 3, 8, 8), torch.tensor([0, 1, 2, 0])),
                       torch.device("cpu"), four_pass=False, mixer=mixer)
    assert batch.labels.tolist() == [0, 2, 1, 0]  # partner of i is 3 - i
    assert batch.targets.shape == (4, 3)
    assert torch.allclose(batch.targets[1], torch.tensor([0.0, 0.3, 0.7]))


def test_four_pass_item_stacks_the_quads_behind_the_anchors():
    views = [torch.full((2, 3, 8, 8), float(v)) for v in range(4)]
    labels = [torch.tensor([1, 0]), torch.tensor([1, 0]), torch.tensor([2, 2]),
              torch.tensor([2, 2])]
    batch = make_batch((views, labels), torch.device("cpu"), four_pass=True,
                       channels_last=True)
    assert batch.four_pass and batch.size == 2 and batch.images.shape == (8, 3, 8, 8)
    assert batch.images[:, 0, 0, 0].tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert batch.labels.tolist() == [1, 0] and torch.equal(batch.targets, batch.labels)
    assert batch.images.is_contiguous(memory_format=torch.channels_last)


def test_train_batch_refuses_images_that_do_not_fit_its_labels():
    with pytest.raises(ValueError, match="four-pass TrainBatch: 2 labels need 8 images"):
        TrainBatch(torch.zeros(4, 3, 8, 8), torch.zeros(2), torch.zeros(2), four_pass=True)
    with pytest.raises(ValueError, match="in-batch TrainBatch: 3 labels need 3 images"):
        TrainBatch.from_targets(torch.zeros(4, 3, 8, 8), torch.tensor([0, 1, 2]))
