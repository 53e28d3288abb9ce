"""Checkpoints by key, loading on first use, the LRU of loaded models, the model lock."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import pytest
import torch
from safetensors.torch import save_file

from sqsnet.checkpoint import CheckpointError, save_checkpoint
from sqsnet.config import Config
from sqsnet.models import SQSNet
from sqsnet.service.store import (
    MAX_LOADED_MODELS,
    ModelStore,
    find_checkpoints,
    read_checkpoint_header,
    set_compute_threads,
)
from tests.helpers import tiny_model_config


def save_tiny(path: Path, name: str = "tiny_test", **meta) -> Path:
    """A tiny SQSNet checkpoint (4 classes, 32 px) at ``path``."""
    cfg = Config(name=name, model=tiny_model_config())
    save_checkpoint(path, SQSNet(cfg.model), cfg,
                    {"dataset": "ferplus", "epoch": 3, "metrics": {"val": {"accuracy": 0.5}},
                     "command": "sqsnet train --config tiny", **meta})
    return path


@pytest.fixture
def ckpt_folder(tmp_path: Path) -> Path:
    """One SQSNet checkpoint among files that are not."""
    folder = tmp_path / "ckpts"
    save_tiny(folder / "run1" / "best.safetensors")
    save_file({"w": torch.zeros(2)}, str(folder / "plain_timm.safetensors"))
    (folder / "broken.safetensors").write_bytes(b"not safetensors")
    (folder / ".best.safetensors.123.tmp.safetensors").write_bytes(b"partial")
    return folder


def test_find_checkpoints_lists_sqsnet_files_only(ckpt_folder, tmp_path):
    assert list(find_checkpoints(ckpt_folder)) == ["run1/best.safetensors"]
    assert find_checkpoints(None) == {}
    with pytest.raises(CheckpointError, match="not a folder"):
        find_checkpoints(tmp_path / "missing")


def test_read_checkpoint_header(ckpt_folder):
    header = read_checkpoint_header(ckpt_folder / "run1" / "best.safetensors")
    assert header["config"]["name"] == "tiny_test" and header["meta"]["epoch"] == 3
    with pytest.raises(CheckpointError, match="no SQSNet metadata"):
        read_checkpoint_header(ckpt_folder / "plain_timm.safetensors")


def test_keys_choices_and_rescan(ckpt_folder):
    start = ckpt_folder / "run1" / "best.safetensors"
    store = ModelStore(start, checkpoints_dir=ckpt_folder)
    assert store.default_key == "best.safetensors"
    assert list(store.checkpoints) == ["best.safetensors"]  # the start file is listed once
    save_tiny(ckpt_folder / "run2" / "last.safetensors")
    store.rescan()
    assert [k for _, k in store.choices()] == ["best.safetensors", "run2/last.safetensors"]
    assert store.path("run2/last.safetensors").name == "last.safetensors"
    with pytest.raises(CheckpointError, match="unknown checkpoint 'nope'"):
        store.get("nope")
    assert ModelStore("default").choices() == [("default (bundled FERPlus model)", "default")]


def test_models_load_on_first_use_and_the_oldest_is_dropped(tmp_path):
    paths = [save_tiny(tmp_path / f"run{k}" / "best.safetensors") for k in range(3)]
    store = ModelStore(paths[0], checkpoints_dir=tmp_path)
    keys = list(store.checkpoints)
    assert len(keys) == 3 and not store.is_loaded()
    first = store.get()
    assert store.is_loaded() and store.get() is first  # cached
    for key in keys[1:]:
        store.get(key)
    assert sum(store.is_loaded(k) for k in keys) == MAX_LOADED_MODELS == 2
    assert not store.is_loaded(keys[0])  # least recently used
    assert all(store.get(k).detector is store.detector for k in keys)  # one shared detector


def test_one_model_lock_per_store(tmp_path):
    store = ModelStore(save_tiny(tmp_path / "a.safetensors"))
    assert isinstance(store.model_lock, type(threading.Lock()))
    assert store.model_lock is store.model_lock  # an attribute, not a new lock per access


def test_compute_threads_are_set_for_torch_and_opencv():
    torch_before, cv2_before = torch.get_num_threads(), cv2.getNumThreads()
    try:
        assert set_compute_threads(1) == 1
        assert torch.get_num_threads() == 1 and cv2.getNumThreads() == 1
        assert set_compute_threads(0) == 1  # at least one
        assert set_compute_threads(None) == 1  # None keeps torch's setting, for both
        assert cv2.getNumThreads() == 1
    finally:
        torch.set_num_threads(torch_before)
        cv2.setNumThreads(cv2_before)
