"""Fixtures for the visualisation tests: one tiny model per module, a few faces."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from sqsnet.models import SQSNet
from tests.helpers import tiny_model_config


@pytest.fixture(scope="module")
def tiny_model() -> SQSNet:
    torch.manual_seed(0)
    return SQSNet(tiny_model_config()).eval()


@pytest.fixture
def faces() -> list[Image.Image]:
    """Four different 48 x 48 grayscale-looking RGB images (non-square sizes elsewhere)."""
    rng = np.random.default_rng(0)
    out = []
    for _ in range(4):
        arr = rng.integers(0, 256, (48, 48), dtype=np.uint8)
        out.append(Image.fromarray(arr, "L").convert("RGB"))
    return out


def assert_png(path) -> None:
    """The file exists and PIL reads it as a non-empty PNG."""
    assert path.is_file() and path.stat().st_size > 0
    with Image.open(path) as im:
        assert im.format == "PNG"
        assert im.size[0] > 10 and im.size[1] > 10
