"""A real Chromium looks at the page: every tab at desktop and phone size, nothing wider
than the screen, an example click that ends in a prediction, an upload.

Needs Debian's Chromium (``apt-get install -y chromium``) and ``pip install playwright``;
Playwright's own browser download is not used. Skips with the reason when either is absent.

Screenshots are test artefacts: they go to ``$SQSNET_SCREENSHOTS`` when set, else to a
pytest tmp folder, and the folder is printed in the test output ("browser screenshots:
...") so that people can look at them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.app.conftest import SCREENSHOTS_KEY

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
        "--disable-dev-shm-usage"]
SIZES = {"desktop": (1366, 900), "phone": (390, 844)}
TABS = {"Predict": "#predict-examples", "SQS explorer": "#sqs-maps", "Model": "#model-card"}
"""Each tab and an element that only it shows."""
TIMEOUT_MS = 90_000
SCREENSHOTS_ENV = "SQSNET_SCREENSHOTS"

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


@pytest.fixture(scope="module")
def shots(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the screenshots go (``$SQSNET_SCREENSHOTS`` or a tmp folder), printed once."""
    env = os.environ.get(SCREENSHOTS_ENV)
    folder = Path(env) if env else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    request.config.stash[SCREENSHOTS_KEY] = folder  # printed in the summary (conftest.py)
    return folder


def open_page(browser, url: str, size: str):
    width, height = SIZES[size]
    page = browser.new_page(viewport={"width": width, "height": height})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    page.wait_for_selector("#photo")
    return page


def assert_no_sideways_overflow(page, where: str) -> None:
    width, inner = page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= inner, f"{where}: the page is {width} px wide in a {inner} px window"


def snapshot(page, shots: Path, name: str) -> Path:
    path = shots / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000, path
    return path


def image_loaded(page, selector: str) -> bool:
    return bool(page.evaluate(
        "sel => { const im = document.querySelector(sel); return !!im && im.complete"
        " && im.naturalWidth > 0; }", selector))


@pytest.mark.parametrize("size", list(SIZES))
def test_every_tab_fits_the_screen_width(browser, server_url, shots, size):
    """Each tab drawn at desktop and phone size; the explorer opens on a drawn quad."""
    page = open_page(browser, server_url, size)
    try:
        for tab, marker in TABS.items():
            page.get_by_role("tab", name=tab).click()
            page.locator(marker).first.wait_for(state="visible")
            if tab == "SQS explorer":  # a ready quad, its maps drawn without any click
                page.wait_for_function(
                    "() => { const im = document.querySelector('#sqs-maps img');"
                    " return im && im.complete && im.naturalWidth > 0; }")
                for slot in ("anchor", "positive", "negative1", "negative2"):
                    page.wait_for_function(  # each slot's picture arrives on its own
                        "sel => { const im = document.querySelector(sel);"
                        " return im && im.complete && im.naturalWidth > 0; }",
                        arg=f"#slot-{slot} img", timeout=20_000)
                    assert image_loaded(page, f"#slot-{slot} img"), slot
                assert page.locator("#sqs-status").inner_text().startswith("Quad: anchor:")
            if tab == "Model":
                assert not page.locator("#model-details").get_by_text("The evaluation crop",
                                                                      exact=False).is_visible()
            page.wait_for_timeout(500)  # let the layout settle before measuring
            assert_no_sideways_overflow(page, f"{tab} at {size}")
            snapshot(page, shots, f"{size}-{tab.lower().replace(' ', '-')}")
        page.evaluate("() => { const d = document.createElement('div');"
                      " d.style.width = '3000px'; d.style.height = '1px';"
                      " document.body.appendChild(d); }")
        with pytest.raises(AssertionError, match="px wide"):  # the check can fail
            assert_no_sideways_overflow(page, "with a 3000 px element")
    finally:
        page.close()


