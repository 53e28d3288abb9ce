"""Test helpers shared across test modules."""

from __future__ import annotations

from pathlib import Path

from sqsnet.config import BranchConfig, ModelConfig
from sqsnet.data.root import default_data_dir

REPO = Path(__file__).resolve().parents[1]


def shared_data_root() -> Path:
    """``SQSNET_DATA`` or ``<repo>/../shared/data`` (may not exist): the package's lookup."""
    return default_data_dir()


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


FERPLUS_HEADER_CLASSES = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust",
                          "fear", "contempt")


def make_ferplus_fixture(root: Path, per_class: int = 6, classes: tuple[int, ...] = (0, 1, 2, 3),
                         splits: dict[str, int] | None = None, size: int = 48) -> Path:
    """A tiny FERPlus tree in Microsoft's generated layout with learnable class patterns.

    Class ``c`` images are noise plus a bright bar at a class-specific row, so a model can
    tell them apart. Every image gets a clear majority vote for its class.

    Args:
        root: Folder to create (``FER2013Train``/``FER2013Valid`` go inside).
        per_class: Images per class in the training split (validation gets half).
        classes: FERPlus class indices to include.
        splits: Folder name -> images per class (overrides ``per_class``).
        size: Image side in pixels.

    Returns:
        ``root``.
    """
    import numpy as np
    from PIL import Image

    splits = splits or {"FER2013Train": per_class, "FER2013Valid": max(2, per_class // 2)}
    rng = np.random.default_rng(0)
    k = 0
    for split, n in splits.items():
        folder = root / split
        folder.mkdir(parents=True, exist_ok=True)
        lines = []
        for c in classes:
            for _ in range(n):
                pixels = rng.integers(0, 60, (size, size)).astype(np.uint8)
                row = (c * size) // 8
                pixels[row:row + size // 8, :] = 230
                name = f"fer{k:07d}.png"
                Image.fromarray(pixels, "L").save(folder / name)
                votes = [0] * 10
                votes[c] = 10
                lines.append(f'{name},"(0, 0, {size}, {size})",' + ",".join(map(str, votes)))
                k += 1
        (folder / "label.csv").write_text("\n".join(lines) + "\n")
    return root


TINY_CONFIG_YAML = """
name: tiny
model:
  local_branch: {name: resnet10t, out_index: 2}
  global_branch:
    name: swin_tiny_patch4_window7_224
    kwargs: {img_size: 32, embed_dim: 16, depths: [1, 1], num_heads: [1, 2], window_size: 4}
  img_size: 32
  fused_dim: 32
  fusion_heads: 2
data:
  dataset: ferplus
  batch_size: 8
  num_workers: 0
  mixup_alpha: 0.4
  cutmix_alpha: 0.4
  mix_prob: 0.5
train:
  epochs: 2
  lr: 1.0e-3
  t0_epochs: 2
  patience: 0
  tta: true
"""


def write_tiny_config(path: Path) -> Path:
    """Write the tiny training config and return its path."""
    path.write_text(TINY_CONFIG_YAML)
    return path


def decodes_whole(path: str | Path) -> bool:
    """Whether an image file decodes to the end (a truncated or empty file does not)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.load()
        return True
    except (OSError, SyntaxError, ValueError):
        return False
