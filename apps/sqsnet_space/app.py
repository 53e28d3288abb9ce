"""SQSNet lab: the Gradio app (also a Hugging Face Space).

Three tabs, one shared service (:class:`sqsnet.service.LabService`, built once):

* **Predict**: upload a photo, use the webcam or click an example; every face is found
  (YuNet), aligned, cropped and classified (numbered left to right), with all class
  probabilities and a Grad-CAM overlay. A photo without a face says so and offers to
  classify the whole image. "Why X, not Y?" reads the prediction of a chosen face through
  one SQS quad from the gallery: the contrast map over the face and one sentence.
* **SQS explorer**: pick an anchor, a positive and two negatives (upload, or click a
  gallery image) and see the per-location maps S_AP, S_AN1, S_AN2 and R of Spatial
  Quad-Similarity over the faces, with the hinge loss; it opens on a ready quad. The
  gallery holds a bounded sample per class of the labelled data folder passed with
  ``--gallery`` (else the bundled example faces) plus the visitor's uploads.
* **Model**: the model card of the loaded checkpoint (summary; details folded) and a
  switch between the SQSNet checkpoints found under ``--checkpoints DIR``.

This file only lays out the page (:func:`build_demo`) and starts it (:func:`main`); each tab
is a module of ``space_ui/`` beside it, and all the work is in :mod:`sqsnet.service`. Run
``python apps/sqsnet_space/app.py`` (or ``make app``); it serves on 127.0.0.1:7860 and needs
no network. Every upload is decoded by the service (never by Gradio), so bad files get one
clear message in the page and the app keeps serving.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline: no telemetry calls
os.environ.setdefault("MPLBACKEND", "Agg")

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:  # space_ui/ sits beside this file (also when imported by path)
    sys.path.insert(0, str(_HERE))
try:  # the Space installs the package; in the repository it is two folders up
    import sqsnet  # noqa: F401  (only: is the package installed?)
except ImportError:  # pragma: no cover - depends on how the app is started
    sys.path.insert(0, str(_HERE.parents[1]))

# imported only now: after the environment variables and sys.path set-up above
import gradio as gr
from space_ui import explorer_tab, model_tab, predict_tab
from space_ui.components import upload_image
from space_ui.launching import launch, launch_kwargs, patient_url_ok

from sqsnet.errors import SQSNetError
from sqsnet.faces import MAX_IMAGE_PIXELS
from sqsnet.service import GALLERY_PER_CLASS, MAX_FACES_SHOWN, LabService
from sqsnet.service.store import set_compute_threads

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_THREADS",
    "MAX_FACES_SHOWN",
    "QUEUE_SIZE",
    "build_demo",
    "launch",
    "launch_kwargs",
    "main",
    "patient_url_ok",
    "upload_image",
]

_LOG = logging.getLogger("sqsnet.app")

DEFAULT_CONCURRENCY = 2
"""Requests run at once per event (the machine this was sized on has 2 cores; 1 and 4
were measured too, BENCHMARKS.md, "The app under load")."""
QUEUE_SIZE = 64
"""Requests waiting at most; more are refused with "queue full"."""
DEFAULT_THREADS: int | None = 1
"""Threads of each model pass and of face detection (torch, OpenCV). One: the requests
served at once, detection and Gradio's event loop already keep both cores of the machine
this was sized on busy, and a 2-thread pool there made the model pass 2-5 times slower
(BENCHMARKS.md, "The app under load"). ``None``: the libraries' own defaults."""


def _header(service: LabService) -> str:
    classes = ", ".join(service.predictor().class_names)
    return ("# SQSNet lab: facial expression recognition\n"
            "A hybrid CNN + Swin network trained with *Spatial Quad-Similarity* (SQS). "
            f"Classes: {classes}. Photos up to {MAX_IMAGE_PIXELS / 1e6:.0f} megapixels.  \n"
            + service.checkpoint_info_line())


