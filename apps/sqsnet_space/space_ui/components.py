"""Gradio pieces shared by the tabs: the never-decoding image input, toasts, page CSS, and
the folder the output images are written to (:func:`output_files`)."""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.utils import get_upload_folder

from sqsnet.service.outputs import OutputFiles

__all__ = ["ALT_TEXT_JS", "CSS", "OUTPUT_SUBFOLDER", "kept_files", "output_files", "raw_upload", "status_text",
           "upload_image", "warn"]

OUTPUT_SUBFOLDER = "sqsnet-outputs"
"""The folder inside Gradio's cache folder that holds the page's output images."""

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
.sqs-figure {margin: 0}
.sqs-scroll {max-width: 100%; overflow-x: auto}
.sqs-scroll img {max-width: none; height: auto; display: block}
.sqs-figure figcaption {font-size: 0.9em; margin-top: 0.3em}
.sqs-faces {display: grid; gap: 0.6em;
            grid-template-columns: repeat(auto-fill, minmax(min(140px, 45%), 1fr))}
.sqs-faces figure {margin: 0; max-width: var(--sqs-face-side, 224px)}
.sqs-faces img {width: 100%; height: auto; display: block; border-radius: 4px}
.sqs-faces figcaption {font-size: 0.9em; line-height: 1.25; margin-top: 0.25em}
#sqs-overlays .grid-wrap.fixed-height {min-height: 0; height: auto}
"""
"""Theme-independent CSS of the page."""

ALT_TEXT_JS = """
() => {
  const labelOf = (img) => {
    const block = img.closest('.block');
    const label = block && block.querySelector('[data-testid="block-label"], .label');
    const text = label ? label.textContent.trim() : '';
    if (!text || !img.closest('.gallery-item')) return text;
    const file = decodeURIComponent(img.src.split('/').pop() || '');  // an example: its name
    return text + ': ' + file.replace(/\\.[a-z]+$/i, '').replace(/_/g, ' ');
  };
  const fill = () => {
    for (const img of document.querySelectorAll('.block img')) {
      if (img.alt && img.dataset.altFromLabel !== '1') continue;  // its own alt (captions)
      const text = labelOf(img);
      if (text && img.alt !== text) { img.alt = text; img.dataset.altFromLabel = '1'; }
    }
  };
  new MutationObserver(fill).observe(document.body, {subtree: true, childList: true,
    characterData: true, attributes: true, attributeFilter: ['src']});
  fill();
}
"""
"""Page script: every image of a Gradio component without alt text (``gr.Image`` sets
none) gets its component's label as alt text (an example thumbnail: the label and the
file's name), kept up to date when the label changes.
Images with their own alt text (gallery captions, :func:`.charts.figure_html`) keep it."""


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


@functools.cache
def output_files() -> OutputFiles:
    """Where the handlers write the page's output images (one per process).

    A folder inside Gradio's cache folder (``GRADIO_TEMP_DIR``, else ``<tmp>/gradio``):
    Gradio serves a file there as it is, without copying or rewriting it. Every image gets a
    file of its own, written atomically (:class:`sqsnet.service.outputs.OutputFiles`), so two
    visitors who get byte-identical images at the same moment never share a file that is
    being written (Gradio's own cache, keyed by the bytes' hash, rewrites such a file in
    place: gradio issue #8878).
    """
    return OutputFiles(Path(get_upload_folder()) / OUTPUT_SUBFOLDER)


@functools.cache
def kept_files() -> OutputFiles:
    """Where images that are part of the page itself go (e.g. the explorer's opening
    figure): written once per process, never swept away while it runs."""
    return OutputFiles(Path(get_upload_folder()) / OUTPUT_SUBFOLDER / "page", max_age_s=None)
