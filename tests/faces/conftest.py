"""Fixtures of the face tests: real FERPlus faces, a real photo, a shared detector.

Everything runs offline. Detection needs real faces: the tests read FERPlus 48x48 faces
from ``shared/data/ferplus`` (never copied into the repository) and Matplotlib's bundled
Grace Hopper portrait; each test skips with the reason when its source is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest
from PIL import Image

from sqsnet.faces import FaceDetector

FERPLUS_DIRS = [
    Path(os.environ["SQSNET_FERPLUS_DIR"]) if os.environ.get("SQSNET_FERPLUS_DIR") else None,
    Path(__file__).resolve().parents[2] / "shared" / "data" / "ferplus" / "FER2013Valid",
    Path(__file__).resolve().parents[3] / "shared" / "data" / "ferplus" / "FER2013Valid",
]


def _ferplus_files() -> list[Path]:
    for folder in FERPLUS_DIRS:
        if folder is not None and folder.is_dir():
            files = sorted(folder.glob("*.png"))
            if files:
                return files
    return []


@pytest.fixture(scope="module")
def fer_faces() -> list[Path]:
    files = _ferplus_files()
    if not files:
        pytest.skip("FERPlus faces not found (shared/data/ferplus/FER2013Valid/*.png beside or in the "
                    "repository); "
                    "set SQSNET_FERPLUS_DIR to run the detection tests on real faces")
    return files[:12]


@pytest.fixture(scope="module")
def hopper() -> Image.Image:
    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    if not path.is_file():
        pytest.skip(f"Matplotlib sample photo missing: {path}")
    return Image.open(path).convert("RGB")


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector()