@pytest.mark.parametrize("size", list(SIZES))
def test_an_example_click_ends_in_a_prediction(browser, server_url, shots, lab, size):
    """Click the first example (three faces): three numbered faces, bars, Grad-CAM legend."""
    page = open_page(browser, server_url, size)
    try:
        page.locator("#predict-examples button.gallery-item").first.click()
        page.wait_for_function(
            "() => { const el = document.querySelector('#face-3-label');"
            " return el && el.innerText.includes('Face 3'); }")
        assert "3 faces" in page.locator("#predict-status").inner_text()
        bars = page.locator("#face-1-label").inner_text()
        assert all(name in bars for name in lab.predictor().class_names)  # all 8 classes
        assert page.locator("#cam-legend").is_visible()
        page.wait_for_function(
            "() => { const im = document.querySelector('#face-1-cam img');"
            " return im && im.complete && im.naturalWidth > 0; }")
        assert_no_sideways_overflow(page, f"Predict with a result at {size}")
        snapshot(page, shots, f"{size}-predict-example")
    finally:
        page.close()


def test_upload_shows_label_and_heatmap(browser, server_url, face_photo, lab, shots):
    page = open_page(browser, server_url, "desktop")
    try:
        page.locator("#photo input[type=file]").set_input_files(str(face_photo))
        page.locator("#face-1-label").wait_for(state="visible")
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
        # "why X, not Y?" for the uploaded face (not a gallery face): X is its label
        _wait_for_why(page)
        label = page.locator("#face-1-label").inner_text()
        status = page.locator("#why-status").inner_text()
        predicted = next(n for n in names if n in label)
        assert status.startswith(f"Why {predicted}, not "), (label, status)
        alts = [i["alt"] for i in page.evaluate(VISIBLE_IMAGES_JS, "#why-faces img")]
        assert alts[0].startswith("anchor: face 1") and alts[1].startswith(f"positive: {predicted}")
        snapshot(page, shots, "desktop-predict-upload")
    finally:
        page.close()


# ------------------------------------------------- "why X, not Y", readable figures, alt text

MIN_TEXT_PX = 11.0
"""Smallest text, in CSS pixels as rendered, any figure of the page may have (issue 27)."""
VISIBLE_IMAGES_JS = """sel => Array.from(document.querySelectorAll(sel))
  .filter(im => im.offsetParent !== null && im.complete && im.naturalWidth > 0)
  .map(im => ({alt: im.alt, natural: im.naturalWidth, naturalH: im.naturalHeight,
               shown: im.getBoundingClientRect().width, shownH: im.getBoundingClientRect().height,
               textPx: im.dataset.textPx ? parseFloat(im.dataset.textPx) : null,
               src: im.getAttribute('src')}))"""

NO_ALT_JS = """() => Array.from(document.querySelectorAll('img'))
  .filter(im => im.offsetParent !== null && !(im.alt || '').trim()).map(im => im.src)"""
"""The images on screen (loaded or not) without alt text."""


def _wait_for_why(page) -> None:
    page.wait_for_function(
        "() => { const el = document.querySelector('#why-sentence');"
        " return el && el.innerText.includes('Reading it.'); }")
    for box in ("#why-faces", "#why-contrast"):  # images load once scrolled into view
        page.locator(box).scroll_into_view_if_needed()
        page.wait_for_function(
            "sel => { const ims = document.querySelectorAll(sel + ' img');"
            " return ims.length > 0 && [...ims].every(i => i.complete && i.naturalWidth > 0); }",
            arg=box)
    assert len(page.locator("#why-faces img").all()) == 4


def _rendered_text_px(natural_text_px: float, image: dict) -> float:
    """A text of ``natural_text_px`` image pixels as rendered: scaled like its image (an
    image shown in a box keeps its aspect ratio: the smaller of the two scales applies)."""
    scale = min(image["shown"] / image["natural"], image["shownH"] / image["naturalH"])
    return natural_text_px * scale


