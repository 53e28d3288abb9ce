"""Serving the page: ``demo.launch`` arguments and a patient start-up probe.

Why the probe is replaced
-------------------------
Right after the server starts, ``Blocks.launch`` checks that the page answers by calling
``gradio.networking.url_ok(local_url)``: HEAD requests with a 3-second timeout, where a
timeout makes it return ``False`` at once, and ``launch`` then refuses to serve without a
share link ("When localhost is not accessible, a shareable link must be created"). On a
busy 2-core machine the first render of this page can take longer than 3 seconds, so the
app would die at start-up though nothing is wrong (gradio-app/gradio issues #3517 and
#9817, still open; #8671; Gradio 6.31 still probes with a 3-second timeout).

Gradio has no supported setting for this check: ``launch`` exposes neither the timeout nor
a switch (only the private ``_frontend`` argument skips it, and ``share=True`` needs the
network). So :func:`patient_startup_probe` swaps ``url_ok`` for :func:`patient_url_ok` for
the duration of one ``launch`` call and restores it afterwards; nothing else in Gradio is
touched. ``tests/app/test_launching.py`` checks the swap and the restore, so a Gradio
upgrade that renames ``url_ok`` fails a test instead of silently skipping the patch.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import gradio as gr
import gradio.networking
import httpx

from .components import ALT_TEXT_JS, CSS

__all__ = [
    "MAX_UPLOAD",
    "PROBE_OK_STATUS",
    "launch",
    "launch_kwargs",
    "patient_startup_probe",
    "patient_url_ok",
]

MAX_UPLOAD = "50mb"
"""Gradio refuses larger uploads before they reach the handlers."""
PROBE_OK_STATUS = (200, 401, 301, 302, 303, 307, 308)
"""Answers that mean the page is up (as Gradio's own probe counts them)."""


def launch_kwargs(host: str = "127.0.0.1", port: int | None = 7860,
                  share: bool = False) -> dict[str, Any]:
    """Arguments for ``demo.launch``: address, CSS, the alt-text script, upload limit,
    footer, no error details."""
    return {"server_name": host, "server_port": port, "share": share, "css": CSS,
            "js": ALT_TEXT_JS,
            "max_file_size": MAX_UPLOAD, "show_error": False, "footer_links": ["api", "settings"]}


def patient_url_ok(url: str, wait_s: float = 60.0) -> bool:
    """Gradio's start-up probe of the local URL, with patience for a busy machine.

    Args:
        url: The local URL of the page.
        wait_s: Keep trying (HEAD, 10-second timeout, every 0.5 s) for this long.

    Returns:
        Whether the page answered within ``wait_s``.
    """
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            if httpx.head(url, timeout=10, verify=False).status_code in PROBE_OK_STATUS:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return False


@contextmanager
def patient_startup_probe() -> Iterator[None]:
    """Within this block, ``launch`` probes the page with :func:`patient_url_ok`."""
    original = gradio.networking.url_ok
    gradio.networking.url_ok = patient_url_ok
    try:
        yield
    finally:
        gradio.networking.url_ok = original


def launch(demo: gr.Blocks, host: str = "127.0.0.1", port: int | None = 7860,
           share: bool = False, **extra: Any) -> Any:
    """``demo.launch`` with :func:`launch_kwargs` and the patient start-up probe.

    Args:
        demo: From ``build_demo``.
        host: Interface to listen on.
        port: Port (``None``: Gradio picks one from 7860 up).
        share: Also open a public gradio.live link.
        **extra: More ``launch`` arguments (e.g. ``prevent_thread_lock=True``).

    Returns:
        What ``demo.launch`` returns.
    """
    with patient_startup_probe():
        return demo.launch(**launch_kwargs(host, port, share), **extra)
