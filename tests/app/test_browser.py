"""A real Chromium loads the page, uploads a photo and sees a label and a heatmap.

Needs Debian's Chromium (``apt-get install -y chromium``) and ``pip install playwright``;
Playwright's own browser download is not used. Skips with the reason when either is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
        "--disable-dev-shm-usage"]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install playwright)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def test_upload_shows_label_and_heatmap(browser, server_url, face_photo, lab, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(60_000)
    try:
        page.goto(server_url)
        page.locator("#photo input[type=file]").set_input_files(str(face_photo))
        label = page.locator("#face-1-label")
        label.wait_for(state="visible")
        names = lab.predictor().class_names
        page.wait_for_function(
            "names => { const el = document.querySelector('#face-1-label');"
            " return el && names.some(n => el.innerText.includes(n)); }",
            arg=names,
        )
        cam = page.locator("#face-1-cam img")
        cam.wait_for(state="visible")
        assert page.evaluate("el => el.naturalWidth", cam.element_handle()) > 0
        assert "1 face" in page.locator("#predict-status").inner_text()
        shot = tmp_path / "predict.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000  # kept in pytest's tmp folder for people to look at
    finally:
        page.close()