@pytest.mark.parametrize("size", list(SIZES))
def test_why_x_not_y_follows_a_prediction(browser, server_url, shots, lab, size):
    """An example click: the first face's quad, its contrast map and the sentence."""
    page = open_page(browser, server_url, size)
    try:
        page.locator("#predict-examples button.gallery-item").first.click()
        _wait_for_why(page)
        status = page.locator("#why-status").inner_text()
        names = lab.predictor().class_names
        assert status.startswith("Why ") and sum(n in status for n in names) >= 2
        alts = [i["alt"] for i in page.evaluate(VISIBLE_IMAGES_JS, "#why-faces img")]
        assert [a.split(":")[0] for a in alts] == ["anchor", "positive", "negative 1",
                                                   "negative 2"]
        assert page.locator("#why-legend").is_visible()
        assert "m = " in page.locator("#why-legend").inner_text()
        sentence = page.locator("#why-sentence").inner_text()
        assert " of " in sentence and "grid" in sentence
        contrast = page.evaluate(VISIBLE_IMAGES_JS, "#why-contrast img")
        assert contrast and contrast[0]["alt"].startswith("Contrast over the anchor: ")
        # face 2 on its own button
        page.locator("#why-face input").fill("2")
        page.locator("#why-btn").click()
        page.wait_for_function(
            "() => document.querySelector('#why-faces img')?.alt.startsWith('anchor: face 2')")
        assert_no_sideways_overflow(page, f"Predict with 'why' at {size}")
        snapshot(page, shots, f"{size}-predict-why")
    finally:
        page.close()


@pytest.mark.parametrize("size", list(SIZES))
def test_figures_are_readable_at_the_size_shown_and_have_alt_text(browser, server_url, lab,
                                                                   size):
    """Text drawn into images is >= 11 px as rendered; every visible image has alt text."""
    from sqsnet.service.predict import label_font_px

    page = open_page(browser, server_url, size)
    try:
        page.locator("#predict-examples button.gallery-item").first.click()
        _wait_for_why(page)
        page.wait_for_function(
            "() => { const im = document.querySelector('#annotated img');"
            " return im && im.complete && im.naturalWidth > 0 && im.alt; }")
        annotated = page.evaluate(VISIBLE_IMAGES_JS, "#annotated img")[0]
        font = label_font_px((annotated["natural"], annotated["naturalH"]))
        assert _rendered_text_px(font, annotated) >= MIN_TEXT_PX, (annotated, font)
        missing = page.evaluate(NO_ALT_JS)
        assert not missing, f"images without alt text on Predict: {missing[:3]}"

        page.get_by_role("tab", name="SQS explorer").click()
        page.wait_for_function(
            "() => { const im = document.querySelector('#sqs-maps img');"
            " return im && im.complete && im.naturalWidth > 0; }")
        figure = page.evaluate(VISIBLE_IMAGES_JS, "#sqs-maps img")[0]
        assert figure["textPx"] is not None and "SQS maps" in figure["alt"]
        shown_px = _rendered_text_px(figure["textPx"], figure)
        assert shown_px >= MIN_TEXT_PX, (f"the SQS figure's smallest text is {shown_px:.1f} px "
                                         f"at {size} ({figure})")
        missing = page.evaluate(NO_ALT_JS)
        assert not missing, f"images without alt text in the explorer: {missing[:3]}"
        assert_no_sideways_overflow(page, f"explorer at {size}")
        # the check can fail: the same figure squeezed to the screen's width
        page.evaluate("() => { const im = document.querySelector('#sqs-maps img');"
                      " im.style.maxWidth = '100%'; }")
        squeezed = page.evaluate(VISIBLE_IMAGES_JS, "#sqs-maps img")[0]
        if size == "phone":
            assert _rendered_text_px(squeezed["textPx"], squeezed) < MIN_TEXT_PX
    finally:
        page.close()
