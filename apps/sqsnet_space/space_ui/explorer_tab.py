"""The SQS explorer tab: four slots, a gallery, and the SQS maps of the quad.

A visitor's state lives in two ``gr.State`` values: their uploads (``list[GalleryItem]``)
and the labels of the four slots (a class name for a gallery image, ``None`` for an upload).
The tab opens on a ready quad from the gallery (the bundled example faces when the app has
no ``--gallery``) with its maps drawn: :meth:`LabService.opening_quad` computes them once
per process, and they are the components' initial values, so opening the page costs no
model time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr

from sqsnet.service import SLOTS, GalleryItem, LabService, QuadResult
from sqsnet.service.outputs import OutputFiles
from sqsnet.service.uploads import is_data_url

from .charts import figure_html
from .components import kept_files, output_files, status_text, upload_image, warn

__all__ = ["ExplorerHandlers", "ExplorerTab", "layout", "maps_html", "wire"]

INTRO = (
    "Spatial Quad-Similarity compares an **anchor** face with a **positive** (same "
    "expression, another image) and two **negatives** (another expression) at every "
    "location of the fused feature map. Pick the four images (upload, or choose a slot and "
    "click a gallery image) and press **Show SQS maps**."
)


@dataclass
class ExplorerTab:
    """The SQS explorer's components (see :func:`layout`)."""

    uploads: gr.State
    labels: gr.State
    slots: list[gr.Image]
    target: gr.Radio
    random_btn: gr.Button
    maps_btn: gr.Button
    status: gr.Markdown
    gallery: gr.Gallery
    add_files: gr.File
    maps_fig: gr.HTML
    overlays: gr.Gallery
    explanation: gr.Markdown
    """``maps_fig`` is a ``gr.HTML``: the figure at its natural width (:func:`maps_html`)."""

    def map_outputs(self) -> list[Any]:
        """The outputs of :meth:`ExplorerHandlers.show_maps`."""
        return [self.status, self.maps_fig, self.overlays, self.explanation]


def _slot_id(slot: str) -> str:
    return slot.replace(" ", "")


def maps_html(result: QuadResult, files: OutputFiles) -> str:
    """The quad's figure as HTML at its natural width, with alt text (``""`` without one).

    The figure's text is drawn into its pixels (at least 11 px at its natural size), so it
    is never shrunk: on a narrow screen it scrolls sideways in its own box
    (:func:`.charts.figure_html`).
    """
    if result.figure is None:
        return ""
    loss = f"; L_SQS = {result.loss:.4f}" if result.loss is not None else ""
    alt = ("SQS maps of the quad: the anchor, the positive and the two negatives, then, for "
           "the fused map and for the CNN branch before fusion, S_AP, S_AN1, S_AN2, R, the "
           f"hinge and the contrast over the anchor, each with its colour bar{loss}.")
    return figure_html(files.write(result.figure, "sqs-maps", "png"), result.figure.size, alt,
                       "All SQS maps of the quad (scroll sideways on a narrow screen).",
                       result.figure_text_px)


def layout(service: LabService) -> ExplorerTab:
    """Place the explorer's components (call inside ``gr.Tab``), filled with the opening
    quad and its maps."""
    gr.Markdown(INTRO)
    quad, opening = service.opening_quad()
    uploads = gr.State([])
    labels = gr.State([it.label for it in quad] if quad else [None] * len(SLOTS))
    with gr.Row():
        slots = [upload_image(label=s.capitalize(), sources=["upload", "webcam", "clipboard"],
                              value=quad[i].path if quad else None, height=180,
                              elem_id=f"slot-{_slot_id(s)}") for i, s in enumerate(SLOTS)]
    with gr.Row():
        target = gr.Radio(list(SLOTS), value=SLOTS[0], label="Gallery click fills", scale=2)
        random_btn = gr.Button("Random quad", scale=1)
        maps_btn = gr.Button("Show SQS maps", variant="primary", scale=1)
    status = gr.Markdown(opening.status if quad else "", elem_classes=["sqs-status"],
                         elem_id="sqs-status")
    hint = (f"{len(service.gallery)} images from {service.gallery_source}" if service.gallery
            else "no data folder given (start with --gallery PATH)")
    gallery = gr.Gallery(value=service.gallery_entries([]),
                         label=f"Gallery ({hint}) and your uploads", columns=8, height=260,
                         allow_preview=False, object_fit="contain")
    add_files = gr.File(label="Add your own images to the gallery", file_count="multiple",
                        file_types=["image"], height=130)
    overlays = gr.Gallery(opening.overlays or None, label="Maps over the anchor face (S_AP, "
                          "S_AN1, S_AN2, R)", columns=4, allow_preview=True,
                          object_fit="contain", height="auto", elem_id="sqs-overlays")
    maps_fig = gr.HTML(maps_html(opening, kept_files()) if quad else "", elem_id="sqs-maps")
    explanation = gr.Markdown(opening.explanation)
    return ExplorerTab(uploads, labels, slots, target, random_btn, maps_btn, status, gallery,
                       add_files, maps_fig, overlays, explanation)


