"""Fixtures of the service tests: the shared service and a one-face photo."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqsnet.service import LabService
from tests.service.helpers import ferplus_faces, photo_with_faces, shared_service


@pytest.fixture(scope="session")
def lab() -> LabService:
    """The shared service (the default model is loaded once per session)."""
    return shared_service()


@pytest.fixture(scope="session")
def face_photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 640x480 PNG with one upscaled FERPlus face."""
    path = tmp_path_factory.mktemp("photos") / "one_face.png"
    photo_with_faces(ferplus_faces(1)).save(path)
    return path
