"""Test helpers shared across test modules."""

from __future__ import annotations

import os
from pathlib import Path

from sqsnet.config import BranchConfig, ModelConfig

REPO = Path(__file__).resolve().parents[1]


def shared_data_root() -> Path:
    """``SQSNET_DATA`` or ``<repo>/../shared/data`` (may not exist)."""
    env = os.environ.get("SQSNET_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def tiny_model_config(**overrides: object) -> ModelConfig:
    """A very small hybrid for fast CPU tests: resnet10t stride 8 + 1-stage Swin."""
    cfg = ModelConfig(
        local_branch=BranchConfig(name="resnet10t", out_index=2),
        global_branch=BranchConfig(
            name="swin_tiny_patch4_window7_224",
            kwargs=dict(img_size=32, embed_dim=16, depths=[1, 1], num_heads=[1, 2],
                        window_size=4),
        ),
        img_size=32,
        num_classes=4,
        fused_dim=32,
        fusion_heads=2,
    )
    for key, value in overrides.items():
        setattr(cfg, key, value)
    return cfg