class ExplorerHandlers:
    """The explorer's event handlers over one shared service."""

    def __init__(self, service: LabService, files: OutputFiles | None = None) -> None:
        self.service = service
        self.files = files or output_files()

    def show_maps(self, anchor: Any, positive: Any, negative1: Any, negative2: Any,
                  labels: list[str | None], checkpoint: str | None) -> list[Any]:
        """``/sqs_maps``: status, figure, overlays and explanation of the quad."""
        res = self.service.quad_maps(anchor, positive, negative1, negative2, labels, checkpoint)
        if res.warnings:  # drawn, but not a quad training would form: say so loudly too
            warn("Not a valid SQS quad: " + "; ".join(res.warnings) + ".")
        overlays = self.files.write_all(res.overlays, "sqs-overlay", "png")  # see predict_tab
        return [status_text(res.status, res.error), maps_html(res, self.files), overlays or None,
                res.explanation]

    def pick(self, evt: gr.SelectData, slot: str, labels: list[str | None],
             uploads: list[GalleryItem]) -> list[Any]:
        """``/sqs_pick``: a gallery click fills the chosen slot and moves to the next."""
        try:
            item = self.service.gallery_item(int(evt.index), uploads)
        except (IndexError, TypeError, ValueError):
            return [gr.update()] * len(SLOTS) + [slot, labels,
                                                 "That gallery image is gone; pick another."]
        i = SLOTS.index(slot) if slot in SLOTS else 0
        labels = list(labels or [None] * len(SLOTS))
        labels[i] = item.label
        updates: list[Any] = [gr.update()] * len(SLOTS)
        updates[i] = item.path
        nxt = SLOTS[(i + 1) % len(SLOTS)]
        return updates + [nxt, labels, f"{SLOTS[i].capitalize()}: {item.caption}."]

    def random_fill(self, labels: list[str | None]) -> list[Any]:
        """``/sqs_random_quad``: four gallery images, anchor and positive of one class."""
        quad, message = self.service.random_quad()
        if quad is None:
            warn(message)
            return [gr.update()] * len(SLOTS) + [labels, message]
        return [it.path for it in quad] + [[it.label for it in quad], message]

    def slot_upload(self, index: int, image: Any, labels: list[str | None],
                    uploads: list[GalleryItem]) -> list[Any]:
        """An upload into slot ``index``: its label is unknown; a file joins the gallery."""
        labels = list(labels or [None] * len(SLOTS))
        labels[index] = None
        if image is not None and not is_data_url(image):
            uploads, _ = self.service.add_uploads([image], uploads)
        return [labels, uploads, self.service.gallery_entries(uploads)]

    def add_to_gallery(self, files: Any, uploads: list[GalleryItem]) -> list[Any]:
        """``/sqs_add_images``: the visitor's files join their gallery."""
        uploads, message = self.service.add_uploads(files, uploads)
        if "Skipped" in message:
            warn(message)
        return [uploads, self.service.gallery_entries(uploads), message, None]


def _slot_handler(handlers: ExplorerHandlers, index: int) -> Callable[..., list[Any]]:
    def uploaded(image: Any, labels: list[str | None], uploads: list[GalleryItem]) -> list[Any]:
        return handlers.slot_upload(index, image, labels, uploads)

    return uploaded


def wire(tab: ExplorerTab, handlers: ExplorerHandlers, checkpoint: gr.Dropdown) -> None:
    """Connect the explorer's events (``/sqs_*``)."""
    map_inputs = [*tab.slots, tab.labels, checkpoint]
    tab.maps_btn.click(handlers.show_maps, inputs=map_inputs, outputs=tab.map_outputs(),
                       api_name="sqs_maps")
    tab.gallery.select(handlers.pick, inputs=[tab.target, tab.labels, tab.uploads],
                       outputs=[*tab.slots, tab.target, tab.labels, tab.status],
                       api_name="sqs_pick")
    tab.random_btn.click(handlers.random_fill, inputs=[tab.labels],
                         outputs=[*tab.slots, tab.labels, tab.status],
                         api_name="sqs_random_quad").then(
        handlers.show_maps, inputs=map_inputs, outputs=tab.map_outputs(),
        api_name="sqs_random_maps")
    for i, slot in enumerate(tab.slots):
        slot.upload(_slot_handler(handlers, i), inputs=[slot, tab.labels, tab.uploads],
                    outputs=[tab.labels, tab.uploads, tab.gallery],
                    api_name=f"sqs_upload_{_slot_id(SLOTS[i])}")
    tab.add_files.upload(handlers.add_to_gallery, inputs=[tab.add_files, tab.uploads],
                         outputs=[tab.uploads, tab.gallery, tab.status, tab.add_files],
                         api_name="sqs_add_images")
