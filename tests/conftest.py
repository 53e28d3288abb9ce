"""Shared fixtures: real-data location, tiny model configs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.helpers import make_ferplus_fixture, shared_data_root, write_tiny_config


@pytest.fixture
def ferplus_root() -> Path:
    root = shared_data_root() / "ferplus"
    if not (root / "FER2013Valid" / "label.csv").is_file():
        pytest.skip(f"real FERPlus data not found at {root} (set SQSNET_DATA)")
    return root


@pytest.fixture
def fixture_data(tmp_path: Path) -> Path:
    """A tiny FERPlus tree (:func:`tests.helpers.make_ferplus_fixture`)."""
    return make_ferplus_fixture(tmp_path / "ferplus")


@pytest.fixture
def tiny_cfg_path(tmp_path: Path) -> Path:
    """The tiny training config (:func:`tests.helpers.write_tiny_config`)."""
    return write_tiny_config(tmp_path / "tiny.yaml")


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
