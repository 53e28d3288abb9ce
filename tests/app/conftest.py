"""Fixtures for the app tests: the app module and a running server.

``lab`` (the shared service) and ``face_photo`` are those of tests/service: the model is
loaded once per session (:func:`tests.service.helpers.shared_service`) and the running
server (``server_url``) reuses it.
"""

from __future__ import annotations

import importlib.util
import socket
import sys
from pathlib import Path
from types import ModuleType

import pytest

from sqsnet.service import LabService
from tests.helpers import REPO
from tests.service.conftest import face_photo  # noqa: F401  (the same fixture here)
from tests.service.helpers import shared_service

APP_FILE = REPO / "apps" / "sqsnet_space" / "app.py"
SCREENSHOTS_KEY = pytest.StashKey[Path]()
"""Where test_browser.py saved its screenshots (printed at the end of the run)."""


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001
    """Print the screenshots' folder, so that people can look at them."""
    folder = config.stash.get(SCREENSHOTS_KEY, None)
    if folder is not None:
        terminalreporter.write_line(f"browser screenshots: {folder}")


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def app_module() -> ModuleType:
    return load_app_module()


@pytest.fixture(scope="session")
def lab() -> LabService:
    """The service shared with tests/service (the model is loaded once per session)."""
    return shared_service()


@pytest.fixture(scope="session")
def server_url(app_module: ModuleType, lab: LabService):
    """The app served on 127.0.0.1 (a free port) in a background thread."""
    demo = app_module.build_demo(lab=lab)
    port = free_port()
    app_module.launch(demo, "127.0.0.1", port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()
