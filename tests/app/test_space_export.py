"""The exported Space, copied elsewhere, boots in a fresh virtualenv; a browser clicks an
example and gets a prediction.

Two ways to fill the virtualenv:

* ``reuse`` (runs with ``-m slow``): a new, empty virtualenv whose only addition is a
  ``.pth`` line naming this interpreter's site-packages, so it uses the wheels already
  installed here instead of downloading torch (several GB) again. It checks that every
  pinned version in the Space's ``requirements.txt`` is the one that virtualenv imports,
  that ``sqsnet`` cannot be imported there except from the Space folder (the repository's
  editable install is not active in it), and then boots ``python app.py`` in the copied
  folder. What it does not prove: that the registry still serves those pins.
* ``registry`` (only with ``SQSNET_SPACE_REGISTRY=1``; needs the network and several GB):
  ``pip install -r requirements.txt`` from the package registry into a virtualenv with
  nothing else, as a Space does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import httpx
import pytest

from sqsnet.service.export import export_space
from tests.app.conftest import free_port
from tests.app.test_browser import ARGS, CHROMIUM

REGISTRY_ENV = "SQSNET_SPACE_REGISTRY"
BOOT_LIMIT_S = 300

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def make_venv(root: Path, mode: str, requirements: Path) -> Path:
    """A fresh virtualenv; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", *(["--without-pip"] if mode == "reuse" else []),
                    str(root)], check=True, timeout=300)
    python = root / "bin" / "python"
    if mode == "reuse":
        purelib = subprocess.run([str(python), "-c", "import sysconfig; "
                                  "print(sysconfig.get_paths()['purelib'])"],
                                 capture_output=True, text=True, check=True).stdout.strip()
        here = sysconfig.get_paths()["purelib"]
        Path(purelib, "_reuse_installed_wheels.pth").write_text(here + "\n")
    else:
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(requirements)],
                       check=True, timeout=3600)
    return python


CHECK = """
import importlib.metadata as m, importlib.util, sys
pins = [l.split("==") for l in open(sys.argv[1]).read().splitlines()
        if l and not l.startswith("#")]
wrong = [(n, v, m.version(n)) for n, v in pins if m.version(n).split("+")[0] != v]
assert not wrong, f"installed versions differ from the pins: {wrong}"
assert importlib.util.find_spec("sqsnet") is None, "sqsnet importable outside the Space"
sys.path.insert(0, sys.argv[2])
import sqsnet
assert sqsnet.__file__.startswith(sys.argv[2]), sqsnet.__file__
print("pins ok;", len(pins), "packages; sqsnet from", sqsnet.__file__)
"""


def wait_until_up(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + BOOT_LIMIT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the Space exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    pytest.fail(f"the Space did not answer within {BOOT_LIMIT_S} s:\n{log.read_text()[-3000:]}")


def click_an_example(url: str) -> str:
    """Open the page in Chromium, click the first example; the status line."""
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.set_default_timeout(120_000)
            page.goto(url)
            page.locator("#predict-examples button.gallery-item").first.click()
            page.wait_for_function(
                "() => { const el = document.querySelector('#face-1-label');"
                " return el && el.innerText.includes('Face 1'); }")
            return page.locator("#predict-status").inner_text()
        finally:
            browser.close()


@pytest.mark.parametrize("mode", ["reuse", "registry"])
def test_exported_space_boots_in_a_fresh_venv_and_predicts(tmp_path, mode):
    if mode == "registry" and os.environ.get(REGISTRY_ENV) != "1":
        pytest.skip(f"set {REGISTRY_ENV}=1 to install the pins from the registry (network, GBs)")
    exported = export_space(tmp_path / "export" / "space").path
    space = tmp_path / "elsewhere" / "my-space"
    shutil.copytree(exported, space)
    shutil.rmtree(exported)  # nothing may point back at the first copy
    python = make_venv(tmp_path / "venv", mode, space / "requirements.txt")
    check = subprocess.run([str(python), "-c", CHECK, str(space / "requirements.txt"), str(space)],
                           capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert check.returncode == 0, check.stderr[-3000:]
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SQSNET_", "PYTHON", "VIRTUAL_ENV", "GRADIO_"))}
    log = tmp_path / "space.log"
    with log.open("w") as out:
        proc = subprocess.Popen([str(python), "app.py", "--port", str(port)], cwd=space, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_until_up(url, proc, log)
        status = click_an_example(url)
        assert "Found 3 faces" in status, status
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