def build_demo(
    checkpoint: str | os.PathLike[str] = "default",
    gallery: str | os.PathLike[str] | None = None,
    checkpoints_dir: str | os.PathLike[str] | None = None,
    *,
    gallery_per_class: int = GALLERY_PER_CLASS,
    concurrency: int = DEFAULT_CONCURRENCY,
    lab: LabService | None = None,
) -> gr.Blocks:
    """Build the page (the service, and so the model, is built here, once).

    Args:
        checkpoint: ``"default"`` (the bundled FERPlus model), a ``.safetensors`` file or a
            run folder.
        gallery: A labelled data folder for the explorer's gallery (FERPlus layout or
            ``<class>/*.jpg``), or ``None``.
        checkpoints_dir: A folder of checkpoints to switch between in the Model tab.
        gallery_per_class: Gallery images per class.
        concurrency: Requests processed at once per event (``demo.queue``).
        lab: Reuse an existing :class:`~sqsnet.service.LabService` (tests, benchmarks).

    Returns:
        The queued :class:`gradio.Blocks`; ``demo.lab`` is its service.

    Raises:
        CheckpointError: The checkpoint cannot be loaded.
        GalleryError: ``gallery`` is not a readable labelled folder.
    """
    lab = lab or LabService(checkpoint, gallery, checkpoints_dir, gallery_per_class)
    with gr.Blocks(title="SQSNet lab") as demo:
        gr.Markdown(_header(lab))
        with gr.Tab("Predict"):
            predict = predict_tab.layout(lab)
        with gr.Tab("SQS explorer"):
            explorer = explorer_tab.layout(lab)
        with gr.Tab("Model"):
            model = model_tab.layout(lab)
        predict_tab.wire(predict, predict_tab.PredictHandlers(lab), model.checkpoint)
        explorer_tab.wire(explorer, explorer_tab.ExplorerHandlers(lab), model.checkpoint)
        model_tab.wire(model, model_tab.ModelHandlers(lab))
    demo.queue(default_concurrency_limit=max(1, int(concurrency)), max_size=QUEUE_SIZE)
    demo.lab = lab  # type: ignore[attr-defined]
    return demo


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sqsnet-app", description="SQSNet lab: Gradio app (predict, SQS explorer, model card).")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                        help="interface to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--checkpoint", default="default",
                        help="'default' (bundled FERPlus model), a .safetensors file or a run folder")
    parser.add_argument("--gallery", default=os.environ.get("SQSNET_GALLERY") or None,
                        help="labelled data folder for the SQS explorer gallery (default: "
                             "the bundled example faces; e.g. "
                             ".../ferplus/FER2013Valid or a <class>/*.jpg tree)")
    parser.add_argument("--gallery-per-class", type=int, default=GALLERY_PER_CLASS)
    parser.add_argument("--checkpoints", default=None,
                        help="folder scanned for SQSNet *.safetensors to switch between")
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY,
                        help="requests processed at once per event")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                        help="threads of each model pass and face detection (torch, OpenCV; "
                             "default %(default)s)")
    parser.add_argument("--share", action="store_true",
                        help="also open a public gradio.live link (off by default; needs network)")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """``python apps/sqsnet_space/app.py [--checkpoint ...] [--gallery ...]``."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    threads = set_compute_threads(args.threads)
    _LOG.info("serving with queue concurrency %d and %d compute threads", args.concurrency,
              threads)
    try:
        demo = build_demo(args.checkpoint, args.gallery, args.checkpoints,
                          gallery_per_class=args.gallery_per_class, concurrency=args.concurrency)
    except SQSNetError as exc:  # a bad checkpoint, gallery or folder: one line
        parser.exit(2, f"sqsnet-app: error: {exc}\n")
    _LOG.info("warm-up took %.1f s", demo.lab.warmup())  # type: ignore[attr-defined]
    launch(demo, args.host, args.port, args.share)


if __name__ == "__main__":
    main()
