"""The data of a run: datasets, loaders, the splits it records."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from sqsnet.checkpoint import load_checkpoint
from sqsnet.config import ConfigError, load_config
from sqsnet.data import StratifiedSubset
from sqsnet.training import build_datasets
from sqsnet.training.data import build_train_data, holdout_of, split_record
from sqsnet.training.distributed import Ranks
from tests.training.helpers import train_tiny, weights_equal


def test_worker_count_does_not_change_training(tmp_path, fixture_data, tiny_cfg_path):
    """Augmentation is seeded per (seed, epoch, image), not per DataLoader worker."""
    r0 = train_tiny(tiny_cfg_path, fixture_data, tmp_path / "w0", epochs=2)
    r2 = train_tiny(tiny_cfg_path, fixture_data, tmp_path / "w2", epochs=2,
                    extra=("data.num_workers=2",))
    a = load_checkpoint(r0 / "last.safetensors").model_state
    b = load_checkpoint(r2 / "last.safetensors").model_state
    assert weights_equal(a, b)


def test_datasets_loaders_and_mixer_follow_the_config(fixture_data, tiny_cfg_path):
    cfg = load_config(tiny_cfg_path, ["data.train_fraction=0.5"])
    train_set, val_set = build_datasets(cfg, str(fixture_data))
    assert isinstance(train_set, StratifiedSubset) and len(train_set) == 12
    assert len(val_set) == 12 and val_set[0][0].shape == (3, 32, 32)
    data = build_train_data(cfg, train_set, val_set, Ranks(), torch.device("cpu"))
    assert data.steps_per_epoch == 1 and data.mixer is not None and not data.four_pass
    four = load_config(tiny_cfg_path, ["model.sqs.quads=dataset", "train.max_steps_per_epoch=1"])
    data = build_train_data(four, *build_datasets(four, str(fixture_data)), Ranks(),
                            torch.device("cpu"))
    assert data.four_pass and data.mixer is None and data.steps_per_epoch == 1
    views, labels = next(iter(data.train_loader))
    assert len(views) == 4 and views[0].shape == (8, 3, 32, 32) and len(labels) == 4
    big = load_config(tiny_cfg_path, ["data.batch_size=64"])
    with pytest.raises(ConfigError, match=r"ferplus train split \(12 images\).*"
                       r"data.batch_size=64"):
        build_train_data(big, train_set, val_set, Ranks(), torch.device("cpu"))


def test_hold_out_is_found_through_wrappers():
    reader = SimpleNamespace(holdout={"source": "/faces", "fraction": 0.1, "seed": 0,
                                      "train": 9, "valid": 1})
    wrapped = SimpleNamespace(dataset=SimpleNamespace(dataset=reader))
    assert holdout_of(wrapped) == reader.holdout and holdout_of(reader) is not reader.holdout
    assert holdout_of(SimpleNamespace()) is None

    class Split(list):
        holdout = None

    assert split_record(Split([1, 2]), Split([3])) == {
        "train": {"images": 2, "holdout": None}, "valid": {"images": 1, "holdout": None}}
