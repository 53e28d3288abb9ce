"""Launching: the arguments, and the patient start-up probe that stands in for Gradio's."""

from __future__ import annotations

import http.server
import inspect
import threading
import time

import gradio as gr
import gradio.networking
import pytest

from tests.app.conftest import free_port


@pytest.fixture(scope="module")
def launching(app_module):
    from space_ui import launching

    return launching


@pytest.fixture
def page_url():
    """A local server that answers HEAD with 200, like the page once it is up."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self):
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_launch_kwargs(launching):
    kwargs = launching.launch_kwargs("0.0.0.0", 8000)
    assert kwargs["server_name"] == "0.0.0.0" and kwargs["server_port"] == 8000
    assert kwargs["share"] is False and kwargs["max_file_size"] == "50mb"
    assert kwargs["show_error"] is False and ".sqs-status" in kwargs["css"]


def test_patient_probe_waits_for_the_page_and_gives_up(launching, page_url):
    assert launching.patient_url_ok(page_url, wait_s=5)
    start = time.monotonic()
    assert not launching.patient_url_ok(f"http://127.0.0.1:{free_port()}/", wait_s=1.0)
    assert time.monotonic() - start < 5


def test_probe_swapped_for_one_launch_only(launching):
    original = gradio.networking.url_ok
    with launching.patient_startup_probe():
        assert gradio.networking.url_ok is launching.patient_url_ok
    assert gradio.networking.url_ok is original
    with pytest.raises(RuntimeError), launching.patient_startup_probe():
        raise RuntimeError("launch failed")
    assert gradio.networking.url_ok is original  # restored after a failed launch too


def test_launch_passes_arguments_under_the_patient_probe(launching):
    seen = {}

    class FakeDemo:
        def launch(self, **kwargs):
            seen.update(kwargs, probe=gradio.networking.url_ok)
            return "launched"

    assert launching.launch(FakeDemo(), "127.0.0.1", 7861, prevent_thread_lock=True) == "launched"
    assert seen["probe"] is launching.patient_url_ok and seen["prevent_thread_lock"] is True
    assert seen["server_port"] == 7861 and gradio.networking.url_ok is not seen["probe"]


def test_gradio_still_probes_through_networking_url_ok():
    """Fails if a Gradio upgrade moves the probe, so the swap would silently do nothing."""
    assert callable(gradio.networking.url_ok)
    assert "networking.url_ok(self.local_url)" in inspect.getsource(gr.Blocks.launch)
