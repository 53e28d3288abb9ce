"""Gradio pieces shared by the tabs: the never-decoding image input, toasts, page CSS."""

from __future__ import annotations

import logging
from typing import Any

import gradio as gr

__all__ = ["CSS", "raw_upload", "status_text", "upload_image", "warn"]

_LOG = logging.getLogger("sqsnet.app")

CSS = """
.sqs-status {min-height: 1.5em}
.sqs-bars {width: 100%; font-size: 0.9em; line-height: 1.25}
.sqs-bars-title {font-weight: 600; margin-bottom: 0.3em}
.sqs-bar {display: grid; grid-template-columns: 6.5em minmax(0, 1fr) 3.6em; gap: 0.4em;
          align-items: center; margin: 3px 0}
.sqs-bar-name {overflow: hidden; text-overflow: ellipsis; white-space: nowrap}
.sqs-bar-track {height: 0.85em; border-radius: 3px; overflow: hidden;
                background: var(--border-color-primary, #e5e7eb)}
.sqs-bar-fill {display: block; height: 100%; background: var(--color-accent-soft, #c7d2fe);
               border-right: 2px solid var(--color-accent, #6366f1)}
.sqs-bar-top .sqs-bar-name {font-weight: 600}
.sqs-bar-top .sqs-bar-fill {background: var(--color-accent, #f97316)}
.sqs-bar-pct {text-align: right; font-variant-numeric: tabular-nums}
.sqs-cam-legend p {margin: 0.3em 0 0 0; font-size: 0.9em}
.sqs-cam-scale {display: flex; align-items: center; gap: 0.5em; font-size: 0.85em}
.sqs-cam-bar {flex: 1 1 auto; max-width: 320px; height: 12px; border-radius: 3px}
"""
"""Theme-independent CSS of the page."""


def raw_upload(payload: Any) -> str | None:
    """An upload as Gradio received it, undecoded: the file's path, or a ``data:`` URL.

    A ``data:`` URL (what an API client may send instead of a file) is passed on as it
    is; :func:`sqsnet.service.uploads.load_upload` decodes it and answers invalid base64
    with one line.

    Args:
        payload: Gradio's ``ImageData`` (or ``None``).

    Returns:
        The path, the ``data:`` URL, or ``None`` when nothing was uploaded.
    """
    if payload is None:
        return None
    url = getattr(payload, "url", None) or ""
    if url.startswith("data:"):
        return url
    path = getattr(payload, "path", None)
    return None if path is None else str(path)


def upload_image(**kwargs: Any) -> gr.Image:
    """A ``gr.Image`` input that hands the handler the uploaded file untouched.

    ``gr.Image(type="filepath")`` still opens every upload with Pillow before the handler
    runs, so a non-image or a decompression bomb fails inside Gradio with a generic error.
    This component passes the path (or the ``data:`` URL) through (:func:`raw_upload`), and
    the service layer does all decoding and error reporting. The page shows an ordinary
    Image component. Only this instance's ``preprocess`` is replaced: a subclass would make
    Gradio write an ``.pyi`` stub beside the module at import.

    Args:
        **kwargs: ``gr.Image`` arguments (``type`` and ``image_mode`` are fixed).

    Returns:
        The component.
    """
    image = gr.Image(type="filepath", image_mode=None, **kwargs)
    image.preprocess = raw_upload  # type: ignore[method-assign]
    return image


def warn(message: str) -> None:
    """A warning toast in the page (a log line when called outside a request)."""
    try:
        gr.Warning(message)
    except Exception:  # outside a request Gradio may refuse; the log still has it
        _LOG.warning(message)


def status_text(status: str, error: bool) -> str:
    """A status line for the page: errors get a warning sign and a toast."""
    if error:
        warn(status)
        return f"⚠️ {status}"
    return status
