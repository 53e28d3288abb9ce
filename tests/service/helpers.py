"""Test photos and the one shared service for tests/service and tests/app.

Photos with faces are made at run time from real FERPlus faces (never stored in the repo);
tests that need them skip when the data is absent. The default model is loaded once per
test session (:func:`shared_service`), whichever of tests/service and tests/app asks first.
"""

from __future__ import annotations

import functools
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from sqsnet.service import LabService
from tests.helpers import shared_data_root

BACKGROUND = (118, 128, 140)


def ferplus_valid_dir() -> Path | None:
    """FERPlus's valid split folder, or ``None`` when the data is absent."""
    path = shared_data_root() / "ferplus" / "FER2013Valid"
    return path if (path / "label.csv").is_file() else None


def ferplus_faces(n: int) -> list[Image.Image]:
    """The first ``n`` FERPlus valid faces (48x48, RGB); skips the test when absent."""
    root = ferplus_valid_dir()
    if root is None:
        pytest.skip(f"real FERPlus faces not found under {shared_data_root()} (set SQSNET_DATA)")
    names = sorted(p for p in root.glob("*.png"))[:n]
    return [Image.open(p).convert("RGB") for p in names]


def photo_with_faces(faces: list[Image.Image], size: tuple[int, int] = (640, 480),
                     face_side: int = 200) -> Image.Image:
    """Faces upscaled to ``face_side`` and pasted side by side on a plain background."""
    canvas = Image.new("RGB", size, BACKGROUND)
    step = size[0] // len(faces)
    for k, face in enumerate(faces):
        big = face.resize((face_side, face_side), Image.Resampling.BICUBIC)
        x = k * step + (step - face_side) // 2
        canvas.paste(big, (x, (size[1] - face_side) // 2))
    return canvas


def png_bomb(path: Path, width: int = 20000, height: int = 20000) -> Path:
    """A tiny valid PNG whose header declares ``width x height`` pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat)
                     + chunk(b"IEND", b""))
    return path


def quad_files(tmp_path: Path) -> list[str]:
    """Four FERPlus faces saved as PNGs (an explorer quad)."""
    paths = []
    for k, face in enumerate(ferplus_faces(4)):
        p = tmp_path / f"q{k}.png"
        face.save(p)
        paths.append(str(p))
    return paths


@functools.cache
def shared_service() -> LabService:
    """One service (default model; FERPlus gallery when the data is there) per session."""
    return LabService("default", gallery=ferplus_valid_dir(), gallery_per_class=2)
