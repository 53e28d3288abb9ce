"""Fixtures for the app tests: the app module, one shared LabApp, test photos, a server.

The model is loaded once per session (``lab``) and the running server (``server_url``) reuses
it. Photos with faces are made at run time from real FERPlus faces (never stored in the
repo); tests that need them skip when the data is absent.
"""

from __future__ import annotations

import importlib.util
import socket
import struct
import sys
import zlib
from pathlib import Path
from types import ModuleType

import pytest
from PIL import Image

from tests.helpers import REPO, shared_data_root

APP_FILE = REPO / "apps" / "sqsnet_space" / "app.py"
BACKGROUND = (118, 128, 140)


def load_app_module() -> ModuleType:
    """Import ``apps/sqsnet_space/app.py`` (not a package) as ``sqsnet_space_app``."""
    name = "sqsnet_space_app"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, APP_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def ferplus_valid_dir() -> Path | None:
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def app_module() -> ModuleType:
    return load_app_module()


@pytest.fixture(scope="session")
def lab(app_module: ModuleType):
    """One LabApp (default model; FERPlus gallery when the data is there)."""
    return app_module.LabApp("default", gallery=ferplus_valid_dir(), gallery_per_class=2)


@pytest.fixture(scope="session")
def face_photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 640x480 PNG with one upscaled FERPlus face."""
    path = tmp_path_factory.mktemp("photos") / "one_face.png"
    photo_with_faces(ferplus_faces(1)).save(path)
    return path


@pytest.fixture(scope="session")
def server_url(app_module: ModuleType, lab):
    """The app served on 127.0.0.1 (a free port) in a background thread."""
    demo = app_module.build_demo(lab=lab)
    port = free_port()
    app_module.launch(demo, "127.0.0.1", port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()
