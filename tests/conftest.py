"""Shared fixtures: real-data location, tiny model configs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.helpers import shared_data_root


@pytest.fixture
def ferplus_root() -> Path:
    root = shared_data_root() / "ferplus"
    if not (root / "FER2013Valid" / "label.csv").is_file():
        pytest.skip(f"real FERPlus data not found at {root} (set SQSNET_DATA)")
    return root


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
